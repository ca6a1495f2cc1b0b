"""ToolRL format: parse, render, the real gold answers, round trips, malformed input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_toolcall_strategies import calls, fuzz_text, prose, same_calls

from rest_rl.toolcall import ParsedOutput, ToolCall, parse_toolrl, render_toolrl
from rest_rl.toolcall.toolrl import escape_tag_strings, scan_toolrl

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "toolrl"


def _gold_texts() -> list[tuple[str, int, str]]:
    if not DATA.is_dir():
        pytest.skip(f"real data folder {DATA} is missing")
    pd = pytest.importorskip("pandas")
    sft = json.loads((DATA / "rlla_sft.json").read_text(encoding="utf-8"))
    out = [("rlla_sft.json", i, r["output"]) for i, r in enumerate(sft)]
    table = pd.read_parquet(DATA / "rlla_4k_test.parquet")
    out += [("rlla_4k_test.parquet", i, r["ground_truth"]) for i, r in enumerate(table["reward_model"])]
    return out


def _rerender(gold: str, ensure_ascii: bool) -> str:
    parsed = parse_toolrl(gold)
    return render_toolrl(
        parsed.calls, think=parsed.think, response=parsed.response, ensure_ascii=ensure_ascii
    )


# --- the real gold answers ------------------------------------------------------------------


def test_every_gold_answer_parses_cleanly() -> None:
    golds = _gold_texts()
    assert len(golds) == 480
    for source, i, gold in golds:
        parsed = parse_toolrl(gold)
        assert parsed.ok, (source, i, parsed.problems)
        assert parsed.think, (source, i)
        assert parsed.calls or parsed.response, (source, i)


def test_every_gold_answer_round_trips_exactly_with_ensure_ascii() -> None:
    # ToolRL wrote its files with json.dumps' default ensure_ascii=True.
    for source, i, gold in _gold_texts():
        assert _rerender(gold, ensure_ascii=True) == gold, (source, i)


def test_default_utf8_rendering_differs_only_where_the_gold_escapes_non_ascii() -> None:
    failing = [(s, i) for s, i, g in _gold_texts() if _rerender(g, ensure_ascii=False) != g]
    # rlla_sft.json #331 has {"aSrr": "\u3084\u307e"} (やま) written as ASCII escapes.
    assert failing == [("rlla_sft.json", 331)]


def test_tags_mentioned_inside_think_do_not_count() -> None:
    # Real gold (rlla_sft.json #44 style): the reasoning mentions both tags.
    gold = (
        "<think> Put the calls within the <tool_call> tags; no need for a <response> yet. </think>\n"
        '<tool_call>\n{"name": "validate_email", "parameters": {"email": "a@b.c"}}\n</tool_call>'
    )
    parsed = parse_toolrl(gold)
    assert parsed.ok
    assert parsed.response is None
    assert parsed.calls == [ToolCall("validate_email", {"email": "a@b.c"})]
    assert render_toolrl(parsed.calls, think=parsed.think) == gold


# --- rendering ------------------------------------------------------------------------------


def test_render_full_layout() -> None:
    text = render_toolrl(
        [ToolCall("tool_a", {"x": 1}), ToolCall("tool_b")], think="why", response="done"
    )
    assert text == (
        "<think> why </think>\n<tool_call>\n"
        '{"name": "tool_a", "parameters": {"x": 1}}\n{"name": "tool_b", "parameters": {}}\n'
        "</tool_call>\n<response> done </response>"
    )


def test_render_omits_missing_parts() -> None:
    assert render_toolrl(None, think="t", response="r") == "<think> t </think>\n<response> r </response>"
    assert render_toolrl([], think="t") == "<think> t </think>"
    assert render_toolrl([ToolCall("f")]) == '<tool_call>\n{"name": "f", "parameters": {}}\n</tool_call>'
    assert render_toolrl(None) == ""


def test_render_utf8_by_default_and_ascii_on_request() -> None:
    call = [ToolCall("f", {"q": "山"})]
    assert '"山"' in render_toolrl(call)
    assert '"\\u5c71"' in render_toolrl(call, ensure_ascii=True)


def test_tag_strings_inside_values_are_escaped_and_survive() -> None:
    call = ToolCall("f", {"x": "a</tool_call>b<response>"})
    text = render_toolrl([call], think="t")
    assert text.count("</tool_call>") == 1
    assert parse_toolrl(text).calls == [call]
    assert escape_tag_strings('{"a": 1}') == '{"a": 1}'


# --- parsing --------------------------------------------------------------------------------


def test_parse_full_layout() -> None:
    text = (
        "<think>  plan  </think>\n<tool_call>\n"
        '{"name": "a", "parameters": {"x": [1, {"y": null}]}}\n'
        '{"name": "b", "arguments": {"k": "v"}}\n'
        "</tool_call>\n<response>  hi  </response>"
    )
    assert parse_toolrl(text) == ParsedOutput(
        think="plan",
        calls=[ToolCall("a", {"x": [1, {"y": None}]}), ToolCall("b", {"k": "v"})],
        response="hi",
        has_tool_call_block=True,
        problems=[],
    )


def test_parse_uses_the_last_block() -> None:
    text = (
        '<think> t </think>\n<tool_call>\n{"name": "old", "parameters": {}}\n</tool_call>\n'
        '<tool_call>\n{"name": "new", "parameters": {}}\n</tool_call>'
    )
    assert [c.name for c in parse_toolrl(text).calls] == ["new"]


def test_bad_lines_are_dropped_and_reported() -> None:
    text = (
        "<think> t </think>\n<tool_call>\n"
        '{"name": "ok", "parameters": {"a": 1}}\n'
        "not json\n"
        "[1, 2]\n"
        '{"parameters": {}}\n'
        '{"name": "", "parameters": {}}\n'
        '{"name": "s", "parameters": "{\\"a\\": 1}"}\n'
        '{"name": "t", "parameters": [1]}\n'
        "\n"
        "</tool_call>"
    )
    parsed = parse_toolrl(text)
    assert parsed.calls == [ToolCall("ok", {"a": 1}), ToolCall("s", {"a": 1})]
    assert len(parsed.problems) == 5
    assert parsed.has_tool_call_block


def test_missing_arguments_keep_the_call_and_report_it() -> None:
    parsed = parse_toolrl('<think> t </think>\n<tool_call>\n{"name": "now"}\n</tool_call>')
    assert parsed.calls == [ToolCall("now", {})]
    assert len(parsed.problems) == 1 and "now" in parsed.problems[0]


def test_truncated_block_is_parsed_and_reported() -> None:
    parsed = parse_toolrl('<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {}}\n')
    assert parsed.has_tool_call_block
    assert parsed.calls == [ToolCall("f", {})]
    assert parsed.problems == ["unclosed <tool_call> block"]


def test_truncated_inside_think() -> None:
    parsed = parse_toolrl("<think> I will call f soon")
    assert parsed.think == "I will call f soon"
    assert parsed.problems == ["unclosed <think>"]
    assert not scan_toolrl("<think> I will call f soon").think_closed


def test_unclosed_think_still_yields_a_following_block() -> None:
    # Without </think> the think text ends at the next other tag; the block is still found.
    parsed = parse_toolrl('<think> plan\n<tool_call>\n{"name": "f", "parameters": {}}\n</tool_call>')
    assert parsed.think == "plan"
    assert parsed.calls == [ToolCall("f", {})]
    assert parsed.problems == ["unclosed <think>"]


def test_no_tags_at_all() -> None:
    parsed = parse_toolrl("just text")
    assert parsed == ParsedOutput()
    assert parsed.ok  # nothing failed to parse; the reward judges the missing tags


def test_unclosed_response_is_reported() -> None:
    parsed = parse_toolrl("<think> t </think>\n<response> partial")
    assert parsed.response == "partial"
    assert parsed.problems == ["unclosed <response>"]


def test_json_edge_cases_do_not_raise() -> None:
    deep = "[" * 100_000
    huge_int = "1" * 10_000
    text = (
        f"<think> t </think>\n<tool_call>\n{deep}\n"
        f'{{"name": "f", "parameters": {{"n": {huge_int}}}}}\n</tool_call>'
    )
    parsed = parse_toolrl(text)
    assert parsed.calls == [] and len(parsed.problems) == 2


def test_non_string_input() -> None:
    parsed = parse_toolrl(None)  # type: ignore[arg-type]
    assert not parsed.ok and parsed.calls == []


# --- properties -----------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(calls, st.none() | prose, st.none() | prose, st.booleans())
def test_round_trip(cs: list[ToolCall], think: str | None, response: str | None, ascii_: bool) -> None:
    text = render_toolrl(cs, think=think, response=response, ensure_ascii=ascii_)
    parsed = parse_toolrl(text)
    assert parsed.ok
    assert same_calls(parsed.calls, cs)
    assert parsed.has_tool_call_block == bool(cs)
    assert parsed.think == think
    assert parsed.response == response


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse_toolrl(text)
    assert isinstance(parsed, ParsedOutput)
    assert all(isinstance(c, ToolCall) and isinstance(c.arguments, dict) for c in parsed.calls)
    assert all(isinstance(p, str) for p in parsed.problems)
