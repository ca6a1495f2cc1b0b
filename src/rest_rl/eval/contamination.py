"""Training-data contamination check: training requests that match benchmark prompts.

    from rest_rl.data.selection import DataSection, load_examples
    from rest_rl.eval.contamination import find_overlaps
    report = find_overlaps(load_examples(DataSection(source="toolrl_sft", path="rlla_sft.json")), against=("apibank",))
    print(report.counts())          # {"exact": ..., "near": ..., "by_benchmark": {...}}

What is compared is the *user side* of a dialogue, not tool lists or system prompts (those are shared
by design):

* a training example (:class:`~rest_rl.data.schema.ToolExample`): the contents of its ``user``
  messages, in order, joined by newlines;
* an API-Bank sample: the texts inside ``<user>…</user>`` of its dialogue history, without the
  sentence the protocol appends to every sample ("Based on our conversation above, please only
  make one tool call to solve my need.");
* a BFCL v3 entry (all 4,441, from bfcl-eval's data): the contents of the user messages of all its
  turns.

Both sides are **normalised**: Unicode NFKC, case-folded, every run of characters that are not
letters or digits (punctuation, symbols, underscores, white space) turned into one space, trimmed.
Two measures, on the normalised texts:

* **exact**: the two normalised texts are equal (and not empty);
* **near-duplicate**: with ``A`` and ``B`` the sets of word ``n``-grams (``n`` = :data:`NGRAM` = 8)
  of the two texts, the *containment* ``|A ∩ B| / min(|A|, |B|)`` is at least the threshold
  (:data:`NEAR_THRESHOLD` = 0.5: half of the shorter text's 8-word sequences occur in the other,
  which catches a benchmark prompt copied into a longer training dialogue and a training request
  copied out of a longer benchmark dialogue). The Jaccard index ``|A ∩ B| / |A ∪ B|`` is reported
  next to it. A text shorter than ``n`` words has no ``n``-gram and can only match exactly.

Each flagged training example is reported once, with its best benchmark match (exact first, then
the highest containment, then Jaccard). The benchmark side is indexed once per process
(:func:`load_index`, cached): a map from normalised text to prompts for the exact test and an
inverted index from ``n``-gram to the prompts holding it for the near test, so checking an example
costs one dictionary lookup per ``n``-gram of its text, not a pass over every benchmark prompt.
``benchmarks/contamination.py`` times it.
"""

from __future__ import annotations

import functools
import os
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.errors import UserError

__all__ = [
    "BENCHMARKS",
    "NEAR_THRESHOLD",
    "NGRAM",
    "BenchmarkIndex",
    "BenchmarkPrompt",
    "ContaminationError",
    "Overlap",
    "OverlapReport",
    "apibank_prompts",
    "bfcl_prompts",
    "example_text",
    "find_overlaps",
    "local_benchmarks",
    "training_check",
    "load_index",
    "normalize_text",
    "parse_against",
    "word_ngrams",
]

#: The benchmarks a check can run against.
BENCHMARKS: tuple[str, ...] = ("apibank", "bfcl")
#: Words per n-gram of the near-duplicate measure.
NGRAM = 8
#: Containment at or above which a pair is a near-duplicate.
NEAR_THRESHOLD = 0.5

_APIBANK_SUFFIX = "based on our conversation above please only make one tool call to solve my need"
_USER_RE = re.compile(r"<user>(.*?)</user>", re.DOTALL)
_NON_WORD = re.compile(r"[\W_]+")


class ContaminationError(UserError, ValueError):
    """A check that cannot run as asked (unknown benchmark, bad threshold); one-line message."""


def normalize_text(text: str) -> str:
    """NFKC, case-folded, non-alphanumeric runs to one space, trimmed (see the module docstring)."""
    return _NON_WORD.sub(" ", unicodedata.normalize("NFKC", str(text)).casefold()).strip()


