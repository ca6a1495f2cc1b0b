"""API-Bank parse and scores as ToolRL and ResT compute them (docs/method.md §6), and the report.

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
``limit`` only the first N samples of each selected level are evaluated, and every table says it
is a subset.
"""

from __future__ import annotations

import ast
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from rest_rl.eval.apibank.data import LEVEL_SIZES, LEVELS, TOTAL_SAMPLES, ApiBankSample
from rest_rl.eval.report import format_pct, markdown_table
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "PROTOCOL_VERSION",
    "ApiBankParse",
    "ApiBankScores",
    "LevelScore",
    "Verdict",
    "lenient_match",
    "normalize_value",
    "parse_apibank_output",
    "prediction_record",
    "report_markdown",
    "score_output",
    "score_predictions",
    "scores_table",
    "strict_match",
]

#: Bumped whenever the parse or either score changes; part of a run's identity (resume refuses a mismatch).
PROTOCOL_VERSION = "apibank-toolrl-1"

_MAX_LITERAL_CHARS = 10_000  # longest string value that lenient scoring tries to read as a list/dict
_MAX_DEPTH = 64  # deeper values are not normalised further
_NUMBER_RE = re.compile(r"-?(?:0|[1-9]\d{0,400})(?:\.\d{1,400})?(?:[eE][+-]?\d{1,3})?")
_OPEN, _CLOSE = "<tool_call>", "</tool_call>"


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


def report_markdown(scores: ApiBankScores, config: Mapping[str, Any], run_dir: Path) -> str:
    """The ``report.md`` of a run: its settings (from the run's ``config.json`` record), the table, the subset note."""
    ident = config.get("identity", {})
    lines = [
        "# API-Bank evaluation",
        "",
        f"- Model: `{ident.get('model')}` (engine `{ident.get('engine')}`, greedy, "
        f"max_new_tokens {ident.get('max_new_tokens')})",
        f"- Protocol: `{ident.get('protocol')}`: strict = ToolRL's score (any parsed call with the gold "
        "name and parameters equal under Python `==`); lenient = same rule after value normalisation "
        "(see `rest_rl.eval.apibank.score`).",
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
