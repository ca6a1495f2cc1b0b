"""API-Bank as ToolRL and ResT evaluate it (docs/method.md §6): data, prompts, parsing, scoring, runs.

**Data.** ToolRL's processed files ``level-{1,2,3}-api_processed.json`` (399 / 67 / 131 records
``{system, user, answer, other}``; 597 in all), read from ``--data-dir`` or downloaded once from
ToolRL's repository at a pinned commit into a cache directory and verified by SHA-256. The gold
``answer`` is one call ``{"name", "parameters"}`` (level 2 stores it bare, levels 1 and 3 as a
one-element list); every gold parameter value is a string.

**Prompt.** ``[{"role": "system", "content": system}, {"role": "user", "content": user}]``, rendered
by the model's chat template (ToolRL's protocol). Decoding is greedy.

**Parse** (identical to ToolRL's): take the whole completion, keep the text after the *last*
``<tool_call>`` and before the first ``</tool_call>`` that follows it, split it on ``"\\n"`` and
decode every non-blank line as JSON; lines that do not decode are dropped. Two consequences of the
rule, kept on purpose so numbers stay comparable: a ``<tool_call>`` inside the think text counts
like any other, and a completion with no ``<tool_call>`` at all is read whole (a bare JSON line
still counts). ``block_found`` in the predictions says which case applied.

**Strict score** (ToolRL's): a sample is correct when *any* decoded line is a JSON object whose
``"name"`` equals the gold name and whose ``"parameters"`` equals the gold parameters under Python
equality (``1 != "1"``; a missing, extra or differently valued parameter fails; extra calls next to
the right one do not hurt). A call that gives ``"arguments"`` instead of ``"parameters"``, or no
``"parameters"`` at all, is not a match (the prompt asks for ``"parameters"``).

**Lenient score** (ours, reported next to it, never instead of it): the same parse and the same
"any call matches" rule, but

* the arguments may come from ``"arguments"`` when ``"parameters"`` is absent, and may be a
  JSON-encoded string of an object;
* the name and the parameter keys are compared exactly after stripping surrounding whitespace
  (case matters: they are identifiers); the key sets must still be equal;
* values are compared after normalisation: strings are Unicode NFKC-normalised, their runs of
  whitespace collapsed to one space and trimmed, and compared case-insensitively; ``"true"`` /
  ``"false"`` (any case) equal the booleans, ``"none"`` / ``"null"`` equal ``null``; a string that
  is a JSON number (``"1"``, ``"-2.50"``, ``"1e3"``, but not ``"007"``) equals that number, and
  numbers compare by exact value (``1 == 1.0 == "1.0"``); a string holding a JSON or Python list /
  dict literal (API-Bank golds such as ``"['John', 'Jane']"``) compares as that structure,
  element by element with the same rules. Dates, units and synonyms are *not* normalised.

Every strictly correct sample is leniently correct too (lenient >= strict).

**Scores.** Per level and overall, correct / evaluated samples; a full run is correct / 597. With
``--limit N`` only the first N samples of each selected level are evaluated, and every table says
it is a subset.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
import unicodedata
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from rest_rl.data.io import DataError
from rest_rl.eval.engines import GenerationEngine, GenerationRequest
from rest_rl.eval.report import format_pct, markdown_table
from rest_rl.eval.runs import (
    CONFIG_FILE,
    PREDICTIONS_FILE,
    RunError,
    append_jsonl,
    check_identity,
    new_run_dir,
    read_json,
    read_predictions,
    slugify,
    write_json,
)
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "DEFAULT_BASE_URL",
    "FILE_SHA256",
    "LEVELS",
    "LEVEL_SIZES",
    "PROTOCOL_VERSION",
    "TOOLRL_COMMIT",
    "TOTAL_SAMPLES",
    "ApiBankConfig",
    "ApiBankParse",
    "ApiBankRun",
    "ApiBankSample",
    "ApiBankScores",
    "ChecksumError",
    "LevelScore",
    "Verdict",
    "default_cache_dir",
    "download_apibank",
    "file_sha256",
    "lenient_match",
    "level_file",
    "load_apibank",
    "normalize_value",
    "parse_apibank_output",
    "prediction_record",
    "resolve_apibank_dir",
    "run_apibank",
    "score_output",
    "score_predictions",
    "scores_table",
    "select_samples",
    "strict_match",
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

#: Bumped whenever the parse or either score changes; part of a run's identity (resume refuses a mismatch).
PROTOCOL_VERSION = "apibank-toolrl-1"

_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_MAX_LITERAL_CHARS = 10_000  # longest string value that lenient scoring tries to read as a list/dict
_MAX_DEPTH = 64  # deeper values are not normalised further
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d{0,400})(?:\.\d{1,400})?(?:[eE][+-]?\d{1,3})?")
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


def level_file(level: int) -> str:
    """File name of a level: ``level-{N}-api_processed.json``."""
    return f"level-{level}-api_processed.json"


# ------------------------------------------------------------------------------------------------
# Data: download, verify, load
# ------------------------------------------------------------------------------------------------


class ChecksumError(DataError):
    """A downloaded file does not have the pinned SHA-256."""


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


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


# ------------------------------------------------------------------------------------------------
# Parse and score (pure functions; model output is untrusted and never executed)
# ------------------------------------------------------------------------------------------------


@dataclass
class ApiBankParse:
    """What ToolRL's API-Bank rule reads from a completion.

    ``calls`` holds the decoded JSON value of every line that decoded (objects or not, as ToolRL
    keeps them); ``dropped_lines`` counts non-blank lines that were not JSON.
    """

    block_found: bool = False
    calls: list[Any] = field(default_factory=list)
    dropped_lines: int = 0


def parse_apibank_output(text: str) -> ApiBankParse:
    """Parse a completion by ToolRL's API-Bank rule (see the module docstring). Never raises."""
    out = ApiBankParse()
    if not isinstance(text, str):
        return out
    text = text.strip()
    at = text.rfind(_OPEN)
    out.block_found = at >= 0
    body = text[at + len(_OPEN) :] if at >= 0 else text
    end = body.find(_CLOSE)
    if end >= 0:
        body = body[:end]
    for line in body.strip().split("\n"):
        if not line.strip():
            continue
        try:
            out.calls.append(json.loads(line))
        except (ValueError, RecursionError):
            out.dropped_lines += 1
    return out


