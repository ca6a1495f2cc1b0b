"""Shared pytest fixtures: small real tokenizers trained locally (no downloads)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bpe_tok_tags():
    """Byte-level BPE tokenizer whose tool-use tags are single, non-special added tokens (Qwen3-like)."""
    from rest_rl.models import build_bpe_tokenizer

    return build_bpe_tokenizer(tags_as_tokens=True)


@pytest.fixture(scope="session")
def bpe_tok_text():
    """Byte-level BPE tokenizer whose tool-use tags are ordinary text split over several tokens."""
    from rest_rl.models import build_bpe_tokenizer

    return build_bpe_tokenizer(tags_as_tokens=False)


@pytest.fixture(scope="session")
def cli_tiny_model(tmp_path_factory):
    """The smallest embedded model directory the CLI tests train from (read-only: runs write elsewhere)."""
    from rest_rl.data.synthetic import SyntheticConfig
    from rest_rl.models.tiny import TinyModelConfig, make_embedded_model

    world = SyntheticConfig(n_train=40, n_validation=0, n_test=4)
    config = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, ffn_multiplier=2)
    return make_embedded_model(tmp_path_factory.mktemp("cli-model"), world, config=config, vocab_size=400)
