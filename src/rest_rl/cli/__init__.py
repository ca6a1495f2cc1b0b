"""The ``rest-rl`` command.

Sub-commands:

* ``rest-rl demo`` — the end-to-end demo on the embedded default (no downloads): synthetic world → tokenizer
  and tiny model → SFT warm start → ResT RL → held-out evaluation → ``runs/demo/report.md``.
* ``rest-rl sft`` — supervised baselines (SFT, TSFT, RSFT) on TRL's ``SFTTrainer``.
* ``rest-rl train`` — ResT (GRPO with reshaped token-level policy gradients) on TRL's ``GRPOTrainer``.
* ``rest-rl eval`` — benchmarks (API-Bank, BFCL v3, multi-turn agent tasks) and ``eval compare`` (paired
  comparison of two runs).
* ``rest-rl data check`` — training examples that copy benchmark prompts.
* ``rest-rl tiny-model`` — build the embedded tiny model directory (usable as ``--model`` anywhere).
* ``rest-rl tag`` — show how a completion is split into ResT regions, token by token.

``sft`` and ``train`` read a YAML file (``--config``) whose sections are ``model``, ``data`` and ``sft`` /
``train``; ``--set SECTION.KEY=VALUE`` overrides any key, and ``--help`` lists every key. They save a
checkpoint every ``save_steps`` steps; ``--resume`` continues the latest one (model, optimizer, scheduler,
RNG, data position, curriculum and reward-schedule progress) and appends to ``metrics.jsonl``.

Errors a user can fix (bad arguments, unknown keys, missing files) are reported in one line, without a
traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rest_rl.cli.common import CliError
from rest_rl.cli.data import add_data_parser
from rest_rl.cli.demo import add_demo_parser
from rest_rl.cli.eval import add_eval_parser
from rest_rl.cli.tools import add_tag_parser, add_tiny_model_parser
from rest_rl.cli.train import add_sft_parser, add_train_parser
from rest_rl.errors import UserError, one_line

__all__ = ["CliError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``rest-rl`` argument parser (sub-commands demo, sft, train, eval, tiny-model, tag)."""
    parser = argparse.ArgumentParser(
        prog="rest-rl",
        description="ResT: reshaped token-level policy gradients for tool-using LLMs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    add_demo_parser(sub)
    add_sft_parser(sub)
    add_train_parser(sub)
    add_eval_parser(sub)
    add_data_parser(sub)
    add_tiny_model_parser(sub)
    add_tag_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rest-rl``; returns the exit status (2 for a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"rest-rl: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rest-rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
