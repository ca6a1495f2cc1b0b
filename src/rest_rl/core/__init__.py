"""The ResT math, as pure PyTorch/NumPy functions.

Data flows one way through these modules::

    completion text + token offsets --regions--> Region code per token
    token ids + trained mask --------segments--> Region code per token, each trained run alone
    hidden states + LM head ---------entropy---> log-prob and entropy per token
    regions + entropies + progress --weights---> token weights (mean 1 per sequence)
    rewards ------------------------advantages-> group-normalised advantages
    log-probs + advantages + weights --loss----> weighted clipped policy loss

Advantage estimators, weight schemes and loss aggregations are open registries
(:class:`~rest_rl.core.registry.Registry`): add one with ``register_advantage_estimator``,
``register_weight_scheme`` or ``register_aggregation``; ``ADVANTAGE_ESTIMATORS``,
``WEIGHT_SCHEMES`` and ``AGGREGATIONS`` are read-only live views of them.

Importing this package never imports a trainer framework (TRL, verl, vLLM) or transformers.
"""

from rest_rl.core.advantages import (
    ADVANTAGE_ESTIMATORS,
    dr_grpo_advantages,
    grpo_advantages,
    register_advantage_estimator,
    unregister_advantage_estimator,
)
from rest_rl.core.entropy import chunked_logprobs_and_entropy, logprobs_and_entropy_from_logits
from rest_rl.core.loss import (
    AGGREGATIONS,
    PolicyLossOutput,
    clipped_policy_loss,
    register_aggregation,
    unregister_aggregation,
)
from rest_rl.core.offsets import token_char_offsets
from rest_rl.core.regions import NUM_REGIONS, STRADDLE_RULE, Region, label_batch, label_chars, label_tokens
from rest_rl.core.registry import Registry
from rest_rl.core.segments import label_segments, mask_runs
from rest_rl.core.curriculum import CURRICULUM_DRIVERS, ClosedLoopProgress, structure_entropy
from rest_rl.core.weights import (
    WEIGHT_SCHEMES,
    WeightConfig,
    WeightsOutput,
    region_entropy_stats,
    region_mean_entropy,
    region_weights,
    register_weight_scheme,
    token_weights,
    unregister_weight_scheme,
)

__all__ = [
    "CURRICULUM_DRIVERS",
    "ClosedLoopProgress",
    "structure_entropy",
    "ADVANTAGE_ESTIMATORS",
    "AGGREGATIONS",
    "NUM_REGIONS",
    "STRADDLE_RULE",
    "PolicyLossOutput",
    "Region",
    "Registry",
    "WEIGHT_SCHEMES",
    "WeightConfig",
    "WeightsOutput",
    "chunked_logprobs_and_entropy",
    "clipped_policy_loss",
    "dr_grpo_advantages",
    "grpo_advantages",
    "label_batch",
    "label_chars",
    "label_segments",
    "label_tokens",
    "logprobs_and_entropy_from_logits",
    "mask_runs",
    "region_entropy_stats",
    "region_mean_entropy",
    "region_weights",
    "register_advantage_estimator",
    "register_aggregation",
    "register_weight_scheme",
    "token_char_offsets",
    "token_weights",
    "unregister_advantage_estimator",
    "unregister_aggregation",
    "unregister_weight_scheme",
]
