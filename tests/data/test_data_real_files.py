"""Every record of the real ToolRL and Hammer files loads and round-trips byte for byte."""

from __future__ import annotations

import json

import pyarrow.parquet as pq

from rest_rl.data import load_hammer, load_toolrl_rl, load_toolrl_sft, to_prompt_messages, to_trl_dataset
from rest_rl.data.schema import ToolExample


def test_rlla_sft_every_record_loads_and_round_trips(rlla_sft_path):
    result = load_toolrl_sft(rlla_sft_path)
    rows = json.loads(rlla_sft_path.read_text(encoding="utf-8"))
    assert result.report.rows_read == len(rows) == len(result) == 400
    assert result.report.n_skipped == 0
    for example, row in zip(result, rows):
        system, user = to_prompt_messages(example, style="toolrl")
        assert system == {"role": "system", "content": row["instruction"]}, example.id
        assert user == {"role": "user", "content": row["input"]}, example.id
        assert example.gold_text("toolrl") == row["output"], example.id


def test_rlla_sft_golds_have_real_reasoning_and_the_expected_kinds(rlla_sft_path):
    examples = load_toolrl_sft(rlla_sft_path).examples
    kinds = {ex.kind for ex in examples}
    assert {"call", "parallel", "response"} <= kinds
    assert all(ex.gold_think and len(ex.gold_think) > 100 for ex in examples[:20])
    multi_turn = [ex for ex in examples if len(ex.messages) > 1]
    assert multi_turn and any(m["role"] == "tool" for ex in multi_turn for m in ex.messages)


def test_rlla_rl_parquet_every_row_loads_and_round_trips(rlla_test_path):
    result = load_toolrl_rl(rlla_test_path)
    rows = pq.read_table(rlla_test_path).to_pylist()
    assert len(result) == len(rows) == 80 and result.report.n_skipped == 0
    for example, row in zip(result, rows):
        prompt = to_prompt_messages(example, style="toolrl")
        assert prompt == [{"role": m["role"], "content": m["content"]} for m in row["prompt"]], example.id
        assert example.gold_text() == row["reward_model"]["ground_truth"], example.id
        assert example.meta["split"] == "test" and example.id == f"rlla-test-{row['extra_info']['index']}"


def test_hammer_every_record_loads_and_round_trips(hammer_path):
    result = load_hammer(hammer_path)
    rows = json.loads(hammer_path.read_text(encoding="utf-8"))
    assert len(result) == len(rows) == 10 and result.report.n_skipped == 0
    for example, row in zip(result, rows):
        assert to_prompt_messages(example, style="hammer") == [{"role": "user", "content": row["instruction"]}]
        assert example.gold_text("hammer") == row["output"], example.id
    no_call = [ex for ex in result if not ex.has_call]
    assert len(no_call) == 2 and all(ex.gold_text("hammer") == "```\n[]\n```" for ex in no_call)


def test_real_examples_survive_to_dict_from_dict(rlla_sft_path, hammer_path):
    examples = load_toolrl_sft(rlla_sft_path, limit=40).examples + load_hammer(hammer_path).examples
    for ex in examples:
        again = ToolExample.from_dict(json.loads(json.dumps(ex.to_dict())))
        assert again == ex
        assert to_prompt_messages(again) == to_prompt_messages(ex)


def test_real_examples_make_a_trl_dataset(rlla_sft_path, rlla_test_path):
    examples = load_toolrl_sft(rlla_sft_path, limit=30).examples + load_toolrl_rl(rlla_test_path).examples
    dataset = to_trl_dataset(examples)
    assert len(dataset) == 110
    row = dataset[0]
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert json.loads(row["gold_calls"]) == [c.to_dict("arguments") for c in examples[0].gold_calls or []]
    assert row["gold_text"] == examples[0].gold_text()
    assert sum(dataset["gold_has_response"]) == sum(ex.has_response for ex in examples)
