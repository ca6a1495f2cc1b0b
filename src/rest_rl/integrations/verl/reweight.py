"""ResT on verl, the part that needs no verl: settings, curriculum progress, reweighting, metrics.

verl's actor computes its loss from ``advantages`` (one value per response token) with its own policy
loss (``actor_rollout_ref.actor.policy_loss.loss_mode``), aggregation (``loss_agg_mode``), clipping and
metrics. ResT multiplies each token's clipped policy-gradient term by a weight ``w_t >= 0``; for the
clipped objective (and verl's dual clip) ``w * l(A) == l(w * A)`` token by token, so handing verl the
advantages ``A_t * w_t`` gives the ResT loss with everything else in verl untouched. This module computes
``w_t`` with :func:`rest_rl.core.weights.token_weights` and folds it in.

Whose entropies. verl's registered policy losses receive only log-probs, old log-probs, advantages, the
response mask, the aggregation mode and the actor config: no token ids and no entropies. So the weights
are built on the driver, once per training batch, before the actor update, from the per-token entropies
verl's ``compute_log_prob`` already returns with the old log-probs (``calculate_entropy=True``): the
entropies of the *old policy* (the weights that generated the batch, as the training engine computes
them at the rollout temperature). The TRL adapter instead uses the current micro-batch's entropies under
the current policy. With verl's default ``ppo_epochs=1`` the two coincide on the first mini-batch of a
step and differ only by the optimizer steps already taken within the step on later ones. The region
means are over the whole training batch (every rollout of the step), computed once, so every
data-parallel rank uses the same region weights without a reduction.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.weights import WeightConfig, WeightsOutput, token_weights, weights_equal_mask

__all__ = [
    "ResTVerlConfig",
    "ReweightOutput",
    "curriculum_progress",
    "region_metrics",
    "rest_reweight",
]

_WEIGHT_FIELDS = frozenset(f.name for f in dataclasses.fields(WeightConfig))


@dataclass
class ResTVerlConfig:
    """The ``rest`` section of a verl config (the recipe's ``rest:`` block), validated.

    Attributes:
        enable: apply ResT weights (``False`` = plain verl; the metrics are still logged).
        weights: the :class:`~rest_rl.core.weights.WeightConfig` built from every other key that names a
            ``WeightConfig`` field (``scheme``, ``alpha_format``, ``official_args_slope``, ...).
        log_region_metrics: log ``rest/*`` metrics (share, entropy, weight per region) every step.
    """

    enable: bool = True
    weights: WeightConfig = field(default_factory=WeightConfig)
    log_region_metrics: bool = True

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> ResTVerlConfig:
        """Build from a mapping (an OmegaConf ``DictConfig`` works): ``enable``, ``log_region_metrics``
        and ``WeightConfig`` fields. Unknown keys raise ``ValueError`` naming them."""
        values = dict(section or {})
        enable = bool(values.pop("enable", True))
        log_metrics = bool(values.pop("log_region_metrics", True))
        unknown = sorted(set(values) - _WEIGHT_FIELDS)
        if unknown:
            raise ValueError(
                f"unknown key(s) in the rest section: {', '.join(unknown)}; expected enable, log_region_metrics "
                f"or a WeightConfig field ({', '.join(sorted(_WEIGHT_FIELDS))})"
            )
        if "unnamed_region_weights" in values and values["unnamed_region_weights"] is not None:
            values["unnamed_region_weights"] = dict(values["unnamed_region_weights"])
        elif "unnamed_region_weights" in values:
            values.pop("unnamed_region_weights")
        weights = WeightConfig(**values)
        if weights.curriculum_driver != "steps":
            raise ValueError(
                "the verl adapter drives the curriculum by verl's global step (curriculum_driver='steps'); "
                f"got {weights.curriculum_driver!r}"
            )
        return cls(enable=enable, weights=weights, log_region_metrics=log_metrics)


def curriculum_progress(global_steps: int, total_training_steps: int | None) -> float:
    """Training progress ``nu`` in [0, 1] from verl's step counter.

    verl numbers its steps from 1 (``trainer.global_steps`` is 1 during the first step), so
    ``nu = (global_steps - 1) / total_training_steps``, clamped: 0 on the first step, as in the TRL adapter
    (``state.global_step / max_steps``, counted from 0). 0 when the total is unknown or not positive.
    """
    try:
        total = float(total_training_steps or 0)
        step = float(global_steps)
    except (TypeError, ValueError):
        return 0.0
    if not (total > 0 and math.isfinite(total) and math.isfinite(step)):
        return 0.0
    return min(max((step - 1.0) / total, 0.0), 1.0)


@dataclass
class ReweightOutput:
    """Result of :func:`rest_reweight`.

    Attributes:
        advantages: ``[B, T]`` advantages times the token weights (the input tensor itself under the
            ``uniform`` scheme).
        weights: ``[B, T]`` float32 token weights, mean 1 over each response's trained tokens, 0 elsewhere.
        detail: the :class:`~rest_rl.core.weights.WeightsOutput` (region weights, region entropies, fallback rows).
        progress: the curriculum progress used.
    """

    advantages: torch.Tensor
    weights: torch.Tensor
    detail: WeightsOutput
    progress: float


def rest_reweight(
    advantages: torch.Tensor,
    regions: torch.Tensor,
    response_mask: torch.Tensor,
    config: WeightConfig,
    *,
    entropy: torch.Tensor | None,
    progress: float,
    step: int,
) -> ReweightOutput:
    """ResT token weights for a batch of responses, folded into verl's per-token advantages.

    Args:
        advantages: ``[B, T]`` per-token advantages as verl's estimator wrote them.
        regions: ``[B, T]`` region codes (:func:`rest_rl.integrations.verl.batch.label_response_regions`).
        response_mask: ``[B, T]``, 1 on the tokens verl trains (model-written; tool output and padding 0).
        config: the weighting scheme.
        entropy: ``[B, T]`` per-token entropies (needed by the entropy scheme).
        progress: curriculum progress in [0, 1] (:func:`curriculum_progress`).
        step: verl's global step, for the ``official`` scheme's step ramp.

    Returns the new advantages ``A * w`` and the weights. Nothing outside the mask is trained by verl, and
    there the weights are 0.
    """
    if advantages.dim() != 2:
        raise ValueError(f"advantages must be [B, T] (verl's per-token advantages), got {tuple(advantages.shape)}")
    mask = response_mask.to(advantages.device).bool()
    out = token_weights(
        regions.to(advantages.device),
        mask,
        config,
        entropy=None if entropy is None else entropy.to(advantages.device).float(),
        progress=progress,
        step=int(step),
    )
    if weights_equal_mask(config):  # uniform: verl's own advantages, untouched
        new = advantages
    else:
        new = advantages * out.weights.to(advantages.dtype)
    return ReweightOutput(advantages=new, weights=out.weights, detail=out, progress=float(progress))


def region_metrics(
    regions: torch.Tensor,
    response_mask: torch.Tensor,
    result: ReweightOutput,
    entropy: torch.Tensor | None = None,
    *,
    prefix: str = "rest",
) -> dict[str, float]:
    """Per-region statistics of one training batch, as verl logs them (``{name: float}``).

    Keys, per region name ``R``: ``rest/share/R`` (share of trained tokens), and for regions present
    ``rest/weight/R`` (mean token weight after normalisation), ``rest/region_weight/R`` (the region's
    weight before clamping and normalisation) and, with entropies, ``rest/entropy/R`` (mean entropy);
    plus ``rest/progress``, ``rest/fallback_frac`` (share of responses whose weights were all zero and fell
    back to uniform) and ``rest/trained_tokens``.
    """
    mask = response_mask.bool()
    codes = regions.long().to(mask.device)
    codes = torch.where((codes >= 0) & (codes < NUM_REGIONS), codes, torch.full_like(codes, int(Region.OTHER)))
    flat = codes[mask]
    counts = torch.bincount(flat, minlength=NUM_REGIONS).to(torch.float64)
    w_sum = torch.zeros(NUM_REGIONS, dtype=torch.float64).index_add_(
        0, flat.cpu(), result.weights.to(mask.device)[mask].to(torch.float64).cpu()
    )
    h_sum = None
    if entropy is not None:
        h_sum = torch.zeros(NUM_REGIONS, dtype=torch.float64).index_add_(
            0, flat.cpu(), entropy.to(mask.device)[mask].to(torch.float64).cpu()
        )
    counts = counts.cpu()
    total = float(counts.sum())
    region_w = result.detail.region_weights.detach().cpu().tolist()
    metrics: dict[str, float] = {}
    for region in Region:
        r = int(region)
        n = float(counts[r])
        metrics[f"{prefix}/share/{region.name}"] = n / total if total > 0 else 0.0
        if n > 0:
            metrics[f"{prefix}/weight/{region.name}"] = float(w_sum[r]) / n
            metrics[f"{prefix}/region_weight/{region.name}"] = float(region_w[r])
            if h_sum is not None:
                metrics[f"{prefix}/entropy/{region.name}"] = float(h_sum[r]) / n
    rows = int(mask.shape[0])
    metrics[f"{prefix}/progress"] = float(result.progress)
    metrics[f"{prefix}/fallback_frac"] = float(result.detail.fallback_rows) / rows if rows else 0.0
    metrics[f"{prefix}/trained_tokens"] = total
    return metrics
