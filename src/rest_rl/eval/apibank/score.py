"""API-Bank parse and scores as ToolRL and ResT compute them (docs/method.md §6), with intervals and the report.

Three scores are reported side by side; ``toolrl`` is the one comparable with ToolRL's published
numbers (see docs/evaluation.md for the same rules with examples).

**Parse** (ToolRL's ``generate.py``, shared by the three scores): strip the completion; keep the text
after the *last* ``<tool_call>`` (the whole completion when there is none) and before the first
``</tool_call>`` that follows; strip it and split it on ``"\\n"``; skip lines that are blank after
stripping; decode every other line, as it is, with Python's ``json.loads`` and keep whatever value it
gives (an object, but also ``5``, ``null``, a list or a string); a line that does not decode is
dropped. So a ``<tool_call>`` inside the think text counts like any other, and a completion with no
tag at all is read whole (a bare JSON line still counts). ``block_found`` in the predictions says
which case applied.

**ToolRL score** (``toolrl``; ToolRL's ``evaluate.py`` decision on every input, quirks included):

* ``generate.py`` writes each sample's record (the completion and its decoded values) into its
  results file (``json.dump`` with ``indent=4, ensure_ascii=False`` into a UTF-8 file) inside the
  same ``try`` as generation; when that write fails, the sample is recorded with *no* calls. It fails
  for a lone surrogate (in the completion, or decoded from a line such as ``{"name": "\\ud800"}``)
  or a value nested so deeply that Python's JSON writer reaches the recursion limit (about a
  thousand levels; the exact depth depends on the interpreter's stack). Such a sample scores 0 here
  too. (With a lone surrogate in the completion itself ToolRL's script would also fail to write the
  records of every later sample; here each sample is scored on its own.)
* ``evaluate.py`` then walks the values in order, inside one ``try`` around the whole loop:

  - a string value is decoded again with ``json.loads``; if that fails the loop ends (score 0);
  - ``"name" in value`` and ``"parameters" in value`` are tested: for a number, ``true``/``false`` or
    ``null`` the test raises and the loop ends (score 0, even if a later line is right); for a list it
    is list membership, for a string a substring test;
  - when the value lacks ``"name"`` or ``"parameters"``, the *whole value* is taken as the parameters
    of the gold function (``{"appointment_id": ...}`` alone can be correct);
  - otherwise ``value["name"]`` and ``value["parameters"]`` are read: for a list or a string that
    contains both that raises and the loop ends (score 0);
  - the sample is correct as soon as the name equals the gold name and the parameters equal the gold
    parameters under Python ``==`` (so ``1 == 1.0 == True``, but ``1 != "1"``; key order and extra
    top-level fields do not matter); the loop stops there.

**Strict score** (``strict``; our reading of ToolRL's rule without its quirks): correct when *any*
decoded value is a JSON object with a ``"name"`` equal to the gold name and a ``"parameters"`` object
equal to the gold parameters under Python ``==``. A value without ``"name"`` or ``"parameters"``
(``"arguments"`` instead, or a bare parameters object) is not a call; a non-object value, or a line
that is a JSON string, is ignored and never stops the search; the results-file write does not matter.

Where ``toolrl`` and ``strict`` differ: a bare parameters object (or an object with only one of the
two keys whose whole content equals the gold parameters) is ``toolrl``-correct only; a number,
boolean, ``null``, undecodable JSON string, or a list/string holding both ``"name"`` and
``"parameters"`` *before* the right call makes ``toolrl`` 0 but not ``strict``; a call written as a
JSON string (``"{\\"name\\": ...}"``) is decoded again by ``toolrl`` only; an unwritable record is 0
for ``toolrl`` only. Neither score is always at least the other.

**Lenient score** (``lenient``; ours, reported next to them, never instead of them): correct when
``strict`` is, or when any decoded value is an object whose

* arguments come from ``"parameters"`` or, when that is absent, ``"arguments"``, and may be a
  JSON-encoded string of an object;
* name and parameter keys equal the gold ones after stripping surrounding whitespace (case matters:
  they are identifiers); the key sets must be equal;
* values are equal after normalisation: strings are Unicode NFKC-normalised, their runs of
  whitespace collapsed to one space and trimmed, and compared case-insensitively; ``"true"`` /
  ``"false"`` (any case) equal the booleans, ``"none"`` / ``"null"`` equal ``null``; a string that
  is a JSON number (``"1"``, ``"-2.50"``, ``"1e3"``, but not ``"007"``) equals that number, and
  numbers compare by exact value (``1 == 1.0 == "1.0"``); a string holding a JSON or Python list /
  dict literal (API-Bank golds such as ``"['John', 'Jane']"``) compares as that structure,
  element by element with the same rules. Dates, units and synonyms are *not* normalised.

Every strictly correct sample is leniently correct too (lenient >= strict).

**Scores and intervals.** Per level and overall, correct / evaluated samples (a full run is
correct / 597; overall pools the levels). Each comes with a 95% percentile-bootstrap interval
(:mod:`rest_rl.eval.stats`: resampled within each level, seeded). With ``limit`` only the first N
samples of each selected level are evaluated, and every table says it is a subset.
"""

