"""Mixing sources into one training set, and the recipe files that describe a mix
(``configs/data/rlla_4k_mix.yaml``: ToolRL's 2K ToolACE + 1K Hammer + 1K xLAM)."""

from __future__ import annotations

import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.data.io import LoadReport, LoadResult
from rest_rl.data.schema import ToolExample

__all__ = [
    "MixConfig",
    "MixSource",
    "build_mix",
    "get_loader",
    "load_mix_config",
    "mix_sources",
    "train_test_split",
]

Amount = int | float


def _take(n_available: int, amount: Amount, label: str) -> int:
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise ValueError(f"{label}: amount must be a count (int) or a ratio (float), got {amount!r}")
    if isinstance(amount, int):
        if amount < 0:
            raise ValueError(f"{label}: count must be >= 0, got {amount}")
        if amount > n_available:
            raise ValueError(f"{label}: asked for {amount} examples but only {n_available} are available")
        return amount
    if not 0.0 <= amount <= 1.0 or math.isnan(amount):
        raise ValueError(f"{label}: ratio must be in [0, 1], got {amount}")
    return round(amount * n_available)


def mix_sources(sources: Sequence[tuple[Sequence[ToolExample], Amount]], seed: int) -> list[ToolExample]:
    """Draw from each source without replacement, then shuffle everything together.

    Each entry is ``(examples, amount)``: an ``int`` is a count, a ``float`` a fraction of that
    source (rounded). Deterministic in ``seed``. Raises ``ValueError`` when a count exceeds what a
    source holds.
    """
    rng = random.Random(seed)
    mixed: list[ToolExample] = []
    for i, (examples, amount) in enumerate(sources):
        pool = list(examples)
        k = _take(len(pool), amount, f"source {i}")
        picked = sorted(rng.sample(range(len(pool)), k))
        mixed.extend(pool[j] for j in picked)
    rng.shuffle(mixed)
    return mixed


def train_test_split(
    examples: Sequence[ToolExample], test_size: Amount, *, seed: int | None = None
) -> tuple[list[ToolExample], list[ToolExample]]:
    """Split into ``(train, test)``; ``test`` is the last ``test_size`` examples (a count, or a
    fraction) after an optional shuffle with ``seed``."""
    items = list(examples)
    if seed is not None:
        random.Random(seed).shuffle(items)
    k = _take(len(items), test_size, "test_size")
    return items[: len(items) - k], items[len(items) - k :]


def get_loader(name: str) -> Callable[..., LoadResult]:
    """The loader function registered under ``name`` (toolace, xlam, hammer, toolrl_sft, toolrl_rl)."""
    from rest_rl.data.sources.hammer import load_hammer
    from rest_rl.data.sources.toolace import load_toolace
    from rest_rl.data.sources.toolrl import load_toolrl_rl, load_toolrl_sft
    from rest_rl.data.sources.xlam import load_xlam

    loaders: dict[str, Callable[..., LoadResult]] = {
        "toolace": load_toolace,
        "xlam": load_xlam,
        "hammer": load_hammer,
        "toolrl_sft": load_toolrl_sft,
        "toolrl_rl": load_toolrl_rl,
    }
    if name not in loaders:
        raise ValueError(f"unknown loader {name!r}; expected one of {sorted(loaders)}")
    return loaders[name]


@dataclass
class MixSource:
    """One source of a mix recipe."""

    name: str
    """Label used in reports."""
    loader: str
    """Loader name, see :func:`get_loader`."""
    path: str
    """Local file or Hugging Face dataset id."""
    amount: Amount
    """Examples to draw: a count (int) or a fraction of the loaded examples (float)."""
    split: str | None = None
    """Hub split (default ``train``); ignored for local files."""
    mask_names: bool = False
    """Replace tool and parameter names with random strings (Hammer-style masking)."""
    load_limit: int | None = None
    """Stop loading after this many examples (saves time on large sources)."""


@dataclass
class MixConfig:
    """A data recipe: sources, how much of each, the shuffle seed and the test split size."""

    sources: list[MixSource]
    seed: int = 31415
    """Seed of the draw, the shuffle and the masking."""
    test_size: Amount = 80
    """Held-out examples taken from the end of the shuffled mix."""
    name: str = "mix"
    skip_invalid: bool = True
    """Skip bad rows (counted in the reports) instead of stopping at the first one."""
    extra: dict[str, Any] = field(default_factory=dict)


def load_mix_config(path: str | os.PathLike[str]) -> MixConfig:
    """Read a recipe YAML (see ``configs/data/rlla_4k_mix.yaml``); ``ValueError`` if malformed."""
    import yaml

    with Path(path).open(encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise ValueError(f"{path}: a mix config needs a 'sources' list")
    sources = []
    for i, s in enumerate(raw["sources"]):
        if not isinstance(s, dict):
            raise ValueError(f"{path}: sources[{i}] must be a mapping")
        try:
            amount = s["count"] if "count" in s else s["ratio"]
            sources.append(
                MixSource(
                    name=str(s.get("name", s["loader"])),
                    loader=str(s["loader"]),
                    path=str(s["path"]),
                    amount=amount if "count" in s else float(amount),
                    split=s.get("split"),
                    mask_names=bool(s.get("mask_names", False)),
                    load_limit=s.get("load_limit"),
                )
            )
        except KeyError as exc:
            raise ValueError(f"{path}: sources[{i}] lacks {exc.args[0]!r} (and 'count' or 'ratio')") from exc
    known = {"sources", "seed", "test_size", "name", "skip_invalid"}
    return MixConfig(
        sources=sources,
        seed=int(raw.get("seed", 31415)),
        test_size=raw.get("test_size", 80),
        name=str(raw.get("name", Path(path).stem)),
        skip_invalid=bool(raw.get("skip_invalid", True)),
        extra={k: v for k, v in raw.items() if k not in known},
    )


def build_mix(config: MixConfig) -> tuple[dict[str, list[ToolExample]], list[LoadReport]]:
    """Load every source, draw and shuffle (:func:`mix_sources`), split off the test set.

    Returns ``({"train": [...], "test": [...]}, reports)``; print ``report.summary()`` to see
    what was skipped. Downloads Hub datasets when a source path is a dataset id.
    """
    from rest_rl.data.sources.hammer import mask_names

    pools: list[tuple[list[ToolExample], Amount]] = []
    reports = []
    for src in config.sources:
        result = get_loader(src.loader)(
            src.path, split=src.split, skip_invalid=config.skip_invalid, limit=src.load_limit
        )
        result.report.path = f"{src.name} ({src.path})"
        reports.append(result.report)
        examples = list(result)
        if src.mask_names:
            examples = [mask_names(ex, config.seed) for ex in examples]
        pools.append((examples, src.amount))
    mixed = mix_sources(pools, config.seed)
    train, test = train_test_split(mixed, config.test_size)
    return {"train": train, "test": test}, reports
