"""Adapters to the training engines people already run.

Each sub-package is the only place its framework is imported: :mod:`rest_rl.integrations.trl` (TRL's
``GRPOTrainer`` / ``SFTTrainer``) and :mod:`rest_rl.integrations.verl` (verl 0.9, in its own virtualenv). They hold configs, trainer hooks, reward adapters and runners; the
math they apply lives in :mod:`rest_rl.core`.
"""
