"""TRL adapters: GRPO with ResT token weights, the ToolRL reward as TRL reward functions, and
(from their own modules) token-weighted SFT and training callbacks.

    from rest_rl.train import ResTGRPOConfig, ResTGRPOTrainer, apply_ablation
    args = apply_ablation(ResTGRPOConfig(output_dir="out"), "no_curriculum")
    ResTGRPOTrainer(model="Qwen/Qwen3-1.7B", args=args, train_dataset=dataset).train()

Importing this package imports TRL and transformers.
"""

from rest_rl.train.grpo import (
    ABLATIONS,
    REGIONS_KEY,
    REST_AGGREGATIONS,
    ResTGRPOConfig,
    ResTGRPOTrainer,
    apply_ablation,
)
from rest_rl.train.rewards import ToolRLReward, completion_text, make_reward_funcs, training_progress

__all__ = [
    "ABLATIONS",
    "REGIONS_KEY",
    "REST_AGGREGATIONS",
    "ResTGRPOConfig",
    "ResTGRPOTrainer",
    "ToolRLReward",
    "apply_ablation",
    "completion_text",
    "make_reward_funcs",
    "training_progress",
]

# Other modules of this package add their exports below (``from rest_rl.train.sft import ...``,
# ``from rest_rl.train.callbacks import ...``) and extend ``__all__`` with ``__all__ += [...]``.
