"""Supervised baselines on TRL's SFTTrainer: SFT parity with TRL, TSFT / RSFT region weighting."""

from __future__ import annotations

import math

import pytest
import torch

from rest_rl.core.regions import Region, label_tokens
from rest_rl.core.offsets import token_char_offsets
from rest_rl.data.synthetic import SyntheticConfig, SyntheticWorld
from rest_rl.models.tiny import TinyModelConfig, make_embedded_model
from rest_rl.integrations.trl.sft import (
    ResTSFTConfig,
    ResTSFTTrainer,
    completion_regions,
    sft_dataset,
    sft_region_weights,
)

SFT_WORLD = SyntheticConfig(seed=5, n_train=48, n_validation=0, n_test=8, p_no_call=0.2)
SFT_TINY = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, ffn_multiplier=2, seed=0)


@pytest.fixture(scope="module")
def sft_model_dir(tmp_path_factory):
    return make_embedded_model(tmp_path_factory.mktemp("sft-model"), SFT_WORLD, config=SFT_TINY, vocab_size=400)


@pytest.fixture(scope="module")
def sft_examples():
    return SyntheticWorld(SFT_WORLD).sample(16, "train", seed=0)


@pytest.fixture(scope="module")
def tokenizer(sft_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(sft_model_dir)


def _args(tmp_path, **overrides):
    kwargs = dict(
        output_dir=str(tmp_path),
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        learning_rate=1e-2,
        per_device_train_batch_size=8,
        max_steps=2,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        seed=0,
        disable_tqdm=True,
        dataset_num_proc=None,
        shuffle_dataset=False,
    )
    kwargs.update(overrides)
    return kwargs


def _trainer(cls, args_cls, model_dir, tokenizer, examples, tmp_path, **overrides):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir)
    return cls(
        model=model,
        args=args_cls(**_args(tmp_path, **overrides)),
        train_dataset=sft_dataset(examples, style="compact"),
        processing_class=tokenizer,
    )


# ----------------------------------------------------------------------------------------------------------
# Pure pieces
# ----------------------------------------------------------------------------------------------------------


def test_region_weight_tables_of_the_three_baselines():
    sft = sft_region_weights("sft")
    assert sft == [1.0] * len(Region)
    tsft = sft_region_weights("tsft", 3.0)
    assert [r for r in Region if tsft[r] == 3.0] == [Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE]
    assert all(tsft[r] == 1.0 for r in Region if r not in (Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE))
    rsft = sft_region_weights("rsft", 2.5)
    assert [r for r in Region if rsft[r] != 1.0] == [Region.THINK] and rsft[Region.THINK] == 2.5
    custom = sft_region_weights("custom", custom={"think": 0, "Scaffold": 0.5})
    assert custom[Region.THINK] == 0.0 and custom[Region.SCAFFOLD] == 0.5 and custom[Region.FORMAT] == 1.0


@pytest.mark.parametrize(
    "mode, custom, message",
    [("nope", None, "unknown SFT mode"), ("custom", {"BRAIN": 2}, "unknown region"), ("custom", {"THINK": -1}, ">= 0")],
)
def test_bad_weight_tables_are_rejected(mode, custom, message):
    with pytest.raises(ValueError, match=message):
        sft_region_weights(mode, custom=custom)


def test_config_rejects_weighted_mode_with_packing(tmp_path):
    with pytest.raises(ValueError, match="packing=False"):
        ResTSFTConfig(**_args(tmp_path, rest_sft_mode="tsft", packing=True, max_length=64))
    with pytest.raises(ValueError, match="rest_sft_mode"):
        ResTSFTConfig(**_args(tmp_path, rest_sft_mode="bogus"))


