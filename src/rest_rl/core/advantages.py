"""Group-relative advantage estimators (critic-free, one scalar per completion).

Rewards are laid out as consecutive groups: rows ``[k*G, (k+1)*G)`` are the ``G`` completions
sampled for prompt ``k`` (the layout TRL and verl use). Each estimator is a small pure function
``(rewards[N], group_size) -> advantages[N]``, registered by name in the open registry
:data:`ADVANTAGE_ESTIMATORS` (``"grpo"``, ``"dr_grpo"`` built in). Add one with::

    @register_advantage_estimator("rloo")
    def rloo_advantages(rewards: Tensor, group_size: int) -> Tensor: ...

A registered estimator takes the rewards ``[N]`` (consecutive groups of ``group_size``) and the
group size, and returns ``[N]`` detached advantages. Names follow :class:`~rest_rl.core.registry.Registry`:
a taken name raises ``ValueError`` unless ``override=True``; :func:`unregister_advantage_estimator`
removes a non-built-in one.

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

import torch
from torch import Tensor

from rest_rl.core.registry import Registry

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "AdvantageEstimator",
    "dr_grpo_advantages",
    "grpo_advantages",
    "register_advantage_estimator",
    "unregister_advantage_estimator",
]

AdvantageEstimator = Callable[[Tensor, int], Tensor]
"""A registered estimator: ``(rewards[N], group_size) -> advantages[N]``."""

_ESTIMATORS: Registry[AdvantageEstimator] = Registry("advantage estimator")

#: Name -> estimator ``(rewards[N], group_size) -> advantages[N]``. Read-only live view of the registry.
ADVANTAGE_ESTIMATORS: Mapping[str, AdvantageEstimator] = _ESTIMATORS.view


def register_advantage_estimator(
    name: str, *, override: bool = False
) -> Callable[[AdvantageEstimator], AdvantageEstimator]:
    """Decorator registering an estimator ``(rewards[N], group_size) -> advantages[N]`` as ``name``.

    The function is returned unchanged. Raises ``ValueError`` if ``name`` is taken and ``override``
    is false.
    """
    return _ESTIMATORS.register(name, override=override)


def unregister_advantage_estimator(name: str) -> AdvantageEstimator:
    """Remove a registered (non-built-in) estimator and return it; ``ValueError`` otherwise."""
    return _ESTIMATORS.unregister(name)


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


@register_advantage_estimator("grpo")
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


@register_advantage_estimator("dr_grpo")
def dr_grpo_advantages(rewards: Tensor, group_size: int) -> Tensor:
    """Dr.GRPO advantage ``R - mean_group R`` (no standard-deviation scaling).

    Same layout, validation and ``NaN`` handling as :func:`grpo_advantages`.
    """
    return grpo_advantages(rewards, group_size, scale_by_std=False)


_ESTIMATORS.seal_builtins()
