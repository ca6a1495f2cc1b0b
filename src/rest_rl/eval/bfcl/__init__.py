"""BFCL v3 (Berkeley Function-Calling Leaderboard) scored by the official ``bfcl-eval`` checkers.

    from rest_rl.eval.bfcl import BfclConfig, run_bfcl
    run = run_bfcl(BfclConfig(model="path/to/model", style="fc", categories=["simple", "multi_turn_base"], limit=5))
    print(run.table)

Modules: :mod:`~.official` (loading bfcl-eval, ``BFCL_PROJECT_ROOT``, the install command),
:mod:`~.data` (entries and ground truth from the wheel), :mod:`~.prompts` (the ``toolrl`` and ``fc``
prompt styles and the output decoder), :mod:`~.multiturn` (fresh simulators, ast-parsed calls, no
``eval``), :mod:`~.score` (bfcl-eval's checkers, v3 aggregation, result/score files),
:mod:`~.oracle` (ground-truth answers for checks) and :mod:`~.run` (the run's settings, a
:class:`~rest_rl.eval.runs.EvalRunConfig`, and a whole run); the command is ``rest-rl eval bfcl``
(:mod:`rest_rl.cli.eval`).

Importing this package does not import bfcl-eval (it is optional: ``requirements/bfcl.txt``); the
names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "BFCL_VERSION": "official",
    "INSTALL_COMMAND": "official",
    "BfclUnavailable": "official",
    "bfcl_available": "official",
    "load_bfcl": "official",
    "ALL_CATEGORIES": "data",
    "BfclEntry": "data",
    "load_category": "data",
    "load_entries": "data",
    "resolve_categories": "data",
    "STYLES": "prompts",
    "build_request": "prompts",
    "decode_output": "prompts",
    "SimulatorSession": "multiturn",
    "Conversation": "multiturn",
    "check_conversation": "multiturn",
    "BfclScores": "score",
    "Verdict": "score",
    "aggregate_v3": "score",
    "score_entry": "score",
    "score_result_files": "score",
    "oracle_result": "oracle",
    "BfclConfig": "run",
    "BfclRun": "run",
    "run_bfcl": "run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return __all__
