"""The ``rest-rl`` command.

Sub-commands:

* ``rest-rl demo`` — the end-to-end demo on the embedded default (no downloads).
* ``rest-rl tag`` — show how a completion is split into ResT regions, token by token.

Errors a user can fix (bad arguments, missing files) are reported in one line, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence


class CliError(Exception):
    """An error caused by the user's input, printed as one line."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from rest_rl.demo import DemoConfig, run_demo

    cfg = DemoConfig(out_dir=Path(args.out_dir), steps=args.steps, seed=args.seed, scheme=args.scheme)
    run_demo(cfg)
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    from rest_rl.core.offsets import token_char_offsets
    from rest_rl.core.regions import Region, label_tokens

    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"no such file: {path}")
        text = path.read_text(encoding="utf-8")
    elif args.text is not None:
        text = args.text
    else:
        text = sys.stdin.read()

    if args.tokenizer:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id
            raise CliError(f"cannot load tokenizer {args.tokenizer!r}: {exc}") from None
    else:
        from rest_rl.models.tokenizer import build_bpe_tokenizer

        tokenizer = build_bpe_tokenizer()

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoded, offsets = token_char_offsets(tokenizer, ids, skip_special_tokens=False)
    regions = label_tokens(decoded, offsets)
    counts: dict[str, int] = {}
    for (start, end), code in zip(offsets, regions):
        name = Region(int(code)).name
        counts[name] = counts.get(name, 0) + 1
        if not args.summary:
            print(f"{name:<10} {decoded[start:end]!r}")
    total = max(1, len(offsets))
    print(f"-- {len(offsets)} tokens: " + ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in sorted(counts.items())))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rest-rl",
        description="ResT: reshaped token-level policy gradients for tool-using LLMs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = sub.add_parser(
        "demo",
        help="run the end-to-end demo on the embedded default (CPU, no downloads)",
        description="Run the end-to-end demo on the embedded default: synthetic tool world, a tokenizer and a "
        "tiny model built locally, then the ResT pipeline (regions, entropies, weights, weighted loss).",
    )
    demo.add_argument("--out-dir", default="runs/demo", help="where the report and metrics go (default: runs/demo)")
    demo.add_argument("--steps", type=int, default=40, help="ResT update steps (default: 40)")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    demo.add_argument(
        "--scheme",
        choices=["entropy", "official", "uniform"],
        default="entropy",
        help="token-weight scheme (default: entropy, the paper's)",
    )
    demo.set_defaults(func=_cmd_demo)

    tag = sub.add_parser(
        "tag",
        help="show the ResT region of every token of a completion",
        description="Label every token of a completion with its ResT region (FORMAT, THINK, TOOL_NAME, ARG_KEY, "
        "ARG_VALUE, RESPONSE, SCAFFOLD, OTHER). Reads --text, --file or standard input.",
    )
    tag.add_argument("--text", help="the completion text")
    tag.add_argument("--file", help="a file holding the completion text")
    tag.add_argument(
        "--tokenizer",
        help="a local tokenizer directory or hub id (default: a small BPE tokenizer trained locally)",
    )
    tag.add_argument("--summary", action="store_true", help="print only the per-region token counts")
    tag.set_defaults(func=_cmd_tag)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as exc:
        print(f"rest-rl: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rest-rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
