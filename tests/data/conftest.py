"""Shared fixtures: the real public files in ``<repo>/../shared/data`` (read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_file(relative: str) -> Path:
    """Path of a file under the shared data folder; skips the test when it is absent."""
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data file not available: {path} (the shared data folder is outside the repo)")
    return path


@pytest.fixture(scope="session")
def rlla_sft_path() -> Path:
    return shared_file("toolrl/rlla_sft.json")


@pytest.fixture(scope="session")
def rlla_test_path() -> Path:
    return shared_file("toolrl/rlla_4k_test.parquet")


@pytest.fixture(scope="session")
def hammer_path() -> Path:
    return shared_file("hammer/masking_sft_data_example.json")
