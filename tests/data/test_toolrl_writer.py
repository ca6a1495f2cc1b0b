"""The rlla_4k parquet writer (verl's layout) reproduces ToolRL's own file row for row."""

from __future__ import annotations

import pyarrow.parquet as pq

from rest_rl.data.sources import load_toolrl_rl, write_toolrl_rl


def test_writer_reproduces_toolrls_test_file(rlla_test_path, tmp_path):
    examples = load_toolrl_rl(rlla_test_path).examples
    out = tmp_path / "test.parquet"
    assert write_toolrl_rl(examples, out, split="test") == len(examples) > 0
    assert pq.read_table(out).to_pylist() == pq.read_table(rlla_test_path).to_pylist()
    assert pq.read_table(out).schema.names == pq.read_table(rlla_test_path).schema.names
