"""Tests for rest_rl.core.advantages."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rest_rl.core.advantages import ADVANTAGE_ESTIMATORS, dr_grpo_advantages, grpo_advantages


def _loop_reference(rewards: list[float], group_size: int, scale: bool, eps: float = 1e-4) -> list[float]:
    """Plain-Python GRPO advantage with the unbiased group std."""
    out: list[float] = []
    for start in range(0, len(rewards), group_size):
        group = rewards[start : start + group_size]
        mean = sum(group) / len(group)
        if len(group) > 1:
            std = math.sqrt(sum((r - mean) ** 2 for r in group) / (len(group) - 1))
        else:
            std = 0.0
        for r in group:
            out.append((r - mean) / (std + eps) if scale else r - mean)
    return out


def test_hand_computed_values() -> None:
    # Group 1: [1, 3] -> mean 2, unbiased std sqrt(2). Group 2: [0, 0] -> all zero.
    adv = grpo_advantages(torch.tensor([1.0, 3.0, 0.0, 0.0], dtype=torch.float64), 2)
    s = math.sqrt(2.0) + 1e-4
    torch.testing.assert_close(adv, torch.tensor([-1 / s, 1 / s, 0.0, 0.0], dtype=torch.float64))
    # Group of 4: [0, 0, 0, 4] -> mean 1, unbiased var (1+1+1+9)/3 = 4, std 2.
    adv = grpo_advantages(torch.tensor([0.0, 0.0, 0.0, 4.0], dtype=torch.float64), 4, eps=0.0)
    torch.testing.assert_close(adv, torch.tensor([-0.5, -0.5, -0.5, 1.5], dtype=torch.float64))
    adv = dr_grpo_advantages(torch.tensor([0.0, 0.0, 0.0, 4.0]), 4)
    torch.testing.assert_close(adv, torch.tensor([-1.0, -1.0, -1.0, 3.0]))


def test_unbiased_std_matches_torch_std() -> None:
    rewards = torch.tensor([0.3, -1.2, 2.5, 0.0, 1.0, 1.5], dtype=torch.float64)
    grouped = rewards.view(2, 3)
    expected = (grouped - grouped.mean(1, keepdim=True)) / (grouped.std(1, unbiased=True, keepdim=True) + 1e-4)
    torch.testing.assert_close(grpo_advantages(rewards, 3), expected.view(-1))


@settings(max_examples=60, deadline=None)
@given(
    group_size=st.integers(min_value=1, max_value=5),
    n_groups=st.integers(min_value=0, max_value=4),
    data=st.data(),
)
def test_matches_loop_reference(group_size: int, n_groups: int, data: st.DataObject) -> None:
    values = data.draw(
        st.lists(
            st.floats(min_value=-5, max_value=5, allow_nan=False),
            min_size=group_size * n_groups,
            max_size=group_size * n_groups,
        )
    )
    rewards = torch.tensor(values, dtype=torch.float64)
    for scale in (True, False):
        got = grpo_advantages(rewards, group_size, scale_by_std=scale).tolist()
        want = _loop_reference(values, group_size, scale)
        assert got == pytest.approx(want, abs=1e-9, rel=1e-9)
    assert dr_grpo_advantages(rewards, group_size).tolist() == pytest.approx(
        _loop_reference(values, group_size, False), abs=1e-9
    )


def test_group_size_one_gives_zeros() -> None:
    rewards = torch.tensor([1.0, -2.0, 3.0])
    assert torch.equal(grpo_advantages(rewards, 1), torch.zeros(3))
    assert torch.equal(dr_grpo_advantages(rewards, 1), torch.zeros(3))


def test_constant_group_gives_zeros() -> None:
    assert torch.equal(grpo_advantages(torch.full((4,), 2.5), 4), torch.zeros(4))


def test_not_a_multiple_of_group_size_raises() -> None:
    with pytest.raises(ValueError, match="not a multiple of group_size"):
        grpo_advantages(torch.zeros(5), 2)
    with pytest.raises(ValueError, match="group_size"):
        grpo_advantages(torch.zeros(4), 0)
    with pytest.raises(ValueError, match="1-D"):
        grpo_advantages(torch.zeros(2, 2), 2)
    with pytest.raises(ValueError, match="inf"):
        grpo_advantages(torch.tensor([1.0, float("inf")]), 2)


def test_nan_rewards_are_excluded_and_get_zero_advantage() -> None:
    rewards = torch.tensor([1.0, float("nan"), 3.0, 5.0, float("nan"), 0.0], dtype=torch.float64)
    adv = grpo_advantages(rewards, 3)
    finite = _loop_reference([1.0, 3.0], 2, True)
    torch.testing.assert_close(adv[:3], torch.tensor([finite[0], 0.0, finite[1]], dtype=torch.float64))
    # Second group [5, nan, 0]: statistics from [5, 0] only.
    second = _loop_reference([5.0, 0.0], 2, True)
    torch.testing.assert_close(adv[3:], torch.tensor([second[0], 0.0, second[1]], dtype=torch.float64))
    lone = grpo_advantages(torch.tensor([float("nan"), 2.0]), 2)
    assert torch.equal(lone, torch.zeros(2))


def test_integer_rewards_and_detached_output() -> None:
    adv = grpo_advantages(torch.tensor([0, 1]), 2)
    assert adv.dtype == torch.float32
    rewards = torch.tensor([0.0, 1.0], requires_grad=True)
    assert not grpo_advantages(rewards, 2).requires_grad


def test_registry() -> None:
    assert set(ADVANTAGE_ESTIMATORS) == {"grpo", "dr_grpo"}
    rewards = torch.tensor([0.0, 2.0, 1.0, 1.0])
    torch.testing.assert_close(ADVANTAGE_ESTIMATORS["grpo"](rewards, 2), grpo_advantages(rewards, 2))
    torch.testing.assert_close(ADVANTAGE_ESTIMATORS["dr_grpo"](rewards, 2), dr_grpo_advantages(rewards, 2))
    with pytest.raises(TypeError):
        ADVANTAGE_ESTIMATORS["x"] = grpo_advantages  # type: ignore[index]
