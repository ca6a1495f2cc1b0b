"""rest-rl: ResT (reshaped token-level policy gradients) for tool-using LLMs.

The math lives in :mod:`rest_rl.core` (pure torch/python, no trainer framework).
"""

__version__ = "0.1.0"
