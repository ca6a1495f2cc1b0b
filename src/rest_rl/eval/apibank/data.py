"""API-Bank data as ToolRL and ResT evaluate it (docs/method.md §6): download, checksums, samples.

ToolRL's processed files ``level-{1,2,3}-api_processed.json`` (399 / 67 / 131 records
``{system, user, answer, other}``; 597 in all), read from ``data_dir`` or downloaded once from
ToolRL's repository at a pinned commit into a cache directory and verified by SHA-256. The gold
``answer`` is one call ``{"name", "parameters"}`` (level 2 stores it bare, levels 1 and 3 as a
one-element list); every gold parameter value is a string.

The prompt of a sample is ``[{"role": "system", "content": system}, {"role": "user", "content":
user}]``, rendered by the model's chat template (ToolRL's protocol).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.data.io import DataError
from rest_rl.eval.engines import GenerationRequest
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "DEFAULT_BASE_URL",
    "FILE_SHA256",
    "LEVELS",
    "LEVEL_SIZES",
    "TOOLRL_COMMIT",
    "TOTAL_SAMPLES",
    "ApiBankSample",
    "ChecksumError",
    "data_checksums",
    "default_cache_dir",
    "download_apibank",
    "file_sha256",
    "level_file",
    "load_apibank",
    "resolve_apibank_dir",
    "select_samples",
]

LEVELS: tuple[int, ...] = (1, 2, 3)
LEVEL_SIZES: dict[int, int] = {1: 399, 2: 67, 3: 131}
TOTAL_SAMPLES = 597

#: ToolRL commit the files are pinned to, and where they are fetched from.
TOOLRL_COMMIT = "8cee13ec0ca72f0461da372a93a6fd8140dbb840"
DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/qiancheng0/ToolRL/{TOOLRL_COMMIT}/benchmarks/API-Bank"

#: SHA-256 of the public files at :data:`TOOLRL_COMMIT` (``benchmarks/API-Bank/``).
FILE_SHA256: dict[str, str] = {
    "level-1-api_processed.json": "51ebc8209ba467ce4cc1854d23b2cfd89759f3c45ff2aaf90de4f003162ea98f",
    "level-2-api_processed.json": "75c8097b3127d1f7aec13edb6b7a8428565d753b107f2b1e20daa3d0cfda51db",
    "level-3-api_processed.json": "57228427976f05725d9cf2f0ab03ac16487efaed67d5a929b28e974b9b27ef05",
}

_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024


def level_file(level: int) -> str:
    """File name of a level: ``level-{N}-api_processed.json``."""
    return f"level-{level}-api_processed.json"


class ChecksumError(DataError):
    """A downloaded file does not have the pinned SHA-256."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def data_checksums(data_dir: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of the three level files in ``data_dir``, by file name (compare with :data:`FILE_SHA256`)."""
    return {level_file(k): file_sha256(Path(data_dir) / level_file(k)) for k in LEVELS}


def default_cache_dir() -> Path:
    """Where downloaded files go: ``$REST_RL_CACHE`` or ``$XDG_CACHE_HOME/rest_rl`` (``~/.cache/rest_rl``),
    then ``api_bank/<commit[:7]>``."""
    root = os.environ.get("REST_RL_CACHE")
    if not root:
        xdg = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        root = os.path.join(xdg, "rest_rl")
    return Path(root) / "api_bank" / TOOLRL_COMMIT[:7]


def _fetch(url: str, dest: Path, expected: str, timeout: float) -> None:
    """Download ``url`` to ``dest`` if its SHA-256 is ``expected`` (else raise, keeping nothing)."""
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    size = 0
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - pinned URL or the user's own
                while True:
                    block = resp.read(1 << 20)
                    if not block:
                        break
                    size += len(block)
                    if size > _MAX_DOWNLOAD_BYTES:
                        raise DataError(f"larger than {_MAX_DOWNLOAD_BYTES} bytes; not an API-Bank file", path=url)
                    h.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            raise DataError(
                f"cannot download ({reason}); pass --data-dir with the three level-N-api_processed.json files",
                path=url,
            ) from None
        digest = h.hexdigest()
        if digest != expected:
            raise ChecksumError(
                f"SHA-256 mismatch: expected {expected}, got {digest}; the file was not kept", path=url
            )
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def download_apibank(
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    base_url: str = DEFAULT_BASE_URL,
    levels: Sequence[int] = LEVELS,
    timeout: float = 60.0,
) -> Path:
    """Make sure the level files are in ``cache_dir`` (default :func:`default_cache_dir`) with the pinned
    SHA-256, downloading missing or damaged ones from ``base_url`` (any ``urllib`` URL, ``file://``
    included). Returns the directory. Raises :class:`ChecksumError` on a checksum mismatch and
    :class:`~rest_rl.data.io.DataError` when a file cannot be fetched.
    """
    target = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target.mkdir(parents=True, exist_ok=True)
    for level in levels:
        name = level_file(level)
        dest = target / name
        expected = FILE_SHA256[name]
        if dest.is_file() and file_sha256(dest) == expected:
            continue
        _fetch(base_url.rstrip("/") + "/" + name, dest, expected, timeout)
    return target


