"""API-Bank evaluation (ToolRL protocol)."""

from rest_rl.eval.apibank.run import *  # noqa: F401,F403
from rest_rl.eval.apibank.run import __all__  # noqa: F401
