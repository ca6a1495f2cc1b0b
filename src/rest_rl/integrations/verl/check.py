"""Compose a verl + ResT Hydra config and validate it without launching anything (no GPU, no Ray).

    python -m rest_rl.integrations.verl.check recipes/verl/config/rest_qwen3_4b_rlla4k.yaml [key=value ...]

Composes the file with verl's own trainer config (``pkg://verl.trainer.config``), runs verl's
``validate_config`` (the check ``verl.trainer.main_ppo`` runs before starting Ray), builds the actor config
dataclass verl's workers build, checks the ``rest`` section, the trainer mode and the reward function, and
prints the numbers that define the run. Exit status 0 when everything holds, 2 (one line on stderr) otherwise.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["compose", "main", "summary", "validate"]


def compose(config_file: str, overrides: list[str] | None = None) -> Any:
    """The composed OmegaConf config of ``config_file`` (a Hydra primary config) with ``overrides``."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    path = os.path.abspath(config_file)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no such config file: {config_file}")
    name = os.path.splitext(os.path.basename(path))[0]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=os.path.dirname(path), version_base=None):
        return hydra_compose(config_name=name, overrides=list(overrides or []))


def validate(config: Any) -> None:
    """verl's own checks plus ResT's; raises on the first problem."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.reward import get_custom_reward_fn
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import omega_conf_to_dataclass, validate_config
    from verl.workers.config import ActorConfig

    from rest_rl.integrations.verl.reward import reward_config
    from rest_rl.integrations.verl.trainer import TRAINER_MODE, rest_config_of

    validate_config(config=config, use_reference_policy=need_reference_policy(config), use_critic=need_critic(config))
    actor = omega_conf_to_dataclass(config.actor_rollout_ref.actor)
    if not isinstance(actor, ActorConfig):
        raise ValueError(f"actor config built as {type(actor).__name__}, not a verl ActorConfig")
    rest = rest_config_of(config)
    mode = config.trainer.v1.trainer_mode
    if rest.enable and mode != TRAINER_MODE:
        raise ValueError(f"the rest section is enabled but trainer.v1.trainer_mode is {mode!r}, not {TRAINER_MODE!r}")
    if rest.enable and not config.trainer.use_v1:
        raise ValueError("ResT runs on verl's v1 trainer: set trainer.use_v1=true")
    if config.actor_rollout_ref.actor.policy_loss.loss_mode != "vanilla":
        raise ValueError("ResT folds its weights into the advantages of verl's 'vanilla' policy loss")
    if config.algorithm.adv_estimator != "grpo":
        raise ValueError(f"ResT is tested with algorithm.adv_estimator=grpo, got {config.algorithm.adv_estimator!r}")
    fn = get_custom_reward_fn(config)
    if fn is not None:
        kwargs = OmegaConf.to_container(config.reward.custom_reward_function.get("reward_kwargs") or {})
        reward_config(**kwargs)


def summary(config: Any) -> dict[str, Any]:
    """The numbers that define a run (what the recipe's header promises)."""
    from rest_rl.integrations.verl.trainer import rest_config_of

    rest = rest_config_of(config)
    actor = config.actor_rollout_ref.actor
    return {
        "model": config.actor_rollout_ref.model.path,
        "prompts_per_step": config.data.train_batch_size,
        "samples_per_prompt": config.actor_rollout_ref.rollout.n,
        "optimizer_steps_per_step": config.data.train_batch_size // actor.ppo_mini_batch_size,
        "lr": actor.optim.lr,
        "total_epochs": config.trainer.total_epochs,
        "loss_agg_mode": actor.loss_agg_mode,
        "clip": (actor.clip_ratio_low, actor.clip_ratio_high, actor.clip_ratio_c),
        "kl": bool(actor.use_kl_loss or config.algorithm.use_kl_in_reward),
        "trainer_mode": config.trainer.v1.trainer_mode,
        "rest_enable": rest.enable,
        "rest_scheme": rest.weights.scheme,
        "reward": config.reward.custom_reward_function.path,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rest_rl.integrations.verl.check", description=__doc__.split("\n")[0])
    parser.add_argument("config", help="a Hydra primary config (e.g. recipes/verl/config/rest_qwen3_4b_rlla4k.yaml)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, key=value")
    args = parser.parse_args(argv)
    try:
        config = compose(args.config, args.overrides)
        validate(config)
    except Exception as exc:  # noqa: BLE001 - one line for the user
        print(f"verl config check: error: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", file=sys.stderr)
        return 2
    for key, value in summary(config).items():
        print(f"{key}: {value}")
    print("ok: composes with verl's trainer config and passes verl's validate_config")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
