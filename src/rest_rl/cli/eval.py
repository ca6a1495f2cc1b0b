"""The ``eval`` command group: ``rest-rl eval apibank`` and ``rest-rl eval bfcl``.

The main CLI wires it in with ``add_eval_parser(subparsers)``. Every sub-command sets ``func`` (``args.func(args) -> int``). Errors a user can
fix (a bad path, an unreachable server, a resume mismatch) print one line on stderr and return 2.

    rest-rl eval apibank --model Qwen/Qwen3-1.7B --data-dir ../shared/data/api_bank
    rest-rl eval apibank --model my-served-model --engine openai --base-url http://localhost:8000/v1
    rest-rl eval apibank --model ckpt/ --resume runs/eval/apibank-ckpt-20250101-120000
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_eval_parser"]

_PROG_ERROR = "rest-rl: error: "


def _levels(text: str) -> tuple[int, ...]:
    try:
        levels = tuple(sorted({int(p) for p in text.replace(" ", ",").split(",") if p.strip()}))
    except ValueError:
        raise argparse.ArgumentTypeError(f"levels must be numbers among 1,2,3, got {text!r}") from None
    if not levels or any(k not in (1, 2, 3) for k in levels):
        raise argparse.ArgumentTypeError(f"levels must be a comma-separated subset of 1,2,3, got {text!r}")
    return levels


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_run_options(p: argparse.ArgumentParser, *, unit: str, group: str, max_new_tokens: int, resume_also: str = "") -> None:
    """The options every benchmark run shares (engine, decoding, output, resume); ``unit``/``group`` name what
    the benchmark evaluates ("samples"/"level", "entries"/"category") in the help texts."""
    p.add_argument("--engine", choices=["hf", "vllm", "openai"], default="hf", help="generation engine (default: hf)")
    p.add_argument("--base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1 (engine openai)")
    p.add_argument(
        "--limit",
        type=_positive_int,
        help=f"evaluate only the first N {unit} of each {group} (the report says it is a subset)",
    )
    p.add_argument(
        "--batch-size", type=_positive_int, default=8, help="prompts per batch (hf), requests in flight (openai); default 8"
    )
    p.add_argument(
        "--max-new-tokens",
        type=_positive_int,
        default=max_new_tokens,
        help=f"tokens generated per {'sample' if unit == 'samples' else 'step'} (default: {max_new_tokens})",
    )
    p.add_argument("--device", default="auto", help="hf engine device: auto, cpu, cuda, cuda:1 ... (default: auto)")
    p.add_argument("--dtype", default="auto", help="auto, float32, bfloat16 or float16 (default: auto)")
    p.add_argument("--out-dir", default="runs/eval", help="parent of the fresh run directory (default: runs/eval)")
    p.add_argument(
        "--resume",
        metavar="DIR",
        help=f"complete an earlier run directory: generate only its missing {unit} (refused if model{resume_also} "
        "or decoding settings differ)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """The run-config fields of :func:`add_run_options` (plus ``model``) as keyword arguments."""
    names = ("model", "engine", "base_url", "limit", "batch_size", "max_new_tokens", "device", "dtype", "out_dir", "resume")
    return {name: getattr(args, name) for name in names}


def check_run_options(args: argparse.Namespace) -> bool:
    """``False`` (after printing the one-line error) when the options cannot work together."""
    if args.engine == "openai" and not args.base_url:
        print(_PROG_ERROR + "--engine openai needs --base-url (e.g. http://localhost:8000/v1)", file=sys.stderr)
        return False
    return True


def run_and_print(run: Any, errors: tuple[type[BaseException], ...]) -> int:
    """Call ``run()`` (returning an object with ``table``, ``scores``, ``generated``, ``reused``, ``run_dir``),
    print its table and summary and return 0; a user-fixable ``errors`` becomes a one-line message and 2."""
    try:
        result = run()
    except errors as exc:
        print(_PROG_ERROR + " ".join(str(exc).split()), file=sys.stderr)
        return 2
    print(result.table)
    note = result.scores.subset_note()
    if note:
        print(note)
    print(f"generated {result.generated}, reused {result.reused}; results in {result.run_dir}")
    return 0


def _cmd_apibank(args: argparse.Namespace) -> int:
    from rest_rl.data.io import DataError
    from rest_rl.eval.apibank import ApiBankConfig, run_apibank
    from rest_rl.eval.engines import EngineError
    from rest_rl.eval.runs import RunError

    if not check_run_options(args):
        return 2
    config = ApiBankConfig(**run_options(args), data_dir=args.data_dir, levels=args.levels)
    return run_and_print(
        lambda: run_apibank(config, progress=not args.no_progress), (DataError, EngineError, RunError, ValueError)
    )


def _add_apibank(sub: Any) -> None:
    p = sub.add_parser(
        "apibank",
        help="API-Bank (597 single-step samples, ToolRL protocol): strict and lenient accuracy",
        description="Evaluate a model on API-Bank as ToolRL/ResT do: greedy decoding of the [system, user] "
        "prompt, the last <tool_call> block parsed one JSON per line, a sample correct when any call has the "
        "gold name and parameters (strict: Python equality; lenient: after value normalisation). Writes "
        "predictions.jsonl, scores.json and report.md into a fresh run directory and prints the table.",
    )
    p.add_argument("--model", required=True, help="model directory or hub id (hf, vllm); served model name (openai)")
    p.add_argument(
        "--data-dir",
        help="directory with level-{1,2,3}-api_processed.json (default: download from ToolRL's repository "
        "into ~/.cache/rest_rl and verify SHA-256)",
    )
    p.add_argument("--levels", type=_levels, default=(1, 2, 3), help="comma-separated levels (default: 1,2,3)")
    add_run_options(p, unit="samples", group="level", max_new_tokens=1024)
    p.set_defaults(func=_cmd_apibank)


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


def _add_bfcl(eval_subparsers: Any) -> argparse.ArgumentParser:
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


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` command (with ``apibank`` and ``bfcl``) to an argparse sub-parsers object."""
    parser = subparsers.add_parser(
        "eval",
        help="evaluate a model: API-Bank, BFCL v3",
        description="Evaluate a model on tool-use benchmarks. Each run writes a fresh directory; --resume "
        "completes one without ever regenerating a finished sample.",
    )
    sub = parser.add_subparsers(dest="eval_command", metavar="BENCHMARK")
    sub.required = True
    _add_apibank(sub)
    _add_bfcl(sub)
    return parser
