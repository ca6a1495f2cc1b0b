"""The verl adapter: ResT token weights, the ToolRL reward and the rlla_4k data for verl 0.9.

* :mod:`.reweight` (no verl needed): the ``rest`` config section, the curriculum progress from verl's
  global step, the weights folded into verl's per-token advantages, the per-region metrics.
* :mod:`.batch`: the same on a ``verl.DataProto`` (regions labelled from the response ids, each model
  turn of verl's multi-turn agent loop on its own, tool output excluded through ``response_mask``).
* :mod:`.trainer`: verl's synchronous v1 trainer with ResT, registered as ``trainer.v1.trainer_mode=rest_sync``
  (needs verl's TransferQueue).
* :mod:`.reward` (no verl needed): the ToolRL reward with ResT's dynamic schedule as verl's
  ``custom_reward_function``.
* :mod:`.plugin`: imported by verl through the ``verl.plugins`` entry point, registers the trainer.

Recipe and usage: ``docs/verl.md``; data in verl's parquet layout: :func:`rest_rl.data.sources.write_toolrl_rl`.
Importing this package does not import verl; its submodules ``batch``, ``trainer`` and ``plugin`` do.
"""

from rest_rl.integrations.verl.reward import compute_score
from rest_rl.integrations.verl.reweight import (
    ResTVerlConfig,
    ReweightOutput,
    curriculum_progress,
    region_metrics,
    rest_reweight,
)

__all__ = [
    "ResTVerlConfig",
    "ReweightOutput",
    "compute_score",
    "curriculum_progress",
    "region_metrics",
    "rest_reweight",
]
