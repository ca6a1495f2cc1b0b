"""The TRL adapter: GRPO with ResT token weights, the ToolRL reward as TRL reward functions, token-weighted
SFT baselines, training callbacks and the runners behind ``rest-rl sft`` / ``rest-rl train``.

    from rest_rl.integrations.trl import ResTGRPOConfig, ResTGRPOTrainer, apply_ablation
    args = apply_ablation(ResTGRPOConfig(output_dir="out"), "no_curriculum")
    ResTGRPOTrainer(model="Qwen/Qwen3-1.7B", args=args, train_dataset=dataset).train()

Importing this package imports TRL and transformers.
"""

from rest_rl.integrations.trl.grpo import (
    ABLATIONS,
    REGIONS_KEY,
    REST_AGGREGATIONS,
    ResTGRPOConfig,
    ResTGRPOTrainer,
    apply_ablation,
    register_rest_aggregation,
    unregister_rest_aggregation,
)
from rest_rl.integrations.trl.rewards import ToolRLReward, completion_text, make_reward_funcs, training_progress

__all__ = [
    "ABLATIONS",
    "REGIONS_KEY",
    "REST_AGGREGATIONS",
    "ResTGRPOConfig",
    "ResTGRPOTrainer",
    "ToolRLReward",
    "apply_ablation",
    "completion_text",
    "register_rest_aggregation",
    "unregister_rest_aggregation",
    "make_reward_funcs",
    "training_progress",
]

