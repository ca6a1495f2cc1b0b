"""Loaders: bad rows, skip_invalid reporting, limits, file types; ToolACE and xLAM records."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rest_rl.data import DataError, load_hammer, load_toolace, load_toolrl_rl, load_toolrl_sft, load_xlam
from rest_rl.data import to_prompt_messages
from rest_rl.data.sources.toolace import parse_toolace_calls, tools_from_system_text
from rest_rl.toolcall.prompts import TOOLRL_THINK_CALL, TOOLRL_THINK_RESPOND, toolrl_system_prompt
from rest_rl.toolcall.types import ToolCall

TOOLS = [
    {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"city": {"description": "City", "type": "str", "default": ""}},
    }
]
GOOD = {
    "instruction": toolrl_system_prompt(TOOLS),
    "input": "**Dialogue Records History**\n<user> Weather in Paris? </user>",
    "output": '<think> easy </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Paris"}}\n</tool_call>',
}


def _write_json(tmp_path: Path, rows, name="data.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(rows), encoding="utf-8")
    return path


# ---- bad rows -------------------------------------------------------------------------------


def test_bad_row_raises_data_error_naming_file_and_row(tmp_path):
    bad = dict(GOOD, output="<think> no closing")
    path = _write_json(tmp_path, [GOOD, GOOD, bad])
    with pytest.raises(DataError) as info:
        load_toolrl_sft(path)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.path == str(path) and err.row == 2
    assert str(path) in str(err) and "row 2" in str(err) and "target" in str(err)


def test_skip_invalid_skips_and_counts_bad_rows(tmp_path):
    rows = [GOOD, {"instruction": "hello", "input": "", "output": ""}, "not a dict", dict(GOOD, input=3), GOOD]
    result = load_toolrl_sft(_write_json(tmp_path, rows), skip_invalid=True)
    assert len(result) == 2
    report = result.report
    assert report.rows_read == 5 and report.examples == 2 and report.n_skipped == 3
    assert [s.row for s in report.skipped] == [1, 2, 3]
    assert "system prompt" in report.skipped[0].reason
    assert "3 rows skipped" in report.summary() and "row 1:" in report.summary()


@pytest.mark.parametrize(
    ("output", "reason"),
    [
        ("<think> t </think>", "neither"),
        ('<tool_call>\n{"name": "x", "parameters": {}}\n</tool_call>', "no <think>"),
        ("<think> t </think>\n<tool_call>\n{not json}\n</tool_call>", "not JSON"),
    ],
)
def test_invalid_targets_are_explained(tmp_path, output, reason):
    with pytest.raises(DataError, match=reason):
        load_toolrl_sft(_write_json(tmp_path, [dict(GOOD, output=output)]))


def test_whole_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        load_toolrl_sft(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(DataError, match="cannot read JSON") as info:
        load_toolrl_sft(broken)
    assert info.value.row is None
    not_a_list = _write_json(tmp_path, {"a": 1}, "obj.json")
    with pytest.raises(DataError, match="JSON list"):
        load_toolrl_sft(not_a_list)
    odd = tmp_path / "data.csv"
    odd.write_text("a,b", encoding="utf-8")
    with pytest.raises(DataError, match="unsupported file type"):
        load_toolrl_sft(odd)


def test_jsonl_bad_line_is_a_row_error_and_limit_stops_early(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text("\n".join([json.dumps(GOOD), "{oops", json.dumps(GOOD), json.dumps(GOOD)]), encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_toolrl_sft(path)
    assert info.value.row == 1
    result = load_toolrl_sft(path, skip_invalid=True)
    assert len(result) == 3 and result.report.n_skipped == 1
    limited = load_toolrl_sft(path, skip_invalid=True, limit=2)
    assert len(limited) == 2 and limited.report.rows_read == 3


def test_rl_parquet_rows_are_validated(tmp_path):
    good = {
        "data_source": "rlla",
        "prompt": [{"role": "system", "content": GOOD["instruction"]}, {"role": "user", "content": GOOD["input"]}],
        "ability": "math",
        "reward_model": {"ground_truth": GOOD["output"], "style": "rule"},
        "extra_info": {"index": 7, "split": "train"},
    }
    bad = dict(good, prompt=[{"role": "user", "content": GOOD["input"]}, {"role": "system", "content": "x"}])
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist([good, bad]), path)
    result = load_toolrl_rl(path, skip_invalid=True)
    assert [ex.id for ex in result] == ["rlla-train-7"]
    assert "roles" in result.report.skipped[0].reason


# ---- ToolACE --------------------------------------------------------------------------------

TOOLACE_TOOLS = [
    {
        "name": "Search Managers",
        "description": "Find a football manager by name.",
        "parameters": {
            "type": "dict",
            "properties": {"name": {"type": "string", "description": "Manager name"}},
            "required": ["name"],
        },
    },
    {
        "name": "team_stats",
        "description": "Season statistics of a team.",
        "parameters": {
            "type": "dict",
            "properties": {"team": {"type": "string"}, "season": {"type": "integer"}},
            "required": ["team"],
        },
    },
]
TOOLACE_RECORD = {
    "system": (
        "You compose function calls for the user. Available functions, as a JSON list:\n"
        + json.dumps(TOOLACE_TOOLS)
        + ".\nAnswer with a list like [func(param=value)] and nothing else."
    ),
    "conversations": [
        {"from": "user", "value": "Who is Alex Ferguson? And how did Leeds do in 2021?"},
        {"from": "assistant", "value": "[Search Managers(name=\"Alex Ferguson\"), team_stats(team='Leeds', season=2021)]"},
        {"from": "tool", "value": '[{"name": "Search Managers", "results": {"club": "Manchester United"}}]'},
        {"from": "assistant", "value": "Alex Ferguson managed Manchester United."},
        {"from": "user", "value": "Thanks!"},
        {"from": "assistant", "value": "You're welcome."},
    ],
}


def test_toolace_record_splits_into_one_example_per_assistant_step(tmp_path):
    result = load_toolace(_write_json(tmp_path, [TOOLACE_RECORD]))
    assert [ex.id for ex in result] == ["toolace-0-0", "toolace-0-1", "toolace-0-2"]
    first, second, third = result
    assert first.tools == TOOLACE_TOOLS
    assert first.messages == [{"role": "user", "content": TOOLACE_RECORD["conversations"][0]["value"]}]
    assert first.gold_calls == [
        ToolCall("Search Managers", {"name": "Alex Ferguson"}),
        ToolCall("team_stats", {"team": "Leeds", "season": 2021}),
    ]
    assert first.gold_response is None and first.gold_think is None
    assert [m["role"] for m in second.messages] == ["user", "assistant", "tool"]
    assert second.gold_calls is None and second.gold_response == "Alex Ferguson managed Manchester United."
    assert len(third.messages) == 5 and third.meta == {"row": 0, "step": 2}
    # the history renders in ToolRL's layout with its placeholder thoughts
    user = to_prompt_messages(third)[1]["content"]
    assert f"<think> {TOOLRL_THINK_CALL} </think>\n<tool_call>\n" in user
    assert f"<think> {TOOLRL_THINK_RESPOND} </think>\n<response> Alex Ferguson managed" in user
    assert "</tool_call>\n<obs> [{" in user and user.endswith("<user> Thanks! </user>")
    assert third.gold_text() == f"<think> {TOOLRL_THINK_RESPOND} </think>\n<response> You're welcome. </response>"


def test_toolace_conversations_may_be_a_json_string_and_bad_calls_are_reported(tmp_path):
    as_string = dict(TOOLACE_RECORD, conversations=json.dumps(TOOLACE_RECORD["conversations"]))
    bad_call = dict(
        TOOLACE_RECORD,
        conversations=[{"from": "user", "value": "hi"}, {"from": "assistant", "value": "[team_stats(team=os.system('x'))]"}],
    )
    no_tools = dict(TOOLACE_RECORD, system="You are helpful.")
    result = load_toolace(_write_json(tmp_path, [as_string, bad_call, no_tools]), skip_invalid=True)
    assert len(result) == 3
    reasons = {s.row: s.reason for s in result.report.skipped}
    assert "does not parse" in reasons[1] and "no JSON list of tools" in reasons[2]


def test_toolace_text_replies_in_brackets_are_not_calls():
    assert parse_toolace_calls("[See the table (below)] for details") is None
    assert parse_toolace_calls("Here you go.") is None
    assert parse_toolace_calls("[Daily Match List-Scheduled(string='01/02/2024')]", ["Daily Match List-Scheduled"]) == [
        ToolCall("Daily Match List-Scheduled", {"string": "01/02/2024"})
    ]
    with pytest.raises(ValueError, match="no JSON list"):
        tools_from_system_text("[1, 2] but no tools")


# ---- xLAM -----------------------------------------------------------------------------------

XLAM_TOOLS = [
    {
        "name": "live_giveaways_by_type",
        "description": "Retrieve live giveaways by type.",
        "parameters": {"type": {"description": "beta or game", "type": "str", "default": "game"}},
    }
]


def test_xlam_records_with_json_string_fields(tmp_path):
    rows = [
        {
            "id": 4,
            "query": "Where can I find live giveaways for beta access and games?",
            "tools": json.dumps(XLAM_TOOLS),
            "answers": json.dumps(
                [
                    {"name": "live_giveaways_by_type", "arguments": {"type": "beta"}},
                    {"name": "live_giveaways_by_type", "arguments": {"type": "game"}},
                ]
            ),
        },
        {"id": 5, "query": "Tell me a joke.", "tools": json.dumps(XLAM_TOOLS), "answers": "[]"},
        {"id": 6, "query": "x", "tools": json.dumps(XLAM_TOOLS), "answers": '[{"name": "other", "arguments": {}}]'},
        {"id": 7, "query": "x", "tools": "[not json", "answers": "[]"},
    ]
    result = load_xlam(_write_json(tmp_path, rows), skip_invalid=True)
    assert [ex.id for ex in result] == ["xlam-4", "xlam-5"]
    parallel, irrelevant = result
    assert parallel.kind == "parallel" and parallel.tools == XLAM_TOOLS
    assert parallel.messages == [{"role": "user", "content": rows[0]["query"]}]
    assert irrelevant.gold_calls is None and irrelevant.kind == "none"
    reasons = [s.reason for s in result.report.skipped]
    assert "not listed" in reasons[0] and "not valid JSON" in reasons[1]
    with pytest.raises(ValueError, match="neither"):
        irrelevant.gold_text("toolrl")
    assert irrelevant.gold_text("hammer") == "```\n[]\n```"


def test_hammer_non_empty_input_is_rejected(tmp_path, hammer_path):
    rows = json.loads(hammer_path.read_text(encoding="utf-8"))[:2]
    rows[1] = dict(rows[1], input="extra")
    result = load_hammer(_write_json(tmp_path, rows), skip_invalid=True)
    assert len(result) == 1 and "input" in result.report.skipped[0].reason


def test_hub_ids_go_through_datasets_load_dataset(monkeypatch):
    import datasets

    calls = []

    def fake_load_dataset(name, split=None):
        calls.append((name, split))
        return [{"query": "q", "tools": json.dumps(XLAM_TOOLS), "answers": "[]"}]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    result = load_xlam("Salesforce/xlam-function-calling-60k")
    assert calls == [("Salesforce/xlam-function-calling-60k", "train")]
    assert len(result) == 1 and result.report.path == "Salesforce/xlam-function-calling-60k"
