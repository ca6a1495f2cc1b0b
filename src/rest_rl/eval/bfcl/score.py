"""Scoring BFCL v3 results with bfcl-eval's official checkers, and the v3 aggregation.

Per entry (:func:`score_entry`), following bfcl-eval's runners:

* **AST categories** (simple, java, javascript, multiple, parallel, parallel_multiple and their live
  forms): the completion is decoded in its prompt style; a failed decode is
  ``ast_decoder:decoder_failed``; output not in ``[{name: {args}}]`` form is
  ``ast_decoder:decoder_wrong_output_format``; otherwise bfcl-eval's ``ast_checker`` decides, with the
  entry's function docs and possible answer, the category's language and
  :data:`~rest_rl.eval.bfcl.official.CHECKER_MODEL_NAME` (names compared exactly).
* **irrelevance / live_irrelevance**: correct when no call is decoded (a failed decode, or output
  that bfcl-eval's ``is_empty_output`` calls empty); **live_relevance**: correct when some call is.
* **multi-turn**: a result that is not a list of turns is ``multi_turn:inference_error``; fewer turns
  than the ground truth is ``multi_turn:force_terminated``; otherwise every step is decoded to call
  strings (failed or empty steps dropped) and bfcl-eval's ``multi_turn_checker`` compares simulator
  state and execution results turn by turn, run without ``eval`` (see
  :func:`~rest_rl.eval.bfcl.multiturn.check_conversation`).

Aggregation (:func:`aggregate_v3`) uses bfcl-eval's own ``calculate_unweighted_accuracy`` /
``calculate_weighted_accuracy`` / ``get_category_score`` in the v3 leaderboard's arrangement:

* non-live = unweighted mean of [simple-AST (unweighted mean of simple, java, javascript), multiple,
  parallel, parallel_multiple, irrelevance]; non-live AST = the same without irrelevance;
* live = count-weighted mean of all six live categories; live AST = of the four AST ones;
* multi-turn = unweighted mean of the four multi-turn categories;
* overall = unweighted mean of non-live, live and multi-turn;
* hallucination rows: irrelevance = unweighted mean of irrelevance and live_irrelevance;
  relevance = live_relevance.

A category that was not evaluated counts as 0 with its full size, and the groups that need it
display ``N/A`` (the overall rows still show a number), as bfcl-eval does.

Intervals: every category accuracy and every summary row comes with a 95% percentile-bootstrap
interval (:mod:`rest_rl.eval.stats`): each replicate resamples the entries *within each category*
(sizes kept) and recomputes the category accuracies and the summary rows with :func:`aggregate_v3`
itself, so each aggregate's interval reflects its own weighting (unweighted means of categories,
count-weighted live rows). A category that was not evaluated stays at 0 in every replicate.

Files follow bfcl-eval's layout under a project root (the run directory):
``result/<model>/BFCL_v3_<category>_result.json`` (one JSON object per line, ``{"id", "result", ...}``)
and ``score/<model>/BFCL_v3_<category>_score.json`` (a summary line, then one line per failed entry).
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.eval.bfcl.data import (
    ALL_CATEGORIES,
    CATEGORY_SIZES,
    LIVE,
    MULTI_TURN,
    NON_LIVE,
    BfclEntry,
    category_language,
    load_entries,
)
from rest_rl.eval.bfcl.multiturn import check_conversation
from rest_rl.eval.bfcl.official import CHECKER_MODEL_NAME, BfclApi, load_bfcl
from rest_rl.eval.bfcl.prompts import decode_output
from rest_rl.eval.report import markdown_table
from rest_rl.eval.runs import read_predictions
from rest_rl.eval.stats import BootstrapSettings, Interval, bootstrap_groups, format_estimate, mean

__all__ = [
    "SCORE_NAME",
    "SUMMARY_MEMBERS",
    "SUMMARY_ROWS",
    "BfclScores",
    "CategoryScore",
    "Verdict",
    "aggregate_v3",
    "category_and_summary_accuracies",
    "read_results",
    "result_file",
    "score_entries",
    "score_entry",
    "score_file",
    "score_result_files",
    "scores_table",
    "write_score_files",
]


@dataclass
class Verdict:
    """bfcl-eval's verdict on one entry: ``valid``, and when not, its ``error_type`` and ``error``."""

    id: str
    category: str
    valid: bool
    error_type: str | None = None
    error: Any = None
    decoded: Any = None


