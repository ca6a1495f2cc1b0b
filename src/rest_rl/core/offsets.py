"""Exact character offsets of generated token ids, without re-tokenising the decoded text.

A trainer decodes each completion with ``tokenizer.decode(ids, skip_special_tokens=True)`` and
the region labeller works on that text; to give each *generated* token its region we need the span
of characters that token produced in that very text. Re-encoding the text would give a different
segmentation whenever the model sampled a non-canonical one, so positions would drift. Instead:

* **Fast path (byte-level BPE, GPT-2 / Qwen style).** Each ordinary token string is mapped back to
  its bytes through the byte<->unicode alphabet of byte-level BPE, added tokens to their UTF-8
  content, skipped special tokens to no bytes. The bytes are concatenated and decoded as UTF-8
  (invalid sequences become U+FFFD, as the tokenizer does) while recording which character every
  byte belongs to; a token's span covers the characters its bytes touch. A token holding only part
  of a multi-byte character gets that whole character, so adjacent spans may overlap by one
  character. The reconstructed text is checked against ``tokenizer.decode``.

  The bytes of every id are worked out once per tokenizer, for the whole vocabulary (and again if
  ``len(tokenizer)`` changes), and kept with its byte length and how many UTF-8 characters it
  starts. A completion is then a few numpy operations: gather its bytes, compare them with the
  decoded text, and take the spans from cumulative byte counts (ASCII) or cumulative character-start
  counts (other valid UTF-8); invalid UTF-8 is mapped byte by byte as before. No Python loop runs
  over the tokens. Anything unusual (ids outside the vocabulary, a tokenizer without ``len``, a
  reconstruction that does not match) takes the per-call path above, unchanged.
* **Generic fallback** (any other tokenizer family, or whenever the check fails): decode every
  prefix of the ids and take, for each token, how far the prefix's common part with the final
  text advanced. Quadratic in the length, but correct for any tokenizer whose decode is stable
  under extension; spans are monotone and clipped to the text.

The tokenizer is duck-typed (``decode``, and for the fast path ``convert_ids_to_tokens``,
``added_tokens_decoder`` and ``len``); this module imports no tokenizer library. Transformers'
own ``decode`` is given the ids as a numpy array, which it documents and turns into the same list
first; any other ``decode`` gets a list of ints.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

__all__ = ["byte_to_unicode", "token_char_offsets"]


def byte_to_unicode() -> dict[int, str]:
    """The byte-level BPE alphabet: a printable unicode character for each of the 256 bytes.

    Printable Latin-1 bytes (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) stand for themselves; the
    other 68 bytes (controls, space, DEL, NBSP, soft hyphen) are assigned ``chr(256)``,
    ``chr(257)``, ... in increasing byte order.
    """
    printable = set(range(0x21, 0x7F)) | set(range(0xA1, 0xAD)) | set(range(0xAE, 0x100))
    table: dict[int, str] = {}
    extra = 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + extra)
            extra += 1
    return table


def _build_translation() -> Mapping[int, str]:
    # unicode alphabet char -> latin-1 char of its byte; characters below 324 that are not in the
    # alphabet map to a sentinel outside latin-1 so that encoding fails for them.
    inverse = {ord(ch): chr(byte) for byte, ch in byte_to_unicode().items()}
    for code in range(256 + 68):
        inverse.setdefault(code, "\uffff")
    return MappingProxyType(inverse)


_TO_LATIN1: Mapping[int, str] = _build_translation()


def _as_id_list(token_ids: Any) -> list[int]:
    if hasattr(token_ids, "tolist"):
        token_ids = token_ids.tolist()
    if isinstance(token_ids, int):
        return [token_ids]
    return [int(t) for t in token_ids]


def _piece_bytes(piece: str) -> bytes:
    """Bytes of one ordinary byte-level token; raw UTF-8 when it is not in the alphabet."""
    try:
        return piece.translate(_TO_LATIN1).encode("latin-1")
    except UnicodeEncodeError:
        return piece.encode("utf-8", errors="replace")


def _decode_with_char_map(data: bytes) -> tuple[str, np.ndarray]:
    """Decode UTF-8 with U+FFFD replacement; also return the character index of every byte."""
    char_of_byte = np.empty(len(data), dtype=np.int64)
    parts: list[str] = []
    pos = 0
    nchar = 0

    def fill_valid(lo: int, hi: int) -> None:
        if hi > lo:
            seg = np.frombuffer(data, dtype=np.uint8, count=hi - lo, offset=lo)
            char_of_byte[lo:hi] = np.cumsum((seg & 0xC0) != 0x80) - 1 + nchar

    while pos < len(data):
        try:
            seg_text = data[pos:].decode("utf-8")
        except UnicodeDecodeError as err:
            good_end = pos + err.start
            seg_text = data[pos:good_end].decode("utf-8")
            fill_valid(pos, good_end)
            nchar += len(seg_text)
            parts.append(seg_text)
            bad_end = max(pos + err.end, good_end + 1)
            char_of_byte[good_end:bad_end] = nchar
            parts.append("\ufffd")
            nchar += 1
            pos = bad_end
            continue
        fill_valid(pos, len(data))
        parts.append(seg_text)
        break
    return "".join(parts), char_of_byte


def _byte_level_spans(
    tokenizer: Any, ids: list[int], text: str, skip_special_tokens: bool
) -> list[tuple[int, int]] | None:
    """Spans by byte reconstruction; ``None`` when this tokenizer does not decode that way."""
    try:
        pieces = tokenizer.convert_ids_to_tokens(ids)
        added = dict(getattr(tokenizer, "added_tokens_decoder", None) or {})
    except Exception:  # noqa: BLE001 - a duck-typed tokenizer may fail in any way: use the fallback
        return None
    if not isinstance(pieces, list) or len(pieces) != len(ids):
        return None
    dropped = {tid for tid, tok in added.items() if skip_special_tokens and getattr(tok, "special", False)}
    # common case in one go: every (kept) token string is in the byte alphabet, one char per byte
    strings = ["" if (p is None or tid in dropped) else p for tid, p in zip(ids, pieces)]
    per_token = False
    try:
        data = "".join(strings).translate(_TO_LATIN1).encode("latin-1")
        lens = np.fromiter(map(len, strings), dtype=np.int64, count=len(strings))
    except (TypeError, UnicodeEncodeError):
        data, lens = _bytes_per_token(ids, pieces, added, dropped)
        per_token = True
    spans = _char_spans(data, lens, text)
    if spans is None and not per_token and any(tid in added for tid in ids):
        # added tokens may decode as their raw UTF-8 rather than through the byte alphabet
        data, lens = _bytes_per_token(ids, pieces, added, dropped)
        spans = _char_spans(data, lens, text)
    if spans is None:
        return None
    return list(zip(spans[:, 0].tolist(), spans[:, 1].tolist()))


def _bytes_per_token(
    ids: list[int], pieces: list[Any], added: Mapping[int, Any], dropped: set[int]
) -> tuple[bytes, np.ndarray]:
    """Token by token: added tokens as UTF-8, ordinary ones through the alphabet, dropped ones empty."""
    chunks = _chunks_per_token(ids, pieces, added, dropped)
    lens = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    return b"".join(chunks), lens


def _chunks_per_token(
    ids: list[int], pieces: list[Any], added: Mapping[int, Any], dropped: set[int]
) -> list[bytes]:
    """The bytes of every token, one item per id (see :func:`_bytes_per_token`)."""
    chunks: list[bytes] = []
    for tid, piece in zip(ids, pieces):
        tok = added.get(tid)
        if tid in dropped:
            chunks.append(b"")
        elif tok is not None:
            chunks.append(str(getattr(tok, "content", piece or "")).encode("utf-8"))
        elif isinstance(piece, str):
            chunks.append(_piece_bytes(piece))
        else:
            chunks.append(b"")  # unknown id: the tokenizer drops it
    return chunks


def _common_prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b`` (binary search on slices)."""
    limit = min(len(a), len(b))
    if a[:limit] == b[:limit]:
        return limit
    lo, hi = 0, limit  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _prefix_decode_spans(
    tokenizer: Any, ids: list[int], text: str, skip_special_tokens: bool
) -> list[tuple[int, int]]:
    """Generic spans: how far each prefix decode advances along the final text."""
    spans: list[tuple[int, int]] = []
    n = len(text)
    done = 0  # characters of ``text`` fully produced by the tokens so far
    previous = ""
    for i in range(len(ids)):
        prefix = tokenizer.decode(ids[: i + 1], skip_special_tokens=skip_special_tokens)
        if not isinstance(prefix, str):
            prefix = ""
        end = max(_common_prefix_len(prefix, text), done)
        if end == done and prefix != previous and len(prefix) > end and done < n:
            # the token produced something not yet matching the text (e.g. part of a multi-byte
            # character shown as U+FFFD): give it the character being built.
            spans.append((done, done + 1))
        else:
            spans.append((done, end))
            done = end
        previous = prefix
    return spans


