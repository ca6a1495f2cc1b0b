"""Markdown tables for evaluation reports (GitHub-flavoured, aligned for reading as plain text)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["format_pct", "markdown_table"]


def format_pct(numerator: int, denominator: int, digits: int = 2) -> str:
    """``100 * numerator / denominator`` with ``digits`` decimals, or ``"-"`` when the denominator is 0."""
    if denominator <= 0:
        return "-"
    return f"{100.0 * numerator / denominator:.{digits}f}"


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """A markdown table; ``align`` holds one of ``l``/``r``/``c`` per column (default: first left, rest right).

    Cells are padded so the table also reads well in a terminal; ``|`` inside a cell is escaped.
    """
    ncol = len(headers)
    if align is None:
        align = "l" + "r" * (ncol - 1)
    if len(align) != ncol or any(a not in "lrc" for a in align):
        raise ValueError(f"align must give one of l/r/c for each of the {ncol} columns, got {align!r}")
    body = [[_cell(v) for v in row] for row in rows]
    for i, row in enumerate(body):
        if len(row) != ncol:
            raise ValueError(f"row {i} has {len(row)} cells, expected {ncol}")
    head = [_cell(h) for h in headers]
    widths = [max(3, len(head[c]), *(len(r[c]) for r in body)) for c in range(ncol)]

    def fmt(cells: list[str]) -> str:
        out = []
        for c, text in enumerate(cells):
            if align[c] == "r":
                out.append(text.rjust(widths[c]))
            elif align[c] == "c":
                out.append(text.center(widths[c]))
            else:
                out.append(text.ljust(widths[c]))
        return "| " + " | ".join(out) + " |"

    rule = []
    for c in range(ncol):
        w = widths[c]
        rule.append({"l": ":" + "-" * (w - 1), "r": "-" * (w - 1) + ":", "c": ":" + "-" * (w - 2) + ":"}[align[c]])
    lines = [fmt(head), "| " + " | ".join(rule) + " |"] + [fmt(r) for r in body]
    return "\n".join(lines)