def _ast_verdict(entry: BfclEntry, result: Any, style: str, api: BfclApi) -> Verdict:
    decoded = decode_output(result, style)
    form = decoded.ast_form()
    if form is None:
        return Verdict(entry.id, entry.category, False, "ast_decoder:decoder_failed", [f"Invalid syntax. Failed to decode AST. {decoded.error}"])
    if not api.is_function_calling_format_output(form):  # pragma: no cover - our decoder always gives this form
        return Verdict(entry.id, entry.category, False, "ast_decoder:decoder_wrong_output_format", [], form)
    try:  # the copies are inside: a pathological (deeply nested) value must not escape as an error
        checked = api.ast_checker(
            copy.deepcopy(entry.functions),
            copy.deepcopy(form),
            copy.deepcopy(entry.ground_truth),
            category_language(entry.category),
            entry.category,
            CHECKER_MODEL_NAME,
        )
    except Exception as exc:  # noqa: BLE001 - the checker on odd output: a failed entry, not a crash
        return Verdict(entry.id, entry.category, False, "ast_checker:exception", [f"{type(exc).__name__}: {exc}"], form)
    if checked.get("valid"):
        return Verdict(entry.id, entry.category, True, decoded=form)
    return Verdict(entry.id, entry.category, False, checked.get("error_type"), checked.get("error"), form)


def _relevance_verdict(entry: BfclEntry, result: Any, style: str, api: BfclApi) -> Verdict:
    decoded = decode_output(result, style)
    form = decoded.ast_form()
    contains_call = form is not None and not api.is_empty_output(form)
    if entry.kind == "irrelevance":
        if not contains_call:
            return Verdict(entry.id, entry.category, True, decoded=form)
        return Verdict(
            entry.id, entry.category, False, "irrelevance_error:decoder_success",
            ["Valid syntax. Successfully decode AST when it should not."], form,
        )
    if contains_call:
        return Verdict(entry.id, entry.category, True, decoded=form)
    return Verdict(
        entry.id, entry.category, False, "relevance_error:decoder_failed",
        [f"Invalid syntax. Failed to decode AST when it should have. {decoded.error or ''}".rstrip()], form,
    )


def _multi_turn_verdict(entry: BfclEntry, result: Any, style: str, api: BfclApi) -> Verdict:
    truth = entry.ground_truth or []
    if not isinstance(result, list) or not all(isinstance(turn, list) for turn in result):
        return Verdict(entry.id, entry.category, False, "multi_turn:inference_error", ["Model did not output a list of turns."])
    if len(result) != len(truth):
        return Verdict(
            entry.id, entry.category, False, "multi_turn:force_terminated",
            [f"The model result has {len(result)} turns, the ground truth {len(truth)}."],
        )
    decoded_turns: list[list[list[str]]] = []
    for turn in result:
        steps: list[list[str]] = []
        for step in turn:
            calls = decode_output(step, style).execute_form(api)
            if calls is None or api.is_empty_execute_response(calls):
                continue
            steps.append(calls)
        decoded_turns.append(steps)
    checked = check_conversation(decoded_turns, entry, api)
    if checked.get("valid"):
        return Verdict(entry.id, entry.category, True, decoded=decoded_turns)
    return Verdict(entry.id, entry.category, False, checked.get("error_type"), checked.get("error_message"), decoded_turns)


