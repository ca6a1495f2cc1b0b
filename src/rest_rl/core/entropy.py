"""Per-token log-probabilities and entropies without materialising full-precision ``[N, V]`` logits.

ResT needs two numbers per completion token: the log-probability of the sampled token (for the
policy-gradient ratio) and the entropy of the whole next-token distribution (for the region
weights, and for hosts that add an entropy bonus). Computing them naively builds the float32
logits ``[B, T, V]`` and keeps them (plus a log-softmax of the same size) alive for backward;
with a 150k vocabulary that is the largest tensor of the whole training step.

This module offers two entry points:

* :func:`chunked_logprobs_and_entropy` starts from the last hidden states and the LM-head
  weight. A custom :class:`torch.autograd.Function` computes the logits a chunk of rows at a
  time in float32, keeps only per-row statistics, and **recomputes** each chunk's logits in
  backward. Peak extra memory is ``O(chunk_size x V)`` instead of ``O(N x V)``; nothing of size
  ``N x V`` is saved for backward.
* :func:`logprobs_and_entropy_from_logits` is for hosts that already hold the logits: rows are
  upcast to float32 chunk by chunk and each chunk is checkpointed, so the float32 copies are not
  kept for backward either.

Conventions shared by both:

* ``logits = (hidden @ weight.T + bias) / temperature``; log-probs and entropies are those of
  ``softmax(logits)`` (so a sampling temperature is honoured).
* Positions whose label equals ``ignore_index`` (default ``-100``) get log-prob **and** entropy
  ``0`` and contribute no gradient. Any other label outside ``[0, V)`` raises ``ValueError``.
* Outputs are float32 (float64 when an input is float64), shaped like ``labels``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

__all__ = ["chunked_logprobs_and_entropy", "logprobs_and_entropy_from_logits"]

# Log-probs below this are clamped before entering ``p * log p``: exp of it is exactly 0 in
# float32 and float64, so values are unchanged, while ``-inf`` (a vocabulary entry masked by a
# ``-inf`` bias) no longer produces ``0 * inf = nan``.
_LOGP_FLOOR = -1.0e4


def _compute_dtype(*tensors: Tensor | None) -> torch.dtype:
    """float64 if any input is float64, else float32 (low-precision inputs are upcast)."""
    for tensor in tensors:
        if tensor is not None and tensor.dtype == torch.float64:
            return torch.float64
    return torch.float32


def _check_labels(labels: Tensor, vocab_size: int, ignore_index: int) -> Tensor:
    """Return a boolean tensor marking valid labels; raise on labels outside ``[0, V)``."""
    if labels.dtype.is_floating_point or labels.dtype == torch.bool or labels.is_complex():
        raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    valid = labels != ignore_index
    if labels.numel() > 0:
        bad = valid & ((labels < 0) | (labels >= vocab_size))
        if bool(bad.any()):
            first = labels[bad][0].item()
            raise ValueError(
                f"label {first} is outside the vocabulary [0, {vocab_size}) and is not "
                f"ignore_index={ignore_index}"
            )
    return valid


def _check_chunking(temperature: float, chunk_size: int) -> None:
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    if not (isinstance(temperature, (int, float)) and temperature > 0 and temperature != float("inf")):
        raise ValueError(f"temperature must be a positive finite number, got {temperature!r}")


def _chunk_logits(
    hidden_chunk: Tensor, weight_c: Tensor, bias_c: Tensor | None, temperature: float, dtype: torch.dtype
) -> Tensor:
    """Scaled logits of one chunk of rows, in ``dtype`` (a fresh tensor, safe to modify in place)."""
    logits = hidden_chunk.to(dtype) @ weight_c.T
    if bias_c is not None:
        logits += bias_c
    if temperature != 1.0:
        logits /= temperature
    return logits


def _entropy_from_logprobs(logp_all: Tensor) -> Tensor:
    """Row entropy ``-sum p log p`` from full log-probs ``[c, V]``; ``logp_all`` is clamped in place.

    ``-inf`` log-probs (vocabulary entries masked with a ``-inf`` bias) would give ``0 * -inf``;
    clamping them to :data:`_LOGP_FLOOR` makes their contribution exactly zero.
    """
    logp_all.clamp_(min=_LOGP_FLOOR)
    probs = logp_all.exp()
    # Row-wise dot product without materialising the elementwise product.
    return -torch.bmm(probs.unsqueeze(1), logp_all.unsqueeze(2)).view(-1)


class _ChunkedLogProbEntropy(torch.autograd.Function):
    """Autograd function on flattened inputs: hidden ``[N, H]``, weight ``[V, H]``, labels ``[N]``.

    Saves only the inputs and two length-``N`` statistics (log-sum-exp and entropy); backward
    recomputes each chunk's logits. Gradient of the outputs with respect to the (temperature
    scaled) logits ``z`` of a row, with ``p = softmax(z)`` and ``y`` the label:

    * ``d logp_y / dz = onehot(y) - p``
    * ``d H / dz = -p * (log p + H)``
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        labels: Tensor,
        valid: Tensor,
        temperature: float,
        chunk_size: int,
        compute_entropy: bool,
    ) -> tuple[Tensor, Tensor]:
        dtype = _compute_dtype(hidden, weight, bias)
        n_rows = hidden.shape[0]
        weight_c = weight.to(dtype)
        bias_c = None if bias is None else bias.to(dtype)
        safe_labels = torch.where(valid, labels, torch.zeros_like(labels)).long()

        logp = torch.zeros(n_rows, dtype=dtype, device=hidden.device)
        lse = torch.zeros(n_rows, dtype=dtype, device=hidden.device)
        entropy = torch.zeros(n_rows if compute_entropy else 0, dtype=dtype, device=hidden.device)
        # A host's autocast would run the matmul in bf16; the point here is float32 logits.
        with torch.autocast(device_type=hidden.device.type, enabled=False):
            for start in range(0, n_rows, chunk_size):
                stop = min(start + chunk_size, n_rows)
                logits = _chunk_logits(hidden[start:stop], weight_c, bias_c, temperature, dtype)
                chunk_lse = torch.logsumexp(logits, dim=-1)
                lse[start:stop] = chunk_lse
                label_logit = logits.gather(1, safe_labels[start:stop, None]).squeeze(1)
                logp[start:stop] = label_logit - chunk_lse
                if compute_entropy:
                    logits -= chunk_lse[:, None]  # now log-probs, in place
                    entropy[start:stop] = _entropy_from_logprobs(logits)
                del logits

        logp = torch.where(valid, logp, torch.zeros_like(logp))
        if compute_entropy:
            entropy = torch.where(valid, entropy, torch.zeros_like(entropy))
        else:
            ctx.mark_non_differentiable(entropy)

        ctx.save_for_backward(hidden, weight, bias, safe_labels, valid, lse, entropy)
        ctx.temperature = temperature
        ctx.chunk_size = chunk_size
        ctx.compute_entropy = compute_entropy
        ctx.dtype = dtype
        ctx.set_materialize_grads(False)
        return logp, entropy

    @staticmethod
    @once_differentiable
    def backward(  # type: ignore[override]
        ctx: Any, grad_logp: Tensor | None, grad_entropy: Tensor | None
    ) -> tuple[Tensor | None, ...]:
        hidden, weight, bias, safe_labels, valid, lse, entropy = ctx.saved_tensors
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        no_grads: tuple[Tensor | None, ...] = (None,) * 8
        if not (need_hidden or need_weight or need_bias):
            return no_grads
        if not ctx.compute_entropy:
            grad_entropy = None
        if grad_logp is None and grad_entropy is None:
            return no_grads

        dtype: torch.dtype = ctx.dtype
        temperature: float = ctx.temperature
        n_rows = hidden.shape[0]
        zero_rows = torch.zeros(n_rows, dtype=dtype, device=hidden.device)
        # Ignored positions are constants (0): drop any upstream gradient arriving there.
        g_logp = zero_rows if grad_logp is None else torch.where(valid, grad_logp.to(dtype), zero_rows)
        g_ent = None if grad_entropy is None else torch.where(valid, grad_entropy.to(dtype), zero_rows)

        weight_c = weight.to(dtype)
        bias_c = None if bias is None else bias.to(dtype)
        grad_hidden = torch.empty(hidden.shape, dtype=dtype, device=hidden.device) if need_hidden else None
        grad_weight = torch.zeros(weight.shape, dtype=dtype, device=weight.device) if need_weight else None
        grad_bias = (
            torch.zeros(bias.shape, dtype=dtype, device=bias.device) if (need_bias and bias is not None) else None
        )

        with torch.autocast(device_type=hidden.device.type, enabled=False):
            for start in range(0, n_rows, ctx.chunk_size):
                stop = min(start + ctx.chunk_size, n_rows)
                hidden_chunk = hidden[start:stop].to(dtype)
                logits = _chunk_logits(hidden_chunk, weight_c, bias_c, temperature, dtype)
                logits -= lse[start:stop, None]  # log-probs
                gl = g_logp[start:stop, None]
                if g_ent is None:
                    # dz = g_logp * (onehot - p): reuse the buffer for p.
                    grad_z = logits.exp_().mul_(-gl)
                else:
                    logits.clamp_(min=_LOGP_FLOOR)
                    probs = logits.exp()
                    # dz = g_logp * onehot - p * (g_logp + g_ent * (log p + H))
                    coeff = logits.add_(entropy[start:stop, None]).mul_(g_ent[start:stop, None]).add_(gl)
                    grad_z = probs.mul_(coeff).neg_()
                    del coeff
                grad_z.scatter_add_(1, safe_labels[start:stop, None], gl)
                if temperature != 1.0:
                    grad_z /= temperature
                if grad_hidden is not None:
                    grad_hidden[start:stop] = grad_z @ weight_c
                if grad_weight is not None:
                    grad_weight.addmm_(grad_z.T, hidden_chunk)
                if grad_bias is not None:
                    grad_bias += grad_z.sum(dim=0)
                del grad_z, logits

        return (
            None if grad_hidden is None else grad_hidden.to(hidden.dtype),
            None if grad_weight is None else grad_weight.to(weight.dtype),
            None if grad_bias is None else grad_bias.to(bias.dtype),
            None,
            None,
            None,
            None,
            None,
        )


