"""Region codes of the trained segments of token sequences: the one ids -> regions step.

A trained sequence need not be one contiguous piece of model output. In multi-turn training a
completion interleaves model turns with tool output (or an SFT example holds several assistant
turns), and only the model-written tokens are trained. :func:`label_segments` labels such
sequences: every maximal run of masked-in tokens (a *segment*) is decoded on its own with
:func:`~rest_rl.core.offsets.token_char_offsets` and labelled with
:func:`~rest_rl.core.regions.label_tokens` from the exact character offsets of its ids (nothing is
re-tokenised); positions outside the mask get ``fill``.

Labelling segments separately matters: the region labeller is stateful along the text (an
unclosed ``<tool_call>`` runs to the end, tags open and close blocks), so tool output that
contains ``<tool_call>``, ``</think>`` or JSON would otherwise change the labels of the model's
next turn. Here nothing outside a segment can influence its labels.

A single completion with trailing padding is the special case of one segment: pass a mask that
is true on the non-padding prefix.

Speed: for tensors and arrays, every segment of the batch is decoded and its characters painted on
its own, but the array work (its ids' bytes from the tokenizer's memoised table, the spans, the
token regions) runs once over all segments together; the codes are exactly those of the public
composition ``label_tokens(*token_char_offsets(tokenizer, segment))`` (tested).

The tokenizer is duck-typed as in :mod:`rest_rl.core.offsets`; this module imports no tokenizer
library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np
import torch

from rest_rl.core.offsets import _int64_ids, _segments_text_and_spans, _text_and_spans
from rest_rl.core.regions import Region, _char_ranks, _label_spans, _label_spans_many

__all__ = ["label_segments", "mask_runs"]


def mask_runs(mask: Sequence[Any] | np.ndarray | torch.Tensor) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` index ranges of the maximal runs of truthy entries of a 1-D mask.

    >>> mask_runs([0, 1, 1, 0, 1])
    [(1, 3), (4, 5)]
    """
    flags = _bool_array(mask)
    if flags.ndim != 1:
        raise ValueError(f"mask_runs needs a 1-D mask, got shape {flags.shape}")
    edges = np.flatnonzero(np.diff(np.concatenate(([False], flags, [False])).astype(np.int8)))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _bool_array(mask: Any) -> np.ndarray:
    """A boolean numpy array of ``mask`` (tensor on any device, numpy array, or nested lists)."""
    if isinstance(mask, torch.Tensor):
        return (mask.detach() != 0).cpu().numpy()
    if isinstance(mask, np.ndarray) and mask.dtype == bool:
        return mask
    try:
        return np.asarray(mask) != 0
    except (TypeError, ValueError):
        raise ValueError(
            "mask must be a tensor, an array or (nested) lists of numbers or bools, shaped like ids"
        ) from None


def _label_row(
    tokenizer: Any, ids: list[int] | np.ndarray, flags: np.ndarray, fill: int, skip_special_tokens: bool
) -> np.ndarray:
    """Region codes of one row: each run of ``flags`` labelled on its own, ``fill`` elsewhere.

    Each run is what ``label_tokens(*token_char_offsets(tokenizer, ids[start:end]))`` gives, taken
    without building the list of span tuples in between.
    """
    out = np.full(len(ids), fill, dtype=np.int64)
    for start, end in mask_runs(flags):
        text, spans = _text_and_spans(tokenizer, ids[start:end], skip_special_tokens)
        out[start:end] = _label_spans(_char_ranks(text), spans)
    return out


def _is_row(value: Any) -> bool:
    """Whether ``value`` is a sequence of ids (a row) rather than a single id."""
    if isinstance(value, (torch.Tensor, np.ndarray)):
        return value.ndim >= 1
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _check_fill(fill: Any) -> int:
    if isinstance(fill, bool) or not isinstance(fill, (int, np.integer)):
        raise TypeError(f"fill must be an int region code (e.g. Region.OTHER or -1), got {fill!r}")
    return int(fill)


@overload
def label_segments(
    tokenizer: Any, ids: torch.Tensor, mask: Any, *, fill: int = ..., skip_special_tokens: bool = ...
) -> torch.Tensor: ...


@overload
def label_segments(
    tokenizer: Any, ids: np.ndarray, mask: Any, *, fill: int = ..., skip_special_tokens: bool = ...
) -> np.ndarray: ...


@overload
def label_segments(
    tokenizer: Any, ids: Sequence[Any], mask: Any, *, fill: int = ..., skip_special_tokens: bool = ...
) -> list[Any]: ...