# ---------------------------------------------------------------------------------------------
# Fast path: the bytes of every id memoised once per tokenizer
# ---------------------------------------------------------------------------------------------

_MAX_TABLE = 1 << 22  # larger vocabularies are not memoised (the per-call path is used)
_DIFFER = 1  # flag: an added token whose alphabet translation differs from its UTF-8 content
_FAIL = 2  # flag: a string outside the byte alphabet (the one-go translation fails)


class _Mode:
    """The memoised bytes of a vocabulary for one ``skip_special_tokens`` mode.

    * ``chunks[id]``: the id's bytes exactly as :func:`_bytes_per_token` gives them (added tokens
      as the UTF-8 of their content, ordinary tokens through the byte alphabet, skipped special
      tokens and unknown ids empty); ``flat``: all of them concatenated, id ``i``'s from
      ``first[i]`` for ``lens[i]`` bytes;
    * ``leads[id]``: how many of its bytes start a UTF-8 character (are not ``10xxxxxx``);
      ``cont[id]``: 1 when its first byte continues a character;
    * ``flags[id]``: ``_FAIL`` when the id's string is not made of the byte alphabet (the one-go
      translation of :func:`_byte_level_spans` then fails for any completion holding it, which goes
      token by token at once), ``_DIFFER`` for an added token whose string translated through the
      alphabet (``one_go[id]``) differs from its UTF-8 content (that translation is tried first,
      then the per-token bytes). An unflagged id has the same bytes both ways, so a completion
      without flagged ids is fully described by ``chunks``.

    :meth:`dropping` derives the mode that skips special tokens: the same bytes with those ids empty
    (``flat`` and ``first`` are shared; an empty id's bytes are never read).
    """

    __slots__ = ("chunks", "flat", "first", "lens", "leads", "cont", "flags", "any_flags", "one_go")

    def __init__(self, ids: list[int], pieces: list[Any], added: Mapping[int, Any]) -> None:
        """The mode that keeps every token (``skip_special_tokens=False``)."""
        size = len(ids)
        chunks = _chunks_per_token(ids, pieces, added, set())
        flags = np.zeros(size, dtype=np.uint8)
        one_go: dict[int, bytes] = {}
        for tid, piece in enumerate(pieces):
            if piece is None:
                continue  # "" in the one-go translation, b"" token by token: the same
            try:
                translated = piece.translate(_TO_LATIN1).encode("latin-1")
            except (AttributeError, TypeError, UnicodeEncodeError):
                flags[tid] = _FAIL
                continue
            if translated != chunks[tid]:
                flags[tid] = _DIFFER
                one_go[tid] = translated
        lens = np.fromiter(map(len, chunks), dtype=np.int64, count=size)
        flat = np.frombuffer(b"".join(chunks), dtype=np.uint8)
        first = np.cumsum(lens) - lens
        is_lead = ((flat & 0xC0) != 0x80).astype(np.int64)
        nonempty = np.flatnonzero(lens > 0)
        leads = np.zeros(size, dtype=np.int64)
        cont = np.zeros(size, dtype=np.int64)
        if nonempty.size:
            leads[nonempty] = np.add.reduceat(is_lead, first[nonempty])
            cont[nonempty] = 1 - is_lead[first[nonempty]]
        self.chunks = chunks
        self.flat = flat
        self.first = first
        self.lens = lens
        self.leads = leads
        self.cont = cont
        self.flags = flags
        self.any_flags = bool(flags.any())
        self.one_go = one_go

    def dropping(self, dropped: set[int]) -> _Mode:
        """This mode with the ids ``dropped`` producing nothing (as skipped special tokens do)."""
        mode = copy.copy(self)
        drop = np.fromiter(dropped, dtype=np.int64, count=len(dropped))
        mode.chunks = list(self.chunks)
        for tid in dropped:
            mode.chunks[tid] = b""
        for name in ("lens", "leads", "cont"):  # no bytes, no characters; ``first`` is never read for them
            values = getattr(self, name).copy()
            values[drop] = 0
            setattr(mode, name, values)
        mode.flags = self.flags.copy()
        mode.flags[drop] = 0  # "" in the one-go translation, b"" token by token: the same
        mode.any_flags = bool(mode.flags.any())
        mode.one_go = {tid: b for tid, b in self.one_go.items() if tid not in dropped}
        return mode


