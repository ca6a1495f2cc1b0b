"""``rest-rl demo``: the end-to-end demo on the embedded default, and ``rest-rl demo agent``: the agentic
(multi-turn tool use) demo (see :mod:`rest_rl.demo`)."""

from __future__ import annotations

import argparse
from typing import Any

from rest_rl.cli.common import HelpWithKnobs
from rest_rl.config import build_dataclass, format_fields, resolve_tree, to_plain

__all__ = ["DEMO_FORMS", "add_demo_parser"]

DEMO_FORMS: tuple[str, ...] = ("agent",)
"""Forms of ``rest-rl demo`` besides the default one: ``agent`` (multi-turn tool use)."""


def _cmd_demo(args: argparse.Namespace) -> int:
    from rest_rl.integrations.trl.runners import quiet_libraries

    quiet_libraries()
    if args.form == "agent":
        from rest_rl.demo import DemoAgentConfig, run_demo_agent

        cfg = _config(DemoAgentConfig, args)
        run_demo_agent(cfg.quick() if args.quick else cfg)
        return 0
    from rest_rl.demo import DemoConfig, run_demo

    cfg = _config(DemoConfig, args)
    if args.quick:
        cfg = cfg.quick()
    run_demo(cfg)
    return 0


def _config(cls: type, args: argparse.Namespace) -> Any:
    defaults = to_plain(cls())
    overrides = list(args.set or [])
    if args.out_dir:
        overrides.insert(0, f"out_dir={args.out_dir}")
    tree = resolve_tree(defaults, args.config, overrides)
    return build_dataclass(cls, tree)


def _knobs_demo() -> str:
    from rest_rl.demo import DemoConfig

    return "\n\n".join(
        [
            "Configuration keys (configs/demo.yaml holds the defaults), or --set KEY=VALUE:",
            format_fields(DemoConfig, "", title="[demo]"),
            "The sections sft, control and rl take any field of ResTSFTConfig / ResTGRPOConfig "
            "(see `rest-rl sft --help` and `rest-rl train --help`). `rest-rl demo agent --help` lists the keys of "
            "the agentic demo.",
        ]
    )


def _knobs_agent() -> str:
    from rest_rl.demo import DemoAgentConfig

    return "\n\n".join(
        [
            "Configuration keys of `rest-rl demo agent` (configs/demo_agent.yaml holds the defaults), or --set KEY=VALUE:",
            format_fields(DemoAgentConfig, "", title="[demo agent]"),
            "The sections sft, control_sft and rl take any field of ResTSFTConfig / ResTGRPOConfig "
            "(see `rest-rl sft --help` and `rest-rl train --help`); tasks takes any field of rest_rl.envs.TaskConfig.",
        ]
    )


class _DemoHelp(HelpWithKnobs):
    """``--help`` that lists the configuration keys of the form named before it (``rest-rl demo agent --help``)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: str | None = None) -> None:
        self.knobs = _knobs_agent if getattr(namespace, "form", None) == "agent" else _knobs_demo
        super().__call__(parser, namespace, values, option_string)


def add_demo_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``demo`` (and its ``agent`` form) to the ``rest-rl`` sub-parsers; returns its parser."""
    demo = sub.add_parser(
        "demo",
        help="run the end-to-end demo on the embedded default (CPU, no downloads); `demo agent`: multi-turn tool use",
        description="The end-to-end demo on the embedded default: synthetic tool world -> tokenizer + tiny model "
        "-> SFT warm start on a small labelled set -> ResT RL on fresh prompts scored by the verifier (and a "
        "control arm: more SFT on the same labels) -> held-out evaluation -> OUT_DIR/report.md with plots.\n\n"
        "`rest-rl demo agent`: the same story for an agent -- a stateful multi-turn tool world -> tokenizer + tiny "
        "model -> SFT on a few gold trajectories -> ResT RL in TRL's multi-turn tool loop rewarded on the outcome "
        "(final state and answer), and the control arm -> held-out tasks run to their end -> OUT_DIR/report.md.",
        epilog="examples:\n  rest-rl demo\n  rest-rl demo --set rl.max_steps=100 --out-dir runs/demo-short\n"
        "  rest-rl demo agent\n  rest-rl demo agent --set rl.max_steps=50 --out-dir runs/demo-agent-short",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    demo.add_argument("form", nargs="?", choices=DEMO_FORMS, help="agent: the agentic (multi-turn tool use) demo")
    demo.add_argument("-h", "--help", action=_DemoHelp, knobs=_knobs_demo, help="show this help, with every configuration key, and exit")
    demo.add_argument("--config", metavar="YAML", help="demo configuration (default: built-in, same as configs/demo.yaml or configs/demo_agent.yaml)")
    demo.add_argument("--out-dir", metavar="DIR", help="where the model, runs, report and plots go (default: runs/demo, runs/demo-agent)")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key, e.g. --set rl.max_steps=50")
    demo.add_argument("--quick", action="store_true", help="a tiny, fast version (seconds; for smoke tests, not results)")
    demo.set_defaults(func=_cmd_demo)
    return demo
