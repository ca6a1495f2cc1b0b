"""ResT on a verl ``DataProto``: label the responses' regions and fold the weights into the advantages.

verl keeps a training batch as a :class:`verl.DataProto` whose ``batch`` holds, per response (right-padded
to the batch's response length):

* ``responses``: the generated token ids (in the multi-turn agent loop: the model's turns *and* the tool
  output inserted between them);
* ``response_mask``: 1 on the tokens the loss trains (the model's tokens), 0 on tool output and padding;
* ``advantages``: per-token advantages (written by verl's advantage estimator);
* the old policy's per-token entropies: ``entropy`` (verl 0.9's v1 trainer writes them next to
  ``old_log_probs``) or ``entropys`` (the legacy trainer's name).

:func:`apply_rest` labels each maximal run of ``response_mask`` -- one model turn -- on its own from its
exact token ids (:func:`rest_rl.core.segments.label_segments`: every id gets the region of its character
span in the decoded text, nothing is re-tokenised), so tool output holding ``<tool_call>`` or JSON cannot
move the labels of the model's next turn; builds the ResT token weights
(:func:`rest_rl.integrations.verl.reweight.rest_reweight`); and replaces ``advantages`` by ``A * w``.
"""

from __future__ import annotations

from typing import Any

import torch
from verl import DataProto

from rest_rl.core.regions import Region
from rest_rl.core.segments import label_segments

from .reweight import ResTVerlConfig, curriculum_progress, region_metrics, rest_reweight

__all__ = ["ENTROPY_KEYS", "REGIONS_KEY", "WEIGHTS_KEY", "apply_rest", "label_response_regions"]

REGIONS_KEY = "rest_regions"
"""Key of the ``[B, T]`` int64 region codes that :func:`apply_rest` adds to ``DataProto.batch``."""
WEIGHTS_KEY = "rest_weights"
"""Key of the ``[B, T]`` float32 token weights that :func:`apply_rest` adds to ``DataProto.batch``."""
ENTROPY_KEYS = ("entropy", "entropys")
"""Where verl puts the old policy's per-token entropies (v1 trainer, legacy trainer)."""


def label_response_regions(tokenizer: Any, responses: torch.Tensor, response_mask: torch.Tensor) -> torch.Tensor:
    """Region codes ``[B, T]`` (int64, on ``responses``'s device) of verl's response ids.

    Every maximal run of ``response_mask`` is decoded alone (``skip_special_tokens=True``, as verl's reward
    managers decode) and labelled from its exact character offsets; positions outside the mask (tool output,
    padding) get ``Region.OTHER`` and are not trained anyway.
    """
    if responses.dim() != 2 or response_mask.shape != responses.shape:
        raise ValueError(
            f"responses and response_mask must both be [B, T], got {tuple(responses.shape)} and "
            f"{tuple(response_mask.shape)}"
        )
    return label_segments(tokenizer, responses, response_mask, fill=Region.OTHER)


def _entropy_of(data: DataProto) -> torch.Tensor | None:
    for key in ENTROPY_KEYS:
        if key in data.batch.keys():
            return data.batch[key]
    return None


def apply_rest(
    data: DataProto,
    tokenizer: Any,
    config: ResTVerlConfig,
    *,
    global_steps: int,
    total_training_steps: int | None,
) -> dict[str, float]:
    """Reweight ``data.batch["advantages"]`` in place with ResT's token weights; return the metrics.

    Adds ``data.batch[REGIONS_KEY]`` and ``data.batch[WEIGHTS_KEY]``. The curriculum progress is
    ``(global_steps - 1) / total_training_steps`` (:func:`~rest_rl.integrations.verl.reweight.curriculum_progress`);
    the ``official`` scheme's ramp uses ``global_steps`` as verl counts it (from 1), as the authors' verl
    fork does. With ``config.enable`` false the advantages are left alone and only metrics are computed.

    Raises ``ValueError`` when a needed field is missing (the entropy scheme without verl's entropies, e.g.
    under rollout-correction bypass mode, where verl computes no old log-probs).
    """
    batch = data.batch
    for key in ("responses", "response_mask", "advantages"):
        if key not in batch.keys():
            raise ValueError(f"ResT needs {key!r} in the verl batch; it has {sorted(batch.keys())}")
    responses = batch["responses"]
    mask = batch["response_mask"]
    advantages = batch["advantages"]
    if advantages.shape != responses.shape:
        raise ValueError(
            f"advantages {tuple(advantages.shape)} and responses {tuple(responses.shape)} must have one shape"
        )
    entropy = _entropy_of(data)
    weights_cfg = config.weights
    regions = label_response_regions(tokenizer, responses, mask)
    progress = curriculum_progress(global_steps, total_training_steps)
    if entropy is None and weights_cfg.scheme == "entropy":
        raise ValueError(
            "ResT's entropy scheme needs the old policy's per-token entropies in the batch "
            f"(one of {ENTROPY_KEYS}); verl computes them with the old log-probs, which rollout-correction "
            "bypass mode skips"
        )
    result = rest_reweight(
        advantages, regions, mask, weights_cfg, entropy=entropy, progress=progress, step=int(global_steps)
    )
    if config.enable:
        batch["advantages"] = result.advantages
    batch[REGIONS_KEY] = regions.to(advantages.device)
    batch[WEIGHTS_KEY] = result.weights.to(advantages.device)
    if not config.log_region_metrics:
        return {"rest/progress": result.progress}
    return region_metrics(regions, mask, result, entropy)