class _VocabBytes:
    """What :func:`_byte_level_spans` derives from each id, computed once for a whole vocabulary.

    ``convert_ids_to_tokens`` and ``added_tokens_decoder`` are read once for the ids ``0..size-1``
    (``size = len(tokenizer)``); ``modes[skip_special_tokens]`` holds the bytes (:class:`_Mode`).
    """

    __slots__ = ("size", "modes")

    def __init__(self, tokenizer: Any, size: int) -> None:
        ids = list(range(size))
        pieces = tokenizer.convert_ids_to_tokens(ids)
        added = dict(getattr(tokenizer, "added_tokens_decoder", None) or {})
        if not isinstance(pieces, list) or len(pieces) != size:
            raise ValueError("convert_ids_to_tokens does not give one entry per id")
        special = {tid for tid, tok in added.items() if getattr(tok, "special", False) and 0 <= tid < size}
        keep = _Mode(ids, pieces, added)
        self.size = size
        self.modes = {False: keep, True: keep.dropping(special)}


# id(tokenizer) -> (len(tokenizer) when built, its table or None when it cannot be built); an entry
# leaves with its tokenizer.
_TABLES: dict[int, tuple[int, _VocabBytes | None]] = {}


def _vocab_bytes(tokenizer: Any, refresh: bool = False) -> _VocabBytes | None:
    """The memoised table of ``tokenizer``, built on first use; ``None`` when there is none.

    ``refresh=True`` (after the table could not give a completion's spans) looks at
    ``len(tokenizer)`` again and returns a rebuilt table if tokens were added since, else ``None``.
    Tokenizers without ``len``, that cannot be weakly referenced (the entry must leave with them) or
    whose table cannot be built get ``None``: the per-call path. Whatever a table gives is checked
    against ``decode`` on every call, so a table that no longer fits the tokenizer only costs time.
    """
    key = id(tokenizer)
    entry = _TABLES.get(key)
    if entry is not None and not refresh:
        return entry[1]
    try:
        size = len(tokenizer)
    except Exception:  # noqa: BLE001 - no length: nothing to memoise, the per-call path is used
        return None
    if not isinstance(size, int) or not 0 < size <= _MAX_TABLE:
        return None
    if entry is not None and entry[0] == size:
        return None if refresh else entry[1]
    if entry is None:
        try:
            weakref.finalize(tokenizer, _TABLES.pop, key, None)
        except TypeError:
            return None  # not weak-referenceable: the per-call path
    try:
        table: _VocabBytes | None = _VocabBytes(tokenizer, size)
    except Exception:  # noqa: BLE001 - a duck-typed tokenizer may fail in any way: the per-call path
        table = None
    _TABLES[key] = (size, table)
    return table


