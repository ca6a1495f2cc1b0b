"""The ResT math, as pure PyTorch/NumPy functions.

Data flows one way through these modules::

    completion text + token offsets --regions--> Region code per token
    hidden states + LM head ---------entropy---> log-prob and entropy per token
    regions + entropies + progress --weights---> token weights (mean 1 per sequence)
    rewards ------------------------advantages-> group-normalised advantages
    log-probs + advantages + weights --loss----> weighted clipped policy loss

Importing this package never imports a trainer framework (TRL, verl, vLLM) or transformers.
"""

from rest_rl.core.advantages import ADVANTAGE_ESTIMATORS, dr_grpo_advantages, grpo_advantages
from rest_rl.core.entropy import chunked_logprobs_and_entropy, logprobs_and_entropy_from_logits
from rest_rl.core.loss import AGGREGATIONS, PolicyLossOutput, clipped_policy_loss
from rest_rl.core.offsets import token_char_offsets
from rest_rl.core.regions import NUM_REGIONS, STRADDLE_RULE, Region, label_batch, label_chars, label_tokens
from rest_rl.core.weights import (
    WeightConfig,
    WeightsOutput,
    region_entropy_stats,
    region_mean_entropy,
    region_weights,
    token_weights,
)

__all__ = [
    "ADVANTAGE_ESTIMATORS",
    "AGGREGATIONS",
    "NUM_REGIONS",
    "STRADDLE_RULE",
    "PolicyLossOutput",
    "Region",
    "WeightConfig",
    "WeightsOutput",
    "chunked_logprobs_and_entropy",
    "clipped_policy_loss",
    "dr_grpo_advantages",
    "grpo_advantages",
    "label_batch",
    "label_chars",
    "label_tokens",
    "logprobs_and_entropy_from_logits",
    "region_entropy_stats",
    "region_mean_entropy",
    "region_weights",
    "token_char_offsets",
    "token_weights",
]
