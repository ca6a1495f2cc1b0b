"""rest_rl.eval.stats: percentile bootstrap (mean, grouped aggregates, paired differences), exact McNemar."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from rest_rl.eval.stats import (
    BootstrapSettings,
    Interval,
    bootstrap_groups,
    bootstrap_mean,
    format_estimate,
    mcnemar_exact,
    paired_comparison,
    mean,
    paired_bootstrap,
    paired_bootstrap_diff,
    percentile,
)


@pytest.mark.parametrize("q", [0.0, 0.025, 0.1, 0.5, 0.975, 1.0])
def test_percentile_is_linear_interpolation_like_numpy(q):
    values = sorted(random.Random(3).random() for _ in range(37))
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, 100 * q)))
    assert percentile([4.0], q) == 4.0
    with pytest.raises(ValueError):
        percentile([], q)


def test_bootstrap_mean_is_seeded_and_leaves_global_random_streams_alone():
    values = [1.0] * 60 + [0.0] * 40
    random.seed(11)
    state = random.getstate()
    np_state = np.random.get_state()[1].copy()
    a = bootstrap_mean(values, resamples=500, seed=5)
    assert random.getstate() == state and (np.random.get_state()[1] == np_state).all()
    assert bootstrap_mean(values, resamples=500, seed=5) == a
    assert bootstrap_mean(values, resamples=500, seed=6) != a
    assert 0.6 in a and a.low < 0.6 < a.high


def test_bootstrap_mean_width_matches_the_binomial_standard_error():
    values = [1.0] * 200 + [0.0] * 200
    ci = bootstrap_mean(values, resamples=4000, seed=0)
    se = math.sqrt(0.25 / 400)
    assert ci.high - ci.low == pytest.approx(2 * 1.96 * se, rel=0.12)
    assert (ci.low + ci.high) / 2 == pytest.approx(0.5, abs=0.01)


def test_degenerate_samples_have_degenerate_intervals():
    assert bootstrap_mean([1.0] * 9, resamples=100) == Interval(1.0, 1.0)
    assert bootstrap_mean([0.0] * 9, resamples=100) == Interval(0.0, 0.0)
    with pytest.raises(ValueError):
        bootstrap_mean([])


def test_groups_are_resampled_within_themselves_at_their_own_size():
    seen = set()

    def statistic(g):
        seen.add(tuple(len(v) for v in g.values()))
        return {"a": mean(g["a"]), "b": mean(g["b"])}

    groups = {"a": [1.0] * 5 + [0.0] * 5, "b": [1.0, 0.0, 1.0], "empty": []}
    bootstrap_groups(groups, statistic, resamples=50)
    assert seen == {(10, 3, 0)}


def test_a_weighted_aggregate_is_recomputed_per_replicate_with_its_own_weights():
    small = [1.0] * 10  # all correct
    large = [1.0] * 500 + [0.0] * 500
    groups = {"small": small, "large": large}
    out = bootstrap_groups(
        groups,
        lambda g: {
            "unweighted": (mean(g["small"]) + mean(g["large"])) / 2,
            "pooled": mean(g["small"] + g["large"]),
        },
        resamples=2000,
        seed=1,
    )
    # unweighted: 0.75 and half the large group's spread; pooled: about 0.505 with the full spread
    assert 0.75 in out["unweighted"] and 0.505 in out["pooled"]
    se_large = math.sqrt(0.25 / 1000)
    assert out["unweighted"].high - out["unweighted"].low == pytest.approx(1.96 * se_large, rel=0.15)
    assert out["pooled"].high - out["pooled"].low == pytest.approx(2 * 1.96 * se_large * 1000 / 1010, rel=0.15)
    # a group that never varies (all correct) adds no uncertainty: stratified, not pooled, resampling
    only_fixed = bootstrap_groups({"x": [1.0] * 5, "y": [0.0] * 50}, lambda g: {"m": (mean(g["x"]) + mean(g["y"])) / 2})
    assert only_fixed["m"] == Interval(0.5, 0.5)


def test_paired_bootstrap_of_a_difference():
    rng = random.Random(2)
    a = [float(rng.random() < 0.6) for _ in range(300)]
    assert paired_bootstrap_diff(a, a, resamples=300) == Interval(0.0, 0.0)
    b = list(a)
    flipped = [i for i, x in enumerate(a) if x == 0.0][:30]  # B fixes 30 of A's failures
    for i in flipped:
        b[i] = 1.0
    ci = paired_bootstrap_diff(a, b, resamples=2000, seed=0)
    assert 0.0 < ci.low < 0.1 < ci.high  # the difference is 30/300 = 0.1 and B never loses
    # pairing matters: resampling the runs independently would give a much wider interval
    rng2 = random.Random(0)
    unpaired = sorted(mean(rng2.choices(b, k=300)) - mean(rng2.choices(a, k=300)) for _ in range(2000))
    assert (ci.high - ci.low) < 0.6 * (percentile(unpaired, 0.975) - percentile(unpaired, 0.025))
    with pytest.raises(ValueError):
        paired_bootstrap({"g": [1.0]}, {"g": [1.0, 0.0]}, lambda g: {"m": mean(g["g"])})


def test_mcnemar_exact_two_sided_binomial():
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 32)
    assert mcnemar_exact(9, 1) == mcnemar_exact(1, 9) == pytest.approx(2 * (1 + 10) / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    assert mcnemar_exact(3, 4) == 1.0  # capped at 1
    # large counts stay exact (integers), no overflow
    assert 0 < mcnemar_exact(2000, 2200) < 0.01
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_settings_are_checked_and_formatted():
    for bad in ({"resamples": 0}, {"resamples": 1.5}, {"seed": "x"}, {"confidence": 1.0}):
        with pytest.raises(ValueError):
            BootstrapSettings(**bad)
    assert BootstrapSettings().to_dict()["resamples"] == 2000
    assert format_estimate(0.683, Interval(0.645, 0.72)) == "68.30 [64.50, 72.00]"
    assert format_estimate(0.5, None) == "50.00" and format_estimate(None, None) == "-"
    assert format_estimate(0.5, Interval(0.4, 0.6), factor=1, digits=3) == "0.500 [0.400, 0.600]"


def test_demo_held_out_scores_carry_an_interval_and_keep_their_numbers():
    from rest_rl.data.synthetic import SyntheticConfig, SyntheticWorld
    from rest_rl.demo import score_held_out

    examples = SyntheticWorld(SyntheticConfig(seed=1, p_no_call=0.3)).sample(40, "novel")
    gold = [ex.gold_text() for ex in examples]
    texts = [g if i % 3 else g.replace('"name": "', '"name": "x') for i, g in enumerate(gold)]
    scores = score_held_out(texts, examples)
    hits = sum(1 for i, ex in enumerate(examples) if i % 3 or not ex.gold_calls)
    assert scores.exact == hits / len(examples)  # the point estimate is what it always was
    low, high = scores.exact_ci
    assert low <= scores.exact <= high and high - low > 0.05
    assert scores.row()["exact_ci"] == [low, high]
    assert score_held_out(texts, examples).exact_ci == scores.exact_ci  # seeded


def test_paired_seed_sample_bootstrap_covers_seed_spread_and_samples():
    from rest_rl.eval.stats import paired_seed_sample_bootstrap

    rng = random.Random(1)
    a = [[rng.random() < 0.5 for _ in range(400)] for _ in range(6)]
    assert paired_seed_sample_bootstrap(a, a, resamples=200) == Interval(0.0, 0.0)
    # b = a plus a constant 0.1 gain on every seed: the interval is centred near 0.1 and excludes 0
    b = [[x + 0.1 for x in row] for row in a]
    ci = paired_seed_sample_bootstrap(a, b, resamples=500, seed=3)
    assert ci.low == pytest.approx(0.1) and ci.high == pytest.approx(0.1)
    # seed-level shifts of +-0.2 (mean 0): the interval must be wide (seed spread), not the sample-only width
    c = [[x + (0.2 if s % 2 else -0.2) for x in row] for s, row in enumerate(a)]
    wide = paired_seed_sample_bootstrap(a, c, resamples=1000, seed=0)
    assert wide.low < -0.05 and wide.high > 0.05 and 0.0 in wide
    assert paired_seed_sample_bootstrap(a, c, resamples=1000, seed=0) == wide  # seeded
    with pytest.raises(ValueError):
        paired_seed_sample_bootstrap([[1, 0]], [[1, 0, 1]])


def test_paired_comparison_counts_discordant_pairs_and_brackets_the_difference():
    a = [1.0] * 30 + [0.0] * 70
    b = [1.0] * 25 + [0.0] * 5 + [1.0] * 15 + [0.0] * 55  # 5 lost, 15 gained: +10 points
    c = paired_comparison(a, b, resamples=500)
    assert c["diff"] == pytest.approx(0.10) and c["only_first"] == 5 and c["only_second"] == 15
    assert c["diff_ci95"][0] < 0.10 < c["diff_ci95"][1]
    assert c["mcnemar_p"] == pytest.approx(mcnemar_exact(5, 15))
    same = paired_comparison(a, a, resamples=100)
    assert same["diff"] == 0 and same["diff_ci95"] == [0.0, 0.0] and same["mcnemar_p"] == 1.0
    with pytest.raises(ValueError, match="different sizes"):
        paired_comparison([1.0], [1.0, 0.0])
