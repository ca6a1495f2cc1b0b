"""The ToolRL reward with ResT's schedule, loaded and called the way verl does it: verl's
``get_custom_reward_fn`` (pkg:// path + reward_kwargs) inside verl's ``NaiveRewardManager``."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verl", reason="verl is not installed here; `make test-verl` runs these tests in .venv-verl")
import torch
from omegaconf import OmegaConf
from verl import DataProto
from verl.trainer.ppo.reward import get_custom_reward_fn
from verl.workers.reward_manager import NaiveRewardManager

from rest_rl.rewards import RewardConfig, gold_from_text, toolrl_reward

GOLD = '<think> weather </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Oslo"}}\n</tool_call>'
RIGHT = '<think> Oslo weather. </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Oslo"}}\n</tool_call>'
BAD_FORMAT = '{"name": "get_weather", "parameters": {"city": "Oslo"}}'
PARTIAL = '<think> x </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Bergen"}}\n</tool_call>'


def _manager(tokenizer, **reward_kwargs):
    config = OmegaConf.create(
        {
            "reward": {
                "custom_reward_function": {
                    "path": "pkg://rest_rl.integrations.verl.reward",
                    "name": "compute_score",
                    "reward_kwargs": reward_kwargs,
                }
            }
        }
    )
    return NaiveRewardManager(tokenizer=tokenizer, num_examine=0, compute_score=get_custom_reward_fn(config))


def _data(tokenizer, texts, step):
    prompt = tokenizer("<user> weather in Oslo? </user>", add_special_tokens=False)["input_ids"]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    length = max(map(len, rows)) + 1
    responses = torch.zeros(len(rows), length, dtype=torch.long)
    attention = torch.zeros(len(rows), len(prompt) + length, dtype=torch.long)
    attention[:, : len(prompt)] = 1
    for i, ids in enumerate(rows):
        responses[i, : len(ids)] = torch.tensor(ids)
        attention[i, len(prompt) : len(prompt) + len(ids)] = 1
    extra = [{"index": i} if step is None else {"index": i, "rest_global_step": step} for i in range(len(rows))]
    return DataProto.from_dict(
        tensors={
            "prompts": torch.tensor([prompt] * len(rows)),
            "responses": responses,
            "attention_mask": attention,
        },
        non_tensors={
            "data_source": np.array(["rlla"] * len(rows), dtype=object),
            "reward_model": np.array([{"ground_truth": GOLD, "style": "rule"}] * len(rows), dtype=object),
            "extra_info": np.array(extra, dtype=object),
        },
    ), rows


def _expected(text, step):
    calls, has_response = gold_from_text(GOLD)
    return toolrl_reward(text, calls, gold_has_response=has_response, progress=step / 150, config=RewardConfig()).total


@pytest.mark.parametrize("step", [0, 75, 150])
def test_verls_reward_manager_scores_with_the_dynamic_schedule(tokenizer, step):
    texts = [RIGHT, BAD_FORMAT, PARTIAL]
    data, rows = _data(tokenizer, texts, step)
    out = _manager(tokenizer, schedule="dynamic", format_check="relaxed", horizon_steps=150)(data, return_dict=True)
    scores = out["reward_tensor"]
    for i, (text, ids) in enumerate(zip(texts, rows)):
        assert scores[i, len(ids) - 1].item() == pytest.approx(_expected(text, step))
        assert scores[i].abs().sum().item() == pytest.approx(abs(scores[i, len(ids) - 1].item()))
    assert out["reward_extra_info"]["schedule_p"] == [pytest.approx(step / 150)] * 3
    assert out["reward_extra_info"]["exact_match"] == [1.0, 0.0, 0.0]


def test_schedule_moves_the_reward(tokenizer):
    manager = _manager(tokenizer)
    early = manager(_data(tokenizer, [RIGHT, BAD_FORMAT], 0)[0], return_dict=True)["reward_extra_info"]["score"]
    late = manager(_data(tokenizer, [RIGHT, BAD_FORMAT], 150)[0], return_dict=True)["reward_extra_info"]["score"]
    assert early == [pytest.approx(4.0), pytest.approx(-4.0)]  # format 2 + correctness 2; -2 - 2
    assert late == [pytest.approx(4.0), pytest.approx(-4.0)]  # format 1 + correctness 3; -1 - 3
    static = _manager(tokenizer, schedule="static")(_data(tokenizer, [RIGHT], 0)[0], return_dict=True)
    assert static["reward_extra_info"]["score"] == [pytest.approx(4.0)]  # format 1 + correctness 3
    mid = manager(_data(tokenizer, [PARTIAL], 75)[0], return_dict=True)["reward_extra_info"]
    zero = manager(_data(tokenizer, [PARTIAL], 0)[0], return_dict=True)["reward_extra_info"]
    assert mid["score"] != zero["score"] and mid["format"] == [pytest.approx(1.5)]


def test_no_step_means_the_start_of_the_schedule(tokenizer):
    data, _ = _data(tokenizer, [PARTIAL], None)
    out = _manager(tokenizer)(data, return_dict=True)["reward_extra_info"]
    assert out["schedule_p"] == [0.0] and out["score"] == [pytest.approx(_expected(PARTIAL, 0))]


def test_hostile_responses_get_finite_scores(tokenizer):
    from rest_rl.integrations.verl.reward import compute_score

    for text in ["", "<tool_call>\n{\"name\": ", "<think>" * 50, "\x00\ufffd</tool_call>", None, 12]:
        out = compute_score("rlla", text, GOLD, {"rest_global_step": 10})
        assert np.isfinite(out["score"]) and out["score"] <= 0
    with pytest.raises(ValueError):
        compute_score("rlla", RIGHT, GOLD, {}, dynamic_horizon=2.0)
