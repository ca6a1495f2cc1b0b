"""Shared fixtures of the evaluation tests: a tiny model directory and the real API-Bank files.

``tiny_model_dir`` is an ordinary Hugging Face directory (tokenizer with a ChatML template, a tiny
randomly initialised Qwen3 model) built once per session with ``save_tiny_model``; every engine and
command accepts it as ``--model``. Its context is 4096 positions, so real API-Bank and BFCL prompts
(about 1.5k-3k tokens with its small vocabulary) fit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
API_BANK_DIR = SHARED_DATA / "api_bank"


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Qwen3 model + tokenizer saved as a Hugging Face directory (built once per session)."""
    from rest_rl.models import TinyModelConfig, save_tiny_model

    return save_tiny_model(tmp_path_factory.mktemp("tiny_model") / "tiny", config=TinyModelConfig(max_positions=4096))


@pytest.fixture(scope="session")
def api_bank_dir() -> Path:
    """The real API-Bank files (read-only); skips when the shared data folder is absent."""
    names = [f"level-{k}-api_processed.json" for k in (1, 2, 3)]
    if not all((API_BANK_DIR / n).is_file() for n in names):
        pytest.skip(f"real API-Bank files not available in {API_BANK_DIR} (the shared data folder is outside the repo)")
    return API_BANK_DIR


@pytest.fixture(scope="session")
def api_bank_samples(api_bank_dir: Path):
    """All 597 API-Bank samples, loaded once."""
    from rest_rl.eval.apibank import load_apibank

    return load_apibank(api_bank_dir)
