"""The ToolRL reward with ResT's dynamic schedule as a verl reward function (``custom_reward_function``).

verl's reward managers call ``compute_score(data_source=..., solution_str=..., ground_truth=...,
extra_info=...)`` once per response, with ``solution_str`` the decoded response and ``ground_truth`` the
row's ``reward_model.ground_truth`` (for ToolRL's rlla_4k parquet: the gold step in ToolRL format), and
merge the config's ``custom_reward_function.reward_kwargs`` into the keyword arguments. Point verl at it
with::

    reward.custom_reward_function.path=pkg://rest_rl.integrations.verl.reward
    reward.custom_reward_function.name=compute_score

It returns a dict: ``score`` (format + correctness, what verl trains on) plus ``format``, ``correctness``,
``format_ok``, ``exact_match`` and ``schedule_p``, which verl keeps as ``reward_extra_info`` and logs.

**The schedule** (docs/method.md §4): ToolRL and ResT use ``p = step / 150`` with ``step`` the global step
of their verl trainer. The step is read from ``extra_info["rest_global_step"]``, which the ResT trainer
(:mod:`rest_rl.integrations.verl.trainer`) writes into every prompt's ``extra_info`` before rollout; a
plain verl trainer does not pass the step to reward functions, and then ``p`` stays 0 (the start of the
schedule) with one warning. ``reward_kwargs`` (all optional): ``schedule`` (``dynamic``/``static``),
``format_check`` (``relaxed``/``strict``), ``variant``, ``horizon_steps`` (150), and the other
:class:`~rest_rl.rewards.RewardConfig` fields.

The response is untrusted model output: any text gives a finite score and nothing in it is executed. A
gold answer that cannot be read raises ``ValueError`` (a broken data file, not a bad response).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from rest_rl.rewards import RewardConfig, gold_from_text, reward_ranges, toolrl_reward

__all__ = ["DEFAULT_HORIZON_STEPS", "STEP_KEY", "compute_score", "reward_config"]

logger = logging.getLogger(__name__)

STEP_KEY = "rest_global_step"
"""Key of verl's global step in a prompt's ``extra_info`` (written by the ResT trainer)."""
DEFAULT_HORIZON_STEPS = 150.0
"""ToolRL's and ResT's schedule length in verl steps: ``p = step / 150``."""

_REWARD_FIELDS = frozenset(f.name for f in dataclasses.fields(RewardConfig))
_warned_no_step = False


@lru_cache(maxsize=64)
def _config(items: tuple[tuple[str, Any], ...]) -> RewardConfig:
    return RewardConfig(**dict(items))


def reward_config(**kwargs: Any) -> RewardConfig:
    """The :class:`~rest_rl.rewards.RewardConfig` of ``reward_kwargs`` (``horizon_steps`` excluded).

    ``dynamic_horizon`` is fixed at 1 here: the progress handed to the reward is already ``step /
    horizon_steps``. Unknown keys raise ``ValueError``.
    """
    unknown = sorted(set(kwargs) - _REWARD_FIELDS - {"horizon_steps"})
    if unknown:
        raise ValueError(f"unknown reward_kwargs: {', '.join(unknown)}; expected horizon_steps or {sorted(_REWARD_FIELDS)}")
    if "dynamic_horizon" in kwargs:
        raise ValueError("set horizon_steps (in verl steps) instead of dynamic_horizon for the verl reward")
    values = {k: v for k, v in kwargs.items() if k != "horizon_steps"}
    return _config(tuple(sorted(values.items())))


def _step_of(extra_info: Any) -> float | None:
    if not isinstance(extra_info, Mapping):
        return None
    value = extra_info.get(STEP_KEY)
    try:
        step = float(value)
    except (TypeError, ValueError):
        return None
    return step if math.isfinite(step) else None


@lru_cache(maxsize=4096)
def _gold(ground_truth: str) -> tuple[Any, bool]:
    calls, has_response = gold_from_text(ground_truth)
    return (None if calls is None else tuple(calls)), has_response


def compute_score(
    data_source: Any = None,
    solution_str: Any = "",
    ground_truth: Any = None,
    extra_info: Any = None,
    *,
    horizon_steps: float = DEFAULT_HORIZON_STEPS,
    **reward_kwargs: Any,
) -> dict[str, Any]:
    """Score one verl response against its ToolRL gold step (module docstring for the arguments)."""
    global _warned_no_step
    # verl may pass extra keyword arguments of its own (reward_router_address, ...): keep only ours.
    own = {k: v for k, v in reward_kwargs.items() if k in _REWARD_FIELDS}
    cfg = reward_config(**own)
    if not isinstance(ground_truth, str):
        raise ValueError(f"ground_truth must be the gold step as ToolRL text, got {type(ground_truth).__name__}")
    if not (isinstance(horizon_steps, (int, float)) and horizon_steps > 0 and math.isfinite(horizon_steps)):
        raise ValueError(f"horizon_steps must be a positive number, got {horizon_steps!r}")
    calls, has_response = _gold(ground_truth)
    step = _step_of(extra_info)
    if step is None:
        step = 0.0
        if cfg.schedule == "dynamic" and not _warned_no_step:
            logger.warning(
                "rest_rl verl reward: no %r in extra_info, the dynamic schedule stays at its start (p = 0); "
                "train with the ResT trainer (trainer.v1.trainer_mode=rest_sync) to pass verl's step",
                STEP_KEY,
            )
            _warned_no_step = True
    progress = step / float(horizon_steps)
    text = solution_str if isinstance(solution_str, str) else ""
    try:
        out = toolrl_reward(
            text, list(calls) if calls else None, gold_has_response=has_response, progress=progress, config=cfg
        )
        score, fmt, cor, extra = out.total, out.format, out.correctness, out.extra
    except Exception:  # noqa: BLE001 - untrusted output must still get a finite score
        ranges = reward_ranges(cfg, progress)
        score, fmt, cor = ranges.total[0], ranges.format[0], ranges.correctness[0]
        extra = {"format_ok": False, "match": None, "progress": 0.0}
    match = extra.get("match")
    return {
        "score": float(score),
        "format": float(fmt),
        "correctness": float(cor),
        "format_ok": float(bool(extra.get("format_ok"))),
        "exact_match": float(match is not None and match >= 1.0),
        "schedule_p": float(extra.get("progress", 0.0)),
    }