def resolve_apibank_dir(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    base_url: str = DEFAULT_BASE_URL,
    levels: Sequence[int] = LEVELS,
) -> Path:
    """The directory holding the level files: ``data_dir`` when given (each selected file must exist),
    else the download cache (see :func:`download_apibank`)."""
    if data_dir is None:
        return download_apibank(cache_dir, base_url=base_url, levels=levels)
    path = Path(data_dir)
    if not path.is_dir():
        raise DataError("no such directory (expected the API-Bank level-N-api_processed.json files)", path=str(path))
    for level in levels:
        if not (path / level_file(level)).is_file():
            raise DataError(f"missing {level_file(level)}", path=str(path))
    return path


@dataclass(frozen=True)
class ApiBankSample:
    """One API-Bank sample: its prompt parts and the gold call.

    ``id`` is ``L{level}-{index}`` (index = row in the level's file, 0-based).
    """

    id: str
    level: int
    index: int
    system: str
    user: str
    gold: ToolCall
    other: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def messages(self) -> list[dict[str, Any]]:
        """The prompt as chat messages: ``[system, user]`` (ToolRL's format)."""
        return [{"role": "system", "content": self.system}, {"role": "user", "content": self.user}]

    def request(self) -> GenerationRequest:
        """The generation request for this sample (chat template of the model, no ``tools=``)."""
        return GenerationRequest(messages=self.messages())

    @property
    def prompt_sha256(self) -> str:
        """SHA-256 of the prompt messages (canonical JSON), to tie a prediction to the exact prompt."""
        blob = json.dumps(self.messages(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _gold_call(answer: Any) -> ToolCall:
    if isinstance(answer, list):
        if len(answer) != 1:
            raise ValueError(f"'answer' must hold exactly one call, got a list of {len(answer)}")
        answer = answer[0]
    if not isinstance(answer, dict):
        raise ValueError(f"'answer' must be a call object or a one-element list, got {type(answer).__name__}")
    name = answer.get("name")
    params = answer.get("parameters")
    if not isinstance(name, str) or not name:
        raise ValueError("'answer' has no string 'name'")
    if not isinstance(params, dict):
        raise ValueError(f"'answer' of {name!r} has no 'parameters' object")
    return ToolCall(name, dict(params))


def load_apibank(data_dir: str | os.PathLike[str], levels: Sequence[int] = LEVELS) -> list[ApiBankSample]:
    """Load the selected levels from ``data_dir`` (files ``level-N-api_processed.json``), in level order.

    Raises :class:`~rest_rl.data.io.DataError` naming the file (and row) for a missing file, a file
    that is not a JSON list, or a record without string ``system``/``user`` or a valid ``answer``.
    """
    samples: list[ApiBankSample] = []
    for level in levels:
        if level not in LEVELS:
            raise DataError(f"unknown API-Bank level {level} (levels are 1, 2, 3)", path=str(data_dir))
        path = Path(data_dir) / level_file(level)
        try:
            rows = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError("no such file", path=str(path)) from None
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise DataError(f"not readable JSON ({exc})", path=str(path)) from None
        if not isinstance(rows, list):
            raise DataError(f"expected a JSON list of records, got {type(rows).__name__}", path=str(path))
        for index, row in enumerate(rows):
            if not isinstance(row, dict):
                raise DataError(f"expected an object, got {type(row).__name__}", path=str(path), row=index)
            for key in ("system", "user"):
                if not isinstance(row.get(key), str):
                    raise DataError(f"missing or non-string {key!r}", path=str(path), row=index)
            try:
                gold = _gold_call(row.get("answer"))
            except ValueError as exc:
                raise DataError(str(exc), path=str(path), row=index) from None
            other = row.get("other") if isinstance(row.get("other"), dict) else {}
            samples.append(
                ApiBankSample(
                    id=f"L{level}-{index}",
                    level=level,
                    index=index,
                    system=row["system"],
                    user=row["user"],
                    gold=gold,
                    other=other,
                )
            )
    return samples


def select_samples(samples: Sequence[ApiBankSample], limit: int | None = None) -> list[ApiBankSample]:
    """The first ``limit`` samples of each level (all when ``limit`` is None), order kept."""
    if limit is None:
        return list(samples)
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    taken: dict[int, int] = {}
    out = []
    for s in samples:
        if taken.get(s.level, 0) < limit:
            taken[s.level] = taken.get(s.level, 0) + 1
            out.append(s)
    return out
