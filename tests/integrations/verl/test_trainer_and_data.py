"""The trainer's reward-step stamp on verl's own prompt batch, and the rlla_4k parquet writer read back by
verl's conventions (and by our loader)."""

from __future__ import annotations

import pytest

pytest.importorskip("verl", reason="verl is not installed here; `make test-verl` runs these tests in .venv-verl")

import numpy as np
import pyarrow.parquet as pq
import torch
from verl.utils import tensordict_utils as tu

from rest_rl.data import SyntheticConfig, make_splits
from rest_rl.data.sources import load_toolrl_rl, write_toolrl_rl
from rest_rl.integrations.verl.reward import STEP_KEY
from rest_rl.integrations.verl.trainer import stamp_global_step


def test_global_step_reaches_every_prompts_extra_info():
    batch = tu.get_tensordict(
        {
            "input_ids": torch.zeros(3, 4, dtype=torch.long),
            "extra_info": np.array([{"index": i} for i in range(3)], dtype=object),
        }
    )
    assert stamp_global_step(batch, 7) == 3
    assert [info[STEP_KEY] for info in batch["extra_info"]] == [7, 7, 7]
    # slices taken later (verl repeats and splits prompt batches) carry it
    assert [info[STEP_KEY] for info in batch[1:]["extra_info"]] == [7, 7]


def test_parquet_writer_round_trip(tmp_path):
    examples = [e for e in make_splits(SyntheticConfig(n_train=12, n_validation=0, n_test=0, seed=5))["train"]]
    path = tmp_path / "rlla" / "train.parquet"
    assert write_toolrl_rl(examples, path, split="train") == len(examples)
    rows = pq.read_table(path).to_pylist()
    assert [r["extra_info"]["index"] for r in rows] == list(range(len(examples)))
    assert all(r["data_source"] == "rlla" and r["reward_model"]["style"] == "rule" for r in rows)
    assert all([m["role"] for m in r["prompt"]] == ["system", "user"] for r in rows)
    back = load_toolrl_rl(path).examples
    assert len(back) == len(examples)
    for a, b in zip(examples, back):
        assert b.tools == a.tools and b.messages == a.messages and b.gold_calls == a.gold_calls
        assert b.gold_response == a.gold_response