def chunked_logprobs_and_entropy(
    hidden: Tensor,
    weight: Tensor,
    labels: Tensor,
    *,
    bias: Tensor | None = None,
    temperature: float = 1.0,
    chunk_size: int = 1024,
    compute_entropy: bool = True,
    ignore_index: int = -100,
) -> tuple[Tensor, Tensor | None]:
    """Log-prob of each label and entropy of each next-token distribution, from hidden states.

    ``logits = (hidden @ weight.T + bias) / temperature`` is evaluated in float32 ``chunk_size``
    rows at a time, forward and again in backward, so memory does not grow with ``T x V``.
    Both outputs are differentiable with respect to ``hidden``, ``weight`` and ``bias``; when only
    the log-probs are used in the loss, the entropy term of the backward pass is skipped.

    Args:
        hidden: Final hidden states ``[..., T, H]`` (any float dtype, bf16 included).
        weight: LM-head weight ``[V, H]``.
        labels: Integer token ids ``[..., T]``, the token whose log-prob is wanted at each position
            (the *next* token; shift before calling). ``ignore_index`` marks positions to skip.
        bias: Optional LM-head bias ``[V]``.
        temperature: Logits are divided by it (use the rollout's sampling temperature).
        chunk_size: Rows of logits materialised at once; trades speed for memory.
        compute_entropy: If ``False`` the entropy is not computed and ``None`` is returned for it.
        ignore_index: Label value whose positions get log-prob and entropy ``0`` and no gradient.

    Returns:
        ``(logp, entropy)``, each shaped like ``labels``; float32 (float64 if an input is float64).
        ``entropy`` is ``None`` when ``compute_entropy`` is ``False``.

    Raises:
        ValueError: On mismatched shapes, a non-positive temperature or chunk size, or a label
            outside ``[0, V)`` that is not ``ignore_index``.

    Memory: besides the inputs, forward keeps two length-``N`` vectors; each chunk needs a few
    ``chunk_size x V`` buffers. A bf16 ``weight`` is upcast once per pass (``V x H`` float32) and
    its gradient is accumulated in float32 before being cast back.
    """
    _check_chunking(temperature, chunk_size)
    if hidden.dim() < 2:
        raise ValueError(f"hidden must have shape [..., T, H], got {tuple(hidden.shape)}")
    if not hidden.dtype.is_floating_point or not weight.dtype.is_floating_point:
        raise ValueError(f"hidden and weight must be floating point, got {hidden.dtype} and {weight.dtype}")
    if weight.dim() != 2 or weight.shape[1] != hidden.shape[-1]:
        raise ValueError(
            f"weight must have shape [V, H={hidden.shape[-1]}], got {tuple(weight.shape)}"
        )
    if tuple(labels.shape) != tuple(hidden.shape[:-1]):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal hidden.shape[:-1] = {tuple(hidden.shape[:-1])}"
        )
    vocab_size = weight.shape[0]
    if bias is not None and tuple(bias.shape) != (vocab_size,):
        raise ValueError(f"bias must have shape [V={vocab_size}], got {tuple(bias.shape)}")

    out_shape = labels.shape
    valid = _check_labels(labels, vocab_size, ignore_index).reshape(-1)
    flat_hidden = hidden.reshape(-1, hidden.shape[-1])
    flat_labels = labels.reshape(-1)
    logp, entropy = _ChunkedLogProbEntropy.apply(
        flat_hidden, weight, bias, flat_labels, valid, float(temperature), chunk_size, bool(compute_entropy)
    )
    logp = logp.view(out_shape)
    if not compute_entropy:
        return logp, None
    return logp, entropy.view(out_shape)