_MISSING = object()


def strict_match(call: Any, gold: ToolCall) -> bool:
    """ToolRL's criterion: ``call`` is an object with the gold name and ``parameters == gold`` (Python ``==``)."""
    if not isinstance(call, dict) or call.get("name") != gold.name:
        return False
    params = call.get("parameters", _MISSING)
    return isinstance(params, dict) and params == gold.arguments


def _normalize_string(text: str, depth: int) -> Any:
    t = " ".join(unicodedata.normalize("NFKC", text).split())
    low = t.casefold()
    if low in ("true", "false"):
        return ("bool", low == "true")
    if low in ("none", "null"):
        return ("none",)
    if _NUMBER_RE.fullmatch(t):
        return ("num", Fraction(t))
    if t[:1] in ("[", "{", "(") and len(t) <= _MAX_LITERAL_CHARS:
        for reader in (json.loads, ast.literal_eval):  # literal_eval reads literals only, never runs code
            try:
                value = reader(t)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(value, (list, tuple, dict)):
                return normalize_value(value, _depth=depth + 1)
            break
    return ("str", low)


def normalize_value(value: Any, *, _depth: int = 0) -> Any:
    """The lenient-score form of a parameter value (see the module docstring for the rules).

    Two values are leniently equal when their normal forms are ``==``. Never raises.
    """
    if _depth > _MAX_DEPTH:
        return ("deep",)
    if isinstance(value, bool):
        return ("bool", value)
    if value is None:
        return ("none",)
    if isinstance(value, int):
        return ("num", Fraction(value))
    if isinstance(value, float):
        if math.isfinite(value):
            return ("num", Fraction(repr(value)))
        return ("str", repr(value).casefold())
    if isinstance(value, str):
        return _normalize_string(value, _depth)
    if isinstance(value, (list, tuple)):
        return ("list", [normalize_value(v, _depth=_depth + 1) for v in value])
    if isinstance(value, dict):
        return ("dict", {str(k).strip(): normalize_value(v, _depth=_depth + 1) for k, v in value.items()})
    return ("str", str(value).casefold())


