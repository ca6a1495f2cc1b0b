"""Model-side helpers: a locally trained tokenizer and a tiny Qwen3-architecture model.

This package may import ``transformers`` / ``tokenizers``; :mod:`rest_rl.core` must not.
"""

from rest_rl.models.tiny import TinyModelConfig, build_tiny_model, make_embedded_model, save_tiny_model
from rest_rl.models.tokenizer import build_bpe_tokenizer

__all__ = ["TinyModelConfig", "build_bpe_tokenizer", "build_tiny_model", "make_embedded_model", "save_tiny_model"]
