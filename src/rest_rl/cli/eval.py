"""The ``eval`` command group: ``rest-rl eval apibank``, ``rest-rl eval bfcl`` and ``rest-rl eval compare``.

The main CLI wires it in with ``add_eval_parser(subparsers)``. Each benchmark is configured by its
run-config dataclass (:class:`~rest_rl.eval.apibank.ApiBankConfig`, :class:`~rest_rl.eval.bfcl.run.BfclConfig`,
both :class:`~rest_rl.eval.runs.EvalRunConfig`) through the config engine, as ``rest-rl train`` is:
``--config YAML`` (a mapping of the config's fields), then the dedicated flags (one per field, generated
from the dataclass: ``max_new_tokens`` is ``--max-new-tokens``, with the field's help and default), then
repeatable ``--set key=value`` overrides (YAML values), built with
:func:`~rest_rl.config.build_dataclass`, so an unknown key or a bad value is a one-line error with a
"did you mean" hint. A new config field becomes a flag without argparse code.

    rest-rl eval apibank --model Qwen/Qwen3-1.7B --data-dir ../shared/data/api_bank
    rest-rl eval apibank --model my-served-model --engine openai --base-url http://localhost:8000/v1
    rest-rl eval apibank --config eval.yaml --set limit=20 --levels 1,3
    rest-rl eval apibank --model ckpt/ --resume runs/eval/apibank-ckpt-20250101-120000
    rest-rl eval compare runs/eval/apibank-base-20250101-120000 runs/eval/apibank-ckpt-20250102-090000 --out cmp.json

``compare`` is not a benchmark: it reads two scored run directories (:mod:`rest_rl.eval.compare`) and
prints their paired comparison.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import shutil
import textwrap
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rest_rl.cli.common import CliError
from rest_rl.config import apply_overrides, build_dataclass, merge_trees, parse_override, resolve_tree
from rest_rl.errors import ConfigError, UserError, one_line
from rest_rl.eval.agent import AgentConfig, run_agent
from rest_rl.eval.apibank import ApiBankConfig, run_apibank
from rest_rl.eval.bfcl.official import INSTALL_COMMAND
from rest_rl.eval.bfcl.run import BfclConfig, run_bfcl
from rest_rl.eval.runs import EvalRunConfig
from rest_rl.eval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapSettings

__all__ = ["add_config_flags", "add_eval_parser", "resolve_eval_config"]

_SEQUENCE_ORIGINS = (list, tuple, Sequence, typing.Sequence)


# ------------------------------------------------------------------------------------------------
# Flags generated from a config dataclass
# ------------------------------------------------------------------------------------------------


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _without_none(tp: Any) -> Any:
    """``X`` for ``X | None``; any other annotation unchanged."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return tp


def _item_type(tp: Any) -> Any | None:
    """The element type of a list / tuple / sequence annotation, ``None`` for anything else."""
    if typing.get_origin(tp) in _SEQUENCE_ORIGINS or tp in (list, tuple):
        args = [a for a in typing.get_args(tp) if a is not Ellipsis]
        return args[0] if args else Any
    return None


def _flag_value(text: str, tp: Any) -> Any:
    """A flag's text as a config value: kept as is for a string field, else read as YAML (like ``--set``)."""
    return text if tp is str else parse_override("value=" + text)[1]