def _char_spans(data: bytes, lens: np.ndarray, text: str) -> np.ndarray | None:
    """Character spans ``[T, 2]`` of tokens of byte lengths ``lens`` whose bytes are ``data``,
    mapped byte by byte (the last step of :func:`_byte_level_spans`); ``None`` unless ``data`` decodes
    to ``text``."""
    decoded, char_of_byte = _decode_with_char_map(data)
    if decoded != text:
        return None
    byte_ends = np.cumsum(lens)
    byte_starts = byte_ends - lens
    lookup = np.append(char_of_byte, len(decoded))  # a start at the end of data maps past the text
    starts = lookup[byte_starts]
    ends = np.where(lens > 0, lookup[np.maximum(byte_ends - 1, 0)] + 1, starts)
    return np.stack((starts, ends), axis=1)


def _memo_spans(table: _VocabBytes, arr: np.ndarray, text: str, skip: bool) -> np.ndarray | None:
    """Spans ``[T, 2]`` of the ids ``arr`` from the memoised bytes; ``None`` where
    :func:`_byte_level_spans` must decide (ids outside the table, or bytes that do not decode to ``text``).

    The completion's bytes are gathered from ``flat`` with numpy (no Python loop over tokens). ASCII
    text: byte offsets are the spans. Other valid UTF-8: the character a byte belongs to is the number
    of character-starting bytes up to it, minus one, so a token ends at the running total of
    ``leads`` and starts there minus its own ``leads``, minus ``cont`` (one if its first byte
    continues a character, which it then shares with the token before; an empty token looks at the
    byte where it stands). This is what the byte-by-byte map of :func:`_char_spans` gives, without
    building it.
    """
    mode = table.modes[skip]
    if arr.min() < 0:
        return None  # ids outside the vocabulary: the per-call path handles them
    try:
        lens = mode.lens.take(arr)
    except IndexError:
        return None
    if mode.any_flags:
        flags = mode.flags.take(arr)
        if flags.any():
            ids = arr.tolist()
            chunks = mode.chunks
            if not (flags & _FAIL).any():  # the alphabet translation first, as _byte_level_spans
                one_go = mode.one_go
                alt = [one_go.get(t) or chunks[t] for t in ids]
                alt_lens = np.fromiter(map(len, alt), dtype=np.int64, count=len(alt))
                spans = _char_spans(b"".join(alt), alt_lens, text)
                if spans is not None:
                    return spans
            return _char_spans(b"".join(map(chunks.__getitem__, ids)), lens, text)
    byte_ends = lens.cumsum()
    byte_starts = byte_ends - lens
    total = int(byte_ends[-1])
    gather = (mode.first.take(arr) - byte_starts).repeat(lens)
    gather += np.arange(total)
    data = mode.flat.take(gather).tobytes()
    out = np.empty((lens.shape[0], 2), dtype=np.int64)
    if data.isascii():  # one character per byte: byte offsets are character offsets
        if total != len(text) or data.decode("ascii") != text:
            return None
        out[:, 0] = byte_starts
        out[:, 1] = byte_ends
        return out
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:  # invalid sequences become U+FFFD: mapped byte by byte
        return _char_spans(data, lens, text)
    if decoded != text:
        return None
    leads = mode.leads.take(arr)
    ends = leads.cumsum()  # characters started by the bytes up to each token's end
    starts = ends - leads
    starts -= mode.cont.take(arr)
    out[:, 0] = starts
    out[:, 1] = ends
    if not lens.all():  # empty tokens (skipped special tokens, mostly a final EOS): one by one
        for i in np.flatnonzero(lens == 0).tolist():
            at = int(byte_starts[i])
            out[i] = ends[i] - (at < total and (data[at] & 0xC0) == 0x80)
    return out


