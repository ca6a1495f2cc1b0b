"""Confidence intervals and paired tests for evaluation scores (one implementation for every benchmark).

Every score this package reports is a mean of per-sample outcomes (1 = correct, 0 = not), or an
aggregate of such means (API-Bank's overall accuracy pools the levels; BFCL's v3 rows average
categories, some weighted by their sizes). Their uncertainty is estimated by the bootstrap:

* **Resampling.** One replicate draws, *within each group* (API-Bank level, BFCL category), as many
  samples as the group has, uniformly with replacement, and recomputes every reported number from
  the drawn samples: the group means and the aggregates, with the aggregate's own formula. Group
  sizes stay fixed (a stratified bootstrap), as they are fixed by the benchmark.
* **Interval.** The 95% interval is the percentile interval: the 2.5th and 97.5th percentiles of
  the replicates, read by linear interpolation between order statistics (numpy's default
  ``"linear"`` method). It is not re-centred on the estimate.
* **Determinism.** Draws come from a private ``random.Random(seed)`` (default seed
  :data:`DEFAULT_SEED`), never from the global generators: the same outcomes, seed and number of
  replicates (:data:`DEFAULT_RESAMPLES` by default) give the same interval on any run, and computing
  an interval changes no other random stream (training and generation are unaffected).
* **Paired comparisons.** Two runs scored on the same samples are compared by resampling sample
  indices once per replicate and applying them to both runs (:func:`paired_bootstrap`), which keeps
  the correlation between the runs; the difference is B - A. :func:`mcnemar_exact` gives the exact
  two-sided McNemar p-value from the discordant pairs.
* **Seeds and samples.** Training runs repeated over seeds and scored on the same samples are compared
  by :func:`paired_seed_sample_bootstrap`: each replicate draws seeds and sample indices with
  replacement (two-level bootstrap; the same draw for both runs), so the interval covers both the
  seed-to-seed spread and the finite test set. Its draws come from a private ``numpy`` generator
  seeded with ``seed``.

    from rest_rl.eval.stats import bootstrap_mean, format_estimate
    ci = bootstrap_mean([1, 0, 1, 1, 0, 1, 1, 1])
    print(format_estimate(6 / 8, ci))   # "75.00 [...]"
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "DEFAULT_SEED",
    "BootstrapSettings",
    "Interval",
    "bootstrap_groups",
    "bootstrap_mean",
    "format_estimate",
    "mcnemar_exact",
    "mean",
    "paired_bootstrap",
    "paired_bootstrap_diff",
    "paired_comparison",
    "paired_seed_sample_bootstrap",
    "percentile",
]

#: Bootstrap replicates drawn when the caller does not say.
DEFAULT_RESAMPLES = 2000
#: Seed of the private random generator when the caller does not say.
DEFAULT_SEED = 0
#: Coverage of the reported intervals.
DEFAULT_CONFIDENCE = 0.95

_K = TypeVar("_K")


@dataclass(frozen=True)
class BootstrapSettings:
    """How intervals are computed: replicates, seed, coverage (see the module docstring)."""

    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    confidence: float = DEFAULT_CONFIDENCE

    def __post_init__(self) -> None:
        if not isinstance(self.resamples, int) or isinstance(self.resamples, bool) or self.resamples < 1:
            raise ValueError(f"bootstrap resamples must be an integer >= 1, got {self.resamples!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ValueError(f"bootstrap seed must be an integer, got {self.seed!r}")
        if not 0.0 < float(self.confidence) < 1.0:
            raise ValueError(f"confidence must be between 0 and 1, got {self.confidence!r}")

    def to_dict(self) -> dict[str, Any]:
        """As recorded in ``scores.json`` and comparison reports."""
        return {
            "method": "percentile bootstrap, resampled within each level / category",
            "resamples": self.resamples,
            "seed": self.seed,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class Interval:
    """A confidence interval ``[low, high]`` (in the unit of the statistic)."""

    low: float
    high: float

    def scaled(self, factor: float) -> Interval:
        """The interval with both ends multiplied by ``factor`` (e.g. 100 for percent)."""
        return Interval(self.low * factor, self.high * factor)

    def to_list(self, factor: float = 1.0, digits: int = 4) -> list[float]:
        """``[low, high]`` times ``factor``, rounded (for JSON)."""
        return [round(self.low * factor, digits), round(self.high * factor, digits)]

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


def mean(values: Sequence[float]) -> float:
    """The arithmetic mean; 0.0 for no values (an empty group scores 0, as the reports do)."""
    return sum(values) / len(values) if values else 0.0


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-quantile (``0 <= q <= 1``) of already sorted values, by linear interpolation between
    order statistics: position ``q * (n - 1)``."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be in [0, 1], got {q}")
    pos = q * (len(sorted_values) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    frac = pos - lo
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * frac


def _interval(replicates: list[float], confidence: float) -> Interval:
    values = sorted(replicates)
    tail = (1.0 - confidence) / 2.0
    return Interval(percentile(values, tail), percentile(values, 1.0 - tail))


def _settings(resamples: int, seed: int, confidence: float) -> BootstrapSettings:
    return BootstrapSettings(resamples=resamples, seed=seed, confidence=confidence)


def bootstrap_mean(
    values: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` (e.g. 0/1 outcomes). ``ValueError`` when empty."""
    if not values:
        raise ValueError("bootstrap of an empty sample")
    return bootstrap_groups({"all": list(values)}, lambda g: {"mean": mean(g["all"])}, resamples=resamples, seed=seed, confidence=confidence)["mean"]


