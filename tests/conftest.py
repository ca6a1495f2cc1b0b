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
