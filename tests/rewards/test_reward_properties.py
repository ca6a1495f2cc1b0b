"""Properties of the ToolRL reward: bounded and finite on any input, golds score the maximum,
strict implies relaxed, config validation, and the real gold answers scored against themselves."""

from __future__ import annotations

import json
import math
import random
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "toolcall"))
from test_toolcall_strategies import calls, fuzz_text, prose  # noqa: E402

from rest_rl.rewards import (  # noqa: E402
    RewardConfig,
    format_ok,
    gold_from_text,
    reward_ranges,
    toolrl_reward,
)
from rest_rl.rewards.toolrl import FORMAT_CHECKS, SCHEDULES, VARIANTS  # noqa: E402
from rest_rl.toolcall import ToolCall, render_toolrl  # noqa: E402

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "toolrl"

configs = st.builds(
    RewardConfig,
    format_check=st.sampled_from(FORMAT_CHECKS),
    schedule=st.sampled_from(SCHEDULES),
    dynamic_horizon=st.floats(min_value=0.01, max_value=10),
    variant=st.sampled_from(VARIANTS),
    two_stage_switch=st.floats(min_value=0, max_value=1),
    length_target_words=st.integers(min_value=1, max_value=1000),
    length_weight=st.floats(min_value=0, max_value=5),
)
progresses = st.floats(allow_nan=True, allow_infinity=True) | st.floats(min_value=0, max_value=1)

GOLD = [ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {})]


def _within(value: float, lo_hi: tuple[float, float]) -> bool:
    lo, hi = lo_hi
    return math.isfinite(value) and lo - 1e-9 <= value <= hi + 1e-9


@settings(max_examples=400, deadline=None)
@given(
    completion=fuzz_text,
    gold=st.sampled_from([None, [], GOLD, [ToolCall("f", {"a": 1})]]),
    has_response=st.booleans(),
    progress=progresses,
    config=configs,
)
def test_any_text_gives_a_finite_reward_within_the_active_ranges(
    completion: str, gold, has_response: bool, progress: float, config: RewardConfig
) -> None:
    r = toolrl_reward(completion, gold, gold_has_response=has_response, progress=progress, config=config)
    ranges = reward_ranges(config, progress)
    assert r.format in ranges.format
    assert _within(r.correctness, ranges.correctness)
    assert _within(r.total, ranges.total)
    assert _within(r.extra.get("length", 0.0), ranges.length)
    if not gold and config.variant != "tool_n1":
        assert r.correctness == 0.0


@settings(max_examples=150, deadline=None)
@given(calls, prose, st.none() | prose, st.floats(min_value=0, max_value=1), st.sampled_from(VARIANTS))
def test_a_rendered_gold_gets_the_maximum(cs, think, response, progress, variant) -> None:
    config = RewardConfig(variant=variant)
    text = render_toolrl(cs, think=think, response=response)
    r = toolrl_reward(text, cs, gold_has_response=response is not None, progress=progress, config=config)
    ranges = reward_ranges(config, progress)
    assert r.format == ranges.format[1]
    assert r.correctness == (ranges.correctness[1] if cs or variant == "tool_n1" else 0.0)


@settings(max_examples=100, deadline=None)
@given(calls, st.randoms(use_true_random=False))
def test_order_of_calls_does_not_matter(cs, rnd: random.Random) -> None:
    shuffled = list(cs)
    rnd.shuffle(shuffled)
    text = render_toolrl(shuffled, think="t")
    for variant in ("default", "coarse", "fine_grained", "intermediate", "tool_n1"):
        config = RewardConfig(variant=variant, schedule="static")
        r = toolrl_reward(text, cs, config=config)
        assert r.correctness == (reward_ranges(config).correctness[1] if cs or variant == "tool_n1" else 0.0)


