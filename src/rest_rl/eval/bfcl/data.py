"""BFCL v3 entries and their ground truth, read from the data inside the installed bfcl-eval wheel.

17 categories, 4,441 entries (docs/method.md §7):

* non-live (1,390): simple 400, java 100, javascript 50, multiple 200, parallel 200,
  parallel_multiple 200, irrelevance 240;
* live (2,251): live_simple 258, live_multiple 1,053, live_parallel 16, live_parallel_multiple 24,
  live_irrelevance 882, live_relevance 18;
* multi-turn (800): multi_turn_base, multi_turn_miss_func, multi_turn_miss_param,
  multi_turn_long_context, 200 each.

Files are read with bfcl-eval's own ``load_file`` and ordered with its ``sort_key``; a multi-turn
entry gets its function docs from bfcl-eval's ``process_multi_turn_test_case`` (the docs of its
involved classes, the held-out ones of ``miss_func`` moved to the turn where they appear).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rest_rl.eval.bfcl.official import BfclApi, load_bfcl

__all__ = [
    "ALL_CATEGORIES",
    "CATEGORY_GROUPS",
    "CATEGORY_SIZES",
    "LIVE",
    "MULTI_TURN",
    "NON_LIVE",
    "TOTAL_ENTRIES",
    "BfclEntry",
    "category_kind",
    "category_language",
    "data_checksums",
    "load_category",
    "load_entries",
    "resolve_categories",
]

NON_LIVE: tuple[str, ...] = ("simple", "java", "javascript", "multiple", "parallel", "parallel_multiple", "irrelevance")
LIVE: tuple[str, ...] = (
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
MULTI_TURN: tuple[str, ...] = (
    "multi_turn_base",
    "multi_turn_miss_func",
    "multi_turn_miss_param",
    "multi_turn_long_context",
)
ALL_CATEGORIES: tuple[str, ...] = NON_LIVE + LIVE + MULTI_TURN

#: Entries per category in bfcl-eval 2025.7.17 (checked when a whole category is loaded).
CATEGORY_SIZES: dict[str, int] = {
    "simple": 400,
    "java": 100,
    "javascript": 50,
    "multiple": 200,
    "parallel": 200,
    "parallel_multiple": 200,
    "irrelevance": 240,
    "live_simple": 258,
    "live_multiple": 1053,
    "live_parallel": 16,
    "live_parallel_multiple": 24,
    "live_irrelevance": 882,
    "live_relevance": 18,
    "multi_turn_base": 200,
    "multi_turn_miss_func": 200,
    "multi_turn_miss_param": 200,
    "multi_turn_long_context": 200,
}
TOTAL_ENTRIES = sum(CATEGORY_SIZES.values())  # 4441

#: Names accepted by ``--categories`` besides the 17 categories themselves.
CATEGORY_GROUPS: dict[str, tuple[str, ...]] = {
    "all": ALL_CATEGORIES,
    "non_live": NON_LIVE,
    "live": LIVE,
    "multi_turn": MULTI_TURN,
    "single_turn": NON_LIVE + LIVE,
}


def resolve_categories(names: Iterable[str]) -> tuple[str, ...]:
    """Expand category and group names into categories, in the canonical order, without duplicates.

    Raises ``ValueError`` naming an unknown name and listing the valid ones.
    """
    wanted: set[str] = set()
    for raw in names:
        for name in str(raw).replace(",", " ").split():
            if name in CATEGORY_GROUPS:
                wanted.update(CATEGORY_GROUPS[name])
            elif name in CATEGORY_SIZES:
                wanted.add(name)
            else:
                valid = ", ".join(list(CATEGORY_GROUPS) + list(ALL_CATEGORIES))
                raise ValueError(f"unknown BFCL category {name!r}; choose among: {valid}")
    if not wanted:
        raise ValueError("no BFCL category selected")
    return tuple(c for c in ALL_CATEGORIES if c in wanted)


def category_kind(category: str) -> str:
    """How a category is scored: ``"ast"``, ``"irrelevance"``, ``"relevance"`` or ``"multi_turn"``."""
    if category.startswith("multi_turn"):
        return "multi_turn"
    if category.endswith("irrelevance"):
        return "irrelevance"
    if category.endswith("relevance"):
        return "relevance"
    return "ast"


def category_language(category: str) -> str:
    """The language argument of bfcl-eval's AST checker: ``Java``, ``JavaScript`` or ``Python``."""
    if category == "java":
        return "Java"
    if category == "javascript":
        return "JavaScript"
    return "Python"