def _int64_ids(token_ids: Any) -> np.ndarray | None:
    """The ids as an ``int64`` array when each converts as ``int()`` would and fits 64 bits, else ``None``.

    ``np.fromiter`` converts every item as ``int()`` does, or raises (e.g. for ints beyond 64 bits:
    then the per-call path handles them, with ``_as_id_list`` as before).
    """
    if isinstance(token_ids, np.ndarray):
        if token_ids.ndim != 1 or token_ids.dtype.kind not in "iu":
            return None
        if token_ids.dtype.kind == "u" and token_ids.size and int(token_ids.max()) >= 2**63:
            return None
        return token_ids.astype(np.int64, copy=False)
    seq = token_ids.tolist() if hasattr(token_ids, "tolist") else token_ids
    if not isinstance(seq, (list, tuple)):
        return None
    try:
        return np.fromiter(seq, dtype=np.int64, count=len(seq))
    except (TypeError, ValueError, OverflowError):
        return None


def _decodes_arrays(tokenizer: Any) -> bool:
    """Whether ``tokenizer.decode`` is Hugging Face transformers' own, which documents numpy arrays
    as input and turns them into the same list of ints before anything else (``to_py_obj``): the
    array is then passed, sparing its per-element type check of a list. Any other ``decode`` (a
    subclass's override, a function set on the instance, another library) gets the list of ints."""
    func = getattr(getattr(tokenizer, "decode", None), "__func__", None)
    return getattr(func, "__module__", None) == "transformers.tokenization_utils_base"