def bootstrap_groups(
    groups: Mapping[_K, Sequence[float]],
    statistic: Callable[[Mapping[_K, Sequence[float]]], Mapping[str, float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Interval]:
    """Stratified percentile bootstrap of named statistics of grouped outcomes.

    Each replicate resamples every group with replacement at its own size (an empty group stays
    empty) and calls ``statistic`` on the resampled groups; ``statistic`` returns named numbers (a
    group mean, a pooled mean, a weighted aggregate: any formula of the groups). Returns one
    interval per name that ``statistic`` returned on the first replicate.
    """
    s = _settings(resamples, seed, confidence)
    rng = random.Random(s.seed)
    data = {k: list(v) for k, v in groups.items()}
    replicates: dict[str, list[float]] = {}
    for _ in range(s.resamples):
        drawn = {k: rng.choices(v, k=len(v)) if v else [] for k, v in data.items()}
        for name, value in statistic(drawn).items():
            replicates.setdefault(name, []).append(float(value))
    return {name: _interval(values, s.confidence) for name, values in replicates.items()}


def paired_bootstrap(
    groups_a: Mapping[_K, Sequence[float]],
    groups_b: Mapping[_K, Sequence[float]],
    statistic: Callable[[Mapping[_K, Sequence[float]]], Mapping[str, float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Interval]:
    """Paired, stratified percentile bootstrap of ``statistic(B) - statistic(A)``.

    ``groups_a[k][i]`` and ``groups_b[k][i]`` are the two runs' outcomes on the same sample. Each
    replicate draws sample indices with replacement within each group and applies the *same*
    indices to both runs, then takes the difference of every named statistic.
    """
    s = _settings(resamples, seed, confidence)
    if set(groups_a) != set(groups_b):
        raise ValueError("paired bootstrap: the two runs have different groups")
    for k in groups_a:
        if len(groups_a[k]) != len(groups_b[k]):
            raise ValueError(f"paired bootstrap: group {k!r} has {len(groups_a[k])} outcomes in A, {len(groups_b[k])} in B")
    rng = random.Random(s.seed)
    a = {k: list(v) for k, v in groups_a.items()}
    b = {k: list(v) for k, v in groups_b.items()}
    index_ranges = {k: range(len(v)) for k, v in a.items()}
    replicates: dict[str, list[float]] = {}
    for _ in range(s.resamples):
        picks = {k: rng.choices(r, k=len(r)) if len(r) else [] for k, r in index_ranges.items()}
        stat_a = statistic({k: [a[k][i] for i in idx] for k, idx in picks.items()})
        stat_b = statistic({k: [b[k][i] for i in idx] for k, idx in picks.items()})
        for name, value in stat_b.items():
            replicates.setdefault(name, []).append(float(value) - float(stat_a[name]))
    return {name: _interval(values, s.confidence) for name, values in replicates.items()}


def paired_bootstrap_diff(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Interval:
    """Paired percentile bootstrap interval of ``mean(b) - mean(a)`` for aligned outcomes."""
    if not a:
        raise ValueError("paired bootstrap of an empty sample")
    return paired_bootstrap(
        {"all": list(a)}, {"all": list(b)}, lambda g: {"mean": mean(g["all"])},
        resamples=resamples, seed=seed, confidence=confidence,
    )["mean"]


def paired_seed_sample_bootstrap(
    a: Sequence[Sequence[float]],
    b: Sequence[Sequence[float]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
) -> Interval:
    """Two-level paired percentile bootstrap interval of ``mean(b) - mean(a)`` over seeds and samples.

    ``a[s][i]`` and ``b[s][i]`` are the outcomes of two arms trained with seed ``s`` (the same seeds,
    in the same order) on sample ``i`` (the same samples). The statistic is the grand mean of
    ``b - a``. Each replicate draws seed indices and sample indices uniformly with replacement (one
    draw of each, applied to both arms and to every drawn seed) and recomputes it. With one seed this
    is :func:`paired_bootstrap_diff` (same statistic; different random stream).
    """
    import numpy as np

    s = _settings(resamples, seed, confidence)
    diff = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if diff.ndim != 2 or diff.shape[0] < 1 or diff.shape[1] < 1:
        raise ValueError(f"paired seed/sample bootstrap needs two equal [seeds][samples] tables, got shape {diff.shape}")
    n_seeds, n_samples = diff.shape
    rng = np.random.default_rng(s.seed)
    replicates = np.empty(s.resamples)
    chunk = 256
    for lo in range(0, s.resamples, chunk):
        r = min(chunk, s.resamples - lo)
        seed_counts = rng.multinomial(n_seeds, [1.0 / n_seeds] * n_seeds, size=r)  # [r, seeds]
        sample_counts = rng.multinomial(n_samples, [1.0 / n_samples] * n_samples, size=r)  # [r, samples]
        replicates[lo : lo + r] = ((seed_counts @ diff) * sample_counts).sum(1) / (n_seeds * n_samples)
    return _interval(replicates.tolist(), s.confidence)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value for ``b`` and ``c`` discordant pairs (A right / B wrong and the
    reverse): ``min(1, 2 * P[X <= min(b, c)])`` with ``X ~ Binomial(b + c, 1/2)``; 1.0 with no
    discordant pair. Computed with exact integers."""
    if b < 0 or c < 0:
        raise ValueError(f"discordant counts must be >= 0, got {b}, {c}")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    return min(1.0, 2 * tail / 2**n)


def format_estimate(value: float | None, interval: Interval | None, *, factor: float = 100.0, digits: int = 2) -> str:
    """``"68.30 [64.50, 72.00]"``: the estimate and its interval times ``factor`` (``"-"`` without an
    estimate; the bare estimate without an interval)."""
    if value is None:
        return "-"
    text = f"{value * factor:.{digits}f}"
    if interval is None:
        return text
    return f"{text} [{interval.low * factor:.{digits}f}, {interval.high * factor:.{digits}f}]"


def paired_comparison(a: Sequence[float], b: Sequence[float], *, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> dict[str, Any]:
    """``b - a`` for two arms' 0/1 outcomes on the same items: the difference of the means, its paired bootstrap
    95% interval (:func:`paired_bootstrap_diff`), the discordant counts (``only_first``: right in ``a`` only) and
    the exact McNemar p-value (:func:`mcnemar_exact`). Plain values, ready for JSON."""
    if len(a) != len(b):
        raise ValueError(f"paired comparison of samples of different sizes: {len(a)} and {len(b)}")
    ci = paired_bootstrap_diff(a, b, resamples=resamples, seed=seed)
    only_a = sum(1 for x, y in zip(a, b) if x > y)
    only_b = sum(1 for x, y in zip(a, b) if y > x)
    return {
        "diff": round((sum(b) - sum(a)) / max(1, len(a)), 6),
        "diff_ci95": [round(ci.low, 6), round(ci.high, 6)],
        "only_first": only_a,
        "only_second": only_b,
        "mcnemar_p": mcnemar_exact(only_a, only_b),
    }

