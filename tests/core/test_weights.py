"""Tests for rest_rl.core.weights: schemes, curriculum, per-sequence normalisation."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.weights import (
    WeightConfig,
    region_entropy_stats,
    region_mean_entropy,
    region_weights,
    token_weights,
)

R = Region


def _batch(seed: int = 0, b: int = 4, t: int = 24) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random regions, a right-padded mask and entropies in [0, 3)."""
    g = torch.Generator().manual_seed(seed)
    regions = torch.randint(0, NUM_REGIONS, (b, t), generator=g)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    mask = torch.arange(t)[None, :] < lengths[:, None]
    entropy = torch.rand(b, t, generator=g) * 3.0
    return regions, mask, entropy


def _assert_normalised(weights: torch.Tensor, mask: torch.Tensor) -> None:
    valid = mask.bool()
    assert torch.all(weights[~valid] == 0)
    for i in range(weights.shape[0]):
        if valid[i].any():
            assert weights[i][valid[i]].mean().item() == pytest.approx(1.0, abs=1e-6)


def _mean_entropy(**per_region: float) -> torch.Tensor:
    h = torch.full((NUM_REGIONS,), float("nan"), dtype=torch.float64)
    for name, value in per_region.items():
        h[Region[name]] = value
    return h


# ---------------------------------------------------------------- config validation


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"scheme": "bogus"}, "unknown weight scheme"),
        ({"entropy_map": "log"}, "unknown entropy_map"),
        ({"base_normalizer": "median"}, "unknown base_normalizer"),
        ({"w_min": 3.0, "w_max": 2.0}, "w_min"),
        ({"clamp_min": 9.0, "clamp_max": 8.0}, "clamp_min"),
        ({"alpha_format": -0.1}, "alpha_format must be >= 0"),
        ({"official_args_slope": -1.0}, "official_args_slope must be >= 0"),
        ({"norm_eps": 0.0}, "norm_eps must be > 0"),
        ({"entropy_eps": float("nan")}, "finite"),
        ({"unnamed_region_weights": (("THINK", 1.0),)}, "may only set"),
        ({"unnamed_region_weights": (("RESPONSE", "zero"),)}, "'entropy' or a float"),
        ({"unnamed_region_weights": (("RESPONSE", -1.0),)}, ">= 0"),
        ({"unnamed_region_weights": (("NOPE", 1.0),)}, "unknown region name"),
    ],
)
def test_config_validation_errors(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        WeightConfig(**kwargs)


def test_config_every_field_has_help() -> None:
    from dataclasses import fields

    for f in fields(WeightConfig):
        assert f.metadata.get("help"), f.name


def test_unnamed_region_weights_accepts_mapping_and_fills_defaults() -> None:
    cfg = WeightConfig(unnamed_region_weights={"scaffold": 0.25, int(R.OTHER): 1})
    assert cfg.unnamed_region_weights == (
        (R.RESPONSE, 1.0),  # not listed: the neutral default
        (R.SCAFFOLD, 0.25),
        (R.OTHER, 1.0),
    )


# ---------------------------------------------------------------- uniform


def test_uniform_equals_mask_exactly() -> None:
    regions, mask, entropy = _batch(1)
    out = token_weights(regions, mask, WeightConfig(scheme="uniform"), entropy=entropy, progress=0.7)
    assert out.weights.dtype == torch.float32
    assert torch.equal(out.weights, mask.float())
    out01 = token_weights(regions, mask.long(), WeightConfig(scheme="uniform"))
    assert torch.equal(out01.weights, mask.float())
    assert torch.equal(out.region_weights, torch.ones(NUM_REGIONS, dtype=torch.float64))


def test_uniform_with_think_zero_drops_think_tokens() -> None:
    regions = torch.tensor([[R.FORMAT, R.THINK, R.THINK, R.RESPONSE]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    out = token_weights(regions, mask, WeightConfig(scheme="uniform", think_weight_zero=True))
    assert out.weights.tolist() == [[2.0, 0.0, 0.0, 2.0]]


# ---------------------------------------------------------------- official preset


@pytest.mark.parametrize(
    "step, args, think",
    [(0, 0.6, 0.6), (100, 0.8, 0.8), (300, 1.2, 1.0), (1000, 1.2, 1.0)],
)
def test_official_region_weights_by_hand(step: int, args: float, think: float) -> None:
    w = region_weights(WeightConfig(scheme="official"), step=step).tolist()
    assert w[R.FORMAT] == pytest.approx(1.0)
    assert w[R.TOOL_NAME] == pytest.approx(1.2)
    assert w[R.ARG_KEY] == pytest.approx(args)
    assert w[R.ARG_VALUE] == pytest.approx(args)
    assert w[R.THINK] == pytest.approx(think)
    for r in (R.RESPONSE, R.SCAFFOLD, R.OTHER):
        assert w[r] == 0.0


def test_official_token_weights_by_hand_step_100() -> None:
    # format 1.0, think 0.8, name 1.2, key 0.8, value 0.8, scaffold 0 -> sum 4.6 over 6 tokens
    regions = torch.tensor([[R.FORMAT, R.THINK, R.TOOL_NAME, R.ARG_KEY, R.ARG_VALUE, R.SCAFFOLD, R.OTHER]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 1, 0]])
    out = token_weights(regions, mask, WeightConfig(scheme="official"), step=100)
    mean = 4.6 / 6
    expected = [1.0 / mean, 0.8 / mean, 1.2 / mean, 0.8 / mean, 0.8 / mean, 0.0, 0.0]
    assert out.weights[0].tolist() == pytest.approx(expected, abs=1e-6)
    assert int(out.fallback_rows) == 0
    _assert_normalised(out.weights, mask)


@pytest.mark.parametrize("keep_zero", [False, True])
def test_official_zero_fallback_flag(keep_zero: bool) -> None:
    # row 0: response-only completion (all official weights 0); row 1: normal; row 2: fully masked
    regions = torch.tensor(
        [
            [R.RESPONSE, R.RESPONSE, R.OTHER, R.OTHER],
            [R.FORMAT, R.TOOL_NAME, R.SCAFFOLD, R.OTHER],
            [R.FORMAT, R.THINK, R.THINK, R.THINK],
        ]
    )
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [0, 0, 0, 0]], dtype=torch.bool)
    cfg = WeightConfig(scheme="official", official_zero_fallback=keep_zero)
    out = token_weights(regions, mask, cfg)
    assert int(out.fallback_rows) == 1
    assert not torch.isnan(out.weights).any()
    if keep_zero:
        assert torch.all(out.weights[0] == 0)
    else:
        assert out.weights[0].tolist() == [1.0, 1.0, 1.0, 0.0]
    assert torch.all(out.weights[2] == 0)
    assert out.weights[1].sum().item() == pytest.approx(4.0, abs=1e-5)


