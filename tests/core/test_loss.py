"""Tests for rest_rl.core.loss: plain loop references, TRL's formulas, weights, masking, stats."""

from __future__ import annotations

import math

import pytest
import torch

from rest_rl.core.loss import AGGREGATIONS, PolicyLossOutput, clipped_policy_loss

# ---------------------------------------------------------------------------------------------
# references


def _loop_reference(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    *,
    eps_low: float,
    eps_high: float,
    aggregation: str,
    max_len: float | None = None,
    dual_clip: float | None = None,
    weights: torch.Tensor | None = None,
) -> tuple[float, list[list[float]]]:
    """Loss and d loss / d logp by explicit loops in Python floats (float64), analytic gradient."""
    batch, length = logp.shape
    lo, hi = 1.0 - eps_low, 1.0 + eps_high
    values = [[0.0] * length for _ in range(batch)]
    derivs = [[0.0] * length for _ in range(batch)]
    counts = [0] * batch
    for i in range(batch):
        for t in range(length):
            if not bool(mask[i, t]):
                continue
            counts[i] += 1
            a = float(adv[i]) if adv.dim() == 1 else float(adv[i, t])
            r = math.exp(float(logp[i, t]) - float(old[i, t]))
            clipped_r = min(max(r, lo), hi)
            if r * a <= clipped_r * a:  # unclipped branch active: d(-r*a)/dlogp = -r*a
                value, deriv = -r * a, -r * a
            else:  # clipped branch active: constant in logp
                value, deriv = -clipped_r * a, 0.0
            if dual_clip is not None and a < 0 and value > -dual_clip * a:
                value, deriv = -dual_clip * a, 0.0
            w = 1.0 if weights is None else float(weights[i, t])
            values[i][t], derivs[i][t] = w * value, w * deriv

    total_valid = sum(counts)
    loss = 0.0
    grad = [[0.0] * length for _ in range(batch)]
    for i in range(batch):
        for t in range(length):
            if aggregation == "seq-mean-token-mean":
                coef = 1.0 / (batch * max(counts[i], 1))
            elif aggregation == "token-mean":
                coef = 1.0 / max(total_valid, 1)
            elif aggregation == "constant":
                assert max_len is not None
                coef = 1.0 / (batch * max_len)
            else:
                raise AssertionError(aggregation)
            loss += coef * values[i][t]
            grad[i][t] = coef * derivs[i][t]
    return loss, grad


