"""The ToolRL reward (format + correctness) with ResT's dynamic schedule, and ToolRL's ablations.

Reward = format + correctness (+ length for the ``length`` variant), docs/method.md §4.

**Required tags.** ``<think>`` always; ``<tool_call>`` when the gold has calls; ``<response>``
when the gold has a response. Tags not required must be absent.

**Format check.** The think text (first ``<think>`` to the next ``</think>``) may mention tags:
real gold answers do ("...within the <tool_call> tags").

* ``relaxed`` (ResT, default): outside the think text, the tags present are exactly the required
  ones, each once, in order (think, tool_call, response). Any text may surround them.
* ``strict`` (ToolRL's anchored regex): the completion, stripped of surrounding whitespace, is
  exactly the gold layout: it starts with ``<think>``, ends with the last required closing tag,
  consecutive blocks are separated by exactly one ``\\n``, and every required tag occurs once in
  the *whole* text (think included, as ToolRL counts) while no other tag occurs at all. A strict
  pass implies a relaxed pass.

The format score is the top of the format range when the check passes, the bottom otherwise.

**Correctness** (0 when the gold has no call). The completion's last ``<tool_call>`` block after
the think text is parsed (:func:`rest_rl.toolcall.toolrl.scan_toolrl`). No block, an unclosed
block (truncation) or *any* defective line in it (bad JSON, no name, non-object or missing
arguments) is a parse failure: the bottom of the range (as in ToolRL, where one bad line fails the
whole parse). Otherwise :func:`~rest_rl.rewards.matching.match_fraction` maps linearly into the
range: identical list gives the top. Values compare with JSON equality (``1 != "1"``,
``True != 1``, ``1 == 1.0``).

**Schedule.** ``p = clip(progress / dynamic_horizon, 0, 1)`` where ``progress`` ∈ [0, 1] is the
training progress. ``dynamic``: format range ``[-2 + p, 2 - p]``, correctness range
``[-2 - p, 2 + p]`` (so both saturate at p = 1: ``[-1, 1]`` and ``[-3, 3]``). ``static``: format
``[0, 1]``, correctness ``[-3, 3]``. ToolRL/ResT use ``p = step / 150``: pass
``progress = step / 150`` with ``dynamic_horizon = 1`` to reproduce their numbers, or, with
``progress = step / total_steps``, set ``dynamic_horizon = 150 / total_steps`` (ResT's ~105-step
run: ``150 / 105``, the schedule never saturates there).

**Variants** (ToolRL's ablations; the format range always follows ``schedule``):

* ``default``: as above.
* ``equal_max``: correctness range ``[-1, 1]`` (same maximum as the format reward).
* ``two_stage``: correctness ``[-1, 1]`` while ``p < two_stage_switch``, then ``[-3, 3]``
  (ToolRL's switch at step 30 of 150 is the default 0.2).
* ``fine_grained``: the name and key Jaccards become all-or-nothing (equal multisets or 0).
* ``intermediate``: each gold call scores 1 only on an exact same-name match; S_max = 1 + #gold.
* ``coarse``: top when the predicted calls equal the gold (as multisets; order ignored), else bottom.
* ``length``: default plus ``length_weight · min(1, words(think) / length_target_words)``
  (0 without a closed think).
* ``tool_n1``: Tool-N1's binary reward: total 1 when a closed ``<think>...</think>`` is present
  and the *set* of predicted calls equals the gold's (a block with defects never does; a gold
  with no call wants no call), else 0. ``format``/``correctness`` report the two conditions as
  1/0; the schedule does not apply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from rest_rl.toolcall.toolrl import ToolRLScan, call_from_object, scan_toolrl
from rest_rl.toolcall.types import ToolCall

from .binary import tool_n1_conditions
from .matching import call_multisets_equal, match_fraction

__all__ = [
    "FORMAT_CHECKS",
    "SCHEDULES",
    "VARIANTS",
    "RewardBreakdown",
    "RewardConfig",
    "RewardRanges",
    "format_ok",
    "gold_from_text",
    "required_tags",
    "reward_ranges",
    "toolrl_reward",
]

FORMAT_CHECKS: tuple[str, ...] = ("strict", "relaxed")
SCHEDULES: tuple[str, ...] = ("static", "dynamic")
VARIANTS: tuple[str, ...] = (
    "default",
    "equal_max",
    "two_stage",
    "fine_grained",
    "intermediate",
    "coarse",
    "length",
    "tool_n1",
)


@dataclass
class RewardConfig:
    """How the ToolRL reward is computed (see the module docstring for the exact rules)."""

    format_check: str = field(
        default="relaxed",
        metadata={
            "help": "'relaxed' (ResT): required tags present once each, in order, outside the "
            "think text; 'strict' (ToolRL): the whole completion matches the gold's tag layout."
        },
    )
    schedule: str = field(
        default="dynamic",
        metadata={
            "help": "'dynamic' (ResT): format range [-2+p, 2-p], correctness [-2-p, 2+p], "
            "p = clip(progress / dynamic_horizon, 0, 1); 'static': format {0, 1}, correctness [-3, 3]."
        },
    )
    dynamic_horizon: float = field(
        default=1.0,
        metadata={
            "help": "Training progress at which the dynamic schedule saturates. ToolRL's "
            "p = step/150 is progress = step/total_steps with dynamic_horizon = 150/total_steps."
        },
    )
    variant: str = field(
        default="default",
        metadata={"help": "Reward variant: one of " + ", ".join(VARIANTS) + "."},
    )
    two_stage_switch: float = field(
        default=0.2,
        metadata={
            "help": "two_stage: schedule progress p at which the correctness range goes from "
            "[-1, 1] to [-3, 3] (ToolRL: step 30 of 150)."
        },
    )
    length_target_words: int = field(
        default=512,
        metadata={"help": "length: think words at which the length reward saturates."},
    )
    length_weight: float = field(
        default=1.0,
        metadata={"help": "length: maximum of the length reward (its minimum is 0)."},
    )

    def __post_init__(self) -> None:
        if self.format_check not in FORMAT_CHECKS:
            raise ValueError(f"format_check must be one of {FORMAT_CHECKS}, got {self.format_check!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}, got {self.variant!r}")
        if not (self.dynamic_horizon > 0 and math.isfinite(self.dynamic_horizon)):
            raise ValueError(f"dynamic_horizon must be a positive number, got {self.dynamic_horizon!r}")
        if not self.length_target_words > 0:
            raise ValueError(f"length_target_words must be > 0, got {self.length_target_words!r}")
        if not (self.length_weight >= 0 and math.isfinite(self.length_weight)):
            raise ValueError(f"length_weight must be a finite number >= 0, got {self.length_weight!r}")

    @classmethod
    def help(cls) -> dict[str, str]:
        """Field name → help string."""
        return {f.name: f.metadata.get("help", "") for f in fields(cls)}


@dataclass(frozen=True)
class RewardRanges:
    """The active ranges of every reward part, as ``(low, high)`` pairs."""

    format: tuple[float, float]
    correctness: tuple[float, float]
    length: tuple[float, float]
    total: tuple[float, float]


@dataclass
class RewardBreakdown:
    """One completion's reward: its parts and their sum, plus diagnostics in ``extra``.

    ``extra`` holds ``format_ok`` (bool), ``calls_ok`` (a clean, closed block was parsed),
    ``match`` (the matched fraction in [0, 1], or None when not computed), ``progress`` (the
    schedule progress p), and ``length`` for the ``length`` variant.
    """

    format: float
    correctness: float
    total: float
    extra: dict[str, Any] = field(default_factory=dict)


def _schedule_p(progress: float, horizon: float) -> float:
    try:
        p = float(progress) / horizon
    except (TypeError, ValueError):
        return 0.0
    if p != p or p <= 0.0:  # NaN or non-positive
        return 0.0
    return 1.0 if p >= 1.0 else p


def reward_ranges(config: RewardConfig | None = None, progress: float = 0.0) -> RewardRanges:
    """The ranges every part of the reward lies in, for ``config`` at training ``progress``."""
    cfg = config or RewardConfig()
    if cfg.variant == "tool_n1":
        return RewardRanges((0.0, 1.0), (0.0, 1.0), (0.0, 0.0), (0.0, 1.0))
    p = _schedule_p(progress, cfg.dynamic_horizon)
    if cfg.schedule == "dynamic":
        fmt = (-2.0 + p, 2.0 - p)
        cor = (-2.0 - p, 2.0 + p)
    else:
        fmt = (0.0, 1.0)
        cor = (-3.0, 3.0)
    if cfg.variant == "equal_max":
        cor = (-1.0, 1.0)
    elif cfg.variant == "two_stage":
        cor = (-1.0, 1.0) if p < cfg.two_stage_switch else (-3.0, 3.0)
    length = (0.0, float(cfg.length_weight)) if cfg.variant == "length" else (0.0, 0.0)
    # Correctness is 0 for a gold without calls, so 0 must be in the total's range too.
    total = (fmt[0] + min(cor[0], 0.0) + length[0], fmt[1] + max(cor[1], 0.0) + length[1])
    return RewardRanges(fmt, cor, length, total)


def required_tags(has_calls: bool, has_response: bool) -> tuple[str, ...]:
    """The tag sequence a completion must show: think, then tool_call and/or response."""
    tags = ["<think>", "</think>"]
    if has_calls:
        tags += ["<tool_call>", "</tool_call>"]
    if has_response:
        tags += ["<response>", "</response>"]
    return tuple(tags)


def _format_ok_scan(scan: ToolRLScan, text: str, expected: tuple[str, ...], strict: bool) -> bool:
    if not strict:
        return tuple(scan.tags_outside_think) == expected
    tags = scan.all_tags
    if len(tags) != len(expected) or any(t[0] != e for t, e in zip(tags, expected)):
        return False
    if tags[0][1] != len(text) - len(text.lstrip()) or tags[-1][2] != len(text.rstrip()):
        return False
    # Between a block's closing tag and the next block's opening tag: exactly one newline.
    return all(text[tags[i][2] : tags[i + 1][1]] == "\n" for i in range(1, len(tags) - 1, 2))


def format_ok(
    completion: str, *, has_calls: bool, has_response: bool, format_check: str = "relaxed"
) -> bool:
    """Whether ``completion`` passes the format check for a gold with these parts."""
    if not isinstance(completion, str):
        return False
    return _format_ok_scan(
        scan_toolrl(completion),
        completion,
        required_tags(has_calls, has_response),
        format_check == "strict",
    )


def _normalise_gold(gold_calls: Sequence[ToolCall] | None) -> list[ToolCall]:
    if gold_calls is None:
        return []
    if isinstance(gold_calls, (str, bytes)):
        raise TypeError("gold_calls must be a sequence of ToolCall (use gold_from_text for text)")
    out: list[ToolCall] = []
    for item in gold_calls:
        if isinstance(item, ToolCall):
            out.append(item)
        elif isinstance(item, Mapping):
            call, _ = call_from_object(dict(item), "gold")
            if call is None:
                raise ValueError(f"gold call {item!r} has no usable name/parameters")
            out.append(call)
        else:
            raise TypeError(f"gold call must be a ToolCall, got {type(item).__name__}")
    return out


def toolrl_reward(
    completion: str,
    gold_calls: Sequence[ToolCall] | None,
    *,
    gold_has_response: bool = False,
    progress: float = 0.0,
    config: RewardConfig | None = None,
) -> RewardBreakdown:
    """Score one ToolRL-format completion against the gold calls (see the module docstring).

    ``completion`` is untrusted model output: any value gives a finite reward within
    :func:`reward_ranges`, never an exception. ``gold_calls`` (``None`` or empty when the gold
    step has no call) and ``gold_has_response`` describe the gold answer; :func:`gold_from_text`
    derives both from a gold text (calls given as ``{"name", "parameters"}`` dicts are accepted).
    ``progress`` ∈ [0, 1] is the training progress. Only a malformed *gold* raises
    (``TypeError``/``ValueError``).
    """
    cfg = config or RewardConfig()
    gold = _normalise_gold(gold_calls)
    text = completion if isinstance(completion, str) else ""
    scan = scan_toolrl(text)
    p = _schedule_p(progress, cfg.dynamic_horizon)

    if cfg.variant == "tool_n1":
        think_ok, calls_ok = tool_n1_conditions(scan, gold)
        f, c = float(think_ok), float(calls_ok)
        return RewardBreakdown(
            f, c, f * c, {"format_ok": think_ok, "calls_ok": calls_ok, "match": None, "progress": p}
        )

    ranges = reward_ranges(cfg, progress)
    f_lo, f_hi = ranges.format
    c_lo, c_hi = ranges.correctness
    fmt_ok = _format_ok_scan(
        scan, text, required_tags(bool(gold), gold_has_response), cfg.format_check == "strict"
    )
    fmt = f_hi if fmt_ok else f_lo

    calls_ok = scan.block_ok
    match: float | None = None
    if not gold:
        cor = 0.0
    elif not calls_ok:
        cor = c_lo
    else:
        if cfg.variant == "coarse":
            match = 1.0 if call_multisets_equal(gold, scan.calls) else 0.0
        elif cfg.variant in ("fine_grained", "intermediate"):
            match = match_fraction(gold, scan.calls, cfg.variant)  # type: ignore[arg-type]
        else:
            match = match_fraction(gold, scan.calls, "default")
        cor = c_hi if match >= 1.0 else min(c_hi, max(c_lo, c_lo + (c_hi - c_lo) * match))

    extra: dict[str, Any] = {"format_ok": fmt_ok, "calls_ok": calls_ok, "match": match, "progress": p}
    total = fmt + cor
    if cfg.variant == "length":
        words = len(scan.think.split()) if scan.think_closed and scan.think else 0
        length = cfg.length_weight * min(1.0, words / cfg.length_target_words)
        extra["length"] = length
        total += length
    return RewardBreakdown(fmt, cor, total, extra)


def gold_from_text(gold_text: str) -> tuple[list[ToolCall] | None, bool]:
    """Read a ToolRL-format gold answer: ``(calls or None when it has no block, has_response)``.

    Tags mentioned inside the gold's think text do not count (unlike ToolRL's substring test,
    which would, e.g., require a response from a gold whose reasoning says "no need for a
    <response> yet"). Raises ``ValueError`` when the gold's own block is defective: scoring
    against a partly read gold would be silently wrong.
    """
    scan = scan_toolrl(gold_text)
    if scan.block_problems:
        raise ValueError("gold answer has a defective <tool_call> block: " + "; ".join(scan.block_problems))
    return (list(scan.calls) if scan.has_block else None), scan.response is not None