def label_segments(
    tokenizer: Any,
    ids: torch.Tensor | np.ndarray | Sequence[Any],
    mask: Any,
    *,
    fill: int = Region.OTHER,
    skip_special_tokens: bool = True,
) -> torch.Tensor | np.ndarray | list[Any]:
    """One :class:`~rest_rl.core.regions.Region` code per token; each trained segment labelled on its own.

    Args:
        tokenizer: a Hugging Face style tokenizer (duck-typed, see
            :func:`~rest_rl.core.offsets.token_char_offsets`).
        ids: token ids of one sequence (1-D tensor / array, or a list of ints) or of a batch (2-D
            tensor / array, or a list of rows; list rows may differ in length).
        mask: same shape as ``ids`` (a tensor on any device, an array or nested lists); truthy
            (non-zero) where the token was written by the model / is trained.
        fill: the code given to positions outside the mask (``Region.OTHER`` by default; the SFT
            trainer uses ``-1``).
        skip_special_tokens: passed to ``decode``; skipped special tokens inside a segment are
            ``Region.OTHER``.

    Returns:
        The codes in the container kind of ``ids``, same shape: an int64 tensor on ``ids``'s
        device for a tensor, an int64 numpy array for an array, otherwise a list of ints (one
        sequence) or a list of lists of ints (a batch).

    Every maximal run of masked-in positions of a row is decoded alone and labelled from its exact
    character offsets, so text outside a segment (tool output, a prompt, padding) never changes
    the labels inside it.

    Raises:
        ValueError: if ``ids`` is not 1-D or 2-D, holds non-integer ids, or ``mask`` has another shape.
        TypeError: if ``fill`` is not an int.
    """
    fill = _check_fill(fill)
    if isinstance(ids, torch.Tensor):
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            raise ValueError(f"ids must be an integer tensor, got {ids.dtype}")
        codes = _label_array(tokenizer, ids.detach().cpu().numpy(), mask, fill, skip_special_tokens)
        return torch.from_numpy(codes).to(ids.device)
    if isinstance(ids, np.ndarray):
        if ids.dtype.kind not in "iu":
            raise ValueError(f"ids must be an integer array, got {ids.dtype}")
        return _label_array(tokenizer, ids, mask, fill, skip_special_tokens)
    if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
        raise ValueError(f"ids must be a tensor, an array or a list of ids, got {type(ids).__name__}")
    if len(ids) and _is_row(ids[0]):  # a batch of rows, possibly ragged
        if not _is_row(mask) or len(mask) != len(ids):
            raise ValueError(f"mask must have one row per ids row ({len(ids)} rows)")
        out: list[Any] = []
        for b, (row, row_mask) in enumerate(zip(ids, mask)):
            ids_row = [int(t) for t in (row.tolist() if hasattr(row, "tolist") else row)]
            flags = _row_flags(row_mask, len(ids_row), f"row {b}")
            out.append(_label_row(tokenizer, ids_row, flags, fill, skip_special_tokens).tolist())
        return out
    ids_row = [int(t) for t in ids]
    flags = _row_flags(mask, len(ids_row), "the sequence")
    return _label_row(tokenizer, ids_row, flags, fill, skip_special_tokens).tolist()


def _row_flags(mask: Any, length: int, where: str) -> np.ndarray:
    """The 1-D boolean mask of one row, checked against the row's length."""
    flags = _bool_array(mask)
    if flags.shape != (length,):
        raise ValueError(f"mask of {where} has shape {flags.shape}, ids have shape ({length},)")
    return flags


def _label_array(tokenizer: Any, ids: np.ndarray, mask: Any, fill: int, skip_special_tokens: bool) -> np.ndarray:
    """Codes for a 1-D or 2-D integer array of ids (int64, same shape)."""
    if ids.ndim not in (1, 2):
        raise ValueError(f"ids must be 1-D (one sequence) or 2-D (a batch), got shape {tuple(ids.shape)}")
    flags = _bool_array(mask)
    if flags.shape != ids.shape:
        raise ValueError(f"mask shape {tuple(flags.shape)} != ids shape {tuple(ids.shape)}")
    rows = ids.reshape(1, -1) if ids.ndim == 1 else ids
    out = np.full(rows.shape, fill, dtype=np.int64)
    if not rows.shape[1]:
        return out.reshape(ids.shape)
    # the runs of every row at once: +1 / -1 steps of the mask framed by zeros, in row-major order
    framed = np.zeros((rows.shape[0], rows.shape[1] + 2), dtype=np.int8)
    framed[:, 1:-1] = flags.reshape(rows.shape)
    row_of, edge = np.nonzero(np.diff(framed, axis=1))
    runs = list(zip(row_of[::2].tolist(), edge[::2].tolist(), edge[1::2].tolist()))
    segments = [_int64_ids(rows[b, start:end]) for b, start, end in runs]
    if any(seg is None for seg in segments):  # ids beyond int64: one run at a time, as lists
        for b, start, end in runs:
            text, spans = _text_and_spans(tokenizer, rows[b, start:end], skip_special_tokens)
            out[b, start:end] = _label_spans(_char_ranks(text), spans)
        return out.reshape(ids.shape)
    # all runs together: each decoded and labelled on its own, the array work done once for all
    texts, spans = _segments_text_and_spans(tokenizer, segments, skip_special_tokens)
    counts = np.fromiter((end - start for _, start, end in runs), dtype=np.int64, count=len(runs))
    codes = _label_spans_many([_char_ranks(text) for text in texts], spans, counts)
    position = 0
    for b, start, end in runs:
        out[b, start:end] = codes[position : position + end - start]
        position += end - start
    return out.reshape(ids.shape)