def _decode_ids(tokenizer: Any, arr: np.ndarray | None, ids: list[int] | None, skip_special_tokens: bool) -> str:
    """``tokenizer.decode`` of the ids (``arr``, or the list ``ids`` when there is no array), as a string."""
    if arr is None:
        text = tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
    elif arr.size and _decodes_arrays(tokenizer):
        text = tokenizer.decode(arr, skip_special_tokens=skip_special_tokens)
    else:
        text = tokenizer.decode(arr.tolist(), skip_special_tokens=skip_special_tokens)
    return text if isinstance(text, str) else str(text)


def _spans_given_text(
    tokenizer: Any, arr: np.ndarray | None, ids: list[int] | None, text: str, skip_special_tokens: bool
) -> np.ndarray:
    """The spans ``[T, 2]`` of ids (``arr``, or the list ``ids``) whose decoded text is ``text``."""
    if arr is not None:
        if not arr.size:
            return np.zeros((0, 2), dtype=np.int64)
        table = _vocab_bytes(tokenizer)
        if table is not None:
            fast = _memo_spans(table, arr, text, bool(skip_special_tokens))
            if fast is None:  # tokens added since the table was built? then once more with a new one
                table = _vocab_bytes(tokenizer, refresh=True)
                fast = None if table is None else _memo_spans(table, arr, text, bool(skip_special_tokens))
            if fast is not None:
                return fast
        ids = arr.tolist()
    elif not ids:
        return np.zeros((0, 2), dtype=np.int64)
    spans = _byte_level_spans(tokenizer, ids, text, skip_special_tokens)
    if spans is None:
        spans = _prefix_decode_spans(tokenizer, ids, text, skip_special_tokens)
    return np.array(spans, dtype=np.int64).reshape(-1, 2)


def _text_and_spans(tokenizer: Any, token_ids: Any, skip_special_tokens: bool) -> tuple[str, np.ndarray]:
    """``(text, spans)`` of :func:`token_char_offsets`, with the spans as an ``int64`` array ``[T, 2]``."""
    arr = _int64_ids(token_ids)
    ids = _as_id_list(token_ids) if arr is None else None
    text = _decode_ids(tokenizer, arr, ids, skip_special_tokens)
    return text, _spans_given_text(tokenizer, arr, ids, text, skip_special_tokens)


def _memo_spans_many(
    table: _VocabBytes, cat: np.ndarray, counts: np.ndarray, texts: Sequence[str], skip: bool
) -> tuple[np.ndarray, list[bool]] | None:
    """:func:`_memo_spans` for many id sequences at once (their concatenation ``cat``, ``counts`` ids
    each, decoded to ``texts``), with numpy operations over all of them together.

    Returns the spans ``[sum(counts), 2]``, each sequence's relative to its own text, and which
    sequences they are right for: those whose bytes are valid UTF-8 equal to their text (exactly
    where :func:`_memo_spans` answers by counting). The rows of the others are meaningless: they go
    through :func:`_spans_given_text` one by one. ``None``: all of them do (ids outside the table,
    or ids whose bytes take the two-step path of :func:`_byte_level_spans`).
    """
    mode = table.modes[skip]
    if cat.min() < 0:
        return None
    try:
        lens = mode.lens.take(cat)
    except IndexError:
        return None
    if mode.any_flags and mode.flags.take(cat).any():
        return None
    byte_ends = lens.cumsum()
    byte_starts = byte_ends - lens
    gather = (mode.first.take(cat) - byte_starts).repeat(lens)
    gather += np.arange(int(byte_ends[-1]))
    data = mode.flat.take(gather).tobytes()
    token_ends = counts.cumsum()
    token_starts = token_ends - counts
    seg_end = byte_ends[token_ends - 1]
    ok = []
    for b0, b1, text in zip(byte_starts[token_starts].tolist(), seg_end.tolist(), texts):
        piece = data[b0:b1]
        if piece.isascii():
            ok.append(b1 - b0 == len(text) and piece.decode("ascii") == text)
            continue
        try:
            ok.append(piece.decode("utf-8") == text)
        except UnicodeDecodeError:  # invalid sequences: mapped byte by byte, one sequence at a time
            ok.append(False)
    leads = mode.leads.take(cat)
    ends = leads.cumsum()  # characters started up to each token's end, over all sequences
    starts = ends - leads
    base = starts[token_starts].repeat(counts)  # characters before each sequence
    starts -= mode.cont.take(cat)
    if not lens.all():  # empty tokens: the byte where they stand, within their own sequence
        empty = np.flatnonzero(lens == 0)
        for i, k in zip(empty.tolist(), np.searchsorted(token_ends, empty, side="right").tolist()):
            at = int(byte_starts[i])
            starts[i] = ends[i] = ends[i] - (at < seg_end[k] and (data[at] & 0xC0) == 0x80)
    out = np.empty((cat.shape[0], 2), dtype=np.int64)
    np.subtract(starts, base, out=out[:, 0])
    np.subtract(ends, base, out=out[:, 1])
    return out, ok


