"""verl's synchronous PPO trainer (v1) with ResT: ``trainer.v1.trainer_mode=rest_sync``.

verl 0.9 runs PPO/GRPO through ``verl.trainer.ppo.v1`` trainers, selected by name
(``trainer.v1.trainer_mode``) from an open registry (``register_trainer``). This module registers
``rest_sync``: verl's ``sync`` trainer (:class:`verl.trainer.ppo.v1.PPOTrainerSync`) with two methods
extended, and nothing copied:

1. ``_compute_advantage``: after verl has computed the advantages (and written them to its TransferQueue),
   read back ``responses``, ``response_mask``, the old policy's ``entropy`` and ``advantages`` of the
   batch, apply :func:`rest_rl.integrations.verl.batch.apply_rest` (regions from the token ids, ResT
   weights, ``A * w``) and write the advantages back. The actor then runs verl's own policy loss,
   aggregation, clipping and metrics on them. The ``rest/*`` metrics join the step's metrics, which verl
   hands to its logger (console, W&B, TensorBoard, ...).
2. ``_next_train_batch``: writes verl's global step into each prompt's ``extra_info`` under
   ``rest_global_step`` so the reward function (:mod:`rest_rl.integrations.verl.reward`) can follow
   ResT's dynamic schedule.

The ResT settings are the config's top-level ``rest`` section
(:class:`~rest_rl.integrations.verl.reweight.ResTVerlConfig`). verl's own code branches on
``trainer_mode == "sync"`` (replay buffer, refills, checkpoints), so the trainer sets the mode in its
config back to ``sync`` before verl's constructor reads it: it behaves as ``sync`` in everything but the
two methods above, and ``trainer.v1.sync.*`` settings apply to it.

The module is imported by the ``verl.plugins`` entry point of rest-rl (:mod:`rest_rl.integrations.verl.plugin`),
so every process of a verl run that imports verl -- the driver and the Ray task runner -- knows the name.
"""

from __future__ import annotations

from typing import Any

import transfer_queue as tq
from omegaconf import DictConfig, open_dict
from tensordict import TensorDict
from verl import DataProto
from verl.trainer.ppo.v1.trainer_base import TRAINER_REGISTRY, register_trainer
from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync
from verl.workers.utils.padding import response_to_nested

from .batch import apply_rest
from .reward import STEP_KEY
from .reweight import ResTVerlConfig

__all__ = ["TRAINER_MODE", "ResTTrainerMixin", "ResTPPOTrainerSync", "rest_config_of", "stamp_global_step"]

TRAINER_MODE = "rest_sync"
"""The value of ``trainer.v1.trainer_mode`` that selects :class:`ResTPPOTrainerSync`."""

_FIELDS = ["responses", "response_mask", "entropy", "advantages"]


def rest_config_of(config: Any) -> ResTVerlConfig:
    """The validated ResT settings of a verl config (its top-level ``rest`` section; defaults without one)."""
    section = config.get("rest") if hasattr(config, "get") else None
    return ResTVerlConfig.from_section(section)


def stamp_global_step(batch: Any, global_steps: int) -> int:
    """Write ``global_steps`` into every ``extra_info`` dict of a prompt batch; returns how many were stamped."""
    if "extra_info" not in batch.keys():
        return 0
    stamped = 0
    for info in batch["extra_info"]:
        if isinstance(info, dict):
            info[STEP_KEY] = int(global_steps)
            stamped += 1
    return stamped


class ResTTrainerMixin:
    """The ResT part of :class:`ResTPPOTrainerSync`, for combining with another v1 trainer class."""

    config: DictConfig
    tokenizer: Any
    global_steps: int
    total_training_steps: int

    @property
    def rest_config(self) -> ResTVerlConfig:
        cached = getattr(self, "_rest_config", None)
        if cached is None:
            cached = rest_config_of(self.config)
            self._rest_config = cached
        return cached

    def _next_train_batch(self, num_prompts: int | None = None) -> Any:
        batch = super()._next_train_batch(num_prompts)  # type: ignore[misc]
        stamp_global_step(batch, self.global_steps)
        return batch

    def _compute_advantage(self, batch: Any, metrics: dict) -> Any:
        batch = super()._compute_advantage(batch, metrics=metrics)  # type: ignore[misc]
        data = tq.kv_batch_get(keys=batch.keys, partition_id=batch.partition_id, select_fields=_FIELDS)
        nested_mask = data["response_mask"]
        padded = DataProto(batch=data.to_padded_tensor())
        metrics.update(
            apply_rest(
                padded,
                self.tokenizer,
                self.rest_config,
                global_steps=self.global_steps,
                total_training_steps=self.total_training_steps,
            )
        )
        if self.rest_config.enable:
            advantages = response_to_nested(padded.batch["advantages"], nested_mask)
            output = TensorDict({"advantages": advantages}, batch_size=len(batch))
            batch = tq.kv_batch_put(keys=batch.keys, partition_id=batch.partition_id, fields=output)
        return batch


class ResTPPOTrainerSync(ResTTrainerMixin, PPOTrainerSync):
    """verl's ``sync`` PPO trainer with ResT token weights (module docstring)."""

    def __init__(self, config: DictConfig) -> None:
        with open_dict(config):
            config.trainer.v1.trainer_mode = "sync"  # verl branches on the mode name; see the module docstring
        self._rest_config = rest_config_of(config)  # fail before any worker starts
        super().__init__(config)


if TRAINER_REGISTRY.get(TRAINER_MODE) is not ResTPPOTrainerSync:
    register_trainer(TRAINER_MODE)(ResTPPOTrainerSync)
