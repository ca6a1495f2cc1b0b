"""Where the curriculum's progress ``nu`` comes from: the step count, or the measured state of the policy.

ResT's curriculum moves weight from the format tags towards the parameters and the reasoning as training
goes on (``nu`` from 0 to 1; :mod:`rest_rl.core.weights`). The paper drives ``nu`` by the step count, which
assumes every run learns its structure at the same pace. The closed-loop option drives it by what the
curriculum is about: how far the policy has settled the *structure* of its answers.

Drivers (``WeightConfig.curriculum_driver``):

* ``"steps"`` — ``nu = global_step / max_steps`` (the paper; the default).
* ``"structure_entropy"`` — ``nu`` from the decline of the mean entropy of the structure regions
  (FORMAT, TOOL_NAME, ARG_KEY, ARG_VALUE: the tokens ResT up-weights), measured on the model-written tokens
  of every batch the trainer weighs:

      H_t   = token-weighted mean entropy of the structure regions in batch t
      E_t   = EMA of H_t with factor ``curriculum_ema`` (E_1 = H_1)
      drop  = 1 - E_t / E_ref,  E_ref = E_1 (the first batch's, i.e. the start's structure entropy)
      nu_t  = max(nu_{t-1}, clamp(drop / curriculum_target_drop, 0, 1))

  so ``nu`` reaches 1 when the structure's entropy has fallen by ``curriculum_target_drop`` (default half)
  of its starting value, never moves backwards, and does not move at all when nothing is learned. A batch
  without structure tokens leaves ``nu`` where it was.

:class:`ClosedLoopProgress` holds that state; it is a plain object with ``state_dict`` / ``load_state_dict``
so a trainer can checkpoint it (a resumed run continues the same ``nu``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from rest_rl.core.regions import Region

__all__ = ["CURRICULUM_DRIVERS", "STRUCTURE_REGIONS", "ClosedLoopProgress", "structure_entropy"]

CURRICULUM_DRIVERS: tuple[str, ...] = ("steps", "structure_entropy")
"""Sources of the curriculum progress ``nu`` (see the module docstring)."""

STRUCTURE_REGIONS: tuple[Region, ...] = (Region.FORMAT, Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE)
"""The regions whose entropy decline drives the ``structure_entropy`` curriculum."""


def structure_entropy(entropy_sums: torch.Tensor, counts: torch.Tensor) -> float | None:
    """Token-weighted mean entropy of :data:`STRUCTURE_REGIONS` from per-region entropy sums and token
    counts (``[NUM_REGIONS]`` each, as the weights module computes them); ``None`` without such tokens."""
    idx = torch.tensor([int(r) for r in STRUCTURE_REGIONS], device=entropy_sums.device)
    total = float(counts.index_select(0, idx).sum())
    if total <= 0:
        return None
    return float(entropy_sums.index_select(0, idx).sum()) / total


@dataclass
class ClosedLoopProgress:
    """Curriculum progress driven by the decline of the structure regions' entropy (module docstring)."""

    ema: float = 0.9
    target_drop: float = 0.5
    reference: float | None = None
    smoothed: float | None = None
    nu: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.ema < 1.0:
            raise ValueError(f"curriculum_ema must be in [0, 1), got {self.ema}")
        if not 0.0 < self.target_drop <= 1.0:
            raise ValueError(f"curriculum_target_drop must be in (0, 1], got {self.target_drop}")

    def update(self, mean_structure_entropy: float | None) -> float:
        """Feed one batch's structure entropy (``None``: no structure tokens); returns the new ``nu``."""
        h = mean_structure_entropy
        if h is None or not math.isfinite(h):
            return self.nu
        self.smoothed = h if self.smoothed is None else self.ema * self.smoothed + (1.0 - self.ema) * h
        if self.reference is None:
            self.reference = self.smoothed
        if self.reference > 0.0:
            drop = 1.0 - self.smoothed / self.reference
            self.nu = max(self.nu, min(1.0, max(0.0, drop / self.target_drop)))
        return self.nu

    def state_dict(self) -> dict[str, float | None]:
        return {"reference": self.reference, "smoothed": self.smoothed, "nu": self.nu}

    def load_state_dict(self, state: dict[str, float | None]) -> None:
        self.reference = state.get("reference")
        self.smoothed = state.get("smoothed")
        self.nu = float(state.get("nu") or 0.0)
