"""A tiny Qwen3-architecture model built from a config: the embedded default for tests and the demo.

``save_tiny_model(dir)`` writes an ordinary Hugging Face directory (tokenizer + config + weights) that
every command accepts as ``--model``, exactly like a hub id such as ``Qwen/Qwen3-4B-Instruct-2507``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from rest_rl.models.tokenizer import build_bpe_tokenizer


@dataclass
class TinyModelConfig:
    """Sizes of the tiny model (defaults: about 0.5M parameters with a 1k vocabulary)."""

    hidden_size: int = field(default=128, metadata={"help": "Width of the residual stream."})
    num_layers: int = field(default=2, metadata={"help": "Transformer blocks."})
    num_heads: int = field(default=4, metadata={"help": "Attention heads (head dim = hidden / heads)."})
    num_kv_heads: int = field(default=2, metadata={"help": "Key/value heads (grouped-query attention)."})
    ffn_multiplier: int = field(default=3, metadata={"help": "FFN width as a multiple of hidden_size."})
    max_positions: int = field(default=1024, metadata={"help": "Longest sequence the model accepts."})
    seed: int = field(default=0, metadata={"help": "Seed of the random initialisation."})

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_heads or self.num_heads % self.num_kv_heads:
            raise ValueError("hidden_size must divide by num_heads, and num_heads by num_kv_heads")


def build_tiny_model(tokenizer: Any, config: TinyModelConfig | None = None) -> torch.nn.Module:
    """A randomly initialised ``Qwen3ForCausalLM`` sized by ``config`` for ``tokenizer``'s vocabulary.

    EOS and padding ids are set on the model config and its generation config, so generation stops at
    the end of an assistant turn (a config-built model has none of its own).
    """
    from transformers import Qwen3Config, Qwen3ForCausalLM

    cfg = config or TinyModelConfig()
    torch.manual_seed(cfg.seed)
    model_config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.ffn_multiplier * cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_kv_heads,
        head_dim=cfg.hidden_size // cfg.num_heads,
        max_position_embeddings=cfg.max_positions,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    model = Qwen3ForCausalLM(model_config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = None
    return model


def save_tiny_model(
    out_dir: str | Path,
    texts: Iterable[str] | None = None,
    *,
    config: TinyModelConfig | None = None,
    vocab_size: int = 1024,
) -> Path:
    """Train a tokenizer on ``texts``, build the tiny model, and save both to ``out_dir``.

    Returns the directory, loadable with ``AutoTokenizer.from_pretrained`` and
    ``AutoModelForCausalLM.from_pretrained``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_bpe_tokenizer(texts, vocab_size=vocab_size)
    model = build_tiny_model(tokenizer, config)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    return out
