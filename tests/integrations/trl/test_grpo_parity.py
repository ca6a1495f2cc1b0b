"""Parity of ResTGRPOTrainer with TRL's own GRPOTrainer, and with an independent recomputation.

Both trainers get copies of the same weights and the *same* inputs dict (generated once, with a
scripted policy, by the ResT trainer; TRL ignores the extra region key). Old log-probs are
perturbed so that ratios spread over both clip bounds. If a TRL upgrade moves the seam the ResT
trainer relies on (entropies from the training forward, advantages read after it, the
normalisers), these tests fail.
"""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close
from trl import GRPOConfig, GRPOTrainer

from rest_rl.core.entropy import logprobs_and_entropy_from_logits
from rest_rl.core.loss import clipped_policy_loss
from rest_rl.core.weights import token_weights
from rest_rl.integrations.trl import REGIONS_KEY, ResTGRPOConfig, ResTGRPOTrainer, make_reward_funcs

GLOBAL_STEP, MAX_STEPS = 3, 10  # progress 0.3


def _trainers(make_model, tokenizer, dataset, cpu_kwargs, *, loss_type, trl_loss_type=None, ga=1, **rest):
    common = cpu_kwargs(loss_type=loss_type, gradient_accumulation_steps=ga)
    rewards = make_reward_funcs()
    trl_args = GRPOConfig(**{**common, "loss_type": trl_loss_type or loss_type})
    rest_args = ResTGRPOConfig(**common, **rest)
    if rest_args.delta is not None:
        trl_args.delta = rest_args.delta
    kwargs = dict(reward_funcs=rewards, train_dataset=dataset, processing_class=tokenizer)
    trl_trainer = GRPOTrainer(model=make_model(), args=trl_args, **kwargs)
    rest_trainer = ResTGRPOTrainer(model=make_model(), args=rest_args, **kwargs)
    for trainer in (trl_trainer, rest_trainer):
        trainer.model.train()
        trainer.state.global_step, trainer.state.max_steps = GLOBAL_STEP, MAX_STEPS
        trainer.current_gradient_accumulation_steps = ga
    return trl_trainer, rest_trainer


@pytest.fixture
def make_inputs(scripted, make_batch, off_policy):
    """``make_inputs(trainer)``: one generation batch from the scripted policy, made off-policy."""

    def build(trainer):
        scripted(trainer, seed=1)
        inputs = trainer._generate_and_score_completions(make_batch(2, 4))
        assert REGIONS_KEY in inputs and inputs["advantages"].abs().sum() > 0
        off_policy(trainer, inputs)
        return inputs

    return build


def _loss_and_grads(trainer, inputs):
    trainer.model.zero_grad(set_to_none=True)
    loss = trainer._compute_loss(trainer.model, inputs)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in trainer.model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _assert_same(loss_a, grads_a, loss_b, grads_b):
    assert_close(loss_b, loss_a, rtol=1e-6, atol=1e-7)
    assert grads_a.keys() == grads_b.keys() and grads_a
    for name in grads_a:
        assert_close(grads_b[name], grads_a[name], rtol=1e-5, atol=1e-6, msg=lambda m, n=name: f"{n}: {m}")


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo"])
def test_uniform_scheme_reproduces_trl_loss_and_gradients(
    loss_type, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, make_inputs
):
    trl_trainer, rest_trainer = _trainers(
        make_model, tiny_tokenizer, train_dataset, cpu_kwargs, loss_type=loss_type, ga=2, rest_scheme="uniform"
    )
    inputs = make_inputs(rest_trainer)
    advantages = inputs["advantages"].clone()
    _assert_same(*_loss_and_grads(trl_trainer, inputs), *_loss_and_grads(rest_trainer, inputs))
    assert torch.equal(inputs["advantages"], advantages)  # the batch dict is never modified
    assert rest_trainer._metrics["train"]["rest/share/OTHER"]  # metrics still logged


@pytest.mark.parametrize("loss_type", ["grpo", "dapo", "dr_grpo", "bnpo"])
def test_unit_weights_through_the_advantages_reproduce_trl(
    loss_type, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, make_inputs
):
    """The reweighting path itself (advantages scaled per token) is exact when every weight is 1."""
    unit = {f"rest_official_{k}": 1.0 for k in ("format_weight", "tool_name_weight", "other_weight")}
    unit.update(rest_official_args_start=1.0, rest_official_think_start=1.0, rest_official_args_slope=0.0)
    unit.update(rest_official_think_slope=0.0)
    trl_trainer, rest_trainer = _trainers(
        make_model, tiny_tokenizer, train_dataset, cpu_kwargs, loss_type=loss_type, rest_scheme="official", **unit
    )
    assert rest_trainer._rest_reweights
    inputs = make_inputs(rest_trainer)
    _assert_same(*_loss_and_grads(trl_trainer, inputs), *_loss_and_grads(rest_trainer, inputs))