def _lenient_args(call: dict[str, Any]) -> dict[str, Any] | None:
    args = call.get("parameters", _MISSING)
    if args is _MISSING:
        args = call.get("arguments", _MISSING)
    if isinstance(args, str) and len(args) <= _MAX_LITERAL_CHARS:
        try:
            args = json.loads(args)
        except (ValueError, RecursionError):
            return None
    return args if isinstance(args, dict) else None


def lenient_match(call: Any, gold: ToolCall) -> bool:
    """Our lenient criterion: same name and keys (whitespace-trimmed), values equal after :func:`normalize_value`."""
    if not isinstance(call, dict):
        return False
    name = call.get("name")
    if not isinstance(name, str) or name.strip() != gold.name.strip():
        return False
    args = _lenient_args(call)
    if args is None:
        return False
    pred = {str(k).strip(): v for k, v in args.items()}
    want = {str(k).strip(): v for k, v in gold.arguments.items()}
    if pred.keys() != want.keys():
        return False
    return all(normalize_value(pred[k]) == normalize_value(want[k]) for k in want)


@dataclass
class Verdict:
    """Scores of one completion against its gold call."""

    strict: bool
    lenient: bool
    parse: ApiBankParse


def score_output(text: str, gold: ToolCall) -> Verdict:
    """Parse ``text`` and score it: correct when any parsed call matches the gold call. Never raises."""
    parsed = parse_apibank_output(text)
    strict = any(strict_match(c, gold) for c in parsed.calls)
    lenient = strict or any(lenient_match(c, gold) for c in parsed.calls)
    return Verdict(strict=strict, lenient=lenient, parse=parsed)


def _json_safe(value: Any) -> Any:
    """``value`` when it can be written as JSON, else a note saying it could not (e.g. too deeply nested)."""
    try:
        json.dumps(value, allow_nan=True)
    except (ValueError, TypeError, RecursionError):
        return "<not serialisable: too deeply nested>"
    return value


def prediction_record(sample: ApiBankSample, raw_output: str) -> dict[str, Any]:
    """The ``predictions.jsonl`` record of a sample's completion (with its parse and verdicts)."""
    verdict = score_output(raw_output, sample.gold)
    return {
        "id": sample.id,
        "level": sample.level,
        "index": sample.index,
        "prompt_sha256": sample.prompt_sha256,
        "raw_output": raw_output,
        "block_found": verdict.parse.block_found,
        "parsed_calls": _json_safe(verdict.parse.calls),
        "dropped_lines": verdict.parse.dropped_lines,
        "gold": sample.gold.to_dict("parameters"),
        "strict": verdict.strict,
        "lenient": verdict.lenient,
    }


# ------------------------------------------------------------------------------------------------
# Aggregation and report
# ------------------------------------------------------------------------------------------------


@dataclass
class LevelScore:
    """Correct counts over ``n`` evaluated samples of one level (or overall)."""

    n: int = 0
    strict: int = 0
    lenient: int = 0

    @property
    def strict_pct(self) -> float:
        return 100.0 * self.strict / self.n if self.n else 0.0

    @property
    def lenient_pct(self) -> float:
        return 100.0 * self.lenient / self.n if self.n else 0.0


