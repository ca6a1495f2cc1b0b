"""Qwen3/Hermes format: parse, render (Qwen3 chat-template layout), round trips, malformed input."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from test_toolcall_strategies import calls, fuzz_text, prose, same_calls

from rest_rl.toolcall import ParsedOutput, ToolCall, parse_hermes, render_hermes

# What Qwen3's template writes for an assistant message with reasoning, content and two calls.
QWEN3_STEP = (
    "<think>\nI need the weather.\n</think>\n\n"
    "Let me check.\n"
    '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_time", "arguments": {}}\n</tool_call>'
)


def test_render_matches_the_qwen3_template_layout() -> None:
    text = render_hermes(
        [ToolCall("get_weather", {"city": "Zürich", "days": 2}), ToolCall("get_time")],
        think="\nI need the weather.\n",
        content="Let me check.",
    )
    assert text == QWEN3_STEP


def test_render_without_content_or_think() -> None:
    # No content: the first block starts the message; blocks are joined by one newline.
    assert render_hermes([ToolCall("f", {"a": 1}), ToolCall("g")]) == (
        '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>\n'
        '<tool_call>\n{"name": "g", "arguments": {}}\n</tool_call>'
    )
    assert render_hermes(None, content="Hello.") == "Hello."
    assert render_hermes([ToolCall("f")], think="t") == (
        '<think>\nt\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>'
    )


def test_parse_the_qwen3_step() -> None:
    assert parse_hermes(QWEN3_STEP) == ParsedOutput(
        think="I need the weather.",
        calls=[ToolCall("get_weather", {"city": "Zürich", "days": 2}), ToolCall("get_time", {})],
        response="Let me check.",
        has_tool_call_block=True,
        problems=[],
    )


def test_arguments_as_json_string_are_decoded() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": "{\\"a\\": [1, 2]}"}\n</tool_call>'
    assert parse_hermes(text).calls == [ToolCall("f", {"a": [1, 2]})]


def test_openai_function_wrapping_and_parameters_key() -> None:
    text = (
        '<tool_call>\n{"type": "function", "function": {"name": "f", "arguments": "{}"}}\n</tool_call>'
        '<tool_call>{"name": "g", "parameters": {"x": 1}}</tool_call>'
    )
    assert parse_hermes(text).calls == [ToolCall("f", {}), ToolCall("g", {"x": 1})]


def test_several_objects_in_one_block_one_per_line() -> None:
    text = '<tool_call>\n{"name": "f", "arguments": {}}\n{"name": "g", "arguments": {}}\n</tool_call>'
    parsed = parse_hermes(text)
    assert [c.name for c in parsed.calls] == ["f", "g"] and parsed.ok


def test_prompt_side_think_opening() -> None:
    # Templates that put <think> in the prompt: the completion starts inside the reasoning.
    parsed = parse_hermes('reasoning here\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {}}\n</tool_call>')
    assert parsed.think == "reasoning here"
    assert parsed.calls == [ToolCall("f", {})]
    assert parsed.response is None


def test_blocks_inside_think_are_not_calls() -> None:
    text = '<think>maybe <tool_call>{"name": "x", "arguments": {}}</tool_call>?</think>\nNo call needed.'
    parsed = parse_hermes(text)
    assert parsed.calls == [] and not parsed.has_tool_call_block
    assert parsed.response == "No call needed."


def test_malformed_blocks_are_reported() -> None:
    text = (
        "<tool_call>\nnot json\n</tool_call>\n"
        '<tool_call>\n{"name": "f", "arguments": "not json"}\n</tool_call>\n'
        '<tool_call>\n{"arguments": {}}\n</tool_call>\n'
        "<tool_call></tool_call>\n"
        '<tool_call>\n{"name": "g"}\n</tool_call>\n'
        '<tool_call>\n{"name": "h", "arguments": {}}'
    )
    parsed = parse_hermes(text)
    assert parsed.calls == [ToolCall("g", {}), ToolCall("h", {})]
    assert len(parsed.problems) == 6
    assert any("unclosed" in p for p in parsed.problems)


def test_unclosed_think() -> None:
    parsed = parse_hermes("<think>still thinking")
    assert parsed.think == "still thinking" and parsed.problems == ["unclosed <think>"]


def test_plain_content() -> None:
    assert parse_hermes("Hello there.") == ParsedOutput(response="Hello there.")


@settings(max_examples=150, deadline=None)
@given(calls, st.none() | prose, st.none() | prose)
def test_round_trip(cs: list[ToolCall], think: str | None, content: str | None) -> None:
    parsed = parse_hermes(render_hermes(cs, think=think, content=content))
    assert parsed.ok
    assert same_calls(parsed.calls, cs)
    assert parsed.has_tool_call_block == bool(cs)
    assert parsed.think == think
    assert parsed.response == (content or None)


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse_hermes(text)
    assert isinstance(parsed, ParsedOutput)
    assert all(isinstance(c.arguments, dict) for c in parsed.calls)
