"""The recipe composes with verl's own Hydra trainer config and passes verl's validate_config, without
launching anything; the trainer mode is registered with verl (also through the verl.plugins entry point)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("verl", reason="verl is not installed here; `make test-verl` runs these tests in .venv-verl")

from rest_rl.integrations.verl import check

RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "verl" / "config"


@pytest.fixture(scope="module")
def paper():
    return check.compose(str(RECIPES / "rest_qwen3_4b_rlla4k.yaml"))


def test_paper_recipe_composes_and_validates(paper):
    check.validate(paper)
    s = check.summary(paper)
    assert s["model"] == "Qwen/Qwen3-4B-Instruct-2507"
    assert (s["prompts_per_step"], s["samples_per_prompt"], s["lr"], s["total_epochs"]) == (512, 4, 1e-6, 15)
    assert s["optimizer_steps_per_step"] == 8 and s["kl"] is False
    assert s["trainer_mode"] == "rest_sync" and s["rest_scheme"] == "entropy"
    assert s["loss_agg_mode"] == "seq-mean-token-mean"
    # verl's defaults are there too: the composition really went through verl's ppo_trainer.yaml
    assert paper.actor_rollout_ref.actor.policy_loss.loss_mode == "vanilla"
    assert "critic" in paper and paper.trainer.use_v1 is True


def test_official_recipe_composes_and_validates():
    cfg = check.compose(str(RECIPES / "rest_qwen3_4b_rlla4k_official.yaml"))
    check.validate(cfg)
    s = check.summary(cfg)
    assert s["rest_scheme"] == "official" and s["loss_agg_mode"] == "token-mean"
    assert s["clip"] == (0.2, 0.2, 3.0) and s["prompts_per_step"] == 512


@pytest.mark.parametrize(
    "override, message",
    [
        ("trainer.v1.trainer_mode=sync", "trainer_mode"),
        ("+rest.alpha_fromat=0.1", "unknown key"),
        ("actor_rollout_ref.actor.ppo_mini_batch_size=1000", "ppo_mini_batch_size"),
        ("+reward.custom_reward_function.reward_kwargs.dynamic_horizon=2", "horizon_steps"),
    ],
)
def test_broken_configs_are_rejected(override, message):
    with pytest.raises(Exception, match=message):
        check.validate(check.compose(str(RECIPES / "rest_qwen3_4b_rlla4k.yaml"), [override]))


def test_trainer_mode_is_registered_with_verl_on_import():
    code = (
        "import verl\n"
        "from verl.trainer.ppo.v1 import get_trainer_cls\n"
        "cls = get_trainer_cls('rest_sync')\n"
        "from verl.trainer.ppo.v1 import PPOTrainerSync\n"
        "print(cls.__module__, issubclass(cls, PPOTrainerSync))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip().splitlines()[-1] == "rest_rl.integrations.verl.trainer True"


def test_check_command_runs(tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "rest_rl.integrations.verl.check", str(RECIPES / "rest_qwen3_4b_rlla4k.yaml")],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "ok: composes with verl's trainer config" in res.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "rest_rl.integrations.verl.check", str(tmp_path / "missing.yaml")],
        capture_output=True, text=True, timeout=300,
    )
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
