"""Tool-N1's binary reward (a baseline, docs/method.md §4).

1 when the completion has a closed ``<think>...</think>`` and the *set* of its calls equals the
gold's (order and repetition ignored, values compared with JSON equality), else 0. The calls come
from the ToolRL-format block (:func:`rest_rl.toolcall.toolrl.scan_toolrl`); a block that is
unclosed or has any defective line never matches. A gold without calls is matched by a
completion without calls (no block, or an empty one).
"""

from __future__ import annotations

from collections.abc import Sequence

from rest_rl.toolcall.toolrl import ToolRLScan, scan_toolrl
from rest_rl.toolcall.types import ToolCall

from .matching import call_sets_equal

__all__ = ["tool_n1_conditions", "tool_n1_reward"]


def tool_n1_conditions(scan: ToolRLScan, gold: Sequence[ToolCall]) -> tuple[bool, bool]:
    """``(think present and closed, predicted call set equals the gold's)`` for a scanned text."""
    think_ok = scan.think_closed
    if scan.block_problems:
        return think_ok, False
    return think_ok, call_sets_equal(scan.calls, gold)


def tool_n1_reward(completion: str, gold_calls: Sequence[ToolCall] | None) -> float:
    """Tool-N1's reward for one completion: 1.0 or 0.0 (never raises on the completion)."""
    think_ok, calls_ok = tool_n1_conditions(scan_toolrl(completion), list(gold_calls or ()))
    return 1.0 if think_ok and calls_ok else 0.0