def _segments_text_and_spans(
    tokenizer: Any, segments: Sequence[np.ndarray], skip_special_tokens: bool
) -> tuple[list[str], np.ndarray]:
    """``_text_and_spans`` of each non-empty ``int64`` id array: the texts, and the spans of all of them
    concatenated (``[sum of lengths, 2]``, each relative to its own text)."""
    texts = [_decode_ids(tokenizer, seg, None, skip_special_tokens) for seg in segments]
    counts = np.fromiter(map(len, segments), dtype=np.int64, count=len(segments))
    table = _vocab_bytes(tokenizer)
    many = None
    if table is not None and segments:
        many = _memo_spans_many(table, np.concatenate(segments), counts, texts, bool(skip_special_tokens))
    if many is None:
        spans = np.concatenate([_spans_given_text(tokenizer, seg, None, text, skip_special_tokens)
                                for seg, text in zip(segments, texts)]) if segments else np.zeros((0, 2), np.int64)
        return texts, spans
    spans, ok = many
    if not all(ok):
        position = 0
        for seg, text, good in zip(segments, texts, ok):
            if not good:
                spans[position : position + len(seg)] = _spans_given_text(tokenizer, seg, None, text, skip_special_tokens)
            position += len(seg)
    return texts, spans


def token_char_offsets(
    tokenizer: Any, token_ids: Sequence[int] | Any, *, skip_special_tokens: bool = True, as_array: bool = False
) -> tuple[str, list[tuple[int, int]] | np.ndarray]:
    """Decode ``token_ids`` and give every token its ``(start, end)`` character span in the text.

    Args:
        tokenizer: a Hugging Face style tokenizer (duck-typed: ``decode``; the byte-level fast path
            also uses ``convert_ids_to_tokens`` and ``added_tokens_decoder``, and ``len`` to
            memoise every id's bytes once per tokenizer).
        token_ids: the generated ids of one completion (list, numpy array or 1-D tensor).
        skip_special_tokens: passed to ``decode``; skipped special tokens get an empty span.
        as_array: give the spans as an ``int64`` array ``[T, 2]`` (the same numbers) instead of a
            list of tuples: building ~500 Python tuples costs more than computing the spans, and
            :func:`~rest_rl.core.regions.label_tokens` reads arrays directly.

    Returns:
        ``(text, spans)`` where ``text == tokenizer.decode(token_ids,
        skip_special_tokens=skip_special_tokens)`` and ``spans[i]`` is the half-open character range
        of ``text`` produced by token ``i``. Spans are monotone (starts and ends non-decreasing) and
        within ``[0, len(text)]``; tokens producing nothing have ``start == end``; a token holding
        part of a multi-byte character covers that character (neighbouring spans may then overlap).
    """
    text, spans = _text_and_spans(tokenizer, token_ids, skip_special_tokens)
    if as_array:
        return text, spans
    return text, list(zip(spans[:, 0].tolist(), spans[:, 1].tolist()))