def word_ngrams(normalized: str, n: int = NGRAM) -> set[str]:
    """The set of word ``n``-grams of an already normalised text (empty when it has fewer than ``n`` words)."""
    words = normalized.split()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def parse_against(value: str | Iterable[str]) -> tuple[str, ...]:
    """``"apibank,bfcl"`` (or a sequence of names) as a tuple of known benchmark names, order kept,
    duplicates dropped; :class:`ContaminationError` for an unknown or empty list."""
    names = [p for p in re.split(r"[,\s]+", value) if p] if isinstance(value, str) else [str(v) for v in value]
    out: list[str] = []
    for name in names:
        key = name.strip().lower().replace("-", "").replace("_", "")
        if key not in BENCHMARKS:
            raise ContaminationError(f"unknown benchmark {name!r} to check against; choose from: {', '.join(BENCHMARKS)}")
        if key not in out:
            out.append(key)
    if not out:
        raise ContaminationError(f"no benchmark to check against; choose from: {', '.join(BENCHMARKS)}")
    return tuple(out)


# ------------------------------------------------------------------------------------------------
# The benchmark side
# ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkPrompt:
    """One benchmark item's user text: ``benchmark`` (``apibank`` / ``bfcl``), its id, the raw text."""

    benchmark: str
    id: str
    text: str


def _apibank_user_text(user_field: str) -> str:
    parts = [m.strip() for m in _USER_RE.findall(user_field)] or [user_field.strip()]
    return "\n".join(p for p in parts if p and normalize_text(p) != _APIBANK_SUFFIX)


def apibank_prompts(data_dir: str | os.PathLike[str] | None = None) -> list[BenchmarkPrompt]:
    """The user texts of the 597 API-Bank samples (``data_dir``, else the verified download cache)."""
    from rest_rl.eval.apibank.data import load_apibank, resolve_apibank_dir

    directory = resolve_apibank_dir(data_dir)
    return [BenchmarkPrompt("apibank", s.id, _apibank_user_text(s.user)) for s in load_apibank(directory)]


def bfcl_prompts() -> list[BenchmarkPrompt]:
    """The user texts of all BFCL v3 entries (needs bfcl-eval; raises its one-line error otherwise)."""
    from rest_rl.eval.bfcl.data import ALL_CATEGORIES, load_entries
    from rest_rl.eval.bfcl.official import load_bfcl

    out = []
    for entry in load_entries(ALL_CATEGORIES, api=load_bfcl()):
        texts = [
            str(m.get("content") or "")
            for turn in entry.question or []
            for m in (turn if isinstance(turn, list) else [turn])
            if isinstance(m, dict) and m.get("role") == "user"
        ]
        out.append(BenchmarkPrompt("bfcl", entry.id, "\n".join(t for t in texts if t)))
    return out


