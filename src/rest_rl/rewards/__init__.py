"""Rewards for tool-use RL: ToolRL's format + correctness reward with ResT's schedule, its
ablation variants, and Tool-N1's binary reward."""

from .binary import tool_n1_reward
from .matching import match_fraction, multiset_jaccard, values_equal
from .toolrl import (
    RewardBreakdown,
    RewardConfig,
    RewardRanges,
    format_ok,
    gold_from_text,
    reward_ranges,
    toolrl_reward,
)

__all__ = [
    "RewardBreakdown",
    "RewardConfig",
    "RewardRanges",
    "format_ok",
    "gold_from_text",
    "match_fraction",
    "multiset_jaccard",
    "reward_ranges",
    "tool_n1_reward",
    "toolrl_reward",
    "values_equal",
]
