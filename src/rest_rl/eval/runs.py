"""Run directories for evaluations: one fresh directory per run, append-only predictions, resume.

Every evaluation writes into its own directory, by default ``<out_dir>/<prefix>-<YYYYmmdd-HHMMSS>``
(a ``-2``, ``-3``... suffix when that name exists), so a rerun never overwrites or merges with an
earlier run: scores can never silently become best-of-k. The directory holds:

* ``config.json``: what was run. Its ``identity`` block (model, engine, decoding settings, data
  checksums, protocol version) is what a resume must match exactly; ``invocations`` logs each
  command that wrote into the directory.
* ``predictions.jsonl``: one JSON object per sample with a unique ``"id"``, appended and flushed as
  samples finish, so an interrupted run loses at most the chunk in flight.

Resuming (``--resume DIR``) only generates the samples whose id is not yet in the predictions file;
a sample already there is never generated again, whatever its verdict. A truncated last line (a
crash in the middle of a write) is ignored and regenerated; any other malformed line is an error
naming the file and line.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from rest_rl.errors import UserError

__all__ = [
    "CONFIG_FILE",
    "PREDICTIONS_FILE",
    "RunError",
    "append_jsonl",
    "check_identity",
    "new_run_dir",
    "read_json",
    "read_predictions",
    "slugify",
    "write_json",
]

CONFIG_FILE = "config.json"
PREDICTIONS_FILE = "predictions.jsonl"


class RunError(UserError, RuntimeError):
    """A run directory cannot be created, read or resumed (the message names the file and why)."""


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe form of ``text`` (a model path or hub id): its last two path parts, ``[A-Za-z0-9._-]``."""
    parts = [p for p in re.split(r"[\\/]+", str(text)) if p and p not in (".", "..")]
    tail = "_".join(parts[-2:]) if parts else "model"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.") or "model"
    return slug[:max_len]


def new_run_dir(root: str | os.PathLike[str], prefix: str) -> Path:
    """Create and return a fresh directory ``root/<prefix>-<timestamp>[-N]`` (never an existing one)."""
    base = Path(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create output directory {base}: {exc.strerror or exc}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        candidate = base / (f"{prefix}-{stamp}" if n == 1 else f"{prefix}-{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create run directory {candidate}: {exc.strerror or exc}") from None
        return candidate
    raise RunError(f"cannot find a free run directory name under {base}")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing or malformed file raises :class:`RunError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path}: not readable JSON ({exc})") from None


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Append ``records`` to a JSONL file (one compact line each), flushed to disk; returns the count.

    A file whose last line lacks its newline (an interrupted write) is first cut back to its last
    complete line, so the new records never glue onto a broken one.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size:
        with path.open("rb+") as fh:
            data = fh.read()
            if not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
    n = 0
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=True) + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n


def read_predictions(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read a predictions JSONL file into ``{id: record}`` (first record of an id wins).

    A missing file reads as empty. A truncated final line (no newline, not JSON) is ignored; any
    other line that is not a JSON object with a string ``"id"`` raises :class:`RunError` naming the
    file and line number.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read ({exc})") from None
    lines = raw.split("\n")
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_tail = number == len(lines)  # no newline after it: possibly cut short by a crash
        try:
            rec = json.loads(line)
        except ValueError:
            if is_tail:
                continue
            raise RunError(f"{path}, line {number}: not valid JSON") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise RunError(f"{path}, line {number}: a prediction must be a JSON object with a string 'id'")
        out.setdefault(rec["id"], rec)
    return out


def check_identity(saved: Mapping[str, Any], current: Mapping[str, Any], where: str) -> None:
    """Raise :class:`RunError` when two identity blocks differ, listing every differing key."""
    diffs = [
        f"{k}: run has {saved.get(k)!r}, now {current.get(k)!r}"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    ]
    if diffs:
        raise RunError(f"cannot resume {where}: the configuration differs ({'; '.join(diffs)}); start a new run instead")
