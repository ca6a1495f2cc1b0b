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
* **Generic fallback** (any other tokenizer family, or whenever the check fails): decode every
  prefix of the ids and take, for each token, how far the prefix's common part with the final
  text advanced. Quadratic in the length, but correct for any tokenizer whose decode is stable
  under extension; spans are monotone and clipped to the text.

The tokenizer is duck-typed (``decode``, and for the fast path ``convert_ids_to_tokens`` and
``added_tokens_decoder``); this module imports no tokenizer library.
"""

from __future__ import annotations

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
    decoded, char_of_byte = _decode_with_char_map(data)
    if decoded != text and not per_token and any(tid in added for tid in ids):
        # added tokens may decode as their raw UTF-8 rather than through the byte alphabet
        data, lens = _bytes_per_token(ids, pieces, added, dropped)
        decoded, char_of_byte = _decode_with_char_map(data)
    if decoded != text:
        return None
    byte_ends = np.cumsum(lens)
    byte_starts = byte_ends - lens
    lookup = np.append(char_of_byte, len(decoded))  # a start at the end of data maps past the text
    starts = lookup[byte_starts]
    ends = np.where(lens > 0, lookup[np.maximum(byte_ends - 1, 0)] + 1, starts)
    return list(zip(starts.tolist(), ends.tolist()))


def _bytes_per_token(
    ids: list[int], pieces: list[Any], added: Mapping[int, Any], dropped: set[int]
) -> tuple[bytes, np.ndarray]:
    """Token by token: added tokens as UTF-8, ordinary ones through the alphabet, dropped ones empty."""
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
    lens = np.fromiter((len(c) for c in chunks), dtype=np.int64, count=len(chunks))
    return b"".join(chunks), lens


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


def token_char_offsets(
    tokenizer: Any, token_ids: Sequence[int] | Any, *, skip_special_tokens: bool = True
) -> tuple[str, list[tuple[int, int]]]:
    """Decode ``token_ids`` and give every token its ``(start, end)`` character span in the text.

    Args:
        tokenizer: a Hugging Face style tokenizer (duck-typed: ``decode``; the byte-level fast path
            also uses ``convert_ids_to_tokens`` and ``added_tokens_decoder``).
        token_ids: the generated ids of one completion (list, numpy array or 1-D tensor).
        skip_special_tokens: passed to ``decode``; skipped special tokens get an empty span.

    Returns:
        ``(text, spans)`` where ``text == tokenizer.decode(token_ids,
        skip_special_tokens=skip_special_tokens)`` and ``spans[i]`` is the half-open character range
        of ``text`` produced by token ``i``. Spans are monotone (starts and ends non-decreasing) and
        within ``[0, len(text)]``; tokens producing nothing have ``start == end``; a token holding
        part of a multi-byte character covers that character (neighbouring spans may then overlap).
    """
    ids = _as_id_list(token_ids)
    text = tokenizer.decode(ids, skip_special_tokens=skip_special_tokens)
    if not isinstance(text, str):
        text = str(text)
    if not ids:
        return text, []
    spans = _byte_level_spans(tokenizer, ids, text, skip_special_tokens)
    if spans is None:
        spans = _prefix_decode_spans(tokenizer, ids, text, skip_special_tokens)
    return text, spans
