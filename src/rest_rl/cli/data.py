"""``rest-rl data check``: which training examples' user requests match benchmark prompts.

The examples come from a ``data`` section, configured as for ``rest-rl train`` / ``sft``: ``--config``
(a run file; only its ``data`` section is read) and ``--set data.KEY=VALUE`` overrides, built into a
:class:`~rest_rl.data.selection.DataSection` by the config engine. The matching is
:func:`rest_rl.eval.contamination.find_overlaps` (normalised exact match and word 8-gram
containment; docs/evaluation.md). It is a report: the exit status is 0 whatever it finds.

    rest-rl data check --against apibank,bfcl --config configs/qwen3_4b_instruct_rlla4k.yaml
    rest-rl data check --against apibank --set data.source=toolrl_sft data.path=../shared/data/toolrl/rlla_sft.json
    rest-rl data check --against bfcl --set data.source=mix data.path=configs/data/rlla_4k_mix.yaml --out overlaps.json
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from rest_rl.cli.common import CliError
from rest_rl.config import build_dataclass, resolve_tree
from rest_rl.data.io import DataError
from rest_rl.data.selection import DataSection, select_examples
from rest_rl.errors import one_line
from rest_rl.eval.contamination import BENCHMARKS, NEAR_THRESHOLD, NGRAM, find_overlaps, load_index, parse_against

__all__ = ["add_data_parser"]


def _data_section(args: argparse.Namespace) -> DataSection:
    """The ``data`` section of ``--config`` with the ``--set data.*`` overrides applied."""
    overrides = list(args.set or [])
    for item in overrides:
        key = item.split("=", 1)[0].strip()
        if not key.startswith("data."):
            raise CliError(f"data check reads only the data section: write --set data.{key}=... (got {item!r})")
    tree = resolve_tree({}, args.config, overrides)
    section = tree.get("data") or {}
    if not isinstance(section, dict):
        raise CliError(f"the data section must be a mapping, got {type(section).__name__}")
    return build_dataclass(DataSection, section, where="data")


def _cmd_check(args: argparse.Namespace) -> int:
    against = parse_against(args.against)
    if args.top < 0:
        raise CliError(f"--top must be >= 0, got {args.top}")
    if not 0.0 < args.threshold <= 1.0:
        raise CliError(f"near-duplicate threshold must be in (0, 1], got {args.threshold}")
    section = _data_section(args)
    selection = select_examples(section)
    for line in selection.skip_lines():
        print(f"note: {line}")
    try:
        index = load_index(against, apibank_dir=args.apibank_dir, n=NGRAM)
    except DataError as exc:  # API-Bank files missing: name this command's option
        raise CliError("API-Bank data: " + one_line(exc).replace("--data-dir", "--apibank-dir")) from None
    report = find_overlaps(selection.examples, against, threshold=args.threshold, index=index)
    where = f"data.source={section.source}" + (f", data.path={section.path}" if section.path else "") + f", split {section.split}"
    print(f"data: {where}")
    print("\n".join(report.summary_lines(top=args.top)))
    if args.out:
        payload = {"data": {"source": section.source, "path": section.path, "split": section.split,
                            "offset": section.offset, "limit": section.limit}, **report.to_dict()}  # fmt: skip
        try:
            with open(args.out, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2, ensure_ascii=False)
                fh.write("\n")
        except OSError as exc:
            raise CliError(f"cannot write {args.out}: {exc.strerror or exc}") from None
        print(f"JSON written to {args.out} (every flagged example)")
    return 0


def add_data_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``data`` (sub-command ``check``) to the ``rest-rl`` sub-parsers; returns its parser."""
    parser = sub.add_parser("data", help="inspect training data: contamination check against benchmarks",
                            description="Inspect a training data section (the same data options as rest-rl train / sft).")  # fmt: skip
    commands = parser.add_subparsers(dest="data_command", metavar="COMMAND")
    commands.required = True
    check = commands.add_parser(
        "check",
        help="report training examples whose user request matches an API-Bank / BFCL prompt",
        description=(
            "Report the training examples whose user request matches a benchmark prompt: normalised exact match "
            f"(case, white space, punctuation) or a near-duplicate (word {NGRAM}-gram containment >= the threshold). "
            "Prints counts and the top matches; exit status 0 (it is a report)."
        ),
        epilog="examples:\n"
        "  rest-rl data check --against apibank,bfcl --config configs/qwen3_4b_instruct_rlla4k.yaml\n"
        "  rest-rl data check --against apibank --set data.source=toolrl_sft data.path=../shared/data/toolrl/rlla_sft.json\n"
        "  rest-rl data check --against bfcl --set data.source=mix data.path=configs/data/rlla_4k_mix.yaml --out overlaps.json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--against", default=",".join(BENCHMARKS), metavar="LIST",
                       help=f"benchmarks to check against, comma-separated: {', '.join(BENCHMARKS)} (default: all)")  # fmt: skip
    check.add_argument("--config", metavar="YAML", help="a run file; its data section is read (the rest is ignored)")
    check.add_argument("--set", action="extend", nargs="+", metavar="data.KEY=VALUE",
                       help="override a data key, e.g. --set data.source=toolrl_sft data.path=rlla_sft.json (repeatable)")  # fmt: skip
    check.add_argument("--threshold", type=float, default=NEAR_THRESHOLD, metavar="X",
                       help=f"near-duplicate containment threshold in (0, 1] (default: {NEAR_THRESHOLD})")  # fmt: skip
    check.add_argument("--top", type=int, default=10, metavar="N", help="matches printed (default: 10)")
    check.add_argument("--out", metavar="FILE", help="also write the full report (every flagged example) as JSON")
    check.add_argument("--apibank-dir", metavar="DIR",
                       help="directory with the API-Bank level files (default: the verified download cache)")  # fmt: skip
    check.set_defaults(func=_cmd_check)
    return parser