def test_fallback_applies_to_entropy_scheme_even_with_flag() -> None:
    regions = torch.tensor([[R.SCAFFOLD, R.SCAFFOLD, R.OTHER]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    cfg = WeightConfig(
        official_zero_fallback=True, unnamed_region_weights={"SCAFFOLD": 0.0, "OTHER": 0.0}
    )
    out = token_weights(regions, mask, cfg, entropy=torch.ones(1, 3))
    assert out.weights.tolist() == [[1.0, 1.0, 1.0]]
    assert int(out.fallback_rows) == 1


def test_fallback_never_weighs_think_under_think_zero_ablation() -> None:
    regions = torch.tensor([[R.THINK, R.THINK, R.THINK], [R.THINK, R.OTHER, R.THINK]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    cfg = WeightConfig(scheme="official", think_weight_zero=True)
    out = token_weights(regions, mask, cfg)
    assert out.weights.tolist() == [[0.0, 0.0, 0.0], [0.0, 3.0, 0.0]]
    assert int(out.fallback_rows) == 2


# ---------------------------------------------------------------- normalisation


@pytest.mark.parametrize("scheme", ["official", "entropy"])
@pytest.mark.parametrize("seed", range(4))
def test_normalised_mean_one_and_masked_zero(scheme: str, seed: int) -> None:
    regions, mask, entropy = _batch(seed, b=6, t=32)
    out = token_weights(regions, mask, WeightConfig(scheme=scheme), entropy=entropy, progress=0.3, step=50)
    assert out.weights.dtype == torch.float32
    assert out.weights.shape == regions.shape
    _assert_normalised(out.weights, mask)


def test_clamp_applied_before_normalisation() -> None:
    # SCAFFOLD constant 100 is clamped to clamp_max=8; FORMAT constant-ish weight is then 1/8 of it.
    cfg = WeightConfig(
        scheme="official",
        official_other_weight=100.0,
        official_format_weight=1.0,
        clamp_max=8.0,
    )
    regions = torch.tensor([[R.FORMAT, R.SCAFFOLD]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    out = token_weights(regions, mask, cfg)
    w = out.weights[0]
    assert (w[1] / w[0]).item() == pytest.approx(8.0)
    # clamp_min lifts tiny positive weights; zeros stay zero
    cfg = WeightConfig(scheme="official", official_format_weight=1e-6, official_tool_name_weight=1.0)
    regions = torch.tensor([[R.FORMAT, R.TOOL_NAME, R.SCAFFOLD]])
    out = token_weights(regions, torch.ones_like(regions, dtype=torch.bool), cfg)
    w = out.weights[0]
    assert (w[0] / w[1]).item() == pytest.approx(0.001)
    assert w[2].item() == 0.0


def test_out_of_range_region_codes_count_as_other() -> None:
    regions = torch.tensor([[R.FORMAT, 99, -3, R.OTHER]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    out = token_weights(regions, mask, WeightConfig(), entropy=torch.ones(1, 4))
    assert out.weights[0, 1] == out.weights[0, 3] == out.weights[0, 2]
    sums, counts = region_entropy_stats(regions, torch.ones(1, 4), mask)
    assert counts[R.OTHER].item() == 3.0


# ---------------------------------------------------------------- entropy scheme


@pytest.mark.parametrize("entropy_map", ["inv_one_minus_exp", "inverse"])
@pytest.mark.parametrize("normalizer", ["geometric", "arithmetic"])
def test_entropy_scheme_low_entropy_regions_get_larger_weights(entropy_map: str, normalizer: str) -> None:
    cfg = WeightConfig(
        entropy_map=entropy_map,
        base_normalizer=normalizer,
        w_min=0.01,
        w_max=100.0,
        curriculum=False,
        unnamed_region_weights={"RESPONSE": "entropy"},
    )
    h = _mean_entropy(FORMAT=0.05, TOOL_NAME=0.2, ARG_KEY=0.4, ARG_VALUE=0.4, THINK=1.5, RESPONSE=2.5)
    w = region_weights(cfg, mean_entropy=h)
    order = [R.FORMAT, R.TOOL_NAME, R.ARG_VALUE, R.THINK, R.RESPONSE]
    values = [w[r].item() for r in order]
    assert values == sorted(values, reverse=True)
    assert len(set(values)) == len(values)


def test_entropy_maps_by_hand() -> None:
    h = _mean_entropy(FORMAT=0.5, THINK=2.0)
    counts = torch.zeros(NUM_REGIONS, dtype=torch.float64)
    counts[R.FORMAT], counts[R.THINK] = 1.0, 3.0
    for entropy_map, f in [
        ("inv_one_minus_exp", lambda x: 1.0 / (1.0 - math.exp(-x))),
        ("inverse", lambda x: 1.0 / x),
    ]:
        for normalizer in ("arithmetic", "geometric"):
            cfg = WeightConfig(
                entropy_map=entropy_map, base_normalizer=normalizer, w_min=0.0, w_max=1e9, curriculum=False
            )
            w = region_weights(cfg, mean_entropy=h, counts=counts)
            ff, ft = f(0.5), f(2.0)
            if normalizer == "arithmetic":
                scale = (1 * ff + 3 * ft) / 4
            else:
                scale = math.exp((1 * math.log(ff) + 3 * math.log(ft)) / 4)
            assert w[R.FORMAT].item() == pytest.approx(ff / scale)
            assert w[R.THINK].item() == pytest.approx(ft / scale)
            # arithmetic normaliser: the average token gets exactly 1
            if normalizer == "arithmetic":
                assert ((w[R.FORMAT] + 3 * w[R.THINK]) / 4).item() == pytest.approx(1.0)


def test_entropy_weights_clipped_into_bounds() -> None:
    cfg = WeightConfig(w_min=0.5, w_max=2.0, curriculum=False)
    h = _mean_entropy(FORMAT=1e-4, THINK=5.0, TOOL_NAME=0.3)
    w = region_weights(cfg, mean_entropy=h)
    assert torch.all(w >= 0.5) and torch.all(w <= 2.0)
    assert w[R.FORMAT].item() == 2.0
    assert w[R.THINK].item() == 0.5


def test_merge_parameters_pools_key_and_value() -> None:
    h = _mean_entropy(ARG_KEY=0.1, ARG_VALUE=1.0, THINK=2.0)
    counts = torch.zeros(NUM_REGIONS, dtype=torch.float64)
    counts[R.ARG_KEY], counts[R.ARG_VALUE], counts[R.THINK] = 1.0, 3.0, 4.0
    merged = region_weights(WeightConfig(w_min=0.0, w_max=1e9), mean_entropy=h, counts=counts)
    assert merged[R.ARG_KEY].item() == merged[R.ARG_VALUE].item()
    pooled = _mean_entropy(ARG_KEY=(0.1 + 3 * 1.0) / 4, ARG_VALUE=(0.1 + 3 * 1.0) / 4, THINK=2.0)
    expect = region_weights(WeightConfig(w_min=0.0, w_max=1e9), mean_entropy=pooled, counts=counts)
    assert merged[R.ARG_KEY].item() == pytest.approx(expect[R.ARG_KEY].item())
    split = region_weights(
        WeightConfig(w_min=0.0, w_max=1e9, merge_parameters=False), mean_entropy=h, counts=counts
    )
    assert split[R.ARG_KEY].item() > split[R.ARG_VALUE].item()


def test_unnamed_region_rules() -> None:
    h = _mean_entropy(FORMAT=0.1, THINK=1.0, RESPONSE=1.0, SCAFFOLD=0.01, OTHER=0.5)
    cfg = WeightConfig(unnamed_region_weights={"SCAFFOLD": 0.0, "OTHER": 1.5})
    w = region_weights(cfg, mean_entropy=h, progress=1.0)
    assert w[R.SCAFFOLD].item() == 0.0
    assert w[R.OTHER].item() == 1.5
    # with the 'entropy' rule RESPONSE follows its entropy base weight, without the curriculum
    # shift THINK gets
    rule = {"RESPONSE": "entropy"}
    static = region_weights(WeightConfig(curriculum=False, unnamed_region_weights=rule), mean_entropy=h)
    shifted = region_weights(WeightConfig(unnamed_region_weights=rule), mean_entropy=h, progress=1.0)
    assert shifted[R.RESPONSE].item() == static[R.RESPONSE].item() == static[R.THINK].item()
    assert shifted[R.THINK].item() > shifted[R.RESPONSE].item()
    # by default scaffold/response/other weigh a neutral 1.0: not silently zero, not entropy-driven
    default = region_weights(WeightConfig(), mean_entropy=h, progress=1.0)
    for r in (R.RESPONSE, R.SCAFFOLD, R.OTHER):
        assert default[r].item() == 1.0
    assert torch.all(default > 0)


def test_constant_regions_do_not_set_the_scale_of_named_regions() -> None:
    # near-deterministic scaffolding, many tokens: with the default constant rule it must not drag
    # the tool name (the paper keeps it high) below the typical token
    h = _mean_entropy(FORMAT=0.05, TOOL_NAME=0.3, ARG_KEY=0.8, ARG_VALUE=0.8, THINK=1.5, SCAFFOLD=0.01)
    counts = torch.zeros(NUM_REGIONS, dtype=torch.float64)
    counts[R.FORMAT], counts[R.TOOL_NAME], counts[R.ARG_KEY], counts[R.ARG_VALUE] = 5, 5, 5, 10
    counts[R.THINK], counts[R.SCAFFOLD] = 30, 40
    cfg = WeightConfig(curriculum=False)
    w = region_weights(cfg, mean_entropy=h, counts=counts)
    assert w[R.TOOL_NAME].item() > 1.0
    assert w[R.FORMAT] > w[R.TOOL_NAME] > w[R.ARG_KEY] > w[R.THINK]
    # the opt-in entropy rule for scaffolding lets it set the scale, which pushes the name down
    w_ent = region_weights(WeightConfig(curriculum=False, unnamed_region_weights={"SCAFFOLD": "entropy"}),
                           mean_entropy=h, counts=counts)
    assert w_ent[R.TOOL_NAME].item() < w[R.TOOL_NAME].item()


_h_strategy = st.lists(
    st.one_of(st.just(float("nan")), st.floats(0.0, 6.0)), min_size=NUM_REGIONS, max_size=NUM_REGIONS
)


@settings(max_examples=60, deadline=None)
@given(
    h=_h_strategy,
    nus=st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5)),
    entropy_map=st.sampled_from(["inv_one_minus_exp", "inverse"]),
    w_min=st.floats(0.0, 1.0),
    span=st.floats(0.0, 3.0),
    alphas=st.tuples(st.floats(0.0, 2.0), st.floats(0.0, 2.0), st.floats(0.0, 2.0)),
)
def test_curriculum_monotone_in_progress(
    h: list[float],
    nus: tuple[float, float],
    entropy_map: str,
    w_min: float,
    span: float,
    alphas: tuple[float, float, float],
) -> None:
    nu1, nu2 = sorted(nus)
    cfg = WeightConfig(
        entropy_map=entropy_map,
        w_min=w_min,
        w_max=w_min + span,
        alpha_format=alphas[0],
        alpha_params=alphas[1],
        alpha_think=alphas[2],
    )
    mean_h = torch.tensor(h, dtype=torch.float64)
    w1 = region_weights(cfg, mean_entropy=mean_h, progress=nu1)
    w2 = region_weights(cfg, mean_entropy=mean_h, progress=nu2)
    tol = 1e-12
    assert w2[R.FORMAT] <= w1[R.FORMAT] + tol
    assert w2[R.ARG_KEY] >= w1[R.ARG_KEY] - tol
    assert w2[R.ARG_VALUE] >= w1[R.ARG_VALUE] - tol
    assert w2[R.THINK] >= w1[R.THINK] - tol
    assert w2[R.TOOL_NAME] == w1[R.TOOL_NAME]
    named = [R.FORMAT, R.TOOL_NAME, R.ARG_KEY, R.ARG_VALUE, R.THINK]  # unnamed constants are unclipped
    for w in (w1, w2):
        assert not torch.isnan(w).any()
        assert torch.all(w[named] >= cfg.w_min - tol) and torch.all(w[named] <= cfg.w_max + tol)


@settings(max_examples=30, deadline=None)
@given(h=_h_strategy, nu1=st.floats(0.0, 1.0), nu2=st.floats(0.0, 1.0))
def test_no_curriculum_is_progress_independent(h: list[float], nu1: float, nu2: float) -> None:
    cfg = WeightConfig(curriculum=False)
    mean_h = torch.tensor(h, dtype=torch.float64)
    w1 = region_weights(cfg, mean_entropy=mean_h, progress=nu1)
    w2 = region_weights(cfg, mean_entropy=mean_h, progress=nu2)
    assert torch.equal(w1, w2)


def test_curriculum_endpoints_by_hand() -> None:
    cfg = WeightConfig(w_min=0.5, w_max=2.0, alpha_format=0.5, alpha_params=0.5, alpha_think=0.5)
    h = _mean_entropy(FORMAT=0.3, TOOL_NAME=0.5, ARG_KEY=0.7, ARG_VALUE=0.7, THINK=1.2)
    w0 = region_weights(cfg, mean_entropy=h, progress=0.0)
    w1 = region_weights(cfg, mean_entropy=h, progress=1.0)
    assert w1[R.FORMAT].item() == pytest.approx(max(0.5, w0[R.FORMAT].item() - 0.5))
    assert w1[R.ARG_KEY].item() == pytest.approx(min(2.0, w0[R.ARG_KEY].item() + 0.5))
    assert w1[R.THINK].item() == pytest.approx(min(2.0, w0[R.THINK].item() + 0.5))
    assert w1[R.TOOL_NAME].item() == w0[R.TOOL_NAME].item()
    # progress is clamped into [0, 1]
    assert torch.equal(region_weights(cfg, mean_entropy=h, progress=7.0), w1)
    assert torch.equal(region_weights(cfg, mean_entropy=h, progress=-2.0), w0)


@pytest.mark.parametrize("scheme", ["entropy", "official"])
def test_think_weight_zero(scheme: str) -> None:
    regions, mask, entropy = _batch(3, b=5, t=30)
    regions[:, 0] = R.FORMAT  # every row has a non-THINK valid token
    out = token_weights(
        regions, mask, WeightConfig(scheme=scheme, think_weight_zero=True), entropy=entropy, progress=0.5
    )
    assert torch.all(out.weights[regions == R.THINK] == 0)
    assert out.region_weights[R.THINK].item() == 0.0
    _assert_normalised(out.weights, mask)


def test_entropy_is_detached() -> None:
    regions, mask, _ = _batch(4)
    logits = torch.randn(*regions.shape, 11, requires_grad=True)
    logp = torch.log_softmax(logits, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    assert entropy.requires_grad
    out = token_weights(regions, mask, WeightConfig(), entropy=entropy, progress=0.4)
    assert not out.weights.requires_grad
    assert out.weights.grad_fn is None
    assert not out.region_weights.requires_grad
    sums, _ = region_entropy_stats(regions, entropy, mask)
    assert not sums.requires_grad


def test_entropy_scheme_needs_entropy() -> None:
    regions, mask, _ = _batch(5)
    with pytest.raises(ValueError, match="needs entropy"):
        token_weights(regions, mask, WeightConfig())
    with pytest.raises(ValueError, match="needs mean_entropy"):
        region_weights(WeightConfig())


def test_region_stats_argument_matches_entropy_argument() -> None:
    regions, mask, entropy = _batch(6)
    cfg = WeightConfig()
    stats = region_entropy_stats(regions, entropy, mask)
    a = token_weights(regions, mask, cfg, entropy=entropy, progress=0.2)
    b = token_weights(regions, mask, cfg, region_stats=stats, progress=0.2)
    assert torch.equal(a.weights, b.weights)
    # stats "all-reduced" from two identical ranks give the same means, hence the same weights
    doubled = (stats[0] * 2, stats[1] * 2)
    c = token_weights(regions, mask, cfg, region_stats=doubled, progress=0.2)
    assert torch.allclose(a.weights, c.weights, atol=1e-6)


# ---------------------------------------------------------------- empty regions / masked batches


@pytest.mark.parametrize("scheme", ["uniform", "official", "entropy"])
def test_all_masked_batch_gives_zero_weights_without_nan(scheme: str) -> None:
    regions, _, entropy = _batch(7)
    mask = torch.zeros_like(regions, dtype=torch.bool)
    out = token_weights(regions, mask, WeightConfig(scheme=scheme), entropy=entropy, progress=0.5)
    assert torch.equal(out.weights, torch.zeros_like(out.weights))
    assert not torch.isnan(out.region_weights).any()
    assert torch.isnan(out.region_entropy).all()
    assert int(out.fallback_rows) == 0


def test_missing_regions_get_neutral_finite_weights() -> None:
    regions = torch.tensor([[R.FORMAT, R.THINK, R.THINK, R.THINK]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    entropy = torch.tensor([[0.1, 1.0, 1.5, 2.0]])
    out = token_weights(regions, mask, WeightConfig(), entropy=entropy, progress=0.0)
    assert torch.isfinite(out.region_weights).all()
    for r in (R.TOOL_NAME, R.ARG_KEY, R.ARG_VALUE, R.RESPONSE, R.SCAFFOLD, R.OTHER):
        assert out.region_weights[r].item() == 1.0
        assert math.isnan(out.region_entropy[r].item())
    _assert_normalised(out.weights, mask)
    assert out.weights[0, 0] > out.weights[0, 1]


def test_zero_and_nonfinite_entropy_do_not_produce_nan() -> None:
    regions = torch.tensor([[R.FORMAT, R.FORMAT, R.THINK, R.TOOL_NAME]])
    mask = torch.ones_like(regions, dtype=torch.bool)
    for entropy in (torch.zeros(1, 4), torch.tensor([[0.0, 0.0, float("nan"), float("inf")]])):
        for entropy_map in ("inverse", "inv_one_minus_exp"):
            cfg = WeightConfig(entropy_map=entropy_map)
            out = token_weights(regions, mask, cfg, entropy=entropy)
            assert torch.isfinite(out.weights).all()
            _assert_normalised(out.weights, mask)


# ---------------------------------------------------------------- region entropy statistics


@pytest.mark.parametrize("seed", range(3))
def test_region_entropy_stats_matches_loop_reference(seed: int) -> None:
    regions, mask, entropy = _batch(seed, b=5, t=17)
    sums, counts = region_entropy_stats(regions, entropy, mask)
    assert sums.dtype == counts.dtype == torch.float64
    assert sums.shape == counts.shape == (NUM_REGIONS,)
    ref_s = [0.0] * NUM_REGIONS
    ref_c = [0] * NUM_REGIONS
    for i in range(regions.shape[0]):
        for j in range(regions.shape[1]):
            if mask[i, j]:
                ref_s[int(regions[i, j])] += float(entropy[i, j])
                ref_c[int(regions[i, j])] += 1
    assert sums.tolist() == pytest.approx(ref_s, abs=1e-9)
    assert counts.tolist() == ref_c
    means = region_mean_entropy(sums, counts)
    for r in range(NUM_REGIONS):
        if ref_c[r]:
            assert means[r].item() == pytest.approx(ref_s[r] / ref_c[r])
        else:
            assert math.isnan(means[r].item())


def test_region_mean_entropy_nan_for_empty() -> None:
    sums = torch.tensor([1.0, 0.0, 3.0] + [0.0] * (NUM_REGIONS - 3), dtype=torch.float64)
    counts = torch.tensor([2.0, 0.0, 3.0] + [0.0] * (NUM_REGIONS - 3), dtype=torch.float64)
    m = region_mean_entropy(sums, counts)
    assert m[0].item() == 0.5 and m[2].item() == 1.0
    assert math.isnan(m[1].item())


def test_shape_mismatch_raises() -> None:
    regions, mask, entropy = _batch(8)
    with pytest.raises(ValueError, match="mask shape"):
        token_weights(regions, mask[:, :-1], WeightConfig(scheme="uniform"))
    with pytest.raises(ValueError, match="entropy shape"):
        region_entropy_stats(regions, entropy[:1], mask)
