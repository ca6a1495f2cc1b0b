"""API-Bank evaluated with ToolRL's protocol (docs/method.md §6): 597 single-step samples, scored three
ways (ToolRL's exact decision, strict, lenient; docs/evaluation.md), each with a 95% bootstrap interval.

    from rest_rl.eval.apibank import ApiBankConfig, run_apibank
    run = run_apibank(ApiBankConfig(model="path/to/model", data_dir="../shared/data/api_bank", limit=6))
    print(run.table)

Modules: :mod:`~.data` (download, pinned checksums, the samples), :mod:`~.score` (ToolRL's parse,
the ToolRL, strict and lenient scores, per-level aggregation, the table and report) and :mod:`~.run` (the
run's settings and a whole run). Every public name of the three is importable from here.
"""

from __future__ import annotations

from rest_rl.eval.apibank.data import (
    DEFAULT_BASE_URL,
    FILE_SHA256,
    LEVEL_SIZES,
    LEVELS,
    TOOLRL_COMMIT,
    TOTAL_SAMPLES,
    ApiBankSample,
    ChecksumError,
    data_checksums,
    default_cache_dir,
    download_apibank,
    file_sha256,
    level_file,
    load_apibank,
    resolve_apibank_dir,
    select_samples,
)
from rest_rl.eval.apibank.run import ApiBankConfig, ApiBankRun, run_apibank
from rest_rl.eval.apibank.score import (
    PROTOCOL_VERSION,
    SCORE_NAMES,
    ApiBankParse,
    ApiBankScores,
    LevelScore,
    Verdict,
    lenient_match,
    normalize_value,
    parse_apibank_output,
    prediction_record,
    report_markdown,
    score_output,
    score_predictions,
    scores_table,
    strict_match,
    toolrl_calls,
    toolrl_decision,
    toolrl_match,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "FILE_SHA256",
    "LEVELS",
    "LEVEL_SIZES",
    "PROTOCOL_VERSION",
    "SCORE_NAMES",
    "TOOLRL_COMMIT",
    "TOTAL_SAMPLES",
    "ApiBankConfig",
    "ApiBankParse",
    "ApiBankRun",
    "ApiBankSample",
    "ApiBankScores",
    "ChecksumError",
    "LevelScore",
    "Verdict",
    "data_checksums",
    "default_cache_dir",
    "download_apibank",
    "file_sha256",
    "lenient_match",
    "level_file",
    "load_apibank",
    "normalize_value",
    "parse_apibank_output",
    "prediction_record",
    "report_markdown",
    "resolve_apibank_dir",
    "run_apibank",
    "score_output",
    "score_predictions",
    "scores_table",
    "select_samples",
    "strict_match",
    "toolrl_calls",
    "toolrl_decision",
    "toolrl_match",
]