def score_entry(entry: BfclEntry, result: Any, style: str, api: BfclApi | None = None) -> Verdict:
    """Score one entry's result (a completion, or turns of completions for multi-turn). Never raises on it."""
    api = api or load_bfcl()
    if entry.kind == "multi_turn":
        return _multi_turn_verdict(entry, result, style, api)
    if entry.kind in ("irrelevance", "relevance"):
        return _relevance_verdict(entry, result, style, api)
    return _ast_verdict(entry, result, style, api)


def score_entries(
    entries: Sequence[BfclEntry], results: Mapping[str, Any], style: str, api: BfclApi | None = None
) -> list[Verdict]:
    """Score ``entries`` given ``{id: result}``; raises ``ValueError`` naming the first entry without a result."""
    api = api or load_bfcl()
    verdicts = []
    for entry in entries:
        if entry.id not in results:
            raise ValueError(f"no result for BFCL entry {entry.id}")
        verdicts.append(score_entry(entry, results[entry.id], style, api))
    return verdicts


# ------------------------------------------------------------------------------------------------
# Aggregation
# ------------------------------------------------------------------------------------------------


@dataclass
class CategoryScore:
    """Correct entries over evaluated entries of one category."""

    correct: int = 0
    total: int = 0

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0


#: The name of BFCL's one per-entry score in ``verdicts.jsonl`` (bfcl-eval's ``valid``).
SCORE_NAME = "correct"

#: The summary rows of :func:`aggregate_v3`, in report order, with their labels.
SUMMARY_ROWS: tuple[tuple[str, str], ...] = (
    ("overall", "Overall (v3)"),
    ("non_live", "Non-live"),
    ("non_live_ast", "Non-live AST"),
    ("non_live_simple_ast", "Non-live simple AST (simple, java, javascript)"),
    ("live", "Live (count-weighted)"),
    ("live_ast", "Live AST (count-weighted)"),
    ("multi_turn", "Multi-turn"),
    ("irrelevance", "Irrelevance (non-live, live)"),
    ("relevance", "Relevance (live)"),
)


#: The categories each summary row is computed from (its weighting is :func:`aggregate_v3`'s).
SUMMARY_MEMBERS: dict[str, tuple[str, ...]] = {
    "overall": tuple(ALL_CATEGORIES),
    "non_live": tuple(NON_LIVE),
    "non_live_ast": tuple(c for c in NON_LIVE if c != "irrelevance"),
    "non_live_simple_ast": ("simple", "java", "javascript"),
    "live": tuple(LIVE),
    "live_ast": ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple"),
    "multi_turn": tuple(MULTI_TURN),
    "irrelevance": ("irrelevance", "live_irrelevance"),
    "relevance": ("live_relevance",),
}


def aggregate_v3(categories: Mapping[str, CategoryScore], api: BfclApi | None = None) -> dict[str, dict[str, Any]]:
    """The v3 summary rows (see the module docstring), each ``{"accuracy", "display", "total_count"}``.

    ``accuracy`` counts a missing category as 0; ``display`` is the accuracy, or ``"N/A"`` where
    bfcl-eval would print N/A.
    """
    api = api or load_bfcl()
    table = {c: {"accuracy": s.accuracy, "total_count": s.total} for c, s in categories.items() if s.total}
    # bfcl-eval's get_category_score, except that a category not evaluated takes its size from
    # CATEGORY_SIZES (load_category checks they equal bfcl-eval's files) instead of re-reading its
    # data file on every call: the same row, cheap enough to recompute per bootstrap replicate.
    cat = {
        c: api.get_category_score(table, c) if c in table else {"accuracy": 0, "total_count": CATEGORY_SIZES[c], "display_accuracy": "N/A"}
        for c in ALL_CATEGORIES
    }
    unweighted, weighted = api.calculate_unweighted_accuracy, api.calculate_weighted_accuracy

    simple_ast = unweighted([cat["simple"], cat["java"], cat["javascript"]])
    ast_rest = [cat["multiple"], cat["parallel"], cat["parallel_multiple"]]
    non_live_ast = unweighted([simple_ast, *ast_rest])
    non_live = unweighted([simple_ast, *ast_rest, cat["irrelevance"]], display_na_if_category_missing=False)
    live_ast_parts = [cat[c] for c in ("live_simple", "live_multiple", "live_parallel", "live_parallel_multiple")]
    live_ast = weighted(live_ast_parts)
    live = weighted([*live_ast_parts, cat["live_irrelevance"], cat["live_relevance"]], display_na_if_category_missing=False)
    multi_turn = unweighted([cat[c] for c in MULTI_TURN], display_na_if_category_missing=False)
    overall = unweighted([live, non_live, multi_turn], display_na_if_category_missing=False)
    irrelevance = unweighted([cat["irrelevance"], cat["live_irrelevance"]])
    relevance = dict(cat["live_relevance"])

    rows = {
        "overall": overall,
        "non_live": non_live,
        "non_live_ast": non_live_ast,
        "non_live_simple_ast": simple_ast,
        "live": live,
        "live_ast": live_ast,
        "multi_turn": multi_turn,
        "irrelevance": irrelevance,
        "relevance": relevance,
    }
    return {
        name: {
            "accuracy": float(row["accuracy"]),
            "display": row["display_accuracy"] if row["display_accuracy"] == "N/A" else float(row["display_accuracy"]),
            "total_count": int(row["total_count"]),
        }
        for name, row in rows.items()
    }