from __future__ import annotations

import ast
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from rest_rl.eval.apibank.data import LEVEL_SIZES, LEVELS, TOTAL_SAMPLES, ApiBankSample
from rest_rl.eval.report import markdown_table
from rest_rl.eval.stats import BootstrapSettings, Interval, bootstrap_groups, format_estimate
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "PROTOCOL_VERSION",
    "SCORE_NAMES",
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
    "toolrl_calls",
    "toolrl_decision",
    "toolrl_match",
]

#: Bumped whenever the parse or any score changes; part of a run's identity (resume refuses a mismatch).
#: 2: the ToolRL-compatible ``toolrl`` score added (evaluate.py's decision, quirks included); the
#: earlier "strict" score kept under that name.
PROTOCOL_VERSION = "apibank-toolrl-2"

#: The scores of a sample, in report order: ToolRL's decision, strict, lenient.
SCORE_NAMES: tuple[str, ...] = ("toolrl", "strict", "lenient")

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
            out.calls.append(json.loads(line))  # the line as it is: JSON allows the surrounding blanks
        except Exception:  # noqa: BLE001 - ToolRL drops a line for any failure (bare except)
            out.dropped_lines += 1
    return out


_MISSING = object()


def strict_match(call: Any, gold: ToolCall) -> bool:
    """The strict criterion: ``call`` is an object with the gold name and a ``parameters`` object equal
    to the gold parameters (Python ``==``)."""
    if not isinstance(call, dict) or call.get("name") != gold.name:
        return False
    params = call.get("parameters", _MISSING)
    return isinstance(params, dict) and params == gold.arguments


# ------------------------------------------------------------------------------------------------
# ToolRL's decision (evaluate.py), quirks included
# ------------------------------------------------------------------------------------------------


def toolrl_calls(parse: ApiBankParse, raw_output: str = "") -> list[Any]:
    """The ``tool_calls`` ToolRL's ``evaluate.py`` reads for a sample: the parsed values, or ``[]`` when
    ``generate.py`` could not write the sample's record (the completion and its parsed values) to its
    results file (``json.dump(..., indent=4, ensure_ascii=False)`` into a UTF-8 file; it fails on a
    lone surrogate or on nesting that reaches Python's recursion limit, and the sample is then
    recorded without calls)."""
    try:
        record = {"sample": {"raw_output": raw_output, "tool_calls": parse.calls}}
        json.dumps(record, indent=4, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError, MemoryError):  # UnicodeEncodeError is a ValueError
        return []
    return parse.calls


_ENDS_LOOP = object()  # what a step that raises inside evaluate.py's try returns


