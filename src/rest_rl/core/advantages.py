"""Group-relative advantage estimators (critic-free, one scalar per completion).

Rewards are laid out as consecutive groups: rows ``[k*G, (k+1)*G)`` are the ``G`` completions
sampled for prompt ``k`` (the layout TRL and verl use). Each estimator is a small pure function
``(rewards[N], group_size) -> advantages[N]``.

Conventions, chosen to match TRL 1.16 (``scale_rewards="group"``):

* The group standard deviation is the **unbiased** (Bessel-corrected, ``N - 1``) estimate.
* ``eps = 1e-4`` is added to the std (not to the variance), so a group whose rewards are all
  equal gets advantages exactly ``0``.
* A group of size 1 has no baseline to compare against: its advantages are ``0``.
* ``NaN`` rewards (unscorable completions) are left out of their group's mean and std, and their
  own advantage is ``0``; a group with a single finite reward gets ``0`` for it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

import torch
from torch import Tensor

__all__ = ["ADVANTAGE_ESTIMATORS", "dr_grpo_advantages", "grpo_advantages"]


def _grouped(rewards: Tensor, group_size: int) -> Tensor:
    """Validate and reshape ``rewards[N]`` to ``[N // group_size, group_size]`` (float)."""
    if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 1:
        raise ValueError(f"group_size must be a positive int, got {group_size!r}")
    if rewards.dim() != 1:
        raise ValueError(f"rewards must be 1-D [N], got shape {tuple(rewards.shape)}")
    n = rewards.shape[0]
    if n % group_size != 0:
        raise ValueError(
            f"number of rewards ({n}) is not a multiple of group_size ({group_size}); "
            "rewards must be laid out as consecutive groups of group_size completions"
        )
    if not rewards.dtype.is_floating_point:
        rewards = rewards.to(torch.float32)
    if bool(torch.isinf(rewards).any()):
        raise ValueError("rewards contain +/-inf; use NaN to mark an unscorable completion")
    return rewards.detach().view(n // group_size, group_size)


def _centered(grouped: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Return (R - group mean, finite mask, number of finite rewards per group)."""
    finite = ~torch.isnan(grouped)
    count = finite.sum(dim=1, keepdim=True)
    filled = torch.where(finite, grouped, torch.zeros_like(grouped))
    mean = filled.sum(dim=1, keepdim=True) / count.clamp(min=1)
    centered = torch.where(finite, grouped - mean, torch.zeros_like(grouped))
    return centered, finite, count


def grpo_advantages(rewards: Tensor, group_size: int, *, scale_by_std: bool = True, eps: float = 1e-4) -> Tensor:
    """GRPO advantage ``(R - mean_group R) / (std_group R + eps)``.

    Args:
        rewards: ``[N]`` rewards, consecutive groups of ``group_size``.
        group_size: Completions per prompt (``G``).
        scale_by_std: Divide by the group's unbiased standard deviation plus ``eps``. ``False``
            gives the Dr.GRPO advantage (mean-centred only).
        eps: Added to the standard deviation.

    Returns:
        ``[N]`` advantages (float dtype of ``rewards``; float32 for integer rewards), detached.

    Raises:
        ValueError: If ``rewards`` is not 1-D, ``group_size < 1``, ``N % group_size != 0``, or a
            reward is infinite.
    """
    grouped = _grouped(rewards, group_size)
    if grouped.numel() == 0:
        return grouped.reshape(-1).clone()
    centered, _, count = _centered(grouped)
    if scale_by_std:
        # Unbiased variance over the finite rewards; groups with < 2 of them have std 0.
        var = centered.square().sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)
        std = var.sqrt()
        centered = centered / (std + eps)
    return centered.reshape(-1)


def dr_grpo_advantages(rewards: Tensor, group_size: int) -> Tensor:
    """Dr.GRPO advantage ``R - mean_group R`` (no standard-deviation scaling).

    Same layout, validation and ``NaN`` handling as :func:`grpo_advantages`.
    """
    return grpo_advantages(rewards, group_size, scale_by_std=False)


#: Name -> estimator ``(rewards[N], group_size) -> advantages[N]``. Read-only.
ADVANTAGE_ESTIMATORS: Mapping[str, Callable[[Tensor, int], Tensor]] = MappingProxyType(
    {"grpo": grpo_advantages, "dr_grpo": dr_grpo_advantages}
)