def test_completion_regions_label_only_the_trained_tokens(tokenizer, sft_examples):
    ex = next(e for e in sft_examples if e.gold_calls)
    prompt = tokenizer("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", add_special_tokens=False)["input_ids"]
    target = tokenizer(ex.gold_text(), add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = prompt + target
    labels = [-100] * len(prompt) + target
    regions = completion_regions(tokenizer, ids, labels)
    assert regions[: len(prompt)] == [-1] * len(prompt)
    text, offsets = token_char_offsets(tokenizer, target)
    assert regions[len(prompt) :] == [int(c) for c in label_tokens(text, offsets)]
    assert Region.TOOL_NAME in regions and Region.THINK in regions and regions[-1] == Region.OTHER  # EOS


def test_sft_dataset_is_prompt_completion_and_drops_tools_unless_chat_template(sft_examples):
    data = sft_dataset(sft_examples, style="compact")
    assert data.column_names == ["prompt", "completion", "id"]
    row = data[0]
    assert row["prompt"][0]["role"] == "system" and row["completion"][0]["role"] == "assistant"
    assert row["completion"][0]["content"].startswith("<think>")
    assert "tools" in sft_dataset(sft_examples, style="chat_template").column_names


# ----------------------------------------------------------------------------------------------------------
# Parity with TRL and weighting
# ----------------------------------------------------------------------------------------------------------


def test_plain_sft_matches_trl_sft_trainer(sft_model_dir, tokenizer, sft_examples, tmp_path):
    """rest_sft_mode='sft': same losses and same weights after two steps as TRL's own SFTTrainer."""
    from trl import SFTConfig, SFTTrainer

    ours = _trainer(ResTSFTTrainer, ResTSFTConfig, sft_model_dir, tokenizer, sft_examples, tmp_path / "a")
    theirs = _trainer(SFTTrainer, SFTConfig, sft_model_dir, tokenizer, sft_examples, tmp_path / "b")
    ours.train()
    theirs.train()
    loss_a = [h["loss"] for h in ours.state.log_history if "loss" in h]
    loss_b = [h["loss"] for h in theirs.state.log_history if "loss" in h]
    assert loss_a == pytest.approx(loss_b, rel=1e-6, abs=1e-7)
    for (name, pa), (_, pb) in zip(ours.model.named_parameters(), theirs.model.named_parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6, msg=name)
    logged = ours.state.log_history[0]
    assert logged["mean_token_accuracy"] == pytest.approx(theirs.state.log_history[0]["mean_token_accuracy"])
    assert logged["rest/weight/THINK"] == 1.0 and 0 < logged["rest/share/THINK"] < 1


@pytest.mark.parametrize("mode", ["tsft", "rsft"])
def test_weighted_loss_is_the_region_weighted_token_mean(mode, sft_model_dir, tokenizer, sft_examples, tmp_path):
    trainer = _trainer(
        ResTSFTTrainer, ResTSFTConfig, sft_model_dir, tokenizer, sft_examples, tmp_path, rest_sft_mode=mode, rest_upweight=3.0
    )
    batch = next(iter(trainer.get_train_dataloader()))
    regions = batch["regions"].clone()
    loss = trainer.compute_loss(trainer.model, dict(batch)).detach()

    with torch.no_grad():
        logits = trainer.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    logp = torch.log_softmax(logits[:, :-1].float(), -1)
    labels = batch["labels"][:, 1:]
    mask = labels != -100
    nll = -logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1) * mask
    up = {Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE} if mode == "tsft" else {Region.THINK}
    codes = regions[:, 1:]
    w = torch.ones_like(nll)
    for r in up:
        w[codes == r] = 3.0
    w = w * mask
    w = w / (w.sum(1, keepdim=True) / mask.sum(1, keepdim=True))  # per-sequence mean 1
    expected = (nll * w).sum() / mask.sum()
    assert float(loss) == pytest.approx(float(expected), rel=1e-4)
    assert float(loss) != pytest.approx(float(nll.sum() / mask.sum()), rel=1e-4)  # the weights matter


def test_tsft_and_rsft_move_weight_between_regions(sft_model_dir, tokenizer, sft_examples, tmp_path):
    logs = {}
    for mode in ("tsft", "rsft"):
        t = _trainer(
            ResTSFTTrainer, ResTSFTConfig, sft_model_dir, tokenizer, sft_examples, tmp_path / mode, rest_sft_mode=mode, max_steps=1
        )
        t.train()
        logs[mode] = t.state.log_history[0]
    tsft, rsft = logs["tsft"], logs["rsft"]
    assert tsft["rest/weight/TOOL_NAME"] > 1.0 > tsft["rest/weight/THINK"]
    assert rsft["rest/weight/THINK"] > 1.0 > rsft["rest/weight/TOOL_NAME"]
    # normalised per sequence: the token-weighted mean weight is 1
    for log in (tsft, rsft):
        mean = sum(log[f"rest/share/{r.name}"] * log.get(f"rest/weight/{r.name}", 0.0) for r in Region)
        assert math.isclose(mean, 1.0, rel_tol=0.05)
