"""Token-weighted clipped policy-gradient loss (PPO/GRPO family) and its aggregation modes.

Per valid completion token, with ratio ``r = exp(logp - old_logp)`` and advantage ``A``::

    l = -min(r' * A, clip(r, 1 - eps_low, 1 + eps_high) * A)     r' = min(r, ratio_cap) or r
    l = min(l, -c * A)           for A < 0, when dual_clip = c is set (verl's dual clip)
    l = w * l                    token weight w (ResT region weights; 1 when weights is None)

and the per-token losses are reduced with one of :data:`AGGREGATIONS` (``m`` = mask, sums over
the micro-batch):

``"token-mean"`` (DAPO, TRL ``bnpo``/``dapo``)
    ``sum(m*w*l) / sum(m)``; with ``normalizer`` given, ``sum(m*w*l) / normalizer`` (hosts pass
    the global number of valid tokens so that micro-batches add up correctly).
``"seq-mean-token-mean"`` (GRPO, TRL ``grpo``)
    mean over the ``B`` sequences of ``sum_t(m*w*l) / max(sum_t m, 1)``; a row without valid
    tokens contributes 0 but still counts in the mean. With ``normalizer`` given, the sum over
    sequences is divided by it instead of ``B`` (a global sequence count).
``"constant"`` (Dr.GRPO, TRL ``dr_grpo``)
    ``sum(m*w*l) / (B * normalizer)`` with ``normalizer`` the maximum completion length
    (required).
``"weighted-token-mean"`` (the ResT authors' code)
    ``sum(m*w*l) / (sum(m*w) + 1e-8)``; with ``normalizer`` given it replaces the denominator.

Aggregations form an open registry (:data:`AGGREGATIONS`, a read-only live view); the four above
register themselves with :func:`register_aggregation`, and a new one is accepted by
:func:`clipped_policy_loss` as soon as it is registered::

    @register_aggregation("seq-sum", needs_normalizer=False)
    def seq_sum(per_token_loss, mask, *, weights, normalizer):
        return per_token_loss.sum() / per_token_loss.shape[0]

A registered aggregation is called as ``fn(per_token_loss, mask, *, weights, normalizer)`` with

* ``per_token_loss``: ``[B, T]`` float (float32, or float64 for float64 input) per-token loss,
  already multiplied by the weights and exactly 0 at masked positions (it carries the graph);
* ``mask``: ``[B, T]`` bool, the valid tokens;
* ``weights``: ``[B, T]`` detached weights in the loss dtype, 0 at masked positions, or ``None``
  when the caller passed none (all ones);
* ``normalizer``: the caller's ``normalizer`` unchanged (``None``, a positive finite number or a
  one-element tensor);

and must return a 0-dim tensor (the loss; it is cast to the loss dtype). Registered with
``needs_normalizer=True``, :func:`clipped_policy_loss` rejects a call without ``normalizer``
before computing anything. A taken name raises ``ValueError`` unless ``override=True``;
:func:`unregister_aggregation` removes a non-built-in one.

Robustness: masked positions are replaced by neutral values *before* any arithmetic, so
whatever they hold (``inf``, ``nan``, garbage) changes neither the loss nor the gradient, and
their gradient is exactly zero. The log-ratio is clamped to ``[-20, 20]`` before ``exp`` (as
verl does) so that a wildly off-policy token cannot produce ``inf``/``nan``; this only changes
tokens whose ratio is beyond ``e^20``, where the clipped branches are active anyway unless
``A < 0`` without dual clip. ``old_logp``, ``advantages`` and ``weights`` are treated as
constants (detached).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from rest_rl.core.registry import Registry

__all__ = [
    "AGGREGATIONS",
    "Aggregation",
    "AggregationFn",
    "PolicyLossOutput",
    "clipped_policy_loss",
    "register_aggregation",
    "unregister_aggregation",
]

AggregationFn = Callable[..., Tensor]
"""``fn(per_token_loss[B, T], mask[B, T], *, weights, normalizer) -> 0-dim loss`` (module docstring)."""


@dataclass(frozen=True)
class Aggregation:
    """A registered loss aggregation: the function and what it requires. Calling it calls ``fn``.

    Attributes:
        name: the registered name.
        fn: ``fn(per_token_loss, mask, *, weights, normalizer) -> Tensor`` (0-dim).
        needs_normalizer: :func:`clipped_policy_loss` raises ``ValueError`` when called with this
            aggregation and ``normalizer=None``.
    """

    name: str
    fn: AggregationFn
    needs_normalizer: bool = False

    def __call__(
        self, per_token_loss: Tensor, mask: Tensor, *, weights: Tensor | None, normalizer: float | Tensor | None
    ) -> Tensor:
        return self.fn(per_token_loss, mask, weights=weights, normalizer=normalizer)


_AGGREGATIONS: Registry[Aggregation] = Registry("aggregation")

#: Name -> :class:`Aggregation`. Read-only live view of the registry (iterating gives the names).
AGGREGATIONS: Mapping[str, Aggregation] = _AGGREGATIONS.view


def register_aggregation(
    name: str, *, needs_normalizer: bool = False, override: bool = False
) -> Callable[[AggregationFn], AggregationFn]:
    """Decorator registering a loss aggregation under ``name`` (signature: module docstring).

    Args:
        name: the value of ``clipped_policy_loss(aggregation=...)`` that selects it.
        needs_normalizer: reject calls without ``normalizer`` (e.g. Dr.GRPO's constant length).
        override: replace an existing registration instead of raising ``ValueError``.

    The decorated function is returned unchanged.
    """

    def decorator(fn: AggregationFn) -> AggregationFn:
        if not callable(fn):
            raise TypeError(f"aggregation {name!r} must be callable, got {type(fn).__name__}")
        _AGGREGATIONS.add(name, Aggregation(name, fn, bool(needs_normalizer)), override=override)
        return fn

    _AGGREGATIONS.check_name(name)
    return decorator


def unregister_aggregation(name: str) -> Aggregation:
    """Remove a registered (non-built-in) aggregation and return it; ``ValueError`` otherwise."""
    return _AGGREGATIONS.unregister(name)


#: Bound on |logp - old_logp| before exponentiation.
LOG_RATIO_CLAMP = 20.0
#: Added to the weight sum in the "weighted-token-mean" denominator (as in the ResT authors' code).
WEIGHTED_MEAN_EPS = 1e-8


@dataclass
class PolicyLossOutput:
    """Result of :func:`clipped_policy_loss`.

    Attributes:
        loss: Scalar loss to call ``backward`` on.
        per_token_loss: ``[B, T]`` per-token loss after weights, 0 at masked positions (it keeps
            the graph; detach it before logging).
        clip_frac_low: Fraction of valid tokens with ``r < 1 - eps_low`` and ``A < 0`` (the lower
            clip is active), counted as TRL counts it.
        clip_frac_high: Fraction of valid tokens with ``r > 1 + eps_high`` and ``A > 0``.
        clip_frac: Fraction of valid tokens where either of the two is active.
        dual_clip_frac: Fraction of valid tokens where the dual-clip bound ``-c*A`` is active
            (0 without dual clip).
        approx_kl: Mean over valid tokens of the k3 estimator ``(r - 1) - log r`` of
            ``KL(pi_old || pi_theta)`` (non-negative, unbiased under samples from ``pi_old``).
        ratio_mean: Mean of ``r`` over valid tokens.

    The statistics are detached 0-dim tensors (no host sync); :meth:`metrics` turns them into
    floats. All are 0 when there is no valid token.
    """

    loss: Tensor
    per_token_loss: Tensor
    clip_frac_low: Tensor
    clip_frac_high: Tensor
    clip_frac: Tensor
    dual_clip_frac: Tensor
    approx_kl: Tensor
    ratio_mean: Tensor

    def metrics(self) -> dict[str, float]:
        """Loss and statistics as Python floats, for logging."""
        return {
            "loss": float(self.loss.detach()),
            "clip_frac_low": float(self.clip_frac_low),
            "clip_frac_high": float(self.clip_frac_high),
            "clip_frac": float(self.clip_frac),
            "dual_clip_frac": float(self.dual_clip_frac),
            "approx_kl": float(self.approx_kl),
            "ratio_mean": float(self.ratio_mean),
        }


def _validate(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    weights: Tensor | None,
    eps_low: float,
    eps_high: float,
    dual_clip: float | None,
    ratio_cap: float | None,
    aggregation: str,
    normalizer: float | Tensor | None,
) -> None:
    if not isinstance(aggregation, str) or aggregation not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {aggregation!r}; expected one of {tuple(AGGREGATIONS)}")
    if logp.dim() != 2:
        raise ValueError(f"logp must have shape [B, T], got {tuple(logp.shape)}")
    shape = tuple(logp.shape)
    batch = shape[0]
    for name, tensor in (("old_logp", old_logp), ("mask", mask), ("weights", weights)):
        if tensor is not None and tuple(tensor.shape) != shape:
            raise ValueError(f"{name} must have the shape of logp {shape}, got {tuple(tensor.shape)}")
    if tuple(advantages.shape) not in {(batch,), (batch, 1), shape}:
        raise ValueError(
            f"advantages must have shape [B]={(batch,)}, [B, 1] or [B, T]={shape}, got {tuple(advantages.shape)}"
        )
    for name, tensor in (("logp", logp), ("old_logp", old_logp), ("advantages", advantages), ("weights", weights)):
        if tensor is not None and not tensor.dtype.is_floating_point:
            raise ValueError(f"{name} must be a floating-point tensor, got {tensor.dtype}")
    if not (eps_low >= 0 and eps_high >= 0):
        raise ValueError(f"eps_low and eps_high must be >= 0, got {eps_low} and {eps_high}")
    if dual_clip is not None and not dual_clip > 1.0:
        raise ValueError(f"dual_clip must be > 1 (or None), got {dual_clip}")
    if ratio_cap is not None and not ratio_cap > 0:
        raise ValueError(f"ratio_cap must be > 0 (or None), got {ratio_cap}")
    if AGGREGATIONS[aggregation].needs_normalizer and normalizer is None:
        if aggregation == "constant":
            raise ValueError(
                "aggregation 'constant' (Dr.GRPO) needs normalizer = the maximum completion length"
            )
        raise ValueError(f"aggregation {aggregation!r} needs a normalizer")
    if isinstance(normalizer, Tensor):
        if normalizer.numel() != 1:
            raise ValueError(f"normalizer must be a scalar, got shape {tuple(normalizer.shape)}")
    elif normalizer is not None and not (normalizer > 0 and math.isfinite(normalizer)):
        raise ValueError(f"normalizer must be a positive finite number, got {normalizer}")


def clipped_policy_loss(
    logp: Tensor,
    old_logp: Tensor,
    advantages: Tensor,
    mask: Tensor,
    weights: Tensor | None = None,
    *,
    eps_low: float = 0.2,
    eps_high: float = 0.2,
    dual_clip: float | None = None,
    ratio_cap: float | None = None,
    aggregation: str = "seq-mean-token-mean",
    normalizer: float | Tensor | None = None,
) -> PolicyLossOutput:
    """Weighted clipped policy-gradient loss over a micro-batch (see the module docstring).

    Args:
        logp: ``[B, T]`` log-probs of the sampled tokens under the current policy (with grad).
        old_logp: ``[B, T]`` log-probs under the policy that generated the samples.
        advantages: ``[B]``, ``[B, 1]`` or ``[B, T]``.
        mask: ``[B, T]`` bool or 0/1; nonzero marks a valid completion token.
        weights: ``[B, T]`` per-token weights (e.g. ResT region weights), ``None`` for all ones.
        eps_low: Lower clip range: ``r`` is clipped below at ``1 - eps_low``.
        eps_high: Upper clip range: ``r`` is clipped above at ``1 + eps_high``.
        dual_clip: ``c > 1``: for ``A < 0`` the loss is bounded by ``-c * A``.
        ratio_cap: TRL's ``delta``: the unclipped ratio is capped at this value (two-sided clip).
        aggregation: A name registered in :data:`AGGREGATIONS`.
        normalizer: Denominator override; its meaning depends on ``aggregation`` (module docstring).

    Returns:
        :class:`PolicyLossOutput`; loss and per-token loss are float32 (float64 for float64 input).

    Raises:
        ValueError: On an unknown aggregation, mismatched shapes, non-float inputs, invalid clip
            parameters, or a missing / non-positive normalizer.
    """
    _validate(
        logp, old_logp, advantages, mask, weights, eps_low, eps_high, dual_clip, ratio_cap, aggregation, normalizer
    )
    dtype = torch.float64 if logp.dtype == torch.float64 else torch.float32
    batch, length = logp.shape
    valid = mask.bool() if mask.dtype != torch.bool else mask
    zero = torch.zeros((), dtype=dtype, device=logp.device)

    # Neutralise masked positions first: nothing they hold can reach the loss or the gradient.
    cur = torch.where(valid, logp.to(dtype), zero)
    old = torch.where(valid, old_logp.detach().to(dtype), zero)
    adv = advantages.detach().to(dtype)
    if adv.dim() == 1:
        adv = adv.unsqueeze(1)
    adv = torch.where(valid, adv.expand(batch, length), zero)
    w = None if weights is None else torch.where(valid, weights.detach().to(dtype), zero)

    log_ratio = (cur - old).clamp(-LOG_RATIO_CLAMP, LOG_RATIO_CLAMP)
    ratio = torch.exp(log_ratio)
    clipped = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    unclipped = ratio if ratio_cap is None else torch.clamp(ratio, max=ratio_cap)
    token_loss = -torch.minimum(unclipped * adv, clipped * adv)
    pre_dual = token_loss
    if dual_clip is not None:
        token_loss = torch.where(adv < 0, torch.minimum(token_loss, -dual_clip * adv), token_loss)
    if w is not None:
        token_loss = token_loss * w
    per_token_loss = torch.where(valid, token_loss, zero)

    loss = AGGREGATIONS[aggregation](per_token_loss, valid, weights=w, normalizer=normalizer)
    if not isinstance(loss, Tensor) or loss.dim() != 0:
        raise ValueError(
            f"aggregation {aggregation!r} must return a 0-dim tensor, got "
            f"{tuple(loss.shape) if isinstance(loss, Tensor) else type(loss).__name__}"
        )
    loss = loss.to(dtype)

    with torch.no_grad():
        n_valid = valid.sum().clamp(min=1).to(dtype)

        def frac(flags: Tensor) -> Tensor:
            return (flags & valid).sum().to(dtype) / n_valid

        is_low = (ratio < 1.0 - eps_low) & (adv < 0)
        is_high = (ratio > 1.0 + eps_high) & (adv > 0)
        if dual_clip is not None:
            dual_frac = frac((adv < 0) & (pre_dual > -dual_clip * adv))
        else:
            dual_frac = zero.clone()
        k3 = (ratio - 1.0) - log_ratio
        stats = {
            "clip_frac_low": frac(is_low),
            "clip_frac_high": frac(is_high),
            "clip_frac": frac(is_low | is_high),
            "dual_clip_frac": dual_frac,
            "approx_kl": torch.where(valid, k3, zero).sum() / n_valid,
            "ratio_mean": torch.where(valid, ratio, zero).sum() / n_valid,
        }
    return PolicyLossOutput(loss=loss, per_token_loss=per_token_loss, **{k: v.detach() for k, v in stats.items()})


# ---- built-in aggregations -------------------------------------------------------------------


@register_aggregation("token-mean")
def _token_mean(
    per_token_loss: Tensor, mask: Tensor, *, weights: Tensor | None, normalizer: float | Tensor | None
) -> Tensor:
    """DAPO: ``sum(m*w*l) / sum(m)``, or ``/ normalizer`` when given."""
    denom = mask.sum().clamp(min=1).to(per_token_loss.dtype) if normalizer is None else normalizer
    return per_token_loss.sum() / denom


@register_aggregation("seq-mean-token-mean")
def _seq_mean_token_mean(
    per_token_loss: Tensor, mask: Tensor, *, weights: Tensor | None, normalizer: float | Tensor | None
) -> Tensor:
    """GRPO: mean over sequences of each sequence's token mean (sum over sequences / normalizer when given)."""
    seq_loss = per_token_loss.sum(dim=-1) / mask.sum(dim=-1).clamp(min=1).to(per_token_loss.dtype)
    if normalizer is not None:
        return seq_loss.sum() / normalizer
    return seq_loss.mean() if per_token_loss.shape[0] > 0 else seq_loss.sum()


@register_aggregation("constant", needs_normalizer=True)
def _constant(
    per_token_loss: Tensor, mask: Tensor, *, weights: Tensor | None, normalizer: float | Tensor | None
) -> Tensor:
    """Dr.GRPO: ``sum(m*w*l) / (B * normalizer)``, normalizer = the maximum completion length."""
    assert normalizer is not None  # needs_normalizer: checked by clipped_policy_loss
    return per_token_loss.sum() / (max(per_token_loss.shape[0], 1) * normalizer)


@register_aggregation("weighted-token-mean")
def _weighted_token_mean(
    per_token_loss: Tensor, mask: Tensor, *, weights: Tensor | None, normalizer: float | Tensor | None
) -> Tensor:
    """The ResT authors' ``sum(m*w*l) / (sum(m*w) + 1e-8)``; ``normalizer`` replaces the denominator."""
    total = per_token_loss.sum()
    if normalizer is not None:
        return total / normalizer
    weight_sum = mask.sum().to(per_token_loss.dtype) if weights is None else weights.sum()
    return total / (weight_sum + WEIGHTED_MEAN_EPS)


_AGGREGATIONS.seal_builtins()