class BenchmarkIndex:
    """Benchmark prompts indexed for :meth:`best_match`: normalised text -> prompts (exact), and an
    inverted index n-gram -> prompts (near-duplicates)."""

    def __init__(self, prompts: Sequence[BenchmarkPrompt], n: int = NGRAM) -> None:
        if n < 1:
            raise ContaminationError(f"n-gram size must be >= 1, got {n}")
        self.n = n
        self.prompts = list(prompts)
        self.sizes: list[int] = []
        self.exact: dict[str, list[int]] = {}
        self.postings: dict[str, list[int]] = {}
        for i, prompt in enumerate(self.prompts):
            norm = normalize_text(prompt.text)
            if norm:
                self.exact.setdefault(norm, []).append(i)
            grams = word_ngrams(norm, n)
            self.sizes.append(len(grams))
            for gram in grams:
                self.postings.setdefault(gram, []).append(i)

    def counts(self) -> dict[str, int]:
        """Prompts indexed per benchmark."""
        out: dict[str, int] = {}
        for p in self.prompts:
            out[p.benchmark] = out.get(p.benchmark, 0) + 1
        return out

    def best_match(self, text: str) -> tuple[int, str, float, float, int] | None:
        """The best benchmark match of ``text``: ``(prompt index, kind, containment, jaccard, shared
        n-grams)`` with kind ``"exact"`` or ``"ngram"``; ``None`` when no prompt shares anything."""
        norm = normalize_text(text)
        grams = word_ngrams(norm, self.n)
        shared: dict[int, int] = {}
        for gram in grams:
            for i in self.postings.get(gram, ()):
                shared[i] = shared.get(i, 0) + 1
        best: tuple[Any, ...] | None = None
        exact_hits = set(self.exact.get(norm, ())) if norm else set()
        for i in exact_hits | set(shared):
            k = shared.get(i, 0)
            smaller = min(len(grams), self.sizes[i])
            containment = 1.0 if i in exact_hits else (k / smaller if smaller else 0.0)
            union = len(grams) + self.sizes[i] - k
            jaccard = 1.0 if i in exact_hits else (k / union if union else 0.0)
            key = (i in exact_hits, containment, jaccard, -i)
            if best is None or key > best[0]:
                best = (key, i, "exact" if i in exact_hits else "ngram", containment, jaccard, k)
        if best is None:
            return None
        return best[1], best[2], best[3], best[4], best[5]


@functools.lru_cache(maxsize=8)
def _cached_index(against: tuple[str, ...], apibank_dir: str | None, n: int) -> BenchmarkIndex:
    prompts: list[BenchmarkPrompt] = []
    for name in against:
        prompts += apibank_prompts(apibank_dir) if name == "apibank" else bfcl_prompts()
    return BenchmarkIndex(prompts, n)


def load_index(
    against: str | Iterable[str] = BENCHMARKS, *, apibank_dir: str | os.PathLike[str] | None = None, n: int = NGRAM
) -> BenchmarkIndex:
    """The index of the named benchmarks' prompts, built once per process and argument set (cached)."""
    names = parse_against(against)
    return _cached_index(names, None if apibank_dir is None else str(Path(apibank_dir).resolve()), n)


# ------------------------------------------------------------------------------------------------
# The training side and the report
# ------------------------------------------------------------------------------------------------


def example_text(example: Any) -> str:
    """A training example's user request: the contents of its ``user`` messages joined by newlines (an
    object with ``messages``, or a plain string)."""
    if isinstance(example, str):
        return example
    messages = getattr(example, "messages", None)
    if messages is None and isinstance(example, Mapping):
        messages = example.get("messages")
    texts = []
    for m in messages or []:
        if isinstance(m, Mapping) and m.get("role") == "user":
            content = m.get("content")
            if isinstance(content, list):  # content parts: keep the text ones
                content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
            if content:
                texts.append(str(content))
    return "\n".join(texts)


def _snippet(text: str, limit: int = 200) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[:limit] + "..."


@dataclass
class Overlap:
    """A flagged training example and its best benchmark match."""

    example_index: int
    example_id: str
    example_source: str
    benchmark: str
    benchmark_id: str
    kind: str  # "exact" or "near"
    containment: float
    jaccard: float
    shared_ngrams: int
    example_text: str
    benchmark_text: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "example_index": self.example_index,
            "example_id": self.example_id,
            "example_source": self.example_source,
            "benchmark": self.benchmark,
            "benchmark_id": self.benchmark_id,
            "kind": self.kind,
            "containment": round(self.containment, 4),
            "jaccard": round(self.jaccard, 4),
            "shared_ngrams": self.shared_ngrams,
            "example_text": _snippet(self.example_text, 500),
            "benchmark_text": _snippet(self.benchmark_text, 500),
        }


