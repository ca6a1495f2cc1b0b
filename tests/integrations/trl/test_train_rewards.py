"""The ToolRL reward as a TRL reward function: call protocol, progress, components, untrusted input."""

from __future__ import annotations

import json
import logging
import math
import pickle
from collections import defaultdict
from types import SimpleNamespace

import pytest

from rest_rl.rewards import RewardConfig, reward_ranges, toolrl_reward
from rest_rl.toolcall.types import ToolCall
from rest_rl.integrations.trl import ResTGRPOConfig, ToolRLReward, completion_text, make_reward_funcs, training_progress

GOLD = [{"name": "get_weather", "arguments": {"city": "Lisbon"}}]
GOOD = '<think> weather </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Lisbon"}}\n</tool_call>'
WRONG = '<think> weather </think>\n<tool_call>\n{"name": "get_time", "parameters": {"city": "Lisbon"}}\n</tool_call>'


def _conv(text):
    return [{"role": "assistant", "content": text}]


def _call(func, completions, *, gold=GOLD, has_response=False, state=None, **extra):
    """Call ``func`` the way TRL 1.16's _calculate_rewards does (columns as lists, hooks as kwargs)."""
    n = len(completions)
    return func(
        prompts=[[{"role": "user", "content": "q"}]] * n,
        completions=completions,
        completion_ids=[[0]] * n,
        gold_calls=[json.dumps(gold)] * n,
        gold_has_response=[has_response] * n,
        gold_has_call=[bool(gold)] * n,
        id=[str(i) for i in range(n)],
        trainer_state=state,
        **extra,
    )


def test_make_reward_funcs_returns_one_named_picklable_function():
    funcs = make_reward_funcs()
    assert len(funcs) == 1 and funcs[0].__name__ == "toolrl"
    assert pickle.loads(pickle.dumps(funcs[0])).config == RewardConfig()
    config = ResTGRPOConfig(output_dir="unused", bf16=False, reward_schedule="static", reward_format_check="strict")
    (func,) = make_reward_funcs(config)
    assert func.config.schedule == "static" and func.config.format_check == "strict"
    with pytest.raises(TypeError):
        make_reward_funcs("relaxed")


def test_conversational_and_plain_completions_score_like_the_core_reward():
    (func,) = make_reward_funcs()
    rewards = _call(func, [_conv(GOOD), _conv(WRONG), GOOD])
    expected = toolrl_reward(GOOD, [ToolCall("get_weather", {"city": "Lisbon"})]).total
    assert rewards[0] == rewards[2] == expected == reward_ranges().total[1]
    assert rewards[1] < rewards[0]


def test_progress_comes_from_the_trainer_state():
    (func,) = make_reward_funcs()  # dynamic schedule
    early = _call(func, [_conv(GOOD)], state=SimpleNamespace(global_step=0, max_steps=10))[0]
    late = _call(func, [_conv(GOOD)], state=SimpleNamespace(global_step=10, max_steps=10))[0]
    assert early == reward_ranges(RewardConfig(), 0.0).total[1] == 4.0
    assert late == reward_ranges(RewardConfig(), 1.0).total[1] == 4.0  # format 2 -> 1, correctness 2 -> 3
    bad_early = _call(func, [_conv("nonsense")], state=SimpleNamespace(global_step=0, max_steps=10))[0]
    bad_late = _call(func, [_conv("nonsense")], state=SimpleNamespace(global_step=10, max_steps=10))[0]
    assert (bad_early, bad_late) == (-4.0, -4.0)
    half = _call(func, [_conv(WRONG)], state=SimpleNamespace(global_step=5, max_steps=10))[0]
    assert half == toolrl_reward(WRONG, [ToolCall("get_weather", {"city": "Lisbon"})], progress=0.5).total
    (static,) = make_reward_funcs(RewardConfig(schedule="static"))
    assert _call(static, [_conv(GOOD)], state=SimpleNamespace(global_step=3, max_steps=10))[0] == 4.0

    seen = []
    (custom,) = make_reward_funcs(progress_fn=lambda state: seen.append(state) or 0.5)
    _call(custom, [_conv(WRONG)], state="the state")
    assert seen == ["the state"]


@pytest.mark.parametrize(
    ("step", "total", "expected"),
    [(0, 10, 0.0), (5, 10, 0.5), (10, 10, 1.0), (12, 10, 1.0), (3, 0, 0.0), (3, -1, 0.0), (None, None, 0.0)],
)
def test_training_progress(step, total, expected):
    assert training_progress(SimpleNamespace(global_step=step, max_steps=total)) == expected
    assert training_progress(None) == 0.0


