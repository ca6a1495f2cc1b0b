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

from rest_rl.eval.cli import _positive_int  # one argument parser for every eval command

__all__ = ["add_bfcl_parser"]

_PROG_ERROR = "rest-rl: error: "


def _cmd_bfcl(args: argparse.Namespace) -> int:
    from rest_rl.eval.bfcl.data import resolve_categories
    from rest_rl.eval.bfcl.official import BfclUnavailable
    from rest_rl.eval.bfcl.run import BfclConfig, run_bfcl
    from rest_rl.eval.engines import EngineError
    from rest_rl.eval.runs import RunError

    if args.engine == "openai" and not args.base_url:
        print(_PROG_ERROR + "--engine openai needs --base-url (e.g. http://localhost:8000/v1)", file=sys.stderr)
        return 2
    try:
        categories = resolve_categories(args.categories)
    except ValueError as exc:
        print(_PROG_ERROR + str(exc), file=sys.stderr)
        return 2
    config = BfclConfig(
        model=args.model,
        categories=categories,
        style=args.style,
        engine=args.engine,
        base_url=args.base_url,
        limit=args.limit,
        batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens,
        device=args.device,
        dtype=args.dtype,
        out_dir=args.out_dir,
        resume=args.resume,
    )
    try:
        run = run_bfcl(config, progress=not args.no_progress)
    except (BfclUnavailable, EngineError, RunError, ValueError) as exc:
        print(_PROG_ERROR + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(run.table)
    note = run.scores.subset_note()
    if note:
        print(note)
    print(f"generated {run.generated}, reused {run.reused}; results in {run.run_dir}")
    return 0


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
    p.add_argument("--engine", choices=["hf", "vllm", "openai"], default="hf", help="generation engine (default: hf)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (engine openai)")
    p.add_argument(
        "--limit", type=_positive_int, help="evaluate only the first N entries of each category (the report says it is a subset)"
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=8, help="prompts per batch (hf), requests in flight (openai); default 8"
    )
    p.add_argument(
        "--max-new-tokens", type=_positive_int, default=2048, help="tokens generated per step (default: 2048)"
    )
    p.add_argument("--device", default="auto", help="hf engine device: auto, cpu, cuda, cuda:1 ... (default: auto)")
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default: auto)")
    p.add_argument("--out-dir", default="runs/eval", help="parent of the fresh run directory (default: runs/eval)")
    p.add_argument(
        "--resume",
        metavar="DIR",
        help="complete an earlier run directory: generate only its missing entries (refused if model, style or "
        "decoding settings differ)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_bfcl)
    return p