@settings(max_examples=300, deadline=None)
@given(fuzz_text, st.booleans(), st.booleans())
def test_strict_pass_implies_relaxed_pass(text: str, has_calls: bool, has_response: bool) -> None:
    if format_ok(text, has_calls=has_calls, has_response=has_response, format_check="strict"):
        assert format_ok(text, has_calls=has_calls, has_response=has_response, format_check="relaxed")


def test_ranges_of_the_schedules() -> None:
    dyn = RewardConfig()
    assert reward_ranges(dyn, 0.0).format == (-2.0, 2.0)
    assert reward_ranges(dyn, 0.0).correctness == (-2.0, 2.0)
    assert reward_ranges(dyn, 0.25).format == (-1.75, 1.75)
    assert reward_ranges(dyn, 0.25).correctness == (-2.25, 2.25)
    assert reward_ranges(dyn, 1.0).format == (-1.0, 1.0)
    assert reward_ranges(dyn, 5.0).correctness == (-3.0, 3.0)
    assert reward_ranges(dyn, float("nan")).format == (-2.0, 2.0)
    assert reward_ranges(dyn, -1.0).format == (-2.0, 2.0)
    static = RewardConfig(schedule="static")
    assert reward_ranges(static, 0.7).format == (0.0, 1.0)
    assert reward_ranges(static, 0.7).correctness == (-3.0, 3.0)
    # ToolRL: p = step / 150 -> at step 60, format [-1.6, 1.6], correctness [-2.4, 2.4]
    r = reward_ranges(RewardConfig(dynamic_horizon=150 / 105), 60 / 105)
    assert r.format == pytest.approx((-1.6, 1.6)) and r.correctness == pytest.approx((-2.4, 2.4))


def test_config_validation_and_help() -> None:
    for bad in (
        {"format_check": "loose"},
        {"schedule": "cosine"},
        {"variant": "nope"},
        {"dynamic_horizon": 0.0},
        {"length_target_words": 0},
        {"length_weight": -1.0},
    ):
        with pytest.raises(ValueError):
            RewardConfig(**bad)
    assert all(f.metadata.get("help") for f in fields(RewardConfig))
    assert set(RewardConfig.help()) == {f.name for f in fields(RewardConfig)}


def test_non_string_completion_gets_the_minimum() -> None:
    r = toolrl_reward(None, GOLD, config=RewardConfig(schedule="static"))  # type: ignore[arg-type]
    assert (r.format, r.correctness) == (0.0, -3.0)


def test_gold_given_as_dicts_is_accepted() -> None:
    text = render_toolrl(GOLD, think="t")
    gold = [c.to_dict("parameters") for c in GOLD]
    assert toolrl_reward(text, gold, config=RewardConfig(schedule="static")).correctness == 3.0  # type: ignore[arg-type]


def test_real_gold_answers_score_the_maximum_against_themselves() -> None:
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is missing")
    pd = pytest.importorskip("pandas")
    golds = [r["output"] for r in json.loads((DATA / "rlla_sft.json").read_text(encoding="utf-8"))]
    golds += list(pd.read_parquet(DATA / "rlla_4k_test.parquet")["reward_model"].map(lambda r: r["ground_truth"]))
    strict = RewardConfig(format_check="strict")
    strict_failures = mentions = 0
    for gold in golds:
        calls_, has_response = gold_from_text(gold)
        r = toolrl_reward(gold, calls_, gold_has_response=has_response)
        assert (r.format, r.correctness) == (2.0, 2.0 if calls_ else 0.0), gold[-300:]
        s = toolrl_reward(gold, calls_, gold_has_response=has_response, config=strict)
        think = gold.split("</think>")[0]
        mentions_tag = "<tool_call>" in think or "<response>" in think
        # ToolRL-style strict counting fails exactly the golds whose reasoning mentions a tag.
        assert (s.format < 0) == mentions_tag
        strict_failures += s.format < 0
        mentions += mentions_tag
    assert strict_failures == mentions == 17  # of 480