@dataclass
class BfclEntry:
    """One BFCL v3 test entry with its ground truth.

    ``question`` holds the user turns (a list of messages per turn; single-turn entries have one
    turn). ``functions`` are the function docs as the data writes them (for multi-turn: the docs of
    the involved classes without the held-out ones). ``ground_truth`` is bfcl-eval's possible answer:
    ``[{func: {param: [allowed values]}}]`` for an AST category, the list of call strings per turn
    for multi-turn, ``None`` for irrelevance and relevance.
    """

    id: str
    category: str
    question: list[list[dict[str, Any]]]
    functions: list[dict[str, Any]]
    ground_truth: Any = None
    initial_config: dict[str, Any] | None = None
    involved_classes: list[str] | None = None
    missed_functions: dict[str, list[dict[str, Any]]] | None = None

    @property
    def kind(self) -> str:
        return category_kind(self.category)

    @property
    def is_multi_turn(self) -> bool:
        return self.kind == "multi_turn"

    @property
    def long_context(self) -> bool:
        """Whether the simulators load the long-context scenario (bfcl-eval's rule)."""
        return "long_context" in self.category or "composite" in self.category

    def test_entry(self) -> dict[str, Any]:
        """The entry as the dict bfcl-eval's checkers take (a deep copy; safe to mutate)."""
        out: dict[str, Any] = {"id": self.id, "question": copy.deepcopy(self.question), "function": copy.deepcopy(self.functions)}
        if self.is_multi_turn:
            out["initial_config"] = copy.deepcopy(self.initial_config or {})
            out["involved_classes"] = list(self.involved_classes or [])
            if self.missed_functions is not None:
                out["missed_function"] = copy.deepcopy(self.missed_functions)
        return out


def _entries_from_files(api: BfclApi, category: str) -> list[BfclEntry]:
    file_name = api.test_file_mapping[category]
    prompts = sorted(api.load_file(api.prompt_path / file_name), key=api.sort_key)
    kind = category_kind(category)
    answers: dict[str, Any] = {}
    if kind in ("ast", "multi_turn"):
        for row in api.load_file(api.possible_answer_path / file_name):
            answers[row["id"]] = row["ground_truth"]
    if kind == "multi_turn":
        prompts = api.process_multi_turn_test_case(prompts)
    entries = []
    for row in prompts:
        if kind in ("ast", "multi_turn") and row["id"] not in answers:
            raise ValueError(f"{api.possible_answer_path / file_name}: no ground truth for {row['id']}")
        entries.append(
            BfclEntry(
                id=row["id"],
                category=category,
                question=row["question"],
                functions=row.get("function", []),
                ground_truth=answers.get(row["id"]),
                initial_config=row.get("initial_config"),
                involved_classes=row.get("involved_classes"),
                missed_functions=row.get("missed_function"),
            )
        )
    return entries


def load_category(category: str, *, limit: int | None = None, api: BfclApi | None = None) -> list[BfclEntry]:
    """The entries of one category in bfcl-eval's order (the first ``limit`` when given).

    Raises ``ValueError`` for an unknown category or when the installed data does not have the
    expected number of entries; :class:`~rest_rl.eval.bfcl.official.BfclUnavailable` without bfcl-eval.
    """
    if category not in CATEGORY_SIZES:
        raise ValueError(f"unknown BFCL category {category!r}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    entries = _entries_from_files(api or load_bfcl(), category)
    if len(entries) != CATEGORY_SIZES[category]:
        raise ValueError(
            f"bfcl-eval data for {category} has {len(entries)} entries, expected {CATEGORY_SIZES[category]}"
        )
    return entries[:limit] if limit is not None else entries


def load_entries(
    categories: Sequence[str], *, limit: int | None = None, api: BfclApi | None = None
) -> list[BfclEntry]:
    """The entries of several categories (each cut to ``limit``), category by category."""
    api = api or load_bfcl()
    out: list[BfclEntry] = []
    for category in categories:
        out.extend(load_category(category, limit=limit, api=api))
    return out


def data_checksums(categories: Sequence[str], api: BfclApi | None = None) -> dict[str, str]:
    """SHA-256 of the data files behind ``categories`` (prompt and possible-answer files)."""
    api = api or load_bfcl()
    out: dict[str, str] = {}
    for category in categories:
        name = api.test_file_mapping[category]
        for folder, tag in ((api.prompt_path, ""), (api.possible_answer_path, "possible_answer/")):
            path = folder / name
            if path.is_file():
                out[tag + name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(out.items()))
