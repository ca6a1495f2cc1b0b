"""A tiny Qwen3-architecture model built from a config: the embedded default for tests and the demo.

``make_embedded_model(dir)`` trains a byte-level BPE tokenizer on the synthetic tool world's corpus
(``<think> </think> <tool_call> </tool_call>`` as single added, non-special tokens, as in Qwen3), gives it
a chat template that accepts tools and ends every turn with the EOS token ``<|im_end|>`` and a response
parser for it (so TRL's multi-turn tool loop accepts the tokenizer as it is), builds a small
``Qwen3ForCausalLM`` and writes an ordinary Hugging Face directory (tokenizer + config + weights) that
every command accepts as ``--model``, exactly like a hub id such as ``Qwen/Qwen3-4B-Instruct-2507``.
``save_tiny_model(dir)`` is the older, corpus-agnostic variant (ChatML without tools, EOS
``<|endoftext|>``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from rest_rl.models.tokenizer import IM_END, TOOLS_CHAT_TEMPLATE, TOOLS_RESPONSE_TEMPLATE, build_bpe_tokenizer

__all__ = [
    "EMBEDDED_INFO_FILE",
    "TinyModelConfig",
    "build_tiny_model",
    "embedded_corpus",
    "make_embedded_model",
    "save_tiny_model",
]

EMBEDDED_INFO_FILE = "rest_rl_embedded.json"
"""File written next to the weights by :func:`make_embedded_model`: how the directory was built."""


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


_ROLE_LINES = ("system\nuser\nassistant\ntool\n<tool_response>\n</tool_response>\n<tools>\n</tools>\n",)


def embedded_corpus(world_config: Any = None, *, n: int | None = None) -> list[str]:
    """Tokenizer training texts for the embedded model: prompts and gold answers of the synthetic
    world's *train* split (held-out test values deliberately absent), plus the chat roles."""
    from rest_rl.data.synthetic import SyntheticConfig, corpus_texts

    return list(_ROLE_LINES) + corpus_texts(world_config or SyntheticConfig(), n=n)


def make_embedded_model(
    out_dir: str | Path,
    world_config: Any = None,
    *,
    config: TinyModelConfig | None = None,
    vocab_size: int = 1024,
    corpus_size: int | None = None,
    corpus: Iterable[str] | None = None,
) -> Path:
    """Build the embedded default model directory: tokenizer trained on the synthetic corpus + tiny model.

    Args:
        out_dir: where to write the Hugging Face directory (created if needed).
        world_config: the :class:`~rest_rl.data.synthetic.SyntheticConfig` whose train split is the
            tokenizer's corpus (default: ``SyntheticConfig()``).
        config: sizes of the model (default: :class:`TinyModelConfig`).
        vocab_size: target vocabulary of the byte-level BPE (digits are split one by one).
        corpus_size: how many train examples feed the tokenizer (default: the world's ``n_train``).
        corpus: the tokenizer's training texts, used exactly as given instead of the synthetic world's
            (e.g. rendered multi-turn conversations); ``world_config`` and ``corpus_size`` must then be
            left unset. ``rest_rl_embedded.json`` records the number of texts and their SHA-256.

    The tokenizer's EOS is ``<|im_end|>`` (the end of a chat turn, as in Qwen3-Instruct) and its pad
    token ``<|endoftext|>``; the model's config and generation config carry the same ids, so
    ``generate`` stops at the end of the assistant turn. Its chat template is
    :data:`~rest_rl.models.tokenizer.TOOLS_CHAT_TEMPLATE` and its ``response_template``
    :data:`~rest_rl.models.tokenizer.TOOLS_RESPONSE_TEMPLATE` (saved in ``tokenizer_config.json``):
    what TRL's ``GRPOTrainer(tools=..., environment_factory=...)`` needs to run tool calls. The directory loads with
    ``AutoTokenizer.from_pretrained`` / ``AutoModelForCausalLM.from_pretrained``; a
    ``rest_rl_embedded.json`` records the world and model settings it was built from.
    """
    from rest_rl.data.synthetic import SyntheticConfig

    texts: list[str] | None = None
    if corpus is not None:
        if world_config is not None or corpus_size is not None:
            raise ValueError("give either corpus or world_config / corpus_size, not both")
        texts = [t for t in corpus if isinstance(t, str)]
        if not texts:
            raise ValueError("corpus holds no text")
    world = world_config or SyntheticConfig()
    cfg = config or TinyModelConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = build_bpe_tokenizer(
        texts if texts is not None else embedded_corpus(world, n=corpus_size),
        vocab_size=vocab_size,
        chat_template=TOOLS_CHAT_TEMPLATE,
        eos_token=IM_END,
        response_template=TOOLS_RESPONSE_TEMPLATE,
    )
    model = build_tiny_model(tokenizer, cfg)
    tokenizer.save_pretrained(out)
    model.save_pretrained(out)
    info = {
        "what": "rest-rl embedded default: BPE tokenizer trained on the synthetic tool world + tiny Qwen3 model",
        "world_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(world).items()},
        "model_config": asdict(cfg),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    if texts is not None:
        info["what"] = "rest-rl embedded model: BPE tokenizer trained on a given corpus + tiny Qwen3 model"
        info["world_config"] = None
        info["corpus"] = {"texts": len(texts), "sha256": hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()}
    (out / EMBEDDED_INFO_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return out