def category_and_summary_accuracies(groups: Mapping[str, Sequence[float]], api: BfclApi) -> dict[str, float]:
    """Every category's accuracy and every summary row's accuracy from per-entry outcomes (the
    statistic the intervals resample)."""
    counts = {c: CategoryScore(correct=int(round(sum(v))), total=len(v)) for c, v in groups.items() if v}
    out = {f"category:{c}": mean(v) for c, v in groups.items() if v}
    for name, row in aggregate_v3(counts, api).items():
        out[f"summary:{name}"] = row["accuracy"]
    return out


@dataclass
class BfclScores:
    """Per-category counts, the v3 summary, whether they cover the whole benchmark, and the intervals.

    ``outcomes`` holds every scored entry's ``(id, valid)`` by category; ``intervals`` the 95%
    interval of each category (``"category:<name>"``) and summary row (``"summary:<row>"``), as
    fractions (empty until :meth:`compute_intervals`).
    """

    categories: dict[str, CategoryScore] = field(default_factory=dict)
    summary: dict[str, dict[str, Any]] = field(default_factory=dict)
    outcomes: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    intervals: dict[str, Interval] = field(default_factory=dict)
    bootstrap: BootstrapSettings | None = None

    @classmethod
    def from_verdicts(
        cls, verdicts: Iterable[Verdict], api: BfclApi | None = None, *, bootstrap: BootstrapSettings | None = None
    ) -> "BfclScores":
        """Counts, summary and (with the ``bootstrap`` settings, default ones when ``None``) intervals."""
        api = api or load_bfcl()
        counts: dict[str, CategoryScore] = {}
        outcomes: dict[str, list[tuple[str, bool]]] = {}
        for v in verdicts:
            s = counts.setdefault(v.category, CategoryScore())
            s.total += 1
            s.correct += bool(v.valid)
            outcomes.setdefault(v.category, []).append((v.id, bool(v.valid)))
        ordered = {c: counts[c] for c in ALL_CATEGORIES if c in counts}
        scores = cls(
            categories=ordered,
            summary=aggregate_v3(ordered, api),
            outcomes={c: outcomes[c] for c in ALL_CATEGORIES if c in outcomes},
        )
        return scores.compute_intervals(api, bootstrap)

    def compute_intervals(self, api: BfclApi | None = None, settings: BootstrapSettings | None = None) -> "BfclScores":
        """The percentile-bootstrap intervals of every category and summary row (see the module docstring)."""
        api = api or load_bfcl()
        settings = settings or BootstrapSettings()
        self.bootstrap = settings
        groups = {c: [1.0 if ok else 0.0 for _, ok in rows] for c, rows in self.outcomes.items()}
        if not any(groups.values()):
            self.intervals = {}
            return self
        self.intervals = bootstrap_groups(
            groups,
            lambda g: category_and_summary_accuracies(g, api),
            resamples=settings.resamples,
            seed=settings.seed,
            confidence=settings.confidence,
        )
        return self

    def category_interval(self, category: str) -> Interval | None:
        return self.intervals.get(f"category:{category}")

    def summary_interval(self, row: str) -> Interval | None:
        return self.intervals.get(f"summary:{row}")

    @property
    def full(self) -> bool:
        """Every category evaluated on all its entries."""
        return all(c in self.categories and self.categories[c].total == n for c, n in CATEGORY_SIZES.items())

    def subset_note(self) -> str | None:
        """A sentence saying the numbers cover a subset, or ``None`` for the full benchmark."""
        if self.full:
            return None
        evaluated = sum(s.total for s in self.categories.values())
        missing = [c for c in ALL_CATEGORIES if c not in self.categories]
        partial = [c for c, s in self.categories.items() if s.total != CATEGORY_SIZES[c]]
        parts = [f"{evaluated} of {sum(CATEGORY_SIZES.values())} entries"]
        if partial:
            parts.append("subset of " + ", ".join(partial))
        if missing:
            parts.append("not evaluated (counted as 0): " + ", ".join(missing))
        return "Subset: " + "; ".join(parts) + ". Not comparable with full-benchmark (leaderboard) numbers."

    def to_dict(self) -> dict[str, Any]:
        def ci(interval: Interval | None) -> list[float] | None:
            return interval.to_list(100.0) if interval is not None else None

        return {
            "categories": {
                c: {
                    "correct": s.correct,
                    "total": s.total,
                    "accuracy": round(100 * s.accuracy, 4),
                    "accuracy_ci": ci(self.category_interval(c)),
                }
                for c, s in self.categories.items()
            },
            "summary": {
                name: {
                    "accuracy": round(100 * row["accuracy"], 4),
                    "accuracy_ci": ci(self.summary_interval(name)),
                    "display": row["display"] if row["display"] == "N/A" else round(100 * row["display"], 4),
                    "total_count": row["total_count"],
                }
                for name, row in self.summary.items()
            },
            "full_benchmark": self.full,
            "subset_note": self.subset_note(),
            "bootstrap": self.bootstrap.to_dict() if self.bootstrap is not None else None,
        }

    def verdict_rows(self) -> list[dict[str, Any]]:
        """One ``{"id", "group", "scores"}`` row per scored entry (the run's ``verdicts.jsonl``)."""
        return [
            {"id": entry_id, "group": category, "scores": {SCORE_NAME: ok}}
            for category, rows in self.outcomes.items()
            for entry_id, ok in rows
        ]


