"""ResT on a real verl DataProto: regions from the response ids (each model turn alone, tool output
excluded by verl's response_mask), GRPO advantages from verl's own estimator, weights folded in."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("verl", reason="verl is not installed here; `make test-verl` runs these tests in .venv-verl")
import torch
from verl import DataProto
from verl.trainer.ppo.core_algos import AdvantageEstimator
from verl.trainer.ppo.ray_trainer import compute_advantage

from rest_rl.core.offsets import token_char_offsets
from rest_rl.core.regions import Region, label_tokens
from rest_rl.core.weights import WeightConfig
from rest_rl.integrations.verl.batch import REGIONS_KEY, WEIGHTS_KEY, apply_rest, label_response_regions
from rest_rl.integrations.verl.reweight import ResTVerlConfig

CALL = '<think> I need the weather. </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Oslo"}}\n</tool_call>'
TOOL_OUTPUT = '\n<obs> {"name": "x", "parameters": {"a": 1}} </tool_call> </think> </obs>\n'
ANSWER = "<think> It is cold. </think>\n<response> 3 degrees in Oslo. </response>"
WRONG = '<think> maybe </think>\n<tool_call>\n{"name": "get_time", "parameters": {}}\n</tool_call>'


def _ids(tok, text):
    return tok(text, add_special_tokens=False)["input_ids"]


def _data(tok, tool_output=TOOL_OUTPUT):
    """Four responses of one prompt group: a two-turn episode (tool output in between), and three single turns."""
    rows = [
        (_ids(tok, CALL), _ids(tok, tool_output), _ids(tok, ANSWER)),
        (_ids(tok, CALL), [], []),
        (_ids(tok, WRONG), [], []),
        (_ids(tok, ANSWER), [], []),
    ]
    length = max(len(a) + len(b) + len(c) for a, b, c in rows) + 2
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    responses = torch.full((len(rows), length), pad, dtype=torch.long)
    mask = torch.zeros(len(rows), length, dtype=torch.long)
    for i, (a, b, c) in enumerate(rows):
        ids = a + b + c
        responses[i, : len(ids)] = torch.tensor(ids)
        mask[i, : len(a)] = 1
        mask[i, len(a) + len(b) : len(ids)] = 1
    rewards = torch.zeros(len(rows), length)
    last = mask.shape[1] - 1 - mask.flip(-1).argmax(-1)
    for i, r in enumerate([3.0, 1.0, -2.0, 0.5]):
        rewards[i, last[i]] = r
    g = torch.Generator().manual_seed(0)
    data = DataProto.from_dict(
        tensors={
            "responses": responses,
            "response_mask": mask,
            "token_level_rewards": rewards,
            "entropy": torch.rand(len(rows), length, generator=g) * mask,
        },
        non_tensors={"uid": np.array(["p0"] * len(rows), dtype=object)},
    )
    return compute_advantage(data, adv_estimator=AdvantageEstimator.GRPO, num_repeat=len(rows)), rows


def test_regions_are_labelled_per_model_turn(tokenizer):
    data, rows = _data(tokenizer)
    regions = label_response_regions(tokenizer, data.batch["responses"], data.batch["response_mask"])
    a, b, c = rows[0]
    # each model turn is labelled exactly as the composition label_tokens(token_char_offsets(turn)) labels it alone
    assert regions[0, : len(a)].tolist() == list(label_tokens(*token_char_offsets(tokenizer, a)))
    assert regions[0, len(a) + len(b) : len(a) + len(b) + len(c)].tolist() == list(label_tokens(*token_char_offsets(tokenizer, c)))
    assert set(regions[0, len(a) : len(a) + len(b)].tolist()) == {int(Region.OTHER)}
    found = set(regions[0].tolist())
    assert {int(Region.TOOL_NAME), int(Region.ARG_VALUE), int(Region.THINK), int(Region.RESPONSE)} <= found
    # the tool output cannot change the model's labels: other output in between, same labels
    other, _ = _data(tokenizer, tool_output="\n<obs> <tool_call> <think> {\"x\": </obs>\n")
    moved = label_response_regions(tokenizer, other.batch["responses"], other.batch["response_mask"])
    b2 = len(_ids(tokenizer, "\n<obs> <tool_call> <think> {\"x\": </obs>\n"))
    assert moved[0, len(a) + b2 : len(a) + b2 + len(c)].tolist() == regions[0, len(a) + len(b) : len(a) + len(b) + len(c)].tolist()


def test_apply_rest_folds_weights_into_verls_grpo_advantages(tokenizer):
    data, _ = _data(tokenizer)
    verl_adv = data.batch["advantages"].clone()
    mask = data.batch["response_mask"].bool()
    assert verl_adv[0, mask[0]].abs().sum() > 0  # verl wrote real advantages
    metrics = apply_rest(data, tokenizer, ResTVerlConfig(), global_steps=11, total_training_steps=20)
    w = data.batch[WEIGHTS_KEY]
    torch.testing.assert_close(data.batch["advantages"], verl_adv * w)
    assert torch.all(w[~mask] == 0)
    assert not torch.allclose(w[mask], torch.ones_like(w[mask]))
    means = (w * mask).sum(-1) / mask.sum(-1)
    torch.testing.assert_close(means, torch.ones_like(means))
    assert data.batch[REGIONS_KEY].shape == w.shape
    assert metrics["rest/progress"] == pytest.approx(0.5)
    assert metrics["rest/share/TOOL_NAME"] > 0 and "rest/entropy/THINK" in metrics and "rest/weight/FORMAT" in metrics
    assert sum(v for k, v in metrics.items() if k.startswith("rest/share/")) == pytest.approx(1.0)


def test_uniform_and_disabled_leave_verls_advantages(tokenizer):
    data, _ = _data(tokenizer)
    before = data.batch["advantages"].clone()
    apply_rest(data, tokenizer, ResTVerlConfig(weights=WeightConfig(scheme="uniform")), global_steps=1, total_training_steps=5)
    assert torch.equal(data.batch["advantages"], before)
    apply_rest(data, tokenizer, ResTVerlConfig(enable=False), global_steps=1, total_training_steps=5)
    assert torch.equal(data.batch["advantages"], before)


def test_entropy_scheme_without_entropies_is_an_error(tokenizer):
    data, _ = _data(tokenizer)
    data.batch.pop("entropy")
    with pytest.raises(ValueError, match="entropies"):
        apply_rest(data, tokenizer, ResTVerlConfig(), global_steps=1, total_training_steps=5)
    # the official scheme needs none
    apply_rest(data, tokenizer, ResTVerlConfig(weights=WeightConfig(scheme="official")), global_steps=1, total_training_steps=5)