@dataclass
class OverlapReport:
    """What :func:`find_overlaps` found: one :class:`Overlap` per flagged example, best first."""

    examples_checked: int
    benchmarks: dict[str, int]
    ngram: int
    threshold: float
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return len(self.overlaps)

    def counts(self) -> dict[str, Any]:
        """``{"exact", "near", "by_benchmark": {name: {"exact", "near"}}}`` (flagged examples)."""
        by: dict[str, dict[str, int]] = {name: {"exact": 0, "near": 0} for name in self.benchmarks}
        for o in self.overlaps:
            by.setdefault(o.benchmark, {"exact": 0, "near": 0})[o.kind] += 1
        return {
            "exact": sum(1 for o in self.overlaps if o.kind == "exact"),
            "near": sum(1 for o in self.overlaps if o.kind == "near"),
            "by_benchmark": by,
        }

    def to_dict(self, top: int | None = None) -> dict[str, Any]:
        return {
            "examples_checked": self.examples_checked,
            "benchmark_prompts": dict(self.benchmarks),
            "rule": {
                "text": "user messages, NFKC + case-folded, non-alphanumeric runs -> one space",
                "exact": "normalised texts equal",
                "near": f"word {self.ngram}-gram containment |A&B|/min(|A|,|B|) >= {self.threshold}",
            },
            "ngram": self.ngram,
            "threshold": self.threshold,
            "flagged": self.flagged,
            **self.counts(),
            "overlaps": [o.to_dict() for o in (self.overlaps if top is None else self.overlaps[:top])],
        }

    def summary_lines(self, top: int = 10) -> list[str]:
        """A short plain-text report: counts, then the ``top`` best matches with both texts."""
        counts = self.counts()
        bench = ", ".join(f"{name} ({n} prompts)" for name, n in self.benchmarks.items())
        lines = [
            f"contamination check: {self.examples_checked} training examples against {bench}",
            f"rule: user text normalised (case, punctuation, white space); exact = equal; near = word {self.ngram}-gram "
            f"containment >= {self.threshold:g}",
            f"flagged: {self.flagged} ({counts['exact']} exact, {counts['near']} near-duplicate)"
            + (
                "; " + ", ".join(f"{name}: {c['exact']} exact, {c['near']} near" for name, c in counts["by_benchmark"].items())
                if counts["by_benchmark"]
                else ""
            ),
        ]
        if self.overlaps and top > 0:
            lines.append(f"top {min(top, len(self.overlaps))} matches:")
            for rank, o in enumerate(self.overlaps[:top], start=1):
                lines.append(
                    f"  {rank}. {o.example_id} ({o.example_source}) ~ {o.benchmark}:{o.benchmark_id}  {o.kind}  "
                    f"containment {o.containment:.2f}  jaccard {o.jaccard:.2f}"
                )
                lines.append(f"     train: {_snippet(o.example_text, 160)!r}")
                lines.append(f"     bench: {_snippet(o.benchmark_text, 160)!r}")
        return lines


def find_overlaps(
    examples: Iterable[Any],
    against: str | Iterable[str] = BENCHMARKS,
    *,
    threshold: float = NEAR_THRESHOLD,
    n: int = NGRAM,
    apibank_dir: str | os.PathLike[str] | None = None,
    index: BenchmarkIndex | None = None,
) -> OverlapReport:
    """Training examples whose user request matches a benchmark prompt (see the module docstring).

    ``examples`` are :class:`~rest_rl.data.schema.ToolExample` objects (or anything with ``messages``,
    or plain strings). ``against`` names the benchmarks (``"apibank,bfcl"`` or a sequence); their
    index is built on the first call and cached for the process (``index`` overrides it). The API-Bank
    files come from ``apibank_dir`` or the verified download cache (downloaded once when missing); BFCL
    needs bfcl-eval. Raises :class:`ContaminationError` for a bad argument and the benchmarks' own
    one-line :class:`~rest_rl.errors.UserError` when their data cannot be loaded.
    """
    if not 0.0 < float(threshold) <= 1.0:
        raise ContaminationError(f"near-duplicate threshold must be in (0, 1], got {threshold}")
    idx = index if index is not None else load_index(against, apibank_dir=apibank_dir, n=n)
    overlaps: list[Overlap] = []
    checked = 0
    for i, example in enumerate(examples):
        checked += 1
        text = example_text(example)
        match = idx.best_match(text)
        if match is None:
            continue
        j, kind, containment, jaccard, shared = match
        if kind != "exact" and containment < threshold:
            continue
        prompt = idx.prompts[j]
        overlaps.append(
            Overlap(
                example_index=i,
                example_id=str(getattr(example, "id", i)),
                example_source=str(getattr(example, "source", "")),
                benchmark=prompt.benchmark,
                benchmark_id=prompt.id,
                kind="exact" if kind == "exact" else "near",
                containment=containment,
                jaccard=jaccard,
                shared_ngrams=shared,
                example_text=text,
                benchmark_text=prompt.text,
            )
        )
    overlaps.sort(key=lambda o: (o.kind != "exact", -o.containment, -o.jaccard, o.example_index))
    return OverlapReport(examples_checked=checked, benchmarks=idx.counts(), ngram=idx.n, threshold=float(threshold), overlaps=overlaps)


