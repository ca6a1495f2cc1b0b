"""Reading rows from local files or the Hugging Face Hub, with per-row error reporting."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.data.schema import ToolExample
from rest_rl.errors import UserError

__all__ = ["DataError", "LoadReport", "LoadResult", "SkippedRow", "iter_rows", "load_rows"]

LOCAL_SUFFIXES = (".json", ".jsonl", ".parquet")


class DataError(UserError, ValueError):
    """A data file (or one of its rows) could not be read.

    Attributes:
        path: The file or dataset id.
        row: Index of the offending row (0-based), or None when the whole file is at fault.
        reason: What was wrong, without the location prefix.
    """

    def __init__(self, reason: str, *, path: str, row: int | None = None) -> None:
        self.path = str(path)
        self.row = row
        self.reason = reason
        where = self.path if row is None else f"{self.path}, row {row}"
        super().__init__(f"{where}: {reason}")


@dataclass
class SkippedRow:
    """A row left out by ``skip_invalid=True``, and why."""

    row: int
    reason: str


@dataclass
class LoadReport:
    """What a loader read: rows seen, examples produced, rows skipped (with reasons)."""

    path: str
    rows_read: int = 0
    examples: int = 0
    skipped: list[SkippedRow] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return len(self.skipped)

    def reason_counts(self) -> dict[str, int]:
        """Skipped rows per kind of reason (the reason's text before its first ``:``), most frequent first."""
        counts: dict[str, int] = {}
        for s in self.skipped:
            kind = _reason_kind(s.reason)
            counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

    def skip_line(self) -> str:
        """``"PATH: skipped K of N rows (reason: count; ...)"``, for printing when rows were skipped."""
        reasons = "; ".join(f"{kind}: {n}" for kind, n in self.reason_counts().items())
        return f"{self.path}: skipped {self.n_skipped} of {self.rows_read} rows as invalid ({reasons})"

    def to_dict(self) -> dict[str, Any]:
        """The report as plain values (counts, reasons per kind, the first 20 skipped rows)."""
        return {
            "path": self.path,
            "rows_read": self.rows_read,
            "examples": self.examples,
            "skipped": self.n_skipped,
            "skipped_by_reason": self.reason_counts(),
            "first_skipped": [{"row": s.row, "reason": s.reason} for s in self.skipped[:20]],
        }

    def summary(self, max_reasons: int = 5) -> str:
        """One line per fact, for printing: counts and the first few skip reasons."""
        lines = [f"{self.path}: {self.rows_read} rows read, {self.examples} examples, {self.n_skipped} rows skipped"]
        for s in self.skipped[:max_reasons]:
            lines.append(f"  row {s.row}: {s.reason}")
        if self.n_skipped > max_reasons:
            lines.append(f"  ... and {self.n_skipped - max_reasons} more")
        return "\n".join(lines)


def _reason_kind(reason: str) -> str:
    head = reason.split(":", 1)[0].strip()
    return head if 0 < len(head) <= 80 else reason[:80]


@dataclass
class LoadResult:
    """Examples from one source plus the :class:`LoadReport`; iterates over the examples."""

    examples: list[ToolExample]
    report: LoadReport

    def __iter__(self) -> Iterator[ToolExample]:
        return iter(self.examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> ToolExample:
        return self.examples[index]


_RowOrError = tuple[int, Any, Exception | None]


def _iter_local(path: Path) -> Iterator[_RowOrError]:
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            with path.open(encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"cannot read JSON file: {exc}", path=str(path)) from exc
        if not isinstance(data, list):
            raise DataError(f"expected a JSON list of records, got {type(data).__name__}", path=str(path))
        for i, row in enumerate(data):
            yield i, row, None
    elif suffix == ".jsonl":
        try:
            with path.open(encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if not line.strip():
                        continue
                    try:
                        yield i, json.loads(line), None
                    except json.JSONDecodeError as exc:
                        yield i, None, ValueError(f"line is not JSON: {exc}")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read JSONL file: {exc}", path=str(path)) from exc
    elif suffix == ".parquet":
        try:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow raises several unrelated types for a bad file
            raise DataError(f"cannot read parquet file: {exc}", path=str(path)) from exc
        for i, row in enumerate(rows):
            yield i, row, None
    else:
        raise DataError(f"unsupported file type {suffix!r}; expected one of {LOCAL_SUFFIXES}", path=str(path))


def _iter_hub(name: str, split: str | None) -> Iterator[_RowOrError]:
    import datasets

    try:
        dataset = datasets.load_dataset(name, split=split or "train")
    except Exception as exc:  # network, auth (gated datasets), missing split...
        raise DataError(f"cannot load dataset with datasets.load_dataset: {exc}", path=name) from exc
    for i, row in enumerate(dataset):
        yield i, row, None


def iter_rows(path_or_hub_id: str | os.PathLike[str], *, split: str | None = None) -> Iterator[_RowOrError]:
    """Yield ``(row_index, row, error)`` from a local file or a Hugging Face dataset.

    Local ``.json`` (a list of records), ``.jsonl`` and ``.parquet`` files are read directly
    (``split`` is ignored for them); a directory or a Hub id goes through
    ``datasets.load_dataset(path, split=split or "train")``. ``error`` is set for a row that could
    not even be decoded (a bad JSONL line). Raises :class:`DataError` when the source as a whole
    cannot be read.
    """
    path = Path(path_or_hub_id)
    if path.is_file():
        yield from _iter_local(path)
    elif path.is_dir():
        yield from _iter_hub(str(path), split)
    elif path.suffix.lower() in LOCAL_SUFFIXES or str(path_or_hub_id).startswith((".", "/", "~")):
        raise DataError("no such file", path=str(path_or_hub_id))
    else:
        yield from _iter_hub(str(path_or_hub_id), split)


def load_rows(
    path_or_hub_id: str | os.PathLike[str],
    convert: Callable[[Any, int], Sequence[ToolExample]],
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Convert every row of a source with ``convert(row, index) -> [ToolExample, ...]``.

    ``convert`` signals a bad row by raising ``ValueError`` (``KeyError``/``TypeError`` from
    malformed data are treated the same). Such a row raises :class:`DataError` naming the file
    and row, or, with ``skip_invalid=True``, is skipped and recorded in the report (and when *every*
    row read was skipped, :class:`DataError` says so and names the first reason: a wrong loader for
    the file, not an empty data set). ``limit`` caps the number of examples returned (reading stops
    once it is reached).
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")
    label = str(path_or_hub_id)
    report = LoadReport(path=label)
    examples: list[ToolExample] = []
    if limit == 0:
        return LoadResult(examples, report)
    for index, row, error in iter_rows(path_or_hub_id, split=split):
        report.rows_read += 1
        try:
            if error is not None:
                raise error
            produced = list(convert(row, index))
        except (ValueError, KeyError, TypeError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
            if not skip_invalid:
                raise DataError(reason, path=label, row=index) from exc
            report.skipped.append(SkippedRow(index, reason))
            continue
        if limit is not None:
            produced = produced[: limit - len(examples)]
        examples.extend(produced)
        if limit is not None and len(examples) >= limit:
            break
    report.examples = len(examples)
    if not examples and report.skipped and report.n_skipped == report.rows_read:
        first = report.skipped[0]
        raise DataError(
            f"every one of the {report.rows_read} rows was invalid and skipped (first: row {first.row}: "
            f"{first.reason}); is this the right loader for this file?",
            path=label,
        )
    return LoadResult(examples, report)
