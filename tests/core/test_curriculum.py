"""The closed-loop curriculum: progress from the decline of the structure regions' entropy."""

from __future__ import annotations

import pytest
import torch

from rest_rl.core import NUM_REGIONS, ClosedLoopProgress, Region, WeightConfig, structure_entropy


def _stats(**by_region: tuple[float, int]) -> tuple[torch.Tensor, torch.Tensor]:
    sums, counts = torch.zeros(NUM_REGIONS), torch.zeros(NUM_REGIONS)
    for name, (mean, n) in by_region.items():
        sums[Region[name]] = mean * n
        counts[Region[name]] = n
    return sums, counts


def test_structure_entropy_is_the_token_weighted_mean_of_structure_regions_only():
    sums, counts = _stats(FORMAT=(0.2, 10), TOOL_NAME=(1.0, 10), THINK=(5.0, 100))
    assert structure_entropy(sums, counts) == pytest.approx(0.6)
    assert structure_entropy(*_stats(THINK=(3.0, 5))) is None


def test_progress_follows_the_entropy_drop_and_never_goes_back():
    p = ClosedLoopProgress(ema=0.0, target_drop=0.5)
    assert p.update(2.0) == 0.0  # the reference
    assert p.update(1.5) == pytest.approx(0.5)  # a quarter lower: half-way to the target drop of 0.5
    assert p.update(1.0) == pytest.approx(1.0)
    assert p.update(1.9) == pytest.approx(1.0)  # entropy came back up: progress stays
    assert p.update(None) == pytest.approx(1.0)


def test_ema_smooths_and_no_learning_means_no_progress():
    p = ClosedLoopProgress(ema=0.5, target_drop=0.5)
    for _ in range(10):
        p.update(1.0)
    assert p.nu == 0.0
    p.update(0.0)  # smoothed 0.5: drop 0.5 -> nu 1
    assert p.nu == pytest.approx(1.0)
    q = ClosedLoopProgress(ema=0.5)
    q.load_state_dict(p.state_dict())
    assert q.state_dict() == p.state_dict()


def test_weight_config_validates_the_driver():
    assert WeightConfig(curriculum_driver="structure_entropy").curriculum_driver == "structure_entropy"
    with pytest.raises(ValueError, match="unknown curriculum_driver"):
        WeightConfig(curriculum_driver="reward")
    with pytest.raises(ValueError, match="curriculum_ema"):
        WeightConfig(curriculum_ema=1.0)
    with pytest.raises(ValueError, match="curriculum_target_drop"):
        WeightConfig(curriculum_target_drop=0.0)
