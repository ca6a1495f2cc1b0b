"""``rest-rl demo``: the end-to-end demo on the embedded default (see :mod:`rest_rl.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from rest_rl.cli.common import run_parser
from rest_rl.config import build_dataclass, format_fields, resolve_tree, to_plain

__all__ = ["add_demo_parser"]


def _cmd_demo(args: argparse.Namespace) -> int:
    from rest_rl.demo import DemoConfig, run_demo
    from rest_rl.integrations.trl.runners import quiet_libraries

    quiet_libraries()

    defaults = to_plain(DemoConfig())
    overrides = list(args.set or [])
    if args.out_dir:
        overrides.insert(0, f"out_dir={args.out_dir}")
    tree = resolve_tree(defaults, args.config, overrides)
    cfg = build_dataclass(DemoConfig, tree)
    if args.quick:
        cfg = cfg.quick()
    run_demo(cfg)
    return 0


def _knobs_demo() -> str:
    from rest_rl.demo import DemoConfig

    return "\n\n".join(
        [
            "Configuration keys (configs/demo.yaml holds the defaults), or --set KEY=VALUE:",
            format_fields(DemoConfig, "", title="[demo]"),
            "The sections sft, control and rl take any field of ResTSFTConfig / ResTGRPOConfig "
            "(see `rest-rl sft --help` and `rest-rl train --help`).",
        ]
    )


def add_demo_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``demo`` to the ``rest-rl`` sub-parsers; returns its parser."""
    demo = run_parser(
        sub,
        "demo",
        help="run the end-to-end demo on the embedded default (CPU, no downloads)",
        description="The end-to-end demo on the embedded default: synthetic tool world -> tokenizer + tiny model "
        "-> SFT warm start on a small labelled set -> ResT RL on fresh prompts scored by the verifier (and a "
        "control arm: more SFT on the same labels) -> held-out evaluation -> OUT_DIR/report.md with plots.",
        epilog="example:\n  rest-rl demo\n  rest-rl demo --set rl.max_steps=100 --out-dir runs/demo-short",
        knobs=_knobs_demo,
    )
    demo.add_argument("--config", metavar="YAML", help="demo configuration (default: built-in, same as configs/demo.yaml)")
    demo.add_argument("--out-dir", metavar="DIR", help="where the model, runs, report and plots go (default: runs/demo)")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key, e.g. --set rl.max_steps=50")
    demo.add_argument("--quick", action="store_true", help="a tiny, fast version (seconds; for smoke tests, not results)")
    demo.set_defaults(func=_cmd_demo)
    return demo