def _toolrl_step(value: Any, gold: ToolCall) -> Any:
    """One iteration of evaluate.py's loop: True (match, stop), False (go on) or ``_ENDS_LOOP``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except Exception:  # noqa: BLE001 - any failure ends evaluate.py's loop
            return _ENDS_LOOP
    if isinstance(value, dict):
        has_both = "name" in value and "parameters" in value
    elif isinstance(value, (list, str)):
        # list: membership by ==; str: substring. Neither raises.
        has_both = "name" in value and "parameters" in value
    else:  # int, float, bool, None: ``"name" in value`` raises TypeError
        return _ENDS_LOOP
    if not has_both:
        name, params = gold.name, value  # the whole value stands for the gold function's parameters
    elif isinstance(value, dict):
        name, params = value["name"], value["parameters"]
    else:  # a list or string cannot be indexed by "name": TypeError
        return _ENDS_LOOP
    return name == gold.name and params == gold.arguments


def toolrl_decision(calls: Sequence[Any], gold: ToolCall) -> tuple[bool, str]:
    """ToolRL's ``evaluate.py`` decision on ``calls`` (the values of :func:`toolrl_calls`), with how it
    ended: ``"match at value i"``, ``"loop ended by value i"`` (an exception inside the ``try``) or
    ``"no match"``. Never raises."""
    for index, value in enumerate(calls):
        step = _toolrl_step(value, gold)
        if step is _ENDS_LOOP:
            return False, f"loop ended by value {index}"
        if step:
            return True, f"match at value {index}"
    return False, "no match"


def toolrl_match(parse: ApiBankParse, gold: ToolCall) -> bool:
    """Whether ToolRL's generate.py + evaluate.py score this parse 1 (see the module docstring)."""
    return toolrl_decision(toolrl_calls(parse), gold)[0]


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
    """Scores of one completion against its gold call (see the module docstring)."""

    toolrl: bool
    strict: bool
    lenient: bool
    parse: ApiBankParse
    toolrl_how: str = ""

    def scores(self) -> dict[str, bool]:
        """``{"toolrl", "strict", "lenient"}``."""
        return {"toolrl": self.toolrl, "strict": self.strict, "lenient": self.lenient}


def score_output(text: str, gold: ToolCall) -> Verdict:
    """Parse ``text`` and score it by the three rules. Never raises."""
    parsed = parse_apibank_output(text)
    toolrl, how = toolrl_decision(toolrl_calls(parsed, text if isinstance(text, str) else ""), gold)
    strict = any(strict_match(c, gold) for c in parsed.calls)
    lenient = strict or any(lenient_match(c, gold) for c in parsed.calls)
    return Verdict(toolrl=toolrl, strict=strict, lenient=lenient, parse=parsed, toolrl_how=how)


def _json_safe(value: Any) -> Any:
    """``value`` when it can be written as JSON, else a note saying it could not (too deeply nested,
    or a lone surrogate that UTF-8 cannot encode)."""
    try:
        json.dumps(value, allow_nan=True, ensure_ascii=False).encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        return "<not serialisable: too deeply nested or not UTF-8>"
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
        "toolrl": verdict.toolrl,
        "toolrl_how": verdict.toolrl_how,
        "strict": verdict.strict,
        "lenient": verdict.lenient,
    }


@dataclass
class LevelScore:
    """Correct counts over ``n`` evaluated samples of one level (or overall), by score."""

    n: int = 0
    toolrl: int = 0
    strict: int = 0
    lenient: int = 0

    def correct(self, score: str) -> int:
        return int(getattr(self, score))

    def accuracy(self, score: str) -> float:
        """Fraction correct (0.0 when nothing was evaluated)."""
        return self.correct(score) / self.n if self.n else 0.0

    @property
    def toolrl_pct(self) -> float:
        return 100.0 * self.accuracy("toolrl")

    @property
    def strict_pct(self) -> float:
        return 100.0 * self.accuracy("strict")

    @property
    def lenient_pct(self) -> float:
        return 100.0 * self.accuracy("lenient")


