"""Mixing sources and the rlla_4k recipe file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rest_rl.data import ToolExample, build_mix, load_mix_config, mix_sources, train_test_split
from rest_rl.data.mix import MixConfig, MixSource

REPO = Path(__file__).resolve().parents[2]


def _pool(name: str, n: int) -> list[ToolExample]:
    return [
        ToolExample(id=f"{name}-{i}", source=name, tools=[], messages=[{"role": "user", "content": str(i)}], gold_response="r")
        for i in range(n)
    ]


def test_mix_takes_counts_and_ratios_and_is_deterministic():
    a, b, c = _pool("a", 50), _pool("b", 40), _pool("c", 10)
    mixed = mix_sources([(a, 20), (b, 0.5), (c, 10)], seed=31415)
    counts = {s: sum(ex.source == s for ex in mixed) for s in "abc"}
    assert counts == {"a": 20, "b": 20, "c": 10}
    assert len({ex.id for ex in mixed}) == 50  # without replacement
    assert [ex.id for ex in mixed] == [ex.id for ex in mix_sources([(a, 20), (b, 0.5), (c, 10)], seed=31415)]
    assert [ex.id for ex in mixed] != [ex.id for ex in mix_sources([(a, 20), (b, 0.5), (c, 10)], seed=1)]
    assert mixed[:10] != sorted(mixed[:10], key=lambda ex: ex.source)  # shuffled across sources


@pytest.mark.parametrize("amount", [51, -1, 1.5, True, "10"])
def test_mix_rejects_impossible_amounts(amount):
    with pytest.raises(ValueError):
        mix_sources([(_pool("a", 50), amount)], seed=0)


def test_train_test_split_sizes():
    train, test = train_test_split(_pool("a", 4000), 80, seed=31415)
    assert len(train) == 3920 and len(test) == 80
    assert not {ex.id for ex in train} & {ex.id for ex in test}


def test_rlla_4k_recipe_file_describes_toolrls_mix():
    config = load_mix_config(REPO / "configs" / "data" / "rlla_4k_mix.yaml")
    assert config.seed == 31415 and config.test_size == 80
    assert [(s.name, s.loader, s.amount) for s in config.sources] == [
        ("toolace", "toolace", 2000),
        ("hammer", "xlam", 1000),
        ("xlam", "xlam", 1000),
    ]
    assert config.sources[1].mask_names and sum(s.amount for s in config.sources) == 4000


def test_build_mix_from_local_files(tmp_path, hammer_path, rlla_sft_path):
    bad = tmp_path / "bad.json"
    rows = json.loads(hammer_path.read_text(encoding="utf-8")) + [{"instruction": "x", "input": "", "output": "[]"}]
    bad.write_text(json.dumps(rows), encoding="utf-8")
    config = MixConfig(
        sources=[
            MixSource("sft", "toolrl_sft", str(rlla_sft_path), 30, load_limit=60),
            MixSource("hammer", "hammer", str(bad), 1.0, mask_names=True),
        ],
        seed=31415,
        test_size=5,
    )
    splits, reports = build_mix(config)
    assert len(splits["train"]) == 35 and len(splits["test"]) == 5
    assert reports[1].n_skipped == 1 and "hammer" in reports[1].summary()
    hammer = [ex for ex in splits["train"] + splits["test"] if ex.source == "hammer"]
    assert len(hammer) == 10 and all(ex.meta.get("masked") for ex in hammer)
