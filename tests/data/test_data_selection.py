"""Data selection (rest_rl.data.selection): the ``data`` section of a run, and the examples it selects."""

from __future__ import annotations

from pathlib import Path

import pytest

from rest_rl.config import ConfigError, build_dataclass
from rest_rl.data.selection import DataSection, load_examples
from rest_rl.models.loading import ModelSection

ROOT = Path(__file__).resolve().parents[2]


def test_sections_validate_their_values():
    with pytest.raises(ConfigError, match="data.source must be one of"):
        build_dataclass(DataSection, {"source": "bogus"}, where="data")
    with pytest.raises(ConfigError, match="data.path is required"):
        build_dataclass(DataSection, {"source": "mix"}, where="data")
    with pytest.raises(ConfigError, match="model.dtype"):
        build_dataclass(ModelSection, {"dtype": "int4"}, where="model")


def test_synthetic_sections_select_consecutive_slices():
    base = {"source": "synthetic", "split": "train", "synthetic": {"n_train": 30, "n_test": 5}, "prompt_style": "compact"}
    head = load_examples(build_dataclass(DataSection, {**base, "limit": 10}))
    tail = load_examples(build_dataclass(DataSection, {**base, "offset": 10, "limit": 5}))
    everything = load_examples(build_dataclass(DataSection, base))
    assert [e.id for e in everything[:15]] == [e.id for e in head + tail]
    test = {**base, "split": "test"}  # held-out requests come from make_splits: de-duplicated against train
    held = load_examples(build_dataclass(DataSection, test))
    train_prompts = {e.messages[-1]["content"] + "|".join(t["name"] for t in e.tools) for e in everything}
    assert len(held) == 5 and not any(e.messages[-1]["content"] + "|".join(t["name"] for t in e.tools) in train_prompts for e in held)
    with pytest.raises(ConfigError, match="exceeds synthetic.n_test = 5"):
        load_examples(build_dataclass(DataSection, {**test, "offset": 3, "limit": 4}))
    novel = load_examples(build_dataclass(DataSection, {**base, "split": "novel", "limit": 3}))
    assert len(novel) == 3 and all(e.meta["split"] == "novel" for e in novel)
    with pytest.raises(ConfigError, match="no such data file"):
        load_examples(build_dataclass(DataSection, {"source": "examples", "path": "missing.jsonl"}))


def test_examples_files_round_trip(tmp_path):
    import json

    ex = load_examples(build_dataclass(DataSection, {"synthetic": {"n_train": 4}}))
    path = tmp_path / "ex.jsonl"
    path.write_text("".join(json.dumps(e.to_dict()) + "\n" for e in ex), encoding="utf-8")
    back = load_examples(build_dataclass(DataSection, {"source": "examples", "path": str(path)}))
    assert [e.id for e in back] == [e.id for e in ex]


def test_mix_recipe_of_the_repository_is_found():
    section = build_dataclass(DataSection, {"source": "mix", "path": str(ROOT / "configs/data/rlla_4k_mix.yaml")})
    section.check_paths()  # does not download anything
