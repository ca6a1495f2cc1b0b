"""Evaluation: generation engines, API-Bank (ToolRL protocol), BFCL v3, run settings and directories, reports.

Importing this package is cheap: torch, transformers and vLLM are imported only when an engine is built.

    from rest_rl.eval import ApiBankConfig, run_apibank
    run = run_apibank(ApiBankConfig(model="path/to/model", data_dir="../shared/data/api_bank", limit=6))
    print(run.table)
"""

from rest_rl.eval.apibank import (
    ApiBankConfig,
    ApiBankRun,
    ApiBankSample,
    ApiBankScores,
    load_apibank,
    parse_apibank_output,
    run_apibank,
    score_output,
    score_predictions,
)
from rest_rl.eval.engines import (
    EngineError,
    GenerationEngine,
    GenerationRequest,
    HFEngine,
    OpenAIEngine,
    VLLMEngine,
    make_engine,
)
from rest_rl.eval.runs import EvalRunConfig, RunError, build_engine

__all__ = [
    "ApiBankConfig",
    "ApiBankRun",
    "ApiBankSample",
    "ApiBankScores",
    "EngineError",
    "EvalRunConfig",
    "GenerationEngine",
    "GenerationRequest",
    "HFEngine",
    "OpenAIEngine",
    "RunError",
    "VLLMEngine",
    "build_engine",
    "load_apibank",
    "make_engine",
    "parse_apibank_output",
    "run_apibank",
    "score_output",
    "score_predictions",
]