def test_weighted_token_mean_with_unit_weights_is_trl_bnpo(
    make_model, tiny_tokenizer, train_dataset, cpu_kwargs, make_inputs
):
    """sum(m*w*l)/(sum(m*w)+1e-8) with w = 1 is TRL's bnpo, whatever loss_type carries it."""
    trl_trainer, rest_trainer = _trainers(
        make_model,
        tiny_tokenizer,
        train_dataset,
        cpu_kwargs,
        loss_type="grpo",
        trl_loss_type="bnpo",
        ga=2,
        rest_scheme="uniform",
        rest_aggregation="weighted-token-mean",
    )
    inputs = make_inputs(rest_trainer)
    _assert_same(*_loss_and_grads(trl_trainer, inputs), *_loss_and_grads(rest_trainer, inputs))


def _core_loss(trainer, inputs, *, aggregation, normalizer, ga, dual_clip):
    """The ResT loss recomputed from rest_rl.core on the same tensors (plain logits forward)."""
    ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
    attn = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
    length = inputs["completion_ids"].size(1)
    mask = inputs["completion_mask"]
    logits = trainer.model(input_ids=ids, attention_mask=attn).logits[:, -length - 1 : -1]
    labels = inputs["completion_ids"].masked_fill(mask == 0, -100)
    logp, entropy = logprobs_and_entropy_from_logits(logits, labels, temperature=trainer.temperature)
    weights = token_weights(
        inputs[REGIONS_KEY],
        mask,
        trainer.args.to_weight_config(),
        entropy=entropy.detach(),
        progress=GLOBAL_STEP / MAX_STEPS,
        step=GLOBAL_STEP,
    ).weights
    out = clipped_policy_loss(
        logp,
        inputs["old_per_token_logps"],
        inputs["advantages"],
        mask,
        weights,
        eps_low=trainer.epsilon_low,
        eps_high=trainer.epsilon_high,
        dual_clip=dual_clip,
        aggregation=aggregation,
        normalizer=normalizer,
    )
    return out.loss / ga, weights


@pytest.mark.parametrize(
    ("loss_type", "rest_aggregation", "dual_clip"),
    [
        ("grpo", "loss_type", None),
        ("dapo", "loss_type", None),
        ("dr_grpo", "loss_type", 1.5),
        ("dapo", "weighted-token-mean", 1.5),
    ],
)
def test_entropy_scheme_equals_core_recomputation(
    loss_type, rest_aggregation, dual_clip, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, make_inputs
):
    ga = 2
    trl_trainer, rest_trainer = _trainers(
        make_model,
        tiny_tokenizer,
        train_dataset,
        cpu_kwargs,
        loss_type=loss_type,
        ga=ga,
        rest_scheme="entropy",
        rest_aggregation=rest_aggregation,
        rest_dual_clip=dual_clip,
    )
    inputs = make_inputs(rest_trainer)
    advantages = inputs["advantages"].clone()
    loss, grads = _loss_and_grads(rest_trainer, inputs)
    assert torch.equal(inputs["advantages"], advantages)  # weights ride on a copy: buffered batches stay intact

    if rest_aggregation == "weighted-token-mean":
        aggregation, normalizer, divide = "weighted-token-mean", None, ga
    elif loss_type == "grpo":
        aggregation, normalizer, divide = "seq-mean-token-mean", None, ga
    elif loss_type == "dr_grpo":
        aggregation, normalizer, divide = "constant", float(rest_trainer.max_completion_length), ga
    else:  # dapo: TRL's global token count, rescaled to one accumulation window; no extra / GA
        spg = rest_trainer.args.steps_per_generation
        normalizer = inputs["num_items_in_batch"].float() * ga / spg
        aggregation, divide = "token-mean", 1
    rest_trainer.model.zero_grad(set_to_none=True)
    expected, weights = _core_loss(
        rest_trainer, inputs, aggregation=aggregation, normalizer=normalizer, ga=divide, dual_clip=dual_clip
    )
    expected.backward()
    expected_grads = {
        n: p.grad.detach().clone() for n, p in rest_trainer.model.named_parameters() if p.grad is not None
    }
    _assert_same(expected.detach(), expected_grads, loss, grads)

    # The weights are not uniform here, so the loss is not TRL's.
    mask = inputs["completion_mask"].bool()
    assert weights[mask].std() > 0.05
    trl_loss, _ = _loss_and_grads(trl_trainer, inputs)
    assert abs(float(trl_loss) - float(loss)) > 1e-3 * abs(float(loss))
    if dual_clip is not None:
        assert rest_trainer.args.delta == dual_clip == trl_trainer.args.delta
        assert rest_trainer._metrics["train"]["rest/dual_clip_frac"][-1] > 0  # the cap was active somewhere


def test_a_moved_trl_seam_fails_loudly(monkeypatch, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, make_inputs):
    """If TRL's _compute_loss stops feeding its entropy forward through the hook, training stops."""
    _, rest_trainer = _trainers(make_model, tiny_tokenizer, train_dataset, cpu_kwargs, loss_type="grpo")
    inputs = make_inputs(rest_trainer)
    monkeypatch.setattr(GRPOTrainer, "_compute_loss", lambda self, model, inputs: torch.zeros(()))
    with pytest.raises(RuntimeError, match="seam"):
        rest_trainer._compute_loss(rest_trainer.model, inputs)