def _pct(value: Any, interval: Interval | None = None) -> str:
    return value if value == "N/A" else format_estimate(float(value), interval)


def scores_table(scores: BfclScores) -> str:
    """Markdown: one row per evaluated category (grouped), then the v3 summary rows; accuracies in
    percent with their 95% bootstrap interval."""
    rows: list[list[Any]] = []
    for group, names in (("non-live", NON_LIVE), ("live", LIVE), ("multi-turn", MULTI_TURN)):
        for c in names:
            s = scores.categories.get(c)
            if s is not None:
                rows.append([c, group, s.correct, s.total, _pct(s.accuracy, scores.category_interval(c))])
    for key, label in SUMMARY_ROWS:
        row = scores.summary.get(key)
        if row is not None:
            # bfcl-eval counts a category that was not run at its full size: show counts for full runs only
            entries = row["total_count"] if scores.full else ""
            rows.append([f"**{label}**", "summary", "", entries, _pct(row["display"], scores.summary_interval(key))])
    return markdown_table(["Category", "Group", "Correct", "Entries", "Accuracy (%) [95% CI]"], rows)


# ------------------------------------------------------------------------------------------------
# Files in bfcl-eval's layout
# ------------------------------------------------------------------------------------------------


def result_file(root: str | os.PathLike[str], model_dir: str, category: str) -> Path:
    """``root/result/<model_dir>/BFCL_v3_<category>_result.json``."""
    return Path(root) / "result" / model_dir / f"BFCL_v3_{category}_result.json"