@dataclass
class ApiBankScores:
    """Per-level and overall scores; ``full`` when every level was evaluated on all its samples.

    ``outcomes`` holds every evaluated sample's ``(id, {score: bool})`` by level (what the intervals
    and ``eval compare`` are computed from); ``intervals`` the 95% interval of each score, by level
    (``"L1"``...) and ``"overall"`` (empty until :meth:`compute_intervals`).
    """

    levels: dict[int, LevelScore] = field(default_factory=dict)
    overall: LevelScore = field(default_factory=LevelScore)
    outcomes: dict[int, list[tuple[str, dict[str, bool]]]] = field(default_factory=dict)
    intervals: dict[str, dict[str, Interval]] = field(default_factory=dict)
    bootstrap: BootstrapSettings | None = None

    @property
    def full(self) -> bool:
        return set(self.levels) == set(LEVELS) and all(self.levels[k].n == LEVEL_SIZES[k] for k in LEVELS)

    def add(self, sample_id: str, level: int, scores: Mapping[str, bool]) -> None:
        """Count one sample's verdicts (the overall row is summed by :meth:`finish`)."""
        s = self.levels.setdefault(level, LevelScore())
        s.n += 1
        for name in SCORE_NAMES:
            setattr(s, name, getattr(s, name) + bool(scores.get(name)))
        self.outcomes.setdefault(level, []).append((sample_id, {name: bool(scores.get(name)) for name in SCORE_NAMES}))

    def finish(self) -> ApiBankScores:
        """Order the levels and sum the overall row."""
        self.levels = dict(sorted(self.levels.items()))
        self.outcomes = dict(sorted(self.outcomes.items()))
        self.overall = LevelScore()
        for s in self.levels.values():
            self.overall.n += s.n
            for name in SCORE_NAMES:
                setattr(self.overall, name, getattr(self.overall, name) + getattr(s, name))
        return self

    def compute_intervals(self, settings: BootstrapSettings | None = None) -> ApiBankScores:
        """The percentile-bootstrap interval of every score, per level and overall (the overall pools
        the levels' resampled outcomes; resampling is within each level, one draw serving the three
        scores). Needs :attr:`outcomes`."""
        settings = settings or BootstrapSettings()
        self.bootstrap = settings
        self.intervals = {}
        # one code per sample (bit j set when score j is right), so one draw serves the three scores
        groups = {
            f"L{level}": [sum(1 << j for j, name in enumerate(SCORE_NAMES) if v[name]) for _, v in rows]
            for level, rows in self.outcomes.items()
        }
        if not any(groups.values()):
            return self

        def statistic(g: Mapping[str, Sequence[int]]) -> dict[str, float]:
            out: dict[str, float] = {}
            counts = {key: Counter(codes) for key, codes in g.items()}
            total = sum(len(codes) for codes in g.values())
            for j, name in enumerate(SCORE_NAMES):
                pooled = 0
                for key, counter in counts.items():
                    right = sum(c for code, c in counter.items() if code >> j & 1)
                    pooled += right
                    out[f"{key}|{name}"] = right / len(g[key]) if g[key] else 0.0
                out[f"overall|{name}"] = pooled / total if total else 0.0
            return out

        found = bootstrap_groups(
            groups, statistic, resamples=settings.resamples, seed=settings.seed, confidence=settings.confidence
        )
        for composite, interval in found.items():
            key, name = composite.split("|")
            self.intervals.setdefault(key, {})[name] = interval
        return self

    def interval(self, key: str, score: str) -> Interval | None:
        """The interval of ``score`` for ``key`` (``"L1"``... or ``"overall"``), if computed."""
        return self.intervals.get(key, {}).get(score)

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
        def one(s: LevelScore, key: str) -> dict[str, Any]:
            row: dict[str, Any] = {"n": s.n}
            for name in SCORE_NAMES:
                row[f"{name}_correct"] = s.correct(name)
                row[f"{name}_accuracy"] = round(100.0 * s.accuracy(name), 4)
                interval = self.interval(key, name)
                row[f"{name}_ci"] = interval.to_list(100.0) if interval is not None else None
            return row

        return {
            "levels": {f"L{k}": one(v, f"L{k}") for k, v in sorted(self.levels.items())},
            "overall": one(self.overall, "overall"),
            "full_benchmark": self.full,
            "denominator": self.overall.n,
            "subset_note": self.subset_note(),
            "bootstrap": self.bootstrap.to_dict() if self.bootstrap is not None else None,
        }

    def verdict_rows(self) -> list[dict[str, Any]]:
        """One ``{"id", "group", "scores"}`` row per evaluated sample (the run's ``verdicts.jsonl``)."""
        return [
            {"id": sample_id, "group": f"L{level}", "scores": dict(scores)}
            for level, rows in self.outcomes.items()
            for sample_id, scores in rows
        ]