@dataclass
class ApiBankScores:
    """Per-level and overall scores; ``full`` when every level was evaluated on all its samples."""

    levels: dict[int, LevelScore] = field(default_factory=dict)
    overall: LevelScore = field(default_factory=LevelScore)

    @property
    def full(self) -> bool:
        return set(self.levels) == set(LEVELS) and all(self.levels[k].n == LEVEL_SIZES[k] for k in LEVELS)

    def subset_note(self) -> str | None:
        """A sentence saying the numbers cover a subset, or ``None`` for a full run."""
        if self.full:
            return None
        parts = ", ".join(f"L{k} {v.n}/{LEVEL_SIZES[k]}" for k, v in sorted(self.levels.items()))
        return (
            f"Subset: {self.overall.n} of {TOTAL_SAMPLES} samples ({parts}); overall = correct / "
            f"{self.overall.n}, not comparable with full-benchmark numbers."
        )

    def to_dict(self) -> dict[str, Any]:
        def one(s: LevelScore) -> dict[str, Any]:
            return {
                "n": s.n,
                "strict_correct": s.strict,
                "strict_accuracy": round(s.strict_pct, 4),
                "lenient_correct": s.lenient,
                "lenient_accuracy": round(s.lenient_pct, 4),
            }

        return {
            "levels": {f"L{k}": one(v) for k, v in sorted(self.levels.items())},
            "overall": one(self.overall),
            "full_benchmark": self.full,
            "denominator": self.overall.n,
            "subset_note": self.subset_note(),
        }


def score_predictions(
    records: Iterable[Mapping[str, Any]],
    samples: Sequence[ApiBankSample] | None = None,
) -> ApiBankScores:
    """Aggregate predictions into :class:`ApiBankScores`.

    With ``samples``, every sample must have a record (by ``id``) and each record's ``raw_output``
    is re-scored against the sample's gold (the data file is the authority; stored verdicts are not
    trusted). Without ``samples``, every record is counted with its stored ``strict``/``lenient``.
    Raises ``ValueError`` naming the first sample without a prediction.
    """
    scores = ApiBankScores()
    if samples is None:
        for rec in records:
            level = int(rec["level"])
            s = scores.levels.setdefault(level, LevelScore())
            s.n += 1
            s.strict += bool(rec.get("strict"))
            s.lenient += bool(rec.get("lenient"))
    else:
        by_id = {str(r.get("id")): r for r in records}
        for sample in samples:
            rec = by_id.get(sample.id)
            if rec is None:
                raise ValueError(f"no prediction for sample {sample.id}")
            raw = rec.get("raw_output")
            verdict = score_output(raw if isinstance(raw, str) else "", sample.gold)
            s = scores.levels.setdefault(sample.level, LevelScore())
            s.n += 1
            s.strict += verdict.strict
            s.lenient += verdict.lenient
    scores.levels = dict(sorted(scores.levels.items()))
    for s in scores.levels.values():
        scores.overall.n += s.n
        scores.overall.strict += s.strict
        scores.overall.lenient += s.lenient
    return scores


def scores_table(scores: ApiBankScores) -> str:
    """The markdown table of ``scores``: one row per level, then overall."""
    rows = []
    for level, s in scores.levels.items():
        rows.append([f"L{level}", s.n, s.strict, format_pct(s.strict, s.n), s.lenient, format_pct(s.lenient, s.n)])
    o = scores.overall
    rows.append(["Overall", o.n, o.strict, format_pct(o.strict, o.n), o.lenient, format_pct(o.lenient, o.n)])
    return markdown_table(
        ["Level", "Samples", "Strict correct", "Strict (%)", "Lenient correct", "Lenient (%)"], rows
    )


def _report_markdown(scores: ApiBankScores, config: Mapping[str, Any], run_dir: Path) -> str:
    ident = config.get("identity", {})
    lines = [
        "# API-Bank evaluation",
        "",
        f"- Model: `{ident.get('model')}` (engine `{ident.get('engine')}`, greedy, "
        f"max_new_tokens {ident.get('max_new_tokens')})",
        f"- Protocol: `{ident.get('protocol')}`: strict = ToolRL's score (any parsed call with the gold "
        "name and parameters equal under Python `==`); lenient = same rule after value normalisation "
        "(see `rest_rl.eval.apibank`).",
        f"- Data: ToolRL processed API-Bank files; pinned checksums "
        f"{'verified' if config.get('data_verified') else 'NOT matched (custom files)'}.",
        f"- Run directory: `{run_dir}`",
        "",
        scores_table(scores),
        "",
    ]
    note = scores.subset_note()
    lines.append(note if note else f"Full benchmark: overall = correct / {TOTAL_SAMPLES}.")
    lines.append("")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------
