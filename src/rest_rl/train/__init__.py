"""Compatibility name of :mod:`rest_rl.integrations.trl` (where the TRL adapter lives since 0.2).

``from rest_rl.train import ResTGRPOTrainer`` and ``from rest_rl.train.sft import ResTSFTTrainer`` keep
working: the sub-modules are the same module objects as ``rest_rl.integrations.trl.<name>``.
Importing this package imports TRL and transformers.
"""

import importlib
import sys

from rest_rl.integrations.trl import *  # noqa: F401,F403
from rest_rl.integrations.trl import __all__  # noqa: F401

for _name in ("callbacks", "grpo", "rewards", "sft"):
    _module = importlib.import_module(f"rest_rl.integrations.trl.{_name}")
    sys.modules[f"{__name__}.{_name}"] = _module
    globals()[_name] = _module
del _name, _module
