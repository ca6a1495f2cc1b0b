"""What the ``rest-rl`` commands share: the user-error class, and ``--help`` that lists every configuration key."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from rest_rl.config import describe_fields
from rest_rl.errors import UserError

__all__ = ["CliError", "HelpWithKnobs", "format_subset", "run_parser"]


class CliError(UserError):
    """An error caused by the user's input, printed as one line."""


def format_subset(cls: type, prefix: str, keys: Sequence[str] | None, title: str, exclude: Sequence[str] = ()) -> str:
    lines = [title]
    wanted = None if keys is None else {prefix + k for k in keys}
    skip = {prefix + k for k in exclude}
    for key, tp, default, help_text in describe_fields(cls, prefix):
        if (wanted is not None and key not in wanted) or key in skip:
            continue
        lines.append(f"  {key} ({tp}, default {default})")
        if help_text:
            lines.extend(textwrap.wrap(help_text, width=100, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


class HelpWithKnobs(argparse.Action):
    """``-h/--help`` that appends the full list of configuration keys (computed on demand)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, knobs: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)
        self.knobs = knobs

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: str | None = None) -> None:
        _quiet()
        if self.knobs is not None:
            parser.epilog = (parser.epilog + "\n\n" if parser.epilog else "") + self.knobs()
        parser.print_help()
        parser.exit()


def run_parser(sub: Any, name: str, *, help: str, description: str, epilog: str, knobs: Callable[[], str]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument("-h", "--help", action=HelpWithKnobs, knobs=knobs, help="show this help, with every configuration key, and exit")
    return p


def _quiet() -> None:
    from rest_rl.integrations.trl.runners import quiet_libraries

    quiet_libraries()