def score_file(root: str | os.PathLike[str], model_dir: str, category: str) -> Path:
    """``root/score/<model_dir>/BFCL_v3_<category>_score.json``."""
    return Path(root) / "score" / model_dir / f"BFCL_v3_{category}_score.json"


def read_results(root: str | os.PathLike[str], model_dir: str, categories: Sequence[str]) -> dict[str, dict[str, Any]]:
    """``{id: record}`` from the result files of ``categories`` (missing files read as empty).

    A truncated last line (an interrupted write) is ignored; any other bad line raises
    :class:`~rest_rl.eval.runs.RunError` naming the file and line.
    """
    out: dict[str, dict[str, Any]] = {}
    for category in categories:
        for key, rec in read_predictions(result_file(root, model_dir, category)).items():
            out.setdefault(key, rec)
    return out


_MAX_DEPTH = 200


def _too_deep(value: Any) -> bool:
    """Whether lists/dicts in ``value`` nest deeper than :data:`_MAX_DEPTH` (checked without recursion)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_DEPTH:
            return True
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((v, depth + 1) for v in item)
    return False


def _json_safe(value: Any) -> Any:
    """``value`` when it can be written as JSON, else a note saying why not (e.g. nested too deeply)."""
    if _too_deep(value):
        return "<not written: nested too deeply>"
    try:
        json.dumps(value, allow_nan=True)
    except (ValueError, TypeError, RecursionError):
        return "<not written: not JSON>"
    return value


def write_score_files(
    root: str | os.PathLike[str],
    model_dir: str,
    verdicts: Sequence[Verdict],
    results: Mapping[str, Any],
    entries: Sequence[BfclEntry],
) -> list[Path]:
    """Write bfcl-eval-style score files: a summary line, then one line per failed entry."""
    by_id = {e.id: e for e in entries}
    per_category: dict[str, list[Verdict]] = {}
    for v in verdicts:
        per_category.setdefault(v.category, []).append(v)
    paths = []
    for category, items in per_category.items():
        correct = sum(v.valid for v in items)
        lines: list[dict[str, Any]] = [
            {"accuracy": correct / len(items), "correct_count": correct, "total_count": len(items)}
        ]
        for v in items:
            if v.valid:
                continue
            entry = by_id.get(v.id)
            lines.append(
                {
                    "id": v.id,
                    "test_category": category,
                    "valid": False,
                    "error": _json_safe(v.error),
                    "error_type": v.error_type,
                    "model_result_raw": _json_safe(results.get(v.id)),
                    "model_result_decoded": _json_safe(v.decoded),
                    "possible_answer": entry.ground_truth if entry is not None else None,
                }
            )
        path = score_file(root, model_dir, category)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(json.dumps(line, allow_nan=True) for line in lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def score_result_files(
    root: str | os.PathLike[str],
    model_dir: str,
    style: str,
    categories: Sequence[str],
    *,
    limit: int | None = None,
    write_scores: bool = True,
    api: BfclApi | None = None,
    bootstrap: BootstrapSettings | None = None,
) -> tuple[BfclScores, list[Verdict]]:
    """Score the result files under ``root`` for ``categories`` (first ``limit`` entries of each).

    Every selected entry must have a result (``ValueError`` names the first that has none). With
    ``write_scores``, the score files are written next to the results, in bfcl-eval's layout.
    """
    api = api or load_bfcl()
    entries = load_entries(categories, limit=limit, api=api)
    records = read_results(root, model_dir, categories)
    results = {key: rec.get("result") for key, rec in records.items()}
    verdicts = score_entries(entries, results, style, api)
    if write_scores:
        write_score_files(root, model_dir, verdicts, results, entries)
    return BfclScores.from_verdicts(verdicts, api, bootstrap=bootstrap), verdicts