def score_predictions(
    records: Iterable[Mapping[str, Any]],
    samples: Sequence[ApiBankSample] | None = None,
    *,
    bootstrap: BootstrapSettings | None = None,
) -> ApiBankScores:
    """Aggregate predictions into :class:`ApiBankScores`, with the intervals of ``bootstrap`` (default
    settings when ``None``).

    With ``samples``, every sample must have a record (by ``id``) and each record's ``raw_output``
    is re-scored against the sample's gold (the data file is the authority; stored verdicts are not
    trusted). Without ``samples``, every record is counted with its stored verdicts.
    Raises ``ValueError`` naming the first sample without a prediction.
    """
    scores = ApiBankScores()
    if samples is None:
        for rec in records:
            scores.add(str(rec.get("id")), int(rec["level"]), {name: bool(rec.get(name)) for name in SCORE_NAMES})
    else:
        by_id = {str(r.get("id")): r for r in records}
        for sample in samples:
            rec = by_id.get(sample.id)
            if rec is None:
                raise ValueError(f"no prediction for sample {sample.id}")
            raw = rec.get("raw_output")
            scores.add(sample.id, sample.level, score_output(raw if isinstance(raw, str) else "", sample.gold).scores())
    return scores.finish().compute_intervals(bootstrap)


_LABELS = {"toolrl": "ToolRL", "strict": "Strict", "lenient": "Lenient"}


def scores_table(scores: ApiBankScores) -> str:
    """The markdown table of ``scores``: one row per level, then overall; each score as correct count and
    ``accuracy [95% interval]`` in percent."""
    rows = []
    for key, label, s in [(f"L{k}", f"L{k}", v) for k, v in scores.levels.items()] + [("overall", "Overall", scores.overall)]:
        row: list[Any] = [label, s.n]
        for name in SCORE_NAMES:
            row += [s.correct(name), format_estimate(s.accuracy(name), scores.interval(key, name)) if s.n else "-"]
        rows.append(row)
    headers = ["Level", "Samples"]
    for name in SCORE_NAMES:
        headers += [f"{_LABELS[name]} correct", f"{_LABELS[name]} % [95% CI]"]
    return markdown_table(headers, rows)


def report_markdown(scores: ApiBankScores, config: Mapping[str, Any], run_dir: Path) -> str:
    """The ``report.md`` of a run: its settings (from the run's ``config.json`` record), the table, the subset note."""
    ident = config.get("identity", {})
    boot = scores.bootstrap or BootstrapSettings()
    lines = [
        "# API-Bank evaluation",
        "",
        f"- Model: `{ident.get('model')}` (engine `{ident.get('engine')}`, greedy, "
        f"max_new_tokens {ident.get('max_new_tokens')})",
        f"- Protocol: `{ident.get('protocol')}`. ToolRL = ToolRL's evaluate.py decision, quirks included (a "
        "bare parameters object counts, a non-object line before the right call ends the search); strict = any "
        "parsed object with the gold name and parameters equal under Python `==`; lenient = strict, or the same "
        "after value normalisation (see docs/evaluation.md and `rest_rl.eval.apibank.score`).",
        f"- Intervals: {boot.confidence:.0%} percentile bootstrap, {boot.resamples} resamples within each level, "
        f"seed {boot.seed}.",
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