def _show_default(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:  # type: ignore[misc]
        return "required unless in --config"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
    if value is None:
        return "default: unset"
    if isinstance(value, (list, tuple)):
        return "default: " + ",".join(str(v) for v in value)
    return f"default: {value}"


def add_config_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """Add one ``--flag`` per init field of dataclass ``cls``: the field name with dashes, help text from
    the field's ``metadata["help"]`` (and ``metadata["metavar"]``), the default shown. A list / tuple
    field takes several values (each may also be comma-separated), a ``bool`` field ``--x/--no-x``.
    Flags given land in ``args`` under the field name, as text; :func:`resolve_eval_config` reads them.
    """
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if not f.init or f.name.startswith("_"):
            continue
        tp = _without_none(hints.get(f.name, Any))
        help_text = " ".join(str(f.metadata.get("help", "")).split())
        if help_text.endswith(".") and not help_text.endswith(".."):
            help_text = help_text[:-1]
        kwargs: dict[str, Any] = {
            "dest": f.name,
            "default": argparse.SUPPRESS,  # absent unless given: a flag never hides a --config value
            "help": f"{help_text} ({_show_default(f)})".replace("%", "%%"),
        }
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["metavar"] = f.metadata.get("metavar", f.name.upper())
            if _item_type(tp) is not None:
                kwargs["nargs"] = "+"
        parser.add_argument(_flag(f.name), **kwargs)


def _flag_tree(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The flags given on the command line (see :func:`add_config_flags`) as a mapping of config values."""
    hints = typing.get_type_hints(cls)
    given = vars(args)
    tree: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f.name not in given:
            continue
        tp = _without_none(hints.get(f.name, Any))
        value = given[f.name]
        item = _item_type(tp)
        if item is not None:
            parts = [p for token in value for p in re.split(r"[,\s]+", str(token)) if p]
            tree[f.name] = [_flag_value(p, _without_none(item)) for p in parts]
        elif isinstance(value, str):
            tree[f.name] = _flag_value(value, tp)
        else:
            tree[f.name] = value
    return tree


def resolve_eval_config(cls: type[EvalRunConfig], args: argparse.Namespace) -> EvalRunConfig:
    """Build ``cls`` from the ``--config`` file, then the dedicated flags, then the ``--set`` overrides
    (each layer overriding the one before). Raises a one-line :class:`~rest_rl.errors.ConfigError` for a
    missing required field, an unknown key (with a "did you mean" hint) or a bad value."""
    tree = resolve_tree({}, getattr(args, "config", None))
    tree = apply_overrides(merge_trees(tree, _flag_tree(cls, args)), getattr(args, "set", None) or ())
    for f in dataclasses.fields(cls):
        missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        if f.init and missing and tree.get(f.name) is None:
            raise ConfigError(f"no {f.name}: pass {_flag(f.name)} (or set {f.name} in the --config file)")
    return build_dataclass(cls, tree)


# ------------------------------------------------------------------------------------------------
# The commands
# ------------------------------------------------------------------------------------------------


def _cmd_eval(args: argparse.Namespace) -> int:
    """Resolve the benchmark's config, run it, print its table and summary; 0 when it ran."""
    config = resolve_eval_config(args.eval_config_class, args)
    try:
        result = args.eval_runner(config, progress=not args.no_progress)
    except ValueError as exc:  # a setting the run could not use; UserErrors are printed by the main CLI
        if isinstance(exc, UserError):
            raise
        raise CliError(one_line(exc)) from None
    print(result.table)
    note = result.scores.subset_note()
    if note:
        print(note)
    print(f"generated {result.generated}, reused {result.reused}; results in {result.run_dir}")
    return 0


@dataclass(frozen=True)
class _Benchmark:
    """One ``rest-rl eval`` sub-command: its config dataclass, its run function and its texts."""

    name: str
    config_class: type[EvalRunConfig]
    runner: Callable[..., Any]  # runner(config, progress=...) -> a result with table, scores, generated, reused, run_dir
    help: str
    description: str
    examples: tuple[str, ...]


_BENCHMARKS = (
    _Benchmark(
        "apibank",
        ApiBankConfig,
        run_apibank,
        help="API-Bank (597 single-step samples, ToolRL protocol): ToolRL, strict and lenient accuracy with 95%% intervals",
        description="Evaluate a model on API-Bank as ToolRL/ResT do: greedy decoding of the [system, user] "
        "prompt, the last <tool_call> block parsed one JSON per line, scored three ways: toolrl (ToolRL's "
        "evaluate.py decision, quirks included), strict (any call with the gold name and parameters under "
        "Python equality) and lenient (the same after value normalisation); see docs/evaluation.md. Writes "
        "predictions.jsonl, verdicts.jsonl, scores.json and report.md into a fresh run directory and prints "
        "the table, each score with its 95% bootstrap interval.",
        examples=(
            "rest-rl eval apibank --model Qwen/Qwen3-1.7B --data-dir ../shared/data/api_bank",
            "rest-rl eval apibank --model my-served-model --engine openai --base-url http://localhost:8000/v1",
            "rest-rl eval apibank --config eval.yaml --set limit=20 --levels 1,3",
            "rest-rl eval apibank --model ckpt/ --resume runs/eval/apibank-ckpt-20250101-120000",
        ),
    ),
    _Benchmark(
        "bfcl",
        BfclConfig,
        run_bfcl,
        help="BFCL v3 (4,441 entries: non-live, live, multi-turn) scored by bfcl-eval's checkers",
        description="Evaluate a model on the Berkeley Function-Calling Leaderboard v3: greedy generation in "
        "one prompt style (toolrl: our training format; fc: the model's chat template with tools, how the "
        "public leaderboard runs function-calling models), results written in bfcl-eval's layout inside a "
        "fresh run directory (also BFCL_PROJECT_ROOT), scored with bfcl-eval 2025.7.17's AST and multi-turn "
        "checkers (multi-turn calls run on fresh simulators, parsed with ast, never eval). Writes "
        "scores.json and report.md and prints the table. Needs: " + INSTALL_COMMAND,
        examples=(
            "rest-rl eval bfcl --model Qwen/Qwen3-1.7B --style fc --categories simple multi_turn_base --limit 5",
            "rest-rl eval bfcl --model ckpt/ --categories non_live --set max_new_tokens=1024",
            "rest-rl eval bfcl --config eval.yaml --resume runs/eval/bfcl-ckpt-toolrl-20250101-120000",
        ),
    ),
    _Benchmark(
        "agent",
        AgentConfig,
        run_agent,
        help="multi-turn agent tasks of the synthetic tool world: success on final state + answer, with 95%% intervals",
        description="Run held-out tasks of the synthetic multi-turn tool world (rest_rl.envs; held-out task "
        "compositions) to their end: generate with the model's chat template and the domain's tools, parse "
        "<tool_call> blocks, execute the calls in the environment (bounded arguments, errors returned as tool "
        "results, never eval), append the results, repeat until a final answer or max_turns. A task succeeds "
        "when the final environment state and the final answer are both right. Reports success per domain "
        "and kind of task with 95% bootstrap intervals, calls per task, tool-error and unparsed-reply rates; "
        "writes predictions.jsonl (with transcripts), scores.json and report.md.",
        examples=(
            "rest-rl eval agent --model runs/demo-agent/rl --split test",
            "rest-rl eval agent --model ckpt/ --limit 50 --set max_turns=4",
            "rest-rl eval agent --model ckpt/ --resume runs/eval/agent-ckpt-test-20250101-120000",
        ),
    ),
)

_EVAL_HELP = "evaluate a model: API-Bank, BFCL v3, multi-turn agent tasks; compare two runs"
_EVAL_DESCRIPTION = (
    "Evaluate a model on tool-use benchmarks and multi-turn agent tasks. Each run writes a fresh directory; --resume completes one "
    "without ever regenerating a finished sample. 'compare' compares two scored runs sample by sample."
)


def _add_benchmark(sub: Any, benchmark: _Benchmark) -> argparse.ArgumentParser:
    """Add one benchmark's sub-command: ``--config``, ``--set``, ``--no-progress`` and a flag per config field."""
    cls = benchmark.config_class
    width = max(40, min(100, shutil.get_terminal_size().columns - 2))
    keys = ", ".join(f.name for f in dataclasses.fields(cls) if f.init)
    epilog = (
        textwrap.fill(
            f"Configuration keys (--config YAML mapping, --set KEY=VALUE): {keys}; each is also the option of "
            "the same name with dashes. Precedence: --config, then the options, then --set.",
            width,
            break_on_hyphens=False,
        )
        + "\n\nexamples:\n"
        + "\n".join(f"  {line}" for line in benchmark.examples)
    )
    p = sub.add_parser(
        benchmark.name,
        help=benchmark.help,
        description=textwrap.fill(benchmark.description, width, break_on_hyphens=False),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", metavar="YAML", help="run configuration file: a mapping of the keys listed below")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a configuration key, e.g. --set max_new_tokens=512 (repeatable; YAML values)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(p, cls)
    p.set_defaults(func=_cmd_eval, eval_config_class=cls, eval_runner=benchmark.runner)
    return p


def _cmd_compare(args: argparse.Namespace) -> int:
    """Compare two run directories: print the markdown report, write the JSON with ``--out``; 0 when done."""
    from rest_rl.eval.compare import compare_runs

    try:
        settings = BootstrapSettings(resamples=args.resamples, seed=args.seed)
    except ValueError as exc:
        raise CliError(one_line(exc)) from None
    if args.max_ids < 0:
        raise CliError(f"--max-ids must be >= 0, got {args.max_ids}")
    comparison = compare_runs(args.run_a, args.run_b, bootstrap=settings)
    if args.out:
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                json.dump(comparison.to_dict(), fh, indent=2, ensure_ascii=False)
                fh.write("\n")
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    print(comparison.markdown(max_ids=args.max_ids))
    if args.out:
        print(f"JSON written to {args.out}")
    return 0


def _add_compare(sub: Any) -> argparse.ArgumentParser:
    width = max(40, min(100, shutil.get_terminal_size().columns - 2))
    p = sub.add_parser(
        "compare",
        help="paired comparison of two scored runs of the same benchmark, data and protocol",
        description=textwrap.fill(
            "Compare two evaluation run directories (apibank or bfcl) of the same benchmark, data and scoring "
            "protocol, on the samples present in both: per level / category and for the aggregates, each run's "
            "accuracy, the difference B - A with a 95% paired bootstrap interval, the exact McNemar p-value, "
            "and the ids of the samples that flipped in each direction. Runs that cannot be compared are "
            "refused with the reason.",
            width,
            break_on_hyphens=False,
        ),
        epilog="examples:\n"
        "  rest-rl eval compare runs/eval/apibank-base-20250101-120000 runs/eval/apibank-ckpt-20250102-090000\n"
        "  rest-rl eval compare RUN_A RUN_B --out comparison.json --resamples 5000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run_a", metavar="RUN_A", help="the baseline run directory (A)")
    p.add_argument("run_b", metavar="RUN_B", help="the run compared with it (B); differences are B - A")
    p.add_argument("--out", metavar="FILE", help="also write the comparison as JSON to FILE (every flipped id)")
    p.add_argument("--resamples", type=int, default=DEFAULT_RESAMPLES, metavar="N", help=f"bootstrap resamples (default: {DEFAULT_RESAMPLES})")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, metavar="N", help=f"bootstrap seed (default: {DEFAULT_SEED})")
    p.add_argument("--max-ids", type=int, default=30, metavar="N", help="flipped ids printed per direction and score (default: 30)")
    p.set_defaults(func=_cmd_compare)
    return p


def add_eval_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``eval`` command (one sub-command per benchmark: ``apibank``, ``bfcl``; and ``compare``) to
    an argparse sub-parsers object; returns its parser."""
    parser = subparsers.add_parser("eval", help=_EVAL_HELP, description=_EVAL_DESCRIPTION)
    sub = parser.add_subparsers(dest="eval_command", metavar="COMMAND")
    sub.required = True
    for benchmark in _BENCHMARKS:
        _add_benchmark(sub, benchmark)
    _add_compare(sub)
    return parser