def _trl_loss(
    logp: torch.Tensor,
    old: torch.Tensor,
    adv: torch.Tensor,
    mask: torch.Tensor,
    loss_type: str,
    *,
    eps_low: float,
    eps_high: float,
    delta: float | None = None,
    max_completion_length: int | None = None,
) -> torch.Tensor:
    """The formula of TRL 1.16 ``GRPOTrainer._compute_loss`` (token-level IS, no KL), re-derived."""
    if adv.dim() == 1:
        adv = adv.unsqueeze(1)
    mask = mask.to(logp.dtype)
    coef_1 = torch.exp(logp - old)
    coef_2 = torch.clamp(coef_1, 1 - eps_low, 1 + eps_high)
    if delta is not None:
        coef_1 = torch.clamp(coef_1, max=delta)
    per_token_loss = -torch.min(coef_1 * adv, coef_2 * adv)
    if loss_type == "grpo":
        return ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    if loss_type == "bnpo":
        return (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    if loss_type == "dr_grpo":
        assert max_completion_length is not None
        return (per_token_loss * mask).sum() / (per_token_loss.size(0) * max_completion_length)
    raise AssertionError(loss_type)


def _inputs(
    seed: int = 0, batch: int = 6, length: int = 8, dtype: torch.dtype = torch.float64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Ratios spread over all clip regions, mixed-sign advantages, ragged mask with an empty row."""
    gen = torch.Generator().manual_seed(seed)
    logp = -torch.rand(batch, length, generator=gen, dtype=torch.float64) * 3
    old = logp + torch.randn(batch, length, generator=gen, dtype=torch.float64) * 0.5
    signs = torch.tensor([(-1.0) ** i for i in range(batch)], dtype=torch.float64)
    adv = (torch.rand(batch, generator=gen, dtype=torch.float64) + 0.1) * signs
    lengths = torch.randint(1, length + 1, (batch,), generator=gen)
    lengths[0] = length
    lengths[-1] = 0  # a row with no valid token
    mask = torch.arange(length)[None, :] < lengths[:, None]
    return logp.to(dtype), old.to(dtype), adv.to(dtype), mask


# the three baselines of the paper with uniform weights
BASELINES = [
    pytest.param("seq-mean-token-mean", 0.2, 0.2, None, id="grpo"),
    pytest.param("token-mean", 0.2, 0.28, None, id="dapo"),
    pytest.param("constant", 0.2, 0.2, 12.0, id="dr_grpo"),
]


# ---------------------------------------------------------------------------------------------
# uniform weights == plain references


@pytest.mark.parametrize("aggregation, eps_low, eps_high, max_len", BASELINES)
@pytest.mark.parametrize("uniform", ["none", "ones"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_uniform_weights_equal_loop_reference(
    aggregation: str, eps_low: float, eps_high: float, max_len: float | None, uniform: str, seed: int
) -> None:
    logp, old, adv, mask = _inputs(seed)
    weights = None if uniform == "none" else torch.ones_like(logp)
    logp.requires_grad_(True)
    out = clipped_policy_loss(
        logp, old, adv, mask, weights,
        eps_low=eps_low, eps_high=eps_high, aggregation=aggregation, normalizer=max_len,
    )  # fmt: skip
    want_loss, want_grad = _loop_reference(
        logp.detach(), old, adv, mask, eps_low=eps_low, eps_high=eps_high, aggregation=aggregation, max_len=max_len
    )
    (grad,) = torch.autograd.grad(out.loss, [logp])
    assert out.loss.dtype == torch.float64
    assert out.clip_frac_low.item() > 0 and out.clip_frac_high.item() > 0  # every branch is exercised
    assert out.loss.item() == pytest.approx(want_loss, rel=1e-12, abs=1e-14)
    torch.testing.assert_close(grad, torch.tensor(want_grad, dtype=torch.float64), rtol=1e-12, atol=1e-14)


def test_all_ones_weights_are_bitwise_identical_to_no_weights() -> None:
    logp, old, adv, mask = _inputs(seed=14)
    for aggregation in ("seq-mean-token-mean", "token-mean", "constant"):
        kwargs = {"aggregation": aggregation, "normalizer": 9.0 if aggregation == "constant" else None}
        a, b = logp.clone().requires_grad_(True), logp.clone().requires_grad_(True)
        none = clipped_policy_loss(a, old, adv, mask, **kwargs)
        ones = clipped_policy_loss(b, old, adv, mask, torch.ones_like(logp), **kwargs)
        assert torch.equal(none.loss, ones.loss)
        assert torch.equal(torch.autograd.grad(none.loss, [a])[0], torch.autograd.grad(ones.loss, [b])[0])


@pytest.mark.parametrize("delta", [None, 1.5])
@pytest.mark.parametrize(
    "loss_type, aggregation, eps_high",
    [("grpo", "seq-mean-token-mean", 0.2), ("bnpo", "token-mean", 0.28), ("dr_grpo", "constant", 0.2)],
)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_matches_trl_compute_loss_formula(
    loss_type: str, aggregation: str, eps_high: float, delta: float | None, dtype: torch.dtype
) -> None:
    logp, old, adv, mask = _inputs(seed=3, dtype=dtype)
    logp_ours = logp.clone().requires_grad_(True)
    logp_trl = logp.clone().requires_grad_(True)
    max_len = logp.shape[1]
    out = clipped_policy_loss(
        logp_ours, old, adv, mask,
        eps_low=0.2, eps_high=eps_high, ratio_cap=delta, aggregation=aggregation,
        normalizer=max_len if aggregation == "constant" else None,
    )  # fmt: skip
    ref = _trl_loss(
        logp_trl, old, adv, mask, loss_type, eps_low=0.2, eps_high=eps_high, delta=delta,
        max_completion_length=max_len,
    )  # fmt: skip
    tol = {"rtol": 1e-12, "atol": 1e-14} if dtype == torch.float64 else {"rtol": 1e-6, "atol": 1e-7}
    torch.testing.assert_close(out.loss, ref, **tol)
    (g_ours,) = torch.autograd.grad(out.loss, [logp_ours])
    (g_trl,) = torch.autograd.grad(ref, [logp_trl])
    torch.testing.assert_close(g_ours, g_trl, **tol)


def test_token_mean_with_global_normalizer_matches_trl_dapo() -> None:
    logp, old, adv, mask = _inputs(seed=4)
    n_items = 40.0  # global token count passed by the host
    out = clipped_policy_loss(logp, old, adv, mask, eps_high=0.28, aggregation="token-mean", normalizer=n_items)
    coef_1 = torch.exp(logp - old)
    ptl = -torch.min(coef_1 * adv[:, None], torch.clamp(coef_1, 0.8, 1.28) * adv[:, None])
    torch.testing.assert_close(out.loss, (ptl * mask).sum() / n_items)
    tensor_norm = clipped_policy_loss(
        logp, old, adv, mask, eps_high=0.28, aggregation="token-mean", normalizer=torch.tensor(n_items)
    )
    torch.testing.assert_close(tensor_norm.loss, out.loss)


def test_per_token_advantages_equal_broadcast_sequence_advantages() -> None:
    logp, old, adv, mask = _inputs(seed=5)
    a = clipped_policy_loss(logp, old, adv, mask)
    b = clipped_policy_loss(logp, old, adv[:, None].expand_as(logp).clone(), mask)
    c = clipped_policy_loss(logp, old, adv[:, None], mask)
    torch.testing.assert_close(a.loss, b.loss)
    torch.testing.assert_close(a.loss, c.loss)


def test_empty_rows_count_in_sequence_mean() -> None:
    logp, old, adv, mask = _inputs(seed=6, batch=2)
    assert not mask[1].any()
    out = clipped_policy_loss(logp, old, adv, mask, aggregation="seq-mean-token-mean")
    only_first = clipped_policy_loss(logp[:1], old[:1], adv[:1], mask[:1], aggregation="seq-mean-token-mean")
    torch.testing.assert_close(out.loss, only_first.loss / 2)


def test_no_valid_token_gives_zero_loss_and_stats() -> None:
    logp = torch.zeros(2, 3, requires_grad=True)
    mask = torch.zeros(2, 3, dtype=torch.bool)
    for aggregation in AGGREGATIONS:
        out = clipped_policy_loss(logp, logp.detach() + 1, torch.ones(2), mask, aggregation=aggregation, normalizer=3)
        assert out.loss.item() == 0.0 and out.clip_frac.item() == 0.0 and out.ratio_mean.item() == 0.0
        (grad,) = torch.autograd.grad(out.loss, [logp])
        assert torch.all(grad == 0)
    empty = torch.zeros(0, 4, requires_grad=True)
    out = clipped_policy_loss(empty, empty.detach(), torch.zeros(0), torch.zeros(0, 4))
    assert out.loss.item() == 0.0


# ---------------------------------------------------------------------------------------------
# dual clip and ratio cap


def test_dual_clip_bounds_negative_advantage_with_huge_ratio() -> None:
    # rows: (A=-1, r=10) bounded by c; (A=-1, r=2) untouched; (A=+1, r=10) ordinary clip.
    log_r = torch.tensor([[math.log(10.0)], [math.log(2.0)], [math.log(10.0)]], dtype=torch.float64)
    old = torch.zeros(3, 1, dtype=torch.float64)
    adv = torch.tensor([-1.0, -1.0, 1.0], dtype=torch.float64)
    mask = torch.ones(3, 1, dtype=torch.bool)

    logp = log_r.clone().requires_grad_(True)
    plain = clipped_policy_loss(logp, old, adv, mask, aggregation="token-mean")
    expected_plain = torch.tensor([10.0, 2.0, -1.2], dtype=torch.float64)
    torch.testing.assert_close(plain.per_token_loss.detach().view(-1), expected_plain)
    assert plain.dual_clip_frac.item() == 0.0

    out = clipped_policy_loss(logp, old, adv, mask, dual_clip=3.0, aggregation="token-mean")
    expected_dual = torch.tensor([3.0, 2.0, -1.2], dtype=torch.float64)
    torch.testing.assert_close(out.per_token_loss.detach().view(-1), expected_dual)
    (grad,) = torch.autograd.grad(out.loss, [logp])
    # d/dlogp of -r*A = -r*A = 2 for row 1, divided by 3 tokens; bounded and clipped rows: 0
    torch.testing.assert_close(grad.view(-1), torch.tensor([0.0, 2.0 / 3, 0.0], dtype=torch.float64))
    assert out.dual_clip_frac.item() == pytest.approx(1 / 3)
    assert out.clip_frac_high.item() == pytest.approx(1 / 3)

    want, want_grad = _loop_reference(
        log_r, old, adv, mask, eps_low=0.2, eps_high=0.2, aggregation="token-mean", dual_clip=3.0
    )
    assert out.loss.item() == pytest.approx(want, rel=1e-12)
    torch.testing.assert_close(grad, torch.tensor(want_grad, dtype=torch.float64))


def test_dual_clip_matches_loop_reference_on_random_inputs() -> None:
    logp, old, adv, mask = _inputs(seed=7)
    old = logp + torch.randn(logp.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 1.5
    logp.requires_grad_(True)
    out = clipped_policy_loss(logp, old, adv, mask, dual_clip=1.5)
    want, want_grad = _loop_reference(
        logp.detach(), old, adv, mask, eps_low=0.2, eps_high=0.2, aggregation="seq-mean-token-mean", dual_clip=1.5
    )
    (grad,) = torch.autograd.grad(out.loss, [logp])
    assert out.loss.item() == pytest.approx(want, rel=1e-12, abs=1e-14)
    torch.testing.assert_close(grad, torch.tensor(want_grad, dtype=torch.float64), rtol=1e-12, atol=1e-14)
    assert out.dual_clip_frac.item() > 0


def test_ratio_cap_bounds_negative_advantage_like_trl_delta() -> None:
    logp = torch.tensor([[math.log(10.0)]], dtype=torch.float64, requires_grad=True)
    out = clipped_policy_loss(logp, torch.zeros(1, 1, dtype=torch.float64), torch.tensor([-2.0], dtype=torch.float64),
                              torch.ones(1, 1), ratio_cap=3.0)  # fmt: skip
    assert out.loss.item() == pytest.approx(6.0)
    (grad,) = torch.autograd.grad(out.loss, [logp])
    assert grad.item() == 0.0


def test_extreme_log_ratio_stays_finite() -> None:
    logp = torch.tensor([[0.0, -1.0]], requires_grad=True)
    old = torch.tensor([[-500.0, -1.0]])
    out = clipped_policy_loss(logp, old, torch.tensor([-1.0]), torch.ones(1, 2), dual_clip=3.0)
    out.loss.backward()
    assert torch.isfinite(out.loss) and logp.grad is not None and torch.isfinite(logp.grad).all()
    assert torch.isfinite(out.approx_kl)


# ---------------------------------------------------------------------------------------------
# weights


def test_weights_scale_per_token_contributions() -> None:
    logp, old, adv, mask = _inputs(seed=8)
    weights = torch.rand(logp.shape, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    base_logp = logp.clone().requires_grad_(True)
    weighted_logp = logp.clone().requires_grad_(True)
    for aggregation in ("token-mean", "seq-mean-token-mean", "constant"):
        kwargs = {"aggregation": aggregation, "normalizer": 10.0 if aggregation == "constant" else None}
        base = clipped_policy_loss(base_logp, old, adv, mask, **kwargs)
        weighted = clipped_policy_loss(weighted_logp, old, adv, mask, weights, **kwargs)
        torch.testing.assert_close(weighted.per_token_loss, base.per_token_loss * weights)
        (g_base,) = torch.autograd.grad(base.loss, [base_logp])
        (g_weighted,) = torch.autograd.grad(weighted.loss, [weighted_logp])
        torch.testing.assert_close(g_weighted, g_base * weights)  # same denominators: gradient scales per token
    # Token-mean: the weighted sum over the plain token count.
    weighted = clipped_policy_loss(logp, old, adv, mask, weights, aggregation="token-mean")
    base = clipped_policy_loss(logp, old, adv, mask, aggregation="token-mean")
    torch.testing.assert_close(weighted.loss, (base.per_token_loss * weights).sum() / mask.sum())


def test_zero_weight_token_has_no_gradient() -> None:
    logp, old, adv, mask = _inputs(seed=9)
    weights = torch.ones_like(logp)
    weights[0, 2] = 0.0
    logp.requires_grad_(True)
    out = clipped_policy_loss(logp, old, adv, mask, weights)
    (grad,) = torch.autograd.grad(out.loss, [logp])
    assert grad[0, 2] == 0


def test_weighted_token_mean_matches_its_formula() -> None:
    logp, old, adv, mask = _inputs(seed=10)
    weights = torch.rand(logp.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64) * 2
    out = clipped_policy_loss(logp, old, adv, mask, weights, aggregation="weighted-token-mean", dual_clip=3.0)
    unweighted = clipped_policy_loss(logp, old, adv, mask, aggregation="token-mean", dual_clip=3.0)
    m = mask.double()
    want = (m * weights * unweighted.per_token_loss).sum() / ((m * weights).sum() + 1e-8)
    torch.testing.assert_close(out.loss, want, rtol=1e-12, atol=1e-14)
    none_w = clipped_policy_loss(logp, old, adv, mask, aggregation="weighted-token-mean")
    torch.testing.assert_close(none_w.loss, unweighted.per_token_loss.sum() / (m.sum() + 1e-8))
    normed = clipped_policy_loss(logp, old, adv, mask, weights, aggregation="weighted-token-mean", normalizer=7.0)
    torch.testing.assert_close(normed.loss, out.per_token_loss.sum() / 7.0)


# ---------------------------------------------------------------------------------------------
# masking


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_masked_tokens_never_affect_loss_or_gradient(aggregation: str) -> None:
    logp, old, adv, mask = _inputs(seed=11)
    adv_tok = adv[:, None].expand_as(logp).clone()
    weights = torch.rand(logp.shape, generator=torch.Generator().manual_seed(4), dtype=torch.float64) + 0.5
    kwargs = {"aggregation": aggregation, "normalizer": 9.0 if aggregation == "constant" else None, "dual_clip": 3.0}

    clean = logp.clone().requires_grad_(True)
    base = clipped_policy_loss(clean, old, adv_tok, mask, weights, **kwargs)
    (g_base,) = torch.autograd.grad(base.loss, [clean])

    dirty_logp = logp.clone()
    dirty_old, dirty_adv, dirty_w = old.clone(), adv_tok.clone(), weights.clone()
    hidden = ~mask
    dirty_logp[hidden] = float("nan")
    assert hidden.any()
    dirty_old[hidden] = float("-inf")
    dirty_adv[hidden] = float("inf")
    dirty_w[hidden] = float("nan")
    dirty = dirty_logp.requires_grad_(True)
    out = clipped_policy_loss(dirty, dirty_old, dirty_adv, mask.to(torch.float32), dirty_w, **kwargs)
    (g_dirty,) = torch.autograd.grad(out.loss, [dirty])

    assert out.loss.item() == base.loss.item()
    assert torch.equal(g_dirty, g_base)
    assert torch.all(g_dirty[hidden] == 0)
    assert torch.all(out.per_token_loss[hidden] == 0)
    for name in ("clip_frac", "approx_kl", "ratio_mean", "dual_clip_frac"):
        assert getattr(out, name).item() == getattr(base, name).item()


# ---------------------------------------------------------------------------------------------
# statistics


def test_clip_fractions_on_hand_built_case() -> None:
    ratios = torch.tensor([[0.5, 0.5, 1.5, 1.5, 1.0, 0.5]], dtype=torch.float64)
    adv = torch.tensor([[-1.0, 1.0, 1.0, -1.0, 1.0, -1.0]], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    out = clipped_policy_loss(ratios.log(), torch.zeros_like(ratios), adv, mask)
    # t0: low-clipped (r < 0.8, A < 0); t2: high-clipped (r > 1.2, A > 0); t5 is masked.
    assert out.clip_frac_low.item() == pytest.approx(1 / 5)
    assert out.clip_frac_high.item() == pytest.approx(1 / 5)
    assert out.clip_frac.item() == pytest.approx(2 / 5)
    assert out.dual_clip_frac.item() == 0.0
    assert out.ratio_mean.item() == pytest.approx(1.0)
    valid = ratios[0, :5]
    assert out.approx_kl.item() == pytest.approx(float(((valid - 1) - valid.log()).mean()))
    for name in ("clip_frac_low", "clip_frac_high", "clip_frac", "dual_clip_frac", "approx_kl", "ratio_mean"):
        assert not getattr(out, name).requires_grad
    metrics = out.metrics()
    assert set(metrics) == {
        "loss", "clip_frac_low", "clip_frac_high", "clip_frac", "dual_clip_frac", "approx_kl", "ratio_mean"
    }
    assert all(isinstance(v, float) for v in metrics.values())


def test_asymmetric_eps_changes_what_counts_as_clipped() -> None:
    ratios = torch.tensor([[1.25, 0.75]], dtype=torch.float64)
    adv = torch.tensor([[1.0, -1.0]], dtype=torch.float64)
    sym = clipped_policy_loss(ratios.log(), torch.zeros_like(ratios), adv, torch.ones(1, 2))
    dapo = clipped_policy_loss(
        ratios.log(), torch.zeros_like(ratios), adv, torch.ones(1, 2), eps_low=0.2, eps_high=0.28
    )
    assert sym.clip_frac_high.item() == pytest.approx(0.5) and sym.clip_frac_low.item() == pytest.approx(0.5)
    assert dapo.clip_frac_high.item() == 0.0 and dapo.clip_frac_low.item() == pytest.approx(0.5)


def test_bf16_logp_gives_float32_loss_and_grad() -> None:
    logp, old, adv, mask = _inputs(seed=12, dtype=torch.bfloat16)
    logp.requires_grad_(True)
    out = clipped_policy_loss(logp, old, adv, mask)
    assert isinstance(out, PolicyLossOutput) and out.loss.dtype == torch.float32
    out.loss.backward()
    assert logp.grad is not None and logp.grad.dtype == torch.bfloat16


# ---------------------------------------------------------------------------------------------
# validation


def test_validation_errors() -> None:
    logp, old, adv, mask = _inputs(seed=13)
    with pytest.raises(ValueError, match="unknown aggregation"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="sum")
    with pytest.raises(ValueError, match="maximum completion length"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="constant")
    with pytest.raises(ValueError, match="logp must have shape"):
        clipped_policy_loss(logp[0], old[0], adv, mask[0])
    with pytest.raises(ValueError, match="old_logp"):
        clipped_policy_loss(logp, old[:, :3], adv, mask)
    with pytest.raises(ValueError, match="mask"):
        clipped_policy_loss(logp, old, adv, mask[:2])
    with pytest.raises(ValueError, match="weights"):
        clipped_policy_loss(logp, old, adv, mask, torch.ones(2, 2))
    with pytest.raises(ValueError, match="advantages"):
        clipped_policy_loss(logp, old, adv[:2], mask)
    with pytest.raises(ValueError, match="dual_clip"):
        clipped_policy_loss(logp, old, adv, mask, dual_clip=1.0)
    with pytest.raises(ValueError, match="ratio_cap"):
        clipped_policy_loss(logp, old, adv, mask, ratio_cap=0.0)
    with pytest.raises(ValueError, match="eps"):
        clipped_policy_loss(logp, old, adv, mask, eps_low=-0.1)
    with pytest.raises(ValueError, match="normalizer"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="token-mean", normalizer=0)
    with pytest.raises(ValueError, match="normalizer"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="token-mean", normalizer=torch.ones(2))
    with pytest.raises(ValueError, match="floating-point"):
        clipped_policy_loss(logp, old, adv.long(), mask)
