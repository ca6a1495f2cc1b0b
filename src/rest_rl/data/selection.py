"""Data selection: which examples a run uses and how their prompts are written.

:class:`DataSection` is the ``data`` section of a run file (source, path, split, offset/limit, prompt
style); :func:`load_examples` turns it into the list of :class:`~rest_rl.data.schema.ToolExample` records,
with every load problem reported as a one-line :class:`~rest_rl.errors.ConfigError` or
:class:`~rest_rl.data.io.DataError` naming the file and row.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.data.io import DataError, LoadReport, load_rows
from rest_rl.data.prompting import PROMPT_STYLES
from rest_rl.data.schema import ToolExample
from rest_rl.data.mix import build_mix, get_loader, load_mix_config
from rest_rl.data.synthetic import SPLITS, SyntheticConfig, SyntheticWorld, make_splits
from rest_rl.errors import ConfigError, one_line

__all__ = ["DATA_SOURCES", "DataSection", "Selection", "load_examples", "select_examples"]

DATA_SOURCES: tuple[str, ...] = ("synthetic", "mix", "toolrl_sft", "toolrl_rl", "toolace", "xlam", "hammer", "examples")
"""Where a run's examples come from (see :class:`DataSection`)."""


@dataclass
class DataSection:
    """Where the examples of a run come from and how their prompts are written."""

    source: str = field(
        default="synthetic",
        metadata={
            "help": "synthetic (the embedded tool world), mix (a recipe YAML such as configs/data/rlla_4k_mix.yaml), "
            "toolrl_sft / toolrl_rl / toolace / xlam / hammer (one file or hub id with that loader), or examples "
            "(a .jsonl/.json/.parquet of ToolExample.to_dict rows)."
        },
    )
    path: str | None = field(
        default=None, metadata={"help": "Recipe YAML (source=mix) or data file / hub id (other non-synthetic sources)."}
    )
    split: str = field(
        default="train",
        metadata={"help": "Which split to use: train / validation / test (synthetic), train / test (mix), hub split."},
    )
    offset: int = field(default=0, metadata={"help": "Skip this many examples of the split first."})
    limit: int | None = field(default=None, metadata={"help": "Use at most this many examples (after offset)."})
    prompt_style: str = field(
        default="toolrl",
        metadata={
            "help": "Prompt layout: toolrl (ToolRL system prompt + dialogue history), compact (one line per tool; "
            "tiny models), chat_template (tools through the tokenizer's chat template, Hermes-format gold), hammer."
        },
    )
    think_placeholder: bool = field(
        default=True, metadata={"help": "Use ToolRL's placeholder thought when an example has no <think> text."}
    )
    skip_invalid: bool = field(default=True, metadata={"help": "Skip malformed rows of a file instead of stopping."})
    synthetic: SyntheticConfig = field(
        default_factory=SyntheticConfig, metadata={"help": "The synthetic world (source=synthetic)."}
    )

    def __post_init__(self) -> None:
        if self.source not in DATA_SOURCES:
            raise ValueError(f"data.source must be one of {list(DATA_SOURCES)}, got {self.source!r}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"data.prompt_style must be one of {list(PROMPT_STYLES)}, got {self.prompt_style!r}")
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.path is required for data.source={self.source!r}")
        if self.offset < 0 or (self.limit is not None and self.limit < 0):
            raise ValueError("data.offset and data.limit must be >= 0")

    def check_paths(self) -> None:
        """``ConfigError`` when a local path this section names does not exist (hub ids pass)."""
        if self.path is None:
            return
        p = Path(self.path)
        looks_local = p.suffix in (".json", ".jsonl", ".parquet", ".yaml", ".yml") or p.is_absolute() or self.path.startswith(".")
        if self.source in ("mix", "examples") or looks_local:
            if not p.exists():
                raise ConfigError(f"no such data file: {p}")


@dataclass
class Selection:
    """The examples a :class:`DataSection` selects, and the load report of every file read for them
    (rows read, examples made, rows skipped as invalid with their reasons)."""

    examples: list[ToolExample]
    reports: list[LoadReport] = field(default_factory=list)

    @property
    def n_skipped(self) -> int:
        return sum(r.n_skipped for r in self.reports)

    def skip_lines(self) -> list[str]:
        """One line per file that had rows skipped (empty when nothing was lost)."""
        return [r.skip_line() for r in self.reports if r.n_skipped]

    def to_dict(self) -> dict[str, Any]:
        return {"examples": len(self.examples), "skipped": self.n_skipped, "sources": [r.to_dict() for r in self.reports]}


def _example_row(row: Any, index: int) -> list[ToolExample]:
    if not isinstance(row, dict):
        raise ValueError(f"expected an object (a ToolExample.to_dict row), got {type(row).__name__}")
    return [ToolExample.from_dict(row)]


def select_examples(section: DataSection) -> Selection:
    """The :class:`Selection` a :class:`DataSection` names (split, then ``offset`` / ``limit``), with the
    load reports, so that rows skipped as invalid (``skip_invalid``) are counted, not silently lost.
    Load problems become one-line :class:`~rest_rl.errors.ConfigError`\ s naming the file (and row)."""
    section.check_paths()
    reports: list[LoadReport] = []
    try:
        if section.source == "synthetic":
            if section.split not in SPLITS:
                raise ConfigError(f"data.split must be one of {list(SPLITS)} for synthetic data, got {section.split!r}")
            cfg = section.synthetic
            need = section.offset + (section.limit if section.limit is not None else 0)
            if section.split in ("validation", "test"):  # de-duplicated against train: make_splits
                if need > getattr(cfg, f"n_{section.split}"):
                    raise ConfigError(
                        f"data.offset + data.limit = {need} exceeds synthetic.n_{section.split} = "
                        f"{getattr(cfg, f'n_{section.split}')}"
                    )
                examples = make_splits(cfg)[section.split]
            else:
                n = max(need, getattr(cfg, f"n_{section.split}"))
                examples = SyntheticWorld(cfg).sample(n, section.split, seed=0)
        elif section.source == "mix":
            splits, reports = build_mix(load_mix_config(section.path))
            if section.split not in splits:
                raise ConfigError(f"data.split must be one of {sorted(splits)} for a mix, got {section.split!r}")
            examples = splits[section.split]
        else:
            if section.source == "examples":
                result = load_rows(str(section.path), _example_row, skip_invalid=section.skip_invalid)
            else:
                result = get_loader(section.source)(section.path, split=section.split, skip_invalid=section.skip_invalid)
            examples = list(result)
            reports = [result.report]
    except ConfigError:
        raise
    except (DataError, ValueError, OSError) as exc:
        raise ConfigError(one_line(exc)) from None
    end = None if section.limit is None else section.offset + section.limit
    picked = list(examples)[section.offset : end]
    if not picked:
        raise ConfigError(f"no examples selected from data.source={section.source!r} (offset {section.offset}, limit {section.limit})")
    return Selection(picked, list(reports))


def load_examples(section: DataSection) -> list[ToolExample]:
    """The examples of :func:`select_examples` (without the load reports)."""
    return select_examples(section).examples