# Runs
# ------------------------------------------------------------------------------------------------


@dataclass
class ApiBankConfig:
    """Settings of an API-Bank evaluation run (the CLI's ``eval apibank`` options)."""

    model: str = field(metadata={"help": "Model directory or hub id (hf/vllm), or the served model name (openai)."})
    engine: str = field(default="hf", metadata={"help": "Generation engine: hf, vllm or openai."})
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible server URL (openai engine)."})
    data_dir: str | None = field(default=None, metadata={"help": "Directory with the level files; default: download."})
    cache_dir: str | None = field(default=None, metadata={"help": "Download cache (default: ~/.cache/rest_rl)."})
    download_url: str = field(default=DEFAULT_BASE_URL, metadata={"help": "Base URL the level files are fetched from."})
    levels: tuple[int, ...] = field(default=LEVELS, metadata={"help": "Levels to evaluate."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N samples of each level."})
    batch_size: int = field(default=8, metadata={"help": "Prompts per batch (hf) / requests in flight (openai)."})
    max_new_tokens: int = field(default=1024, metadata={"help": "Most tokens generated per sample."})
    device: str = field(default="auto", metadata={"help": "hf engine device (auto, cpu, cuda, ...)."})
    dtype: str = field(default="auto", metadata={"help": "Model dtype (auto, float32, bfloat16, float16)."})
    out_dir: str = field(default="runs/eval", metadata={"help": "Parent of the fresh run directory."})
    resume: str | None = field(default=None, metadata={"help": "Existing run directory to complete."})
    chunk_size: int = field(default=64, metadata={"help": "Samples generated between two saves."})

    def identity(self, data_sha256: Mapping[str, str]) -> dict[str, Any]:
        """What a resumed run must share with the original: model, engine, decoding, data, protocol."""
        model = self.model
        if self.engine != "openai" and Path(model).exists():
            model = str(Path(model).resolve())
        return {
            "benchmark": "api-bank",
            "protocol": PROTOCOL_VERSION,
            "model": model,
            "engine": self.engine,
            "base_url": self.base_url if self.engine == "openai" else None,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "data_sha256": dict(sorted(data_sha256.items())),
        }


@dataclass
class ApiBankRun:
    """Result of :func:`run_apibank`: where it went, what it scored, how much was generated now."""

    run_dir: Path
    scores: ApiBankScores
    generated: int
    reused: int
    table: str

    @property
    def predictions_path(self) -> Path:
        return self.run_dir / PREDICTIONS_FILE


def _build_engine(config: ApiBankConfig) -> GenerationEngine:
    from rest_rl.eval.engines import make_engine

    if config.engine == "hf":
        return make_engine("hf", config.model, batch_size=config.batch_size, device=config.device, dtype=config.dtype)
    if config.engine == "vllm":
        return make_engine("vllm", config.model, dtype=config.dtype)
    if config.engine == "openai":
        return make_engine("openai", config.model, base_url=config.base_url, concurrency=config.batch_size)
    return make_engine(config.engine, config.model)


def run_apibank(
    config: ApiBankConfig,
    *,
    engine: GenerationEngine | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> ApiBankRun:
    """Evaluate a model on API-Bank into a run directory (fresh, or ``config.resume``).

    Generates only the samples missing from the directory's ``predictions.jsonl`` (all of them in a
    fresh directory), appending every ``config.chunk_size`` samples, then writes ``scores.json`` and
    ``report.md`` for the selected samples. ``engine`` overrides building one from ``config`` (it is
    built only when something is left to generate). Raises :class:`~rest_rl.eval.runs.RunError`
    when a resume target does not match, :class:`~rest_rl.data.io.DataError` for data problems and
    :class:`~rest_rl.eval.engines.EngineError` for engine problems.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    levels = tuple(sorted(set(config.levels)))
    if not levels or any(level not in LEVELS for level in levels):
        raise DataError(f"levels must be a non-empty subset of 1, 2, 3; got {config.levels}", path="--levels")
    if config.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {config.max_new_tokens}")
    data_dir = resolve_apibank_dir(
        config.data_dir, cache_dir=config.cache_dir, base_url=config.download_url, levels=LEVELS
    )
    data_sha = {level_file(k): file_sha256(data_dir / level_file(k)) for k in LEVELS}
    verified = all(FILE_SHA256[name] == digest for name, digest in data_sha.items())
    if not verified:
        say(f"warning: API-Bank files in {data_dir} differ from ToolRL@{TOOLRL_COMMIT[:7]}; scores are not comparable")
    samples = select_samples(load_apibank(data_dir, levels), config.limit)
    identity = config.identity(data_sha)

    invocation = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "levels": list(levels),
        "limit": config.limit,
        "batch_size": config.batch_size,
        "device": config.device,
        "argv": list(sys.argv),
    }
    if not config.resume and samples and engine is None:
        engine = _build_engine(config)  # before the run directory exists: a bad model leaves nothing behind
    if config.resume:
        run_dir = Path(config.resume)
        if not run_dir.is_dir():
            raise RunError(f"{run_dir}: no such run directory")
        saved = read_json(run_dir / CONFIG_FILE)
        if not isinstance(saved, dict) or not isinstance(saved.get("identity"), dict):
            raise RunError(f"{run_dir / CONFIG_FILE}: not an evaluation run config (no 'identity')")
        check_identity(saved["identity"], identity, str(run_dir))
        run_config = saved
    else:
        run_dir = new_run_dir(config.out_dir, f"apibank-{slugify(config.model)}")
        run_config = {"identity": identity, "data_dir": str(data_dir), "data_verified": verified, "invocations": []}
    predictions_path = run_dir / PREDICTIONS_FILE
    existing = read_predictions(predictions_path)
    for sample in samples:
        rec = existing.get(sample.id)
        if rec is not None and rec.get("prompt_sha256") != sample.prompt_sha256:
            raise RunError(f"{predictions_path}: prediction {sample.id} was made for a different prompt")
    missing = [s for s in samples if s.id not in existing]
    invocation["generated"] = len(missing)
    run_config.setdefault("invocations", []).append(invocation)
    write_json(run_dir / CONFIG_FILE, run_config)

    if missing:
        say(f"API-Bank: generating {len(missing)} of {len(samples)} samples into {run_dir}")
        engine = engine or _build_engine(config)
        from tqdm.auto import tqdm

        with tqdm(total=len(missing), disable=not progress, desc="api-bank", unit="sample", dynamic_ncols=True) as bar:
            for start in range(0, len(missing), max(1, config.chunk_size)):
                chunk = missing[start : start + max(1, config.chunk_size)]
                outputs = engine.generate(
                    [s.request() for s in chunk], max_new_tokens=config.max_new_tokens, progress=False
                )
                if len(outputs) != len(chunk):
                    raise RunError(f"engine returned {len(outputs)} completions for {len(chunk)} prompts")
                append_jsonl(predictions_path, [prediction_record(s, o) for s, o in zip(chunk, outputs)])
                bar.update(len(chunk))
    else:
        say(f"API-Bank: all {len(samples)} selected samples already in {run_dir}; scoring only")

    records = read_predictions(predictions_path)
    scores = score_predictions(records.values(), samples)
    result = {
        "benchmark": "api-bank",
        "protocol": PROTOCOL_VERSION,
        "model": identity["model"],
        "levels": list(levels),
        "limit": config.limit,
        "data_verified": verified,
        **scores.to_dict(),
    }
    write_json(run_dir / "scores.json", result)
    (run_dir / "report.md").write_text(_report_markdown(scores, run_config, run_dir), encoding="utf-8")
    return ApiBankRun(
        run_dir=run_dir,
        scores=scores,
        generated=len(missing),
        reused=len(samples) - len(missing),
        table=scores_table(scores),
    )
