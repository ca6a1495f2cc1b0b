"""``rest-rl eval bfcl``: BFCL v3 with bfcl-eval's official checkers.

Wired in by :mod:`rest_rl.eval.cli` through :func:`add_bfcl_parser`. Importing this module does not
import bfcl-eval; running the command without it prints the install command and returns 2.

    rest-rl eval bfcl --model Qwen/Qwen3-4B-Instruct-2507 --style fc
    rest-rl eval bfcl --model ckpt/ --categories simple multi_turn_base --limit 20
    rest-rl eval bfcl --model served-name --engine openai --base-url http://localhost:8000/v1 --style fc
    rest-rl eval bfcl --model ckpt/ --resume runs/eval/bfcl-ckpt-toolrl-20250101-120000
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rest_rl.eval.cli import _PROG_ERROR, add_run_options, check_run_options, run_and_print, run_options

__all__ = ["add_bfcl_parser"]


def _cmd_bfcl(args: argparse.Namespace) -> int:
    from rest_rl.eval.bfcl.data import resolve_categories
    from rest_rl.eval.bfcl.official import BfclUnavailable
    from rest_rl.eval.bfcl.run import BfclConfig, run_bfcl
    from rest_rl.eval.engines import EngineError
    from rest_rl.eval.runs import RunError

    if not check_run_options(args):
        return 2
    try:
        categories = resolve_categories(args.categories)
    except ValueError as exc:
        print(_PROG_ERROR + str(exc), file=sys.stderr)
        return 2
    config = BfclConfig(**run_options(args), categories=categories, style=args.style)
    return run_and_print(
        lambda: run_bfcl(config, progress=not args.no_progress), (BfclUnavailable, EngineError, RunError, ValueError)
    )


def add_bfcl_parser(eval_subparsers: Any) -> argparse.ArgumentParser:
    """Add ``bfcl`` to the ``eval`` command's sub-parsers; returns the new parser."""
    p = eval_subparsers.add_parser(
        "bfcl",
        help="BFCL v3 (4,441 entries: non-live, live, multi-turn) scored by bfcl-eval's checkers",
        description="Evaluate a model on the Berkeley Function-Calling Leaderboard v3: greedy generation in "
        "one prompt style (toolrl: our training format; fc: the model's chat template with tools, how the "
        "public leaderboard runs function-calling models), results written in bfcl-eval's layout inside a "
        "fresh run directory (also BFCL_PROJECT_ROOT), scored with bfcl-eval 2025.7.17's AST and multi-turn "
        "checkers (multi-turn calls run on fresh simulators, parsed with ast, never eval). Writes "
        "scores.json and report.md and prints the table. Needs: pip install -c constraints/cpu.txt -r "
        "requirements/bfcl.txt && pip install --no-deps bfcl-eval==2025.7.17",
    )
    p.add_argument("--model", required=True, help="model directory or hub id (hf, vllm); served model name (openai)")
    p.add_argument(
        "--categories",
        nargs="+",
        default=["all"],
        metavar="CAT",
        help="categories or groups: all (default), non_live, live, multi_turn, single_turn, or any of simple, "
        "java, javascript, multiple, parallel, parallel_multiple, irrelevance, live_simple, live_multiple, "
        "live_parallel, live_parallel_multiple, live_irrelevance, live_relevance, multi_turn_base, "
        "multi_turn_miss_func, multi_turn_miss_param, multi_turn_long_context",
    )
    p.add_argument(
        "--style",
        choices=["toolrl", "fc"],
        default="toolrl",
        help="prompt style: toolrl (ToolRL system prompt, <tool_call> JSON lines; default) or fc (native chat "
        "template with tools=, Hermes <tool_call> blocks: comparable with the public leaderboard's FC entries)",
    )
    add_run_options(p, unit="entries", group="category", max_new_tokens=2048, resume_also=", style")
    p.set_defaults(func=_cmd_bfcl)
    return p
