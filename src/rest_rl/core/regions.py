r"""Label every completion token with exactly one :class:`Region`.

Regions are found on the decoded completion text, character by character, and then mapped to
tokens through their character offsets (see :mod:`rest_rl.core.offsets`, which gives exact offsets of
generated ids without re-tokenising). Nothing here executes or trusts model output: the labeller
never raises on any string.

Formats understood (and any mixture of them, or garbage, best effort):

* ToolRL: ``<think> ... </think>`` then a ``<tool_call>`` block with one JSON call per line
  (``{"name": ..., "parameters": {...}}``) and/or ``<response> ... </response>``.
* Qwen3 / Hermes: one or more ``<tool_call>\n{"name": ..., "arguments": {...}}\n</tool_call>``
  blocks, possibly after ``<think> ... </think>`` and with plain text around.

Character rules:

* FORMAT: the characters of the tags ``<think> </think> <tool_call> </tool_call> <response>
  </response>`` wherever they delimit a block (also stray closing tags, and tags met inside a call
  block outside JSON strings). Tags written *inside* a closed ``<think>``/``<response>`` block are
  that block's text.
* THINK: the text inside ``<think> ... </think>``; RESPONSE: the text inside ``<response> ...
  </response>``; OTHER: everything outside all blocks (text before/after/between blocks, the
  newlines between them).
* Inside a ``<tool_call>`` block (up to the first ``</tool_call>``), by a regex JSON lexer:

  - TOOL_NAME: the content (without quotes) of the string value of ``"name"`` in a call object;
  - ARG_KEY: the content of the keys of the ``"parameters"`` / ``"arguments"`` object;
  - ARG_VALUE: argument values: string content without its quotes, numbers, ``true``/``false``/
    ``null`` (with the spaces right before such a bare literal, which byte-level BPE glues to it:
    `` true`` is one token and it is the value decision); for nested objects and arrays every non-punctuation character inside them, nested
    keys included; also the content of an ``"arguments"`` value given as a JSON-encoded string;
  - SCAFFOLD: everything else in the block: ``{ } [ ] : ,``, the quotes delimiting strings, the
    keys ``name`` / ``parameters`` / ``arguments`` and any other key of a call object (and its
    value), whitespace between JSON tokens, anything unrecognised.

  Several calls per block (one per line) and several blocks are all labelled. A top-level array of
  calls and OpenAI-style ``{"function": {"name": ..., "arguments": ...}}`` are understood too.

Malformed or truncated output:

* an unclosed ``<think>`` (or ``<response>``) ends at the next opening tag of another kind, else at
  the end of the text; an unclosed ``<tool_call>`` runs to the end of the text;
* a completion whose first tag is ``</think>`` is taken to have had its ``<think>`` in the prompt
  (as Qwen3 thinking chat templates do): the text before it is THINK;
* a JSON string left open ends at the end of its line; ``\"`` escapes, braces and tags inside
  strings are string content; single-quoted strings are accepted;
* a ``{`` or ``[`` where no JSON value can start (e.g. the next line after a truncated call) starts
  a new call; unbalanced closing brackets are ignored.

Token rule (:data:`STRADDLE_RULE`): a token covering characters of several regions takes the
region with the highest priority among its characters, structure outranking content::

    FORMAT > SCAFFOLD > TOOL_NAME > ARG_KEY > ARG_VALUE > RESPONSE > THINK > OTHER

so every character of a TOOL_NAME token lies inside a tool-name string's content. A token with an
empty span (e.g. an EOS stripped from the decoded text) is OTHER.

Speed: tags are found with one compiled regex, only call blocks are lexed (a few dozen matches per
call, a separator riding along with the string or word before it), regions are painted with numpy
slice assignment and tokens are resolved vectorised; no Python loop runs over characters or tokens.
:func:`label_tokens` paints priority ranks directly (the same painter as :func:`label_chars`, other
values), and :func:`~rest_rl.core.segments.label_segments` resolves the tokens of all its segments in
one reduction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from enum import IntEnum
from itertools import chain
from types import MappingProxyType
from typing import Any, Union

import numpy as np
import torch

__all__ = [
    "NUM_REGIONS",
    "Offsets",
    "REGION_PRIORITY",
    "STRADDLE_RULE",
    "Region",
    "label_batch",
    "label_chars",
    "label_tokens",
]


class Region(IntEnum):
    """The region a completion token belongs to. Values are stable (used as tensor codes)."""

    OTHER = 0  # outside all tags, EOS, padding-free text between blocks
    FORMAT = 1  # the tags <think> </think> <tool_call> </tool_call> <response> </response>
    THINK = 2  # text inside <think> ... </think>
    TOOL_NAME = 3  # the characters of the value of "name" in a call
    ARG_KEY = 4  # parameter keys inside "parameters"/"arguments"
    ARG_VALUE = 5  # parameter values inside "parameters"/"arguments"
    RESPONSE = 6  # text inside <response> ... </response>
    SCAFFOLD = 7  # JSON punctuation, the literal keys name/parameters/arguments, whitespace in a call block


NUM_REGIONS = len(Region)

Offsets = Union[Sequence[Sequence[int]], np.ndarray, torch.Tensor]
"""Per-token ``(start, end)`` character offsets: a sequence of pairs or an integer array ``[T, 2]``."""


# ---------------------------------------------------------------------------------------------
# Implementation
# ---------------------------------------------------------------------------------------------

REGION_PRIORITY: tuple[Region, ...] = (
    Region.FORMAT,
    Region.SCAFFOLD,
    Region.TOOL_NAME,
    Region.ARG_KEY,
    Region.ARG_VALUE,
    Region.RESPONSE,
    Region.THINK,
    Region.OTHER,
)
"""Regions from highest to lowest priority, used to resolve tokens that straddle regions."""

STRADDLE_RULE = (
    "A token whose characters fall in several regions takes the region of highest priority among "
    "its characters, structure outranking content: FORMAT > SCAFFOLD > TOOL_NAME > ARG_KEY > "
    "ARG_VALUE > RESPONSE > THINK > OTHER. Consequently every character of a TOOL_NAME token lies "
    "inside the content of a tool-name string, every character of an ARG_KEY token inside a "
    "parameter key, and so on: a content region is only given to tokens made purely of that "
    "content (or of that content plus lower-priority content). A token with an empty span "
    "(start >= end after clipping to the text) is OTHER."
)
"""The rule that gives each token exactly one region (see the module docstring)."""


def _readonly(values: list[int], dtype: type) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


# rank of each region code (0 = lowest priority); and back: region code of each rank.
_RANK_OF_REGION = _readonly(
    [len(REGION_PRIORITY) - 1 - REGION_PRIORITY.index(Region(code)) for code in range(NUM_REGIONS)],
    np.uint8,
)
_REGION_OF_RANK = _readonly([int(r) for r in reversed(REGION_PRIORITY)], np.int64)

_Paint = tuple[int, int, int, int, int, int, int]
"""The values painted for FORMAT, THINK, TOOL_NAME, ARG_KEY, ARG_VALUE, RESPONSE, SCAFFOLD (OTHER is 0)."""
_PAINTED = (
    Region.FORMAT, Region.THINK, Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE, Region.RESPONSE, Region.SCAFFOLD
)  # fmt: skip
_PAINT_CODES: _Paint = tuple(int(r) for r in _PAINTED)  # type: ignore[assignment]
_PAINT_RANKS: _Paint = tuple(int(_RANK_OF_REGION[r]) for r in _PAINTED)  # type: ignore[assignment]

_TAG_RE = re.compile(r"<(/?)(think|tool_call|response)>")
_CALL_CLOSE = "</tool_call>"
# closing tag and the index in a paint tuple of the block's region
_CLOSERS: Mapping[str, tuple[str, int]] = MappingProxyType({"think": ("</think>", 1), "response": ("</response>", 5)})

# Lexer for the inside of a <tool_call> block. Whitespace (and a lone "<") matches nothing and is
# skipped by finditer, so it keeps the block's default label SCAFFOLD. Strings never cross a
# newline: a string left open by truncation ends at the end of its line; a backslash escapes the
# next character (string bodies are written unrolled, ``[^"\\\n]*(?:\\.?[^"\\\n]*)*``, which
# matches what ``(?:[^"\\\n]|\\.?)*`` does, faster). For speed a string or bare word takes the
# ``:`` or ``,`` that follows it (after optional whitespace) into the same match, and a closing
# bracket a following ``,``: the same JSON tokens in the same order as one match each (whitespace
# between them is skipped either way), in fewer matches.
_CALL_TOKEN_RE = re.compile(
    r'("[^"\\\n]*(?:\\.?[^"\\\n]*)*)("?)(?:\s*([:,]))?'  # 1: "string body, 2: closing quote, 3: separator
    r"|('[^'\\\n]*(?:\\.?[^'\\\n]*)*)('?)(?:\s*([:,]))?"  # 4, 5, 6: single-quoted (Python dicts, best effort)
    r"|([{\[])"  # 7: opening bracket
    r"|([}\]])(?:\s*(,))?"  # 8: closing bracket; 9: comma
    r"|(:)"  # 10: colon
    r"|(,)"  # 11: comma
    r"|(</?(?:think|tool_call|response)>)"  # 12: a tag inside the block
    r"|([^\s\"'{}\[\]:,<]+)(?:\s*(,))?"  # 13: bare word (number, true, garbage); 14: comma
)

# ``Match.lastindex`` of the alternatives that are not a string or a bare word.
_G_OPEN, _G_CLOSE, _G_CLOSE_COMMA, _G_COLON, _G_COMMA = 7, 8, 9, 10, 11

# Roles of a JSON container inside a call block.
_ROLE_CALL = 0  # an object that is a call: {"name": ..., "parameters"/"arguments": {...}}
_ROLE_CALL_LIST = 1  # a top-level array of calls
_ROLE_ARGS = 2  # the parameters/arguments object
_ROLE_VALUE = 3  # a container nested in an argument value: everything inside is ARG_VALUE
_ROLE_IGNORED = 4  # a container nobody cares about (value of an unknown key): SCAFFOLD

# Kind of the current key of a call object.
_KEY_OTHER, _KEY_NAME, _KEY_ARGS, _KEY_FUNCTION = 0, 1, 2, 3
_CALL_KEYS: Mapping[str, int] = MappingProxyType(
    {"name": _KEY_NAME, "parameters": _KEY_ARGS, "arguments": _KEY_ARGS, "function": _KEY_FUNCTION}
)

# Parser states of a frame (objects use all four, arrays only EXPECT_VALUE / AFTER_VALUE).
_EXPECT_KEY, _AFTER_KEY, _EXPECT_VALUE, _AFTER_VALUE = 0, 1, 2, 3


def _label_call_block(text: str, start: int, end: int, labels: np.ndarray, paint: _Paint | None = None) -> None:
    """Label ``text[start:end]``, the inside of a ``<tool_call>`` block, in place.

    The block is first set to SCAFFOLD; a regex lexer then walks its JSON tokens with a small
    stack of containers (each frame is ``(role, is_object, state, key_kind)``; the innermost one is
    kept in local variables, ``role == -1`` when none is open) and paints the content of names,
    keys and values. Recovery from broken JSON: a ``{`` or ``[`` where no value can start, or any
    tag, resets the stack to the top level (a new call begins). ``paint`` gives the values painted
    (region codes by default; see :data:`_PAINT_RANKS`).
    """
    fmt, _, tool_name, arg_key, arg_value, _, scaffold = paint or _PAINT_CODES
    labels[start:end] = scaffold
    outer: list[tuple[int, bool, int, int]] = []  # the enclosing containers, outermost first
    role, is_object, state, kind = -1, False, _EXPECT_KEY, _KEY_OTHER  # the innermost container
    for m in _CALL_TOKEN_RE.finditer(text, start, end):
        g = m.lastindex  # the last group that matched tells the alternative (and its separator)
        if g <= 6 or g >= 13:  # a string or a bare word, possibly with a separator after it
            if g >= 13:
                c0, c1 = m.span(13)
                # Spaces right before a bare literal (`` true``, `` 42``) belong to it: byte-level BPE
                # glues them to the word, and that token is the value decision, not punctuation.
                while c0 > start and text[c0 - 1] in " \t":
                    c0 -= 1
                colon = None if g == 13 else False
            else:
                c0, c1 = m.span(1 if g <= 3 else 4)
                c0 += 1  # without the opening quote
                colon = None if (g == 2 or g == 5) else m.group(g) == ":"
            if role == _ROLE_VALUE:
                labels[c0:c1] = arg_value
                state = _AFTER_VALUE
            elif role >= 0:
                if is_object and state != _EXPECT_VALUE:  # a key
                    state = _AFTER_KEY
                    if role == _ROLE_CALL:
                        kind = _CALL_KEYS.get(text[c0:c1], _KEY_OTHER)
                    elif role == _ROLE_ARGS:
                        labels[c0:c1] = arg_key
                else:
                    state = _AFTER_VALUE
                    if role == _ROLE_ARGS:
                        labels[c0:c1] = arg_value
                    elif role == _ROLE_CALL:
                        if kind == _KEY_NAME:
                            labels[c0:c1] = tool_name
                        elif kind == _KEY_ARGS:  # arguments given as a JSON-encoded string
                            labels[c0:c1] = arg_value
            if colon is None:
                continue
        elif g == _G_OPEN:
            opens_object = text[m.start()] == "{"
            if role >= 0 and state != _EXPECT_VALUE:
                outer.clear()  # no value can start here: broken JSON, assume a new call begins
                role = -1
            if role < 0:
                new_role = _ROLE_CALL if opens_object else _ROLE_CALL_LIST
            else:
                if role == _ROLE_CALL_LIST:
                    new_role = _ROLE_CALL if opens_object else _ROLE_CALL_LIST
                elif role == _ROLE_CALL:
                    if kind == _KEY_ARGS:
                        new_role = _ROLE_ARGS if opens_object else _ROLE_VALUE
                    elif kind == _KEY_FUNCTION and opens_object:
                        new_role = _ROLE_CALL
                    else:
                        new_role = _ROLE_IGNORED
                elif role == _ROLE_ARGS or role == _ROLE_VALUE:
                    new_role = _ROLE_VALUE
                else:
                    new_role = _ROLE_IGNORED
                outer.append((role, is_object, _AFTER_VALUE, kind))  # the parent has its value now
            role, is_object, kind = new_role, opens_object, _KEY_OTHER
            state = _EXPECT_KEY if opens_object else _EXPECT_VALUE
            continue
        elif g <= _G_CLOSE_COMMA:  # a closing bracket, possibly with a comma after it
            if role >= 0:
                if outer:
                    role, is_object, state, kind = outer.pop()
                else:
                    role = -1
            if g == _G_CLOSE:
                continue
            colon = False
        elif g == _G_COLON:
            colon = True
        elif g == _G_COMMA:
            colon = False
        else:  # a tag inside the block: FORMAT, and whatever follows starts afresh
            labels[m.start() : m.end()] = fmt
            outer.clear()
            role = -1
            continue
        # a separator: ``:`` then a value, ``,`` then the next key (object) or value (array)
        if role >= 0:
            if colon:
                if is_object:
                    state = _EXPECT_VALUE
            else:
                state = _EXPECT_KEY if is_object else _EXPECT_VALUE
                kind = _KEY_OTHER


def _paint_chars(text: str, paint: _Paint, extra: int) -> np.ndarray:
    """``len(text) + extra`` values (uint8, zero = OTHER): the painted regions of ``text``."""
    n = len(text)
    labels = np.zeros(n + extra, dtype=np.uint8)  # Region.OTHER == 0, and its rank is 0 too
    if "<" not in text:
        return labels
    fmt = paint[0]
    tags = [(m.start(), m.end(), m.group(1) == "/", m.group(2)) for m in _TAG_RE.finditer(text)]
    pos = 0
    absent: set[str] = set()  # closing tags known not to occur after the current position
    for i, (s, e, closing, name) in enumerate(tags):
        if s < pos:
            continue  # already consumed by the block before
        labels[s:e] = fmt
        pos = e
        if closing:
            if i == 0 and name == "think":
                labels[:s] = paint[1]  # THINK: the opening <think> was in the prompt (Qwen3 thinking templates)
            continue
        if name == "tool_call":
            close = text.find(_CALL_CLOSE, e)
            stop = n if close < 0 else close
            _label_call_block(text, e, stop, labels, paint)
            if close >= 0:
                pos = close + len(_CALL_CLOSE)
                labels[close:pos] = fmt
            else:
                pos = n
            continue
        closer, slot = _CLOSERS[name]
        region = paint[slot]
        close = -1 if closer in absent else text.find(closer, e)
        if close < 0:
            absent.add(closer)
        else:
            labels[e:close] = region
            pos = close + len(closer)
            labels[close:pos] = fmt
            continue
        stop = n  # unclosed: ends at the next opening tag of another kind, else at end of text
        for j in range(i + 1, len(tags)):
            s2, _, closing2, name2 = tags[j]
            if not closing2 and name2 != name:
                stop = s2
                break
        labels[e:stop] = region
        pos = stop
    return labels


def label_chars(text: str) -> np.ndarray:
    """Return the :class:`Region` code of every character of ``text`` (``uint8``, ``len(text)``).

    Follows the rules of the module docstring. Never raises on a string; a non-string input is
    treated as the empty string.
    """
    if not isinstance(text, str):
        text = ""
    return _paint_chars(text, _PAINT_CODES, 0)


def _char_ranks(text: str) -> np.ndarray:
    """The priority rank of every character's region, plus a trailing 0 (``len(text) + 1``, uint8):
    what :func:`label_tokens` reduces over, painted directly instead of mapped from the codes."""
    if not isinstance(text, str):
        text = ""
    return _paint_chars(text, _PAINT_RANKS, 1)


def _offsets_array(offsets: Any) -> np.ndarray:
    """Coerce token offsets to an ``int64`` array ``[T, 2]``; unreadable entries become ``(0, 0)``."""
    if isinstance(offsets, (list, tuple)):
        try:  # the common case, a list of pairs: flattening is ~2x faster than np.asarray
            flat = np.fromiter(chain.from_iterable(offsets), dtype=np.int64, count=2 * len(offsets))
            return flat.reshape(-1, 2)
        except (TypeError, ValueError, OverflowError):
            pass
    try:
        arr = np.asarray(offsets, dtype=np.int64)
        if arr.ndim == 2 and arr.shape[1] == 2:
            return arr
        if arr.size == 0:
            return np.zeros((0, 2), dtype=np.int64)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        pass
    rows: list[tuple[int, int]] = []
    try:
        items = list(offsets)
    except TypeError:
        return np.zeros((0, 2), dtype=np.int64)
    for item in items:
        try:
            rows.append((int(item[0]), int(item[1])))
        except (TypeError, ValueError, IndexError, OverflowError, RuntimeError):
            rows.append((0, 0))
    return np.asarray(rows, dtype=np.int64).reshape(-1, 2)


def label_tokens(text: str, offsets: Offsets) -> np.ndarray:
    """Return one :class:`Region` code per token (``int64``, ``[T]``).

    Args:
        text: the decoded completion.
        offsets: ``(start, end)`` character offsets into ``text``, one per completion token (a
            sequence of pairs, or an integer array / CPU tensor ``[T, 2]``). Offsets are clipped to
            ``[0, len(text)]``; a token with an empty span (``start >= end``, e.g. a skipped EOS or
            a ``(0, 0)`` special token) is ``Region.OTHER``.

    Regions of straddling tokens follow :data:`STRADDLE_RULE`, computed vectorised: characters are
    mapped to priority ranks and each span takes its maximum via ``np.maximum.reduceat``.
    """
    return _label_spans(_char_ranks(text), _offsets_array(offsets))


def _label_spans(ranks: np.ndarray, offs: np.ndarray) -> np.ndarray:
    """:func:`label_tokens` from :func:`_char_ranks` of the text and an integer offsets array ``[T, 2]``."""
    n = ranks.shape[0] - 1  # the last rank is a 0 sentinel, so that an end offset of n is a valid index
    count = offs.shape[0]
    if n == 0 or count == 0:
        return np.zeros(count, dtype=np.int64)  # Region.OTHER == 0
    clipped = np.minimum(np.maximum(offs, 0), n)  # a new array: the caller's offsets are not touched
    valid = clipped[:, 1] > clipped[:, 0]
    # ravel() reads row by row (start0, end0, start1, ...): the even results are the spans' maxima. An
    # empty span's result is the rank of one character; multiplying by ``valid`` makes it rank 0, OTHER.
    span_max = np.maximum.reduceat(ranks, clipped.ravel())[::2]
    span_max *= valid
    return _REGION_OF_RANK[span_max]


def _label_spans_many(ranks: Sequence[np.ndarray], offs: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """:func:`_label_spans` of several texts at once: ``ranks`` from :func:`_char_ranks` of each, their
    offsets concatenated (``offs``, ``counts`` rows each), with one reduction over all of them."""
    sizes = np.fromiter(map(len, ranks), dtype=np.int64, count=len(ranks))  # len(text) + 1 each
    if not offs.shape[0]:
        return np.zeros(0, dtype=np.int64)
    limit = (sizes - 1).repeat(counts)[:, None]
    clipped = np.minimum(np.maximum(offs, 0), limit)
    valid = clipped[:, 1] > clipped[:, 0]
    clipped += (sizes.cumsum() - sizes).repeat(counts)[:, None]  # each text's ranks start there
    span_max = np.maximum.reduceat(np.concatenate(ranks), clipped.ravel())[::2]
    span_max *= valid
    return _REGION_OF_RANK.take(span_max)


def label_batch(
    texts: Sequence[str],
    offsets_list: Sequence[Offsets],
    max_len: int | None = None,
    pad_value: int = Region.OTHER,
) -> torch.Tensor:
    """Label a batch of completions; returns a right-padded ``torch.LongTensor`` ``[B, T]``.

    ``T`` is ``max_len`` when given (longer rows are truncated) and otherwise the largest number of
    tokens in the batch. Padding positions hold ``pad_value``.
    """
    if len(texts) != len(offsets_list):
        raise ValueError(f"label_batch: {len(texts)} texts but {len(offsets_list)} offset lists")
    rows = [label_tokens(text, offs) for text, offs in zip(texts, offsets_list)]
    width = max((r.shape[0] for r in rows), default=0) if max_len is None else max(int(max_len), 0)
    out = np.full((len(rows), width), int(pad_value), dtype=np.int64)
    for b, row in enumerate(rows):
        k = min(row.shape[0], width)
        out[b, :k] = row[:k]
    return torch.from_numpy(out)
