"""Open registries of core: advantage estimators, weight schemes, loss aggregations."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from rest_rl.core import (
    ADVANTAGE_ESTIMATORS,
    AGGREGATIONS,
    NUM_REGIONS,
    WEIGHT_SCHEMES,
    Region,
    Registry,
    WeightConfig,
    clipped_policy_loss,
    grpo_advantages,
    region_weights,
    register_advantage_estimator,
    register_aggregation,
    register_weight_scheme,
    token_weights,
    unregister_advantage_estimator,
    unregister_aggregation,
    unregister_weight_scheme,
)

BUILTIN_SCHEMES = ("uniform", "official", "entropy")
BUILTIN_AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "constant", "weighted-token-mean")


@pytest.fixture
def cleanup() -> Iterator[list]:
    """Collects (unregister, name) pairs and removes them after the test, whatever happens."""
    added: list = []
    yield added
    for unregister, name in reversed(added):
        try:
            unregister(name)
        except ValueError:
            pass
    assert tuple(WEIGHT_SCHEMES) == BUILTIN_SCHEMES
    assert tuple(AGGREGATIONS) == BUILTIN_AGGREGATIONS
    assert set(ADVANTAGE_ESTIMATORS) == {"grpo", "dr_grpo"}


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    regions = torch.tensor(
        [
            [Region.THINK, Region.TOOL_NAME, Region.ARG_VALUE, Region.SCAFFOLD, Region.OTHER],
            [Region.RESPONSE, Region.RESPONSE, Region.FORMAT, Region.OTHER, Region.OTHER],
        ]
    )
    mask = torch.tensor([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=torch.bool)
    return regions, mask


# ---------------------------------------------------------------- the views


def test_builtins_are_registered_in_order() -> None:
    assert tuple(WEIGHT_SCHEMES) == BUILTIN_SCHEMES
    assert tuple(AGGREGATIONS) == BUILTIN_AGGREGATIONS
    assert tuple(ADVANTAGE_ESTIMATORS) == ("grpo", "dr_grpo")
    assert WEIGHT_SCHEMES["entropy"].needs_entropy and not WEIGHT_SCHEMES["official"].needs_entropy
    assert AGGREGATIONS["constant"].needs_normalizer and not AGGREGATIONS["token-mean"].needs_normalizer


@pytest.mark.parametrize("view", [ADVANTAGE_ESTIMATORS, WEIGHT_SCHEMES, AGGREGATIONS])
def test_views_are_read_only(view) -> None:
    key = next(iter(view))
    with pytest.raises(TypeError):
        view["new"] = view[key]
    with pytest.raises(TypeError):
        del view[key]
    assert not hasattr(view, "pop") and not hasattr(view, "update")


def test_views_are_live(cleanup) -> None:
    @register_weight_scheme("live_check")
    def scheme(cfg, *, mean_entropy, counts, progress, step, device):
        return torch.ones(NUM_REGIONS, dtype=torch.float64, device=device)

    cleanup.append((unregister_weight_scheme, "live_check"))
    assert "live_check" in WEIGHT_SCHEMES and WEIGHT_SCHEMES["live_check"].fn is scheme
    unregister_weight_scheme("live_check")
    assert "live_check" not in WEIGHT_SCHEMES


# ---------------------------------------------------------------- weight schemes


def test_new_weight_scheme_end_to_end(cleanup) -> None:
    calls: list[dict] = []

    @register_weight_scheme("tools_only")
    def tools_only(cfg, *, mean_entropy, counts, progress, step, device):
        calls.append({"progress": progress, "step": step, "has_entropy": mean_entropy is not None})
        w = torch.zeros(NUM_REGIONS, dtype=torch.float64, device=device)
        w[[Region.TOOL_NAME, Region.ARG_VALUE]] = torch.tensor([3.0, 1.0], dtype=torch.float64)
        return w

    cleanup.append((unregister_weight_scheme, "tools_only"))
    assert tools_only.__name__ == "tools_only"  # the decorator returns the function itself

    cfg = WeightConfig(scheme="tools_only")
    regions, mask = _batch()
    out = token_weights(regions, mask, cfg, progress=3.0, step=11)
    assert calls[-1] == {"progress": 1.0, "step": 11, "has_entropy": False}  # progress clamped
    # row 0: TOOL_NAME 3, ARG_VALUE 1, others 0 -> normalised to mean 1 over its 4 valid tokens
    torch.testing.assert_close(out.weights[0], torch.tensor([0.0, 3.0, 1.0, 0.0, 0.0]))
    # row 1 has no tool tokens: all zero -> the shared uniform fallback
    torch.testing.assert_close(out.weights[1], torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0]))
    assert int(out.fallback_rows) == 1
    assert out.region_weights[Region.TOOL_NAME] == 3.0

    # the shared post-processing applies: think_weight_zero, and entropy is passed when given
    entropy = torch.rand(regions.shape)
    token_weights(regions, mask, WeightConfig(scheme="tools_only", think_weight_zero=True), entropy=entropy)
    assert calls[-1]["has_entropy"]
    assert region_weights(WeightConfig(scheme="tools_only", think_weight_zero=True))[Region.THINK] == 0.0


def test_scheme_needing_entropy_is_checked(cleanup) -> None:
    @register_weight_scheme("by_entropy", needs_entropy=True)
    def by_entropy(cfg, *, mean_entropy, counts, progress, step, device):
        return torch.nan_to_num(mean_entropy, nan=1.0) + 1.0

    cleanup.append((unregister_weight_scheme, "by_entropy"))
    regions, mask = _batch()
    cfg = WeightConfig(scheme="by_entropy")
    with pytest.raises(ValueError, match="'by_entropy' weight scheme needs entropy"):
        token_weights(regions, mask, cfg)
    out = token_weights(regions, mask, cfg, entropy=torch.full(regions.shape, 0.5))
    assert torch.isfinite(out.weights).all()
    # present regions: 0.5 + 1; absent ones: 1 + 1
    assert out.region_weights[Region.THINK] == 1.5 and out.region_weights[Region.ARG_KEY] == 2.0


def test_scheme_with_wrong_output_shape_is_rejected(cleanup) -> None:
    @register_weight_scheme("bad_shape")
    def bad(cfg, *, mean_entropy, counts, progress, step, device):
        return torch.ones(3)

    cleanup.append((unregister_weight_scheme, "bad_shape"))
    with pytest.raises(ValueError, match=r"'bad_shape' must return a tensor of shape"):
        region_weights(WeightConfig(scheme="bad_shape"))


def test_unknown_and_unregistered_schemes(cleanup) -> None:
    with pytest.raises(ValueError, match="unknown weight scheme 'nope'; expected one of"):
        WeightConfig(scheme="nope")

    @register_weight_scheme("temporary")
    def temporary(cfg, *, mean_entropy, counts, progress, step, device):
        return torch.ones(NUM_REGIONS, dtype=torch.float64)

    cleanup.append((unregister_weight_scheme, "temporary"))
    cfg = WeightConfig(scheme="temporary")
    unregister_weight_scheme("temporary")
    with pytest.raises(ValueError, match="unknown weight scheme 'temporary'"):
        region_weights(cfg)


def test_overriding_uniform_disables_the_mask_shortcut(cleanup) -> None:
    original = WEIGHT_SCHEMES["uniform"]
    regions, mask = _batch()
    assert torch.equal(token_weights(regions, mask, WeightConfig(scheme="uniform")).weights, mask.float())

    @register_weight_scheme("uniform", override=True)
    def think_heavy(cfg, *, mean_entropy, counts, progress, step, device):
        w = torch.ones(NUM_REGIONS, dtype=torch.float64, device=device)
        w[Region.THINK] = 5.0
        return w

    try:
        out = token_weights(regions, mask, WeightConfig(scheme="uniform"))
        assert out.weights[0, 0] > out.weights[0, 1]
    finally:
        register_weight_scheme("uniform", override=True)(original.fn)
    assert WEIGHT_SCHEMES["uniform"].fn is original.fn
    assert torch.equal(token_weights(regions, mask, WeightConfig(scheme="uniform")).weights, mask.float())


# ---------------------------------------------------------------- aggregations


def _loss_inputs() -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    logp = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    old = logp.detach() + 0.05 * torch.randn(3, 4, dtype=torch.float64)
    adv = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.bool)
    weights = torch.rand(3, 4, dtype=torch.float64) + 0.5
    return logp, old, adv, mask, weights


def test_new_aggregation_through_clipped_policy_loss(cleanup) -> None:
    seen: dict = {}

    @register_aggregation("seq-sum-mean")
    def seq_sum_mean(per_token_loss, mask, *, weights, normalizer):
        seen.update(mask=mask, weights=weights, normalizer=normalizer)
        return per_token_loss.sum(dim=-1).mean()

    cleanup.append((unregister_aggregation, "seq-sum-mean"))
    logp, old, adv, mask, weights = _loss_inputs()
    out = clipped_policy_loss(logp, old, adv, mask, weights, aggregation="seq-sum-mean")
    reference = clipped_policy_loss(logp, old, adv, mask, weights, aggregation="token-mean")
    # same per-token losses, different reduction
    torch.testing.assert_close(out.per_token_loss, reference.per_token_loss)
    torch.testing.assert_close(out.loss, reference.per_token_loss.sum(dim=-1).mean())
    assert out.loss.dtype == torch.float64
    assert seen["mask"].dtype == torch.bool and seen["normalizer"] is None
    torch.testing.assert_close(seen["weights"], torch.where(mask, weights, torch.zeros_like(weights)))
    out.loss.backward()
    assert logp.grad is not None and torch.all(logp.grad[~mask] == 0)


def test_aggregation_needing_a_normalizer(cleanup) -> None:
    @register_aggregation("per-budget", needs_normalizer=True)
    def per_budget(per_token_loss, mask, *, weights, normalizer):
        return per_token_loss.sum() / normalizer

    cleanup.append((unregister_aggregation, "per-budget"))
    logp, old, adv, mask, weights = _loss_inputs()
    with pytest.raises(ValueError, match="'per-budget' needs a normalizer"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="per-budget")
    out = clipped_policy_loss(logp, old, adv, mask, aggregation="per-budget", normalizer=10.0)
    torch.testing.assert_close(out.loss, out.per_token_loss.sum() / 10.0)


def test_aggregation_must_return_a_scalar_tensor(cleanup) -> None:
    @register_aggregation("not-scalar")
    def not_scalar(per_token_loss, mask, *, weights, normalizer):
        return per_token_loss.sum(dim=-1)

    cleanup.append((unregister_aggregation, "not-scalar"))
    logp, old, adv, mask, _ = _loss_inputs()
    with pytest.raises(ValueError, match="must return a 0-dim tensor"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="not-scalar")
    with pytest.raises(ValueError, match="unknown aggregation 'nope'"):
        clipped_policy_loss(logp, old, adv, mask, aggregation="nope")


# ---------------------------------------------------------------- advantage estimators


def test_new_advantage_estimator_is_listed(cleanup) -> None:
    @register_advantage_estimator("rloo")
    def rloo(rewards: torch.Tensor, group_size: int) -> torch.Tensor:
        grouped = rewards.view(-1, group_size)
        baseline = (grouped.sum(dim=1, keepdim=True) - grouped) / max(group_size - 1, 1)
        return (grouped - baseline).reshape(-1)

    cleanup.append((unregister_advantage_estimator, "rloo"))
    assert "rloo" in ADVANTAGE_ESTIMATORS and ADVANTAGE_ESTIMATORS["rloo"] is rloo
    rewards = torch.tensor([1.0, 0.0, 0.0, 3.0])
    torch.testing.assert_close(ADVANTAGE_ESTIMATORS["rloo"](rewards, 2), torch.tensor([1.0, -1.0, -3.0, 3.0]))


# ---------------------------------------------------------------- registration rules


@pytest.mark.parametrize(
    ("register", "unregister", "builtin"),
    [
        (register_weight_scheme, unregister_weight_scheme, "entropy"),
        (register_aggregation, unregister_aggregation, "token-mean"),
        (register_advantage_estimator, unregister_advantage_estimator, "grpo"),
    ],
)
def test_duplicates_and_builtins(register, unregister, builtin, cleanup) -> None:
    def impl(*args, **kwargs):
        raise AssertionError("never called")

    with pytest.raises(ValueError, match="already registered; pass override=True"):
        register(builtin)(impl)
    register("dup_name")(impl)
    cleanup.append((unregister, "dup_name"))
    with pytest.raises(ValueError, match="'dup_name' is already registered"):
        register("dup_name")(impl)
    register("dup_name", override=True)(impl)  # explicit replacement is allowed
    unregister("dup_name")
    with pytest.raises(ValueError, match="not registered"):
        unregister("dup_name")
    with pytest.raises(ValueError, match="built in and cannot be unregistered"):
        unregister(builtin)
    for bad in ("", " padded", 3):
        with pytest.raises(ValueError, match="name must be a non-empty string"):
            register(bad)


def test_registry_class() -> None:
    reg: Registry[int] = Registry("widget")
    reg.register("a")(1)
    reg.add("b", 2)
    reg.seal_builtins()
    reg.add("c", 3)
    assert reg.names() == ("a", "b", "c") and len(reg) == 3 and "c" in reg and list(reg) == ["a", "b", "c"]
    assert dict(reg.view) == {"a": 1, "b": 2, "c": 3}
    assert reg.get("b") == 2
    with pytest.raises(ValueError, match=r"unknown widget 'z'; expected one of \('a', 'b', 'c'\)"):
        reg.get("z")
    assert reg.unregister("c") == 3
    with pytest.raises(ValueError, match="built in"):
        reg.unregister("a")
    reg.add("a", 10, override=True)
    assert reg.view["a"] == 10