def _logits_chunk_stats(logits_chunk: Tensor, labels_chunk: Tensor, temperature: float) -> tuple[Tensor, Tensor]:
    """Label log-prob and entropy of a chunk of rows, upcast to float32/64 (ordinary autograd)."""
    dtype = _compute_dtype(logits_chunk)
    scaled = logits_chunk.to(dtype)
    if temperature != 1.0:
        scaled = scaled / temperature
    logp_all = torch.log_softmax(scaled, dim=-1)
    label_logp = logp_all.gather(-1, labels_chunk[:, None]).squeeze(-1)
    probs = logp_all.exp()
    finite_logp = logp_all.clamp(min=_LOGP_FLOOR)
    entropy = -(probs * finite_logp).sum(dim=-1)
    return label_logp, entropy


def logprobs_and_entropy_from_logits(
    logits: Tensor,
    labels: Tensor,
    *,
    temperature: float = 1.0,
    chunk_size: int = 1024,
    ignore_index: int = -100,
) -> tuple[Tensor, Tensor]:
    """Log-prob of each label and entropy of each row, from logits the host already computed.

    Rows are processed ``chunk_size`` at a time, each upcast to float32 and divided by
    ``temperature``. When gradients are needed each chunk is checkpointed, so the float32 copies
    are recomputed in backward instead of being kept.

    Args:
        logits: ``[..., T, V]`` in any float dtype.
        labels: ``[..., T]`` integer ids; ``ignore_index`` positions get ``0`` for both outputs.
        temperature: Divides the logits.
        chunk_size: Rows upcast at once.
        ignore_index: Label value to skip.

    Returns:
        ``(logp, entropy)`` shaped like ``labels``, float32 (float64 for float64 logits).

    Raises:
        ValueError: On mismatched shapes, bad temperature / chunk size, or out-of-range labels.
    """
    _check_chunking(temperature, chunk_size)
    if logits.dim() < 2 or not logits.dtype.is_floating_point:
        raise ValueError(f"logits must be a float tensor [..., T, V], got {tuple(logits.shape)} {logits.dtype}")
    if tuple(labels.shape) != tuple(logits.shape[:-1]):
        raise ValueError(
            f"labels shape {tuple(labels.shape)} must equal logits.shape[:-1] = {tuple(logits.shape[:-1])}"
        )
    vocab_size = logits.shape[-1]
    out_shape = labels.shape
    valid = _check_labels(labels, vocab_size, ignore_index).reshape(-1)
    flat_logits = logits.reshape(-1, vocab_size)
    safe_labels = torch.where(valid, labels.reshape(-1), torch.zeros_like(labels.reshape(-1))).long()
    dtype = _compute_dtype(logits)
    use_checkpoint = torch.is_grad_enabled() and logits.requires_grad

    logp_parts: list[Tensor] = []
    entropy_parts: list[Tensor] = []
    for start in range(0, flat_logits.shape[0], chunk_size):
        stop = start + chunk_size
        chunk, chunk_labels = flat_logits[start:stop], safe_labels[start:stop]
        if use_checkpoint:
            logp_chunk, entropy_chunk = checkpoint(
                _logits_chunk_stats, chunk, chunk_labels, float(temperature), use_reentrant=False
            )
        else:
            logp_chunk, entropy_chunk = _logits_chunk_stats(chunk, chunk_labels, float(temperature))
        logp_parts.append(logp_chunk)
        entropy_parts.append(entropy_chunk)

    if logp_parts:
        logp = torch.cat(logp_parts)
        entropy = torch.cat(entropy_parts)
    else:
        logp = flat_logits.new_zeros(0, dtype=dtype) + flat_logits.sum() * 0  # keep the graph for empty input
        entropy = logp.clone()
    zeros = torch.zeros_like(logp)
    logp = torch.where(valid, logp, zeros)
    entropy = torch.where(valid, entropy, zeros)
    return logp.view(out_shape), entropy.view(out_shape)
