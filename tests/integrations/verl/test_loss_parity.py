"""ResT folded into verl's advantages, checked against verl's own policy loss and against rest_rl's core loss.

verl's actor computes ``policy_loss_fn(old_log_prob, log_prob, advantages, response_mask, loss_agg_mode,
config)`` with the function registered under ``actor.policy_loss.loss_mode`` ("vanilla": clipped PPO with
verl's dual clip). The adapter changes nothing but the advantages, so:
* uniform weights: the adapter's advantages, and so verl's loss and gradients, are verl's own, bit for bit;
* ResT weights: verl's loss on ``A * w`` equals ``rest_rl.core.loss.clipped_policy_loss`` with weights ``w``.
"""

from __future__ import annotations

import pytest

pytest.importorskip("verl", reason="verl is not installed here; `make test-verl` runs these tests in .venv-verl")
import torch
from verl.trainer.ppo.core_algos import get_policy_loss_fn
from verl.workers.config import FSDPActorConfig

from rest_rl.core.loss import clipped_policy_loss
from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.weights import WeightConfig
from rest_rl.integrations.verl.reweight import rest_reweight

AGG_MODES = ["token-mean", "token-sum", "seq-mean-token-sum", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
# verl's aggregation -> (rest_rl core aggregation, normalizer(T)); verl's seq modes average over sequences
# with at least one valid token, the batch below has no empty row.
CORE_AGG = {
    "token-mean": ("token-mean", lambda t: None),
    "seq-mean-token-mean": ("seq-mean-token-mean", lambda t: None),
    "seq-mean-token-sum-norm": ("constant", lambda t: float(t)),
}


def _batch(seed: int = 0, b: int = 6, t: int = 9):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([9, 7, 5, 9, 3, 8])[:b]
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    mask[1, 2:4] = 0.0  # a tool-output hole inside a response (multi-turn)
    old = -torch.rand(b, t, generator=g, dtype=torch.float64) * 3
    logp = (old + torch.randn(b, t, generator=g, dtype=torch.float64) * 0.4).requires_grad_(True)
    scores = torch.tensor([1.5, -0.5, 0.8, -1.2, 0.3, -2.0], dtype=torch.float64)[:b]
    adv = scores[:, None] * mask.double()  # verl's GRPO: the sequence advantage on every response token
    regions = torch.randint(0, NUM_REGIONS, (b, t), generator=g)
    entropy = torch.rand(b, t, generator=g, dtype=torch.float64) * 2
    return logp, old, adv, mask, regions, entropy


def _actor_config(agg: str) -> FSDPActorConfig:
    return FSDPActorConfig(strategy="fsdp", ppo_micro_batch_size_per_gpu=1, rollout_n=1, loss_agg_mode=agg)


def _verl_loss(logp, old, adv, mask, agg):
    fn = get_policy_loss_fn("vanilla")
    loss, metrics = fn(
        old_log_prob=old, log_prob=logp, advantages=adv, response_mask=mask.bool(), loss_agg_mode=agg,
        config=_actor_config(agg),
    )
    (grad,) = torch.autograd.grad(loss, logp)
    return loss.detach(), grad, metrics


@pytest.mark.parametrize("agg", AGG_MODES)
def test_uniform_weights_give_verls_own_loss_and_gradients(agg):
    logp, old, adv, mask, regions, entropy = _batch()
    out = rest_reweight(adv, regions, mask, WeightConfig(scheme="uniform"), entropy=entropy, progress=0.3, step=5)
    ref_loss, ref_grad, ref_metrics = _verl_loss(logp, old, adv, mask, agg)
    loss, grad, metrics = _verl_loss(logp, old, out.advantages, mask, agg)
    assert torch.equal(out.advantages, adv)
    assert torch.equal(loss, ref_loss) and torch.equal(grad, ref_grad)
    assert metrics == ref_metrics


@pytest.mark.parametrize("agg", sorted(CORE_AGG))
@pytest.mark.parametrize("scheme", ["entropy", "official"])
def test_rest_weights_through_verl_equal_the_core_loss(agg, scheme):
    logp, old, adv, mask, regions, entropy = _batch(seed=1)
    cfg = WeightConfig(scheme=scheme)
    out = rest_reweight(adv, regions, mask, cfg, entropy=entropy, progress=0.4, step=30)
    w = out.weights.double()
    assert not torch.allclose(w[mask.bool()], torch.ones_like(w[mask.bool()])), "weights must not be uniform here"
    loss, grad, _ = _verl_loss(logp, old, out.advantages, mask, agg)

    core_agg, normalizer = CORE_AGG[agg]
    logp2 = logp.detach().clone().requires_grad_(True)
    seq_adv = adv.sum(-1) / mask.sum(-1).clamp(min=1).double()  # the per-sequence advantage
    core = clipped_policy_loss(
        logp2, old, seq_adv, mask.bool(), w, eps_low=0.2, eps_high=0.2, dual_clip=3.0,
        aggregation=core_agg, normalizer=normalizer(mask.shape[1]),
    )
    (core_grad,) = torch.autograd.grad(core.loss, logp2)
    # verl's seq-mean-token-mean divides by (count + 1e-8): equal to 1e-8 relative
    torch.testing.assert_close(loss, core.loss.detach(), rtol=1e-7, atol=1e-12)
    torch.testing.assert_close(grad, core_grad, rtol=1e-7, atol=1e-12)


def test_rest_weights_change_verls_loss():
    """The parity above is not vacuous: ResT weights move verl's loss away from plain GRPO."""
    logp, old, adv, mask, regions, entropy = _batch(seed=2)
    out = rest_reweight(adv, regions, mask, WeightConfig(scheme="entropy"), entropy=entropy, progress=0.5, step=1)
    plain, plain_grad, _ = _verl_loss(logp, old, adv, mask, "seq-mean-token-mean")
    rest, rest_grad, _ = _verl_loss(logp, old, out.advantages, mask, "seq-mean-token-mean")
    assert not torch.allclose(rest_grad, plain_grad)
    # each response's weights average 1 over its trained tokens, 0 elsewhere
    m = mask.bool()
    means = (out.weights.double() * mask.double()).sum(-1) / mask.double().sum(-1)
    torch.testing.assert_close(means, torch.ones_like(means))
    assert torch.all(out.weights[~m] == 0)


def test_official_weights_follow_the_step_ramp():
    logp, old, adv, mask, regions, entropy = _batch(seed=3)
    regions[:] = int(Region.ARG_VALUE)
    regions[:, 0] = int(Region.TOOL_NAME)
    cfg = WeightConfig(scheme="official")
    early = rest_reweight(adv, regions, mask, cfg, entropy=None, progress=0.0, step=1).detail.region_weights
    late = rest_reweight(adv, regions, mask, cfg, entropy=None, progress=0.0, step=300).detail.region_weights
    assert float(early[Region.ARG_VALUE]) == pytest.approx(0.602)
    assert float(late[Region.ARG_VALUE]) == pytest.approx(1.2)
    assert float(late[Region.TOOL_NAME]) == pytest.approx(1.2)
