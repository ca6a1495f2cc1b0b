"""Fixtures for the verl adapter tests. They run against verl's real code and need it installed: the
main virtualenv has no verl (it pins a transformers that verl 0.9 refuses), so there they are skipped;
`make test` runs them in .venv-verl (`make install-verl`). Each test module starts with
``pytest.importorskip("verl")``."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokenizer():
    """Byte-level BPE tokenizer whose tool-use tags are single non-special tokens (Qwen3-like)."""
    from rest_rl.models import build_bpe_tokenizer

    return build_bpe_tokenizer(tags_as_tokens=True)
