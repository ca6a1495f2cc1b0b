"""Model-side helpers: a locally trained tokenizer (and, later, tiny local models and chat templates).

This package may import ``transformers`` / ``tokenizers``; :mod:`rest_rl.core` must not.
"""

from rest_rl.models.tokenizer import build_bpe_tokenizer

__all__ = ["build_bpe_tokenizer"]