# ------------------------------------------------------------------------------------------------
# The check ``rest-rl sft`` / ``rest-rl train`` run before a fresh run
# ------------------------------------------------------------------------------------------------


def local_benchmarks(apibank_dir: str | os.PathLike[str] | None = None) -> tuple[tuple[str, ...], dict[str, str]]:
    """The benchmarks whose prompts are on this machine without a download: API-Bank when ``apibank_dir``
    or the download cache (``rest-rl eval apibank`` fills it) holds the three verified level files, BFCL
    when bfcl-eval is installed. Returns ``(names, {missing name: why})``."""
    from rest_rl.eval.apibank.data import FILE_SHA256, default_cache_dir, file_sha256
    from rest_rl.eval.bfcl.official import bfcl_available

    names: list[str] = []
    missing: dict[str, str] = {}
    directory = Path(apibank_dir) if apibank_dir is not None else default_cache_dir()
    try:
        verified = all(file_sha256(directory / name) == digest for name, digest in FILE_SHA256.items())
    except OSError:
        verified = False
    if verified:
        names.append("apibank")
    else:
        missing["apibank"] = f"no verified copy in {directory} (rest-rl eval apibank downloads it there)"
    if bfcl_available():
        names.append("bfcl")
    else:
        missing["bfcl"] = "bfcl-eval is not installed"
    return tuple(names), missing


def training_check(examples: Sequence[Any], apibank_dir: str | os.PathLike[str] | None = None, top: int = 3) -> list[str]:
    """The lines a training command prints about its examples' overlap with benchmark prompts: a warning
    with the counts and the ``top`` best matches, or one line saying the data is clean, and which
    benchmarks could not be checked (never a download, never an error: a check that cannot run says so)."""
    names, missing = local_benchmarks(apibank_dir)
    lines: list[str] = []
    if names:
        try:
            report = find_overlaps(examples, against=names, apibank_dir=apibank_dir)
        except UserError as exc:
            return [f"benchmark-overlap check failed: {' '.join(str(exc).split())}"]
        bench = ", ".join(f"{name} ({n} prompts)" for name, n in report.benchmarks.items())
        if report.flagged:
            counts = report.counts()
            lines.append(
                f"WARNING: {report.flagged} of {report.examples_checked} training examples match benchmark prompts "
                f"({counts['exact']} exact, {counts['near']} near-duplicate) of {bench}; scores on those benchmarks "
                "would be contaminated. `rest-rl data check` lists them all."
            )
            for o in report.overlaps[:top]:
                lines.append(f"  {o.example_id} ~ {o.benchmark}:{o.benchmark_id} ({o.kind}): {_snippet(o.example_text, 100)!r}")
        else:
            lines.append(f"benchmark-overlap check: none of {report.examples_checked} examples matches {bench}")
    for name, why in missing.items():
        lines.append(f"benchmark-overlap check: {name} not checked ({why})")
    return lines
