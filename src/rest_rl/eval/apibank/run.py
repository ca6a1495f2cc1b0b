"""An API-Bank evaluation run: its settings (:class:`ApiBankConfig`) and :func:`run_apibank`.

A run resolves the data (see :mod:`~rest_rl.eval.apibank.data`), generates greedily with a
:class:`~rest_rl.eval.engines.GenerationEngine` into a run directory (see :mod:`rest_rl.eval.runs`),
appending each chunk to ``predictions.jsonl`` with its parse and verdicts, then scores every
selected sample again from its raw output (see :mod:`~rest_rl.eval.apibank.score`) and writes
``scores.json`` and ``report.md`` (each score with its 95% bootstrap interval) and ``verdicts.jsonl`` (every sample's
three verdicts: what ``rest-rl eval compare`` reads). ``resume`` completes an earlier run directory:
only the samples without a prediction are generated, and the identity (model, engine, decoding, data
checksums, protocol) must match, so a run made under an earlier protocol version is refused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest_rl.eval.apibank.data import (
    DEFAULT_BASE_URL,
    FILE_SHA256,
    LEVELS,
    TOOLRL_COMMIT,
    data_checksums,
    load_apibank,
    resolve_apibank_dir,
    select_samples,
)
from rest_rl.eval.apibank.score import (
    PROTOCOL_VERSION,
    SCORE_NAMES,
    ApiBankScores,
    prediction_record,
    report_markdown,
    score_predictions,
    scores_table,
)
from rest_rl.eval.compare import write_verdicts
from rest_rl.eval.engines import GenerationEngine
from rest_rl.eval.runs import (
    PREDICTIONS_FILE,
    EvalRunConfig,
    RunError,
    append_jsonl,
    build_engine,
    chunked,
    generate_checked,
    log_invocation,
    open_run,
    option,
    read_predictions,
    slugify,
    write_json,
)

__all__ = ["ApiBankConfig", "ApiBankRun", "run_apibank"]


@dataclass
class ApiBankConfig(EvalRunConfig):
    """Settings of an API-Bank evaluation run (``rest-rl eval apibank``): the shared run settings of
    :class:`~rest_rl.eval.runs.EvalRunConfig` plus where the data comes from and which levels."""

    data_dir: str | None = option(
        None,
        "Directory with level-{1,2,3}-api_processed.json; when unset, they are downloaded from ToolRL's "
        "repository into cache_dir and their SHA-256 verified.",
        "DIR",
    )
    cache_dir: str | None = option(None, "Download cache; when unset, $REST_RL_CACHE or ~/.cache/rest_rl.", "DIR")
    download_url: str = option(DEFAULT_BASE_URL, "Base URL the level files are fetched from.", "URL")
    levels: tuple[int, ...] = option(LEVELS, 'Levels to evaluate, e.g. "1,3" or "1 3".', "LEVEL")

    def __post_init__(self) -> None:
        super().__post_init__()
        levels = tuple(sorted(set(self.levels)))
        if not levels or any(level not in LEVELS for level in levels):
            raise ValueError(f"levels must be a non-empty subset of 1, 2, 3; got {list(self.levels)}")
        self.levels = levels

    def benchmark_identity(self) -> dict[str, Any]:
        """The benchmark and the parse/score protocol version."""
        return {"benchmark": "api-bank", "protocol": PROTOCOL_VERSION}


@dataclass
class ApiBankRun:
    """Result of :func:`run_apibank`: where it went, what it scored, how much was generated now."""

    run_dir: Path
    scores: ApiBankScores
    generated: int
    reused: int
    table: str

    @property
    def predictions_path(self) -> Path:
        return self.run_dir / PREDICTIONS_FILE


def run_apibank(
    config: ApiBankConfig,
    *,
    engine: GenerationEngine | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ApiBankRun:
    """Evaluate a model on API-Bank into a run directory (fresh, or ``config.resume``).

    Generates only the samples missing from the directory's ``predictions.jsonl`` (all of them in a
    fresh directory), appending every ``config.chunk_size`` samples, then writes ``scores.json`` and
    ``report.md`` for the selected samples. ``engine`` overrides building one from ``config`` (it is
    built only when something is left to generate). Raises :class:`~rest_rl.eval.runs.RunError`
    when a resume target does not match, :class:`~rest_rl.data.io.DataError` for data problems and
    :class:`~rest_rl.eval.engines.EngineError` for engine problems.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    data_dir = resolve_apibank_dir(
        config.data_dir, cache_dir=config.cache_dir, base_url=config.download_url, levels=LEVELS
    )
    data_sha = data_checksums(data_dir)
    verified = all(FILE_SHA256[name] == digest for name, digest in data_sha.items())
    if not verified:
        say(f"warning: API-Bank files in {data_dir} differ from ToolRL@{TOOLRL_COMMIT[:7]}; scores are not comparable")
    samples = select_samples(load_apibank(data_dir, config.levels), config.limit)
    identity = config.identity(data_sha)

    if not config.resume and samples and engine is None:
        engine = build_engine(config)  # before the run directory exists: a bad model leaves nothing behind
    run_dir, run_config = open_run(
        config, f"apibank-{slugify(config.model)}", identity, data_dir=str(data_dir), data_verified=verified
    )
    predictions_path = run_dir / PREDICTIONS_FILE
    existing = read_predictions(predictions_path)
    for sample in samples:
        rec = existing.get(sample.id)
        if rec is not None and rec.get("prompt_sha256") != sample.prompt_sha256:
            raise RunError(f"{predictions_path}: prediction {sample.id} was made for a different prompt")
    missing = [s for s in samples if s.id not in existing]
    log_invocation(run_dir, run_config, config, levels=list(config.levels), generated=len(missing))

    if missing:
        say(f"API-Bank: generating {len(missing)} of {len(samples)} samples into {run_dir}")
        engine = engine or build_engine(config)
        from tqdm.auto import tqdm

        with tqdm(total=len(missing), disable=not progress, desc="api-bank", unit="sample", dynamic_ncols=True) as bar:
            for chunk in chunked(missing, config.chunk_size):
                outputs = generate_checked(engine, [s.request() for s in chunk], config.max_new_tokens)
                append_jsonl(predictions_path, [prediction_record(s, o) for s, o in zip(chunk, outputs)])
                bar.update(len(chunk))
    else:
        say(f"API-Bank: all {len(samples)} selected samples already in {run_dir}; scoring only")

    records = read_predictions(predictions_path)
    scores = score_predictions(records.values(), samples, bootstrap=config.bootstrap_settings())
    result = {
        "benchmark": "api-bank",
        "protocol": PROTOCOL_VERSION,
        "model": identity["model"],
        "levels": list(config.levels),
        "limit": config.limit,
        "data_verified": verified,
        "scores": list(SCORE_NAMES),
        "headline_score": "toolrl",
        **scores.to_dict(),
    }
    write_verdicts(run_dir, scores.verdict_rows())
    write_json(run_dir / "scores.json", result)
    (run_dir / "report.md").write_text(report_markdown(scores, run_config, run_dir), encoding="utf-8")
    return ApiBankRun(
        run_dir=run_dir,
        scores=scores,
        generated=len(missing),
        reused=len(samples) - len(missing),
        table=scores_table(scores),
    )