@pytest.mark.parametrize(
    "completion",
    [
        None,
        42,
        {"role": "assistant"},
        [],
        [{"content": None}],
        [{"role": "assistant", "content": [{"text": "<think>"}]}],
        '<tool_call>\n{"name": ',
        "\x00\ud800",
        [{"role": "assistant", "content": "<think>" * 500}],
    ],
)
def test_untrusted_completions_get_a_finite_reward_in_range(completion):
    (func,) = make_reward_funcs()
    (reward,) = _call(func, [completion])
    low, high = reward_ranges().total
    assert reward is not None and math.isfinite(reward) and low <= reward <= high


def test_a_scoring_crash_gives_the_minimum(monkeypatch):
    import rest_rl.integrations.trl.rewards as module

    def boom(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module, "toolrl_reward", boom)
    (func,) = make_reward_funcs()
    assert _call(func, [_conv(GOOD)]) == [reward_ranges().total[0]]


def test_malformed_gold_is_unscored_with_one_warning(caplog):
    (func,) = make_reward_funcs()
    completions = [_conv(GOOD)] * 3
    with caplog.at_level(logging.WARNING, logger="rest_rl.integrations.trl.rewards"):
        rewards = func(
            prompts=["q"] * 3,
            completions=completions,
            gold_calls=["not json", json.dumps([{"arguments": {}}]), json.dumps(GOLD)],
        )
    assert rewards[:2] == [None, None] and rewards[2] == 4.0
    assert sum("unusable gold_calls" in r.message for r in caplog.records) == 1


def test_missing_gold_column_is_a_clear_error():
    (func,) = make_reward_funcs()
    with pytest.raises(ValueError, match="gold_calls"):
        func(prompts=["q"], completions=[GOOD])


def test_gold_without_call_and_with_response():
    (func,) = make_reward_funcs(RewardConfig(schedule="static"))
    answer = "<think> chat </think>\n<response> Hi! </response>"
    rewards = _call(func, [_conv(answer), _conv(GOOD)], gold=[], has_response=True)
    assert rewards == [1.0, 0.0]  # format ok + correctness 0 (no gold call); the call breaks the format


def test_components_are_logged_through_trl_hooks():
    metrics: dict[str, list[float]] = defaultdict(list)
    extra: dict[str, list] = defaultdict(list)
    (func,) = make_reward_funcs()
    _call(
        func,
        [_conv(GOOD), _conv(WRONG), _conv("nothing")],
        state=SimpleNamespace(global_step=5, max_steps=10),
        log_metric=lambda name, value: metrics[name].append(value),
        log_extra=lambda column, values: extra[column].extend(values),
    )
    assert metrics["rewards/toolrl/format_ok"] == [pytest.approx(2 / 3)]
    assert metrics["rewards/toolrl/exact_match"] == [pytest.approx(1 / 3)]
    assert metrics["rewards/toolrl/schedule_p"] == [0.5]
    assert len(extra["format"]) == len(extra["correctness"]) == 3
    assert metrics["rewards/toolrl/format"] == [pytest.approx(sum(extra["format"]) / 3)]
    assert metrics["rewards/toolrl/correctness"] == [pytest.approx(sum(extra["correctness"]) / 3)]

    quiet = ToolRLReward(log_components=False)
    _call(quiet, [_conv(GOOD)], log_metric=lambda *a: pytest.fail("logged"), log_extra=lambda *a: pytest.fail("logged"))


def test_tokenizer_decodes_the_completion_ids(tiny_tokenizer):
    """With a tokenizer the reward scores decode(completion_ids): the text regions are labelled on."""
    ids = tiny_tokenizer(GOOD, add_special_tokens=False)["input_ids"] + [tiny_tokenizer.eos_token_id]
    (func,) = make_reward_funcs(tokenizer=tiny_tokenizer)
    # TRL's parsed message lost the tool call; the ids still hold it.
    rewards = func(
        prompts=["q"],
        completions=[_conv("<think> weather </think>")],
        completion_ids=[ids],
        gold_calls=[json.dumps(GOLD)],
    )
    assert rewards == [4.0]


def test_parsed_messages_are_written_back_as_tagged_text():
    message = {
        "role": "assistant",
        "content": "",
        "reasoning_content": " weather ",
        "tool_calls": [{"type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Lisbon"}'}}],
    }
    text = completion_text([message])
    assert text.startswith("<think> weather </think>") and '"name": "get_weather"' in text
    (func,) = make_reward_funcs()
    assert _call(func, [[message]]) == [4.0]
    assert completion_text([{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]) == "a"
    assert completion_text([{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]) == "x"
