"""BFCL data loading, the two prompt styles and the output decoder."""

from __future__ import annotations

import copy

import pytest

from rest_rl.eval.bfcl.prompts import STYLES, Decoded, assistant_message, build_request, decode_output, render_output
from rest_rl.toolcall.types import ToolCall

# ------------------------------------------------------------------------------------------------
# Decoder and request building (no bfcl-eval needed)
# ------------------------------------------------------------------------------------------------

_DOCS = [
    {
        "name": "math.factorial",
        "description": "Factorial.",
        "parameters": {"type": "dict", "properties": {"number": {"type": "integer", "description": "n"}}, "required": ["number"]},
    }
]


@pytest.mark.parametrize("style", STYLES)
def test_rendered_calls_decode_back(style):
    calls = [ToolCall("math.factorial", {"number": 5}), ToolCall("g", {"s": "</tool_call> x", "l": [1, {"a": None}]})]
    decoded = decode_output(render_output(style, calls), style)
    assert decoded.ok and decoded.calls == calls
    assert decoded.ast_form() == [{"math.factorial": {"number": 5}}, {"g": {"s": "</tool_call> x", "l": [1, {"a": None}]}}]


def test_decoder_reads_each_style_as_models_write_it():
    toolrl = '<think> need it </think>\n<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n</tool_call>'
    assert decode_output(toolrl, "toolrl").calls == [ToolCall("f", {"x": 1})]
    hermes = '<think>\nneed it\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>\n<tool_call>\n{"name": "g", "arguments": "{}"}\n</tool_call>'
    assert decode_output(hermes, "fc").calls == [ToolCall("f", {"x": 1}), ToolCall("g", {})]
    assert decode_output("<think>\nno tool fits\n</think>\n\nSorry, I cannot.", "fc") == Decoded(ok=True, response="Sorry, I cannot.")
    assert decode_output("<think> x </think>\n<response> no </response>", "toolrl").calls == []


_NO_CALL_BLOCKS = [
    '<tool_call>\n{"name": "f", "parameters": {"x": \n</tool_call>',
    '<tool_call>\n{"name": "f", "arguments": [1]}\n</tool_call>',
    '<tool_call>\n{"parameters": {}}\n</tool_call>',
    "<tool_call>\n5\nnull\n[1, 2]\n</tool_call>",
]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("text", _NO_CALL_BLOCKS)
def test_a_block_without_any_call_fails_the_decode(style, text):
    decoded = decode_output(text, style)
    assert not decoded.ok and decoded.calls == [] and decoded.error
    assert decoded.ast_form() is None and decoded.execute_form() is None


@pytest.mark.parametrize(
    "text",
    [
        '<tool_call>\n{"name": "f", "parameters": {"x": 1}}',  # unclosed (truncated generation)
        '<tool_call>\n{"name": "f", "arguments": {}}\n{"oops"\n</tool_call>',
        '<tool_call>\n{"name": "f", "arguments": {}}\n{"name": "g", "arguments": {"x": \n</tool_call>',
    ],
)
def test_fc_style_fails_the_whole_block_on_one_defect(text):
    """fc stays exactly bfcl-eval's Qwen FC decoder: one defect and nothing is decoded."""
    decoded = decode_output(text, "fc")
    assert not decoded.ok and decoded.calls == [] and decoded.error
    assert decoded.ast_form() is None and decoded.execute_form() is None


@pytest.mark.parametrize(
    ("text", "calls"),
    [
        # one correct call next to a truncated line: the call is kept, as ToolRL's parser keeps it
        ('<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n{"name": "g", "parameters": {"y": \n</tool_call>', [ToolCall("f", {"x": 1})]),
        # the block cut short by the token limit: no </tool_call>, last line half written
        ('<think> t </think>\n<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n{"name": "g", "para', [ToolCall("f", {"x": 1})]),
        ('<tool_call>\n{"name": "f", "parameters": {"x": 1}}', [ToolCall("f", {"x": 1})]),
        # bad lines before, between and after good ones; every good one kept, in order
        (
            '<tool_call>\nnot json\n{"name": "a", "parameters": {}}\n5\n["x"]\n{"name": "b", "arguments": "{\\"k\\": 2}"}\n'
            '{"parameters": {"no": "name"}}\n{"name": "c", "parameters": [1]}\n</tool_call>',
            [ToolCall("a", {}), ToolCall("b", {"k": 2})],
        ),
        # a call without its arguments field is kept with {} (and reported)
        ('<tool_call>\n{"name": "f"}\n{"oops"\n</tool_call>', [ToolCall("f", {})]),
    ],
)
def test_toolrl_style_drops_bad_lines_and_keeps_the_others(text, calls):
    decoded = decode_output(text, "toolrl")
    assert decoded.ok and decoded.calls == calls
    assert decoded.error  # what was dropped is reported
    assert decoded.ast_form() == [{c.name: c.arguments} for c in calls]


@pytest.mark.parametrize("style", STYLES)
@pytest.mark.parametrize("text", ["", "   ", "plain words", "<think> only thinking", "[f(x=1)]", "{}"])
def test_output_without_a_block_decodes_to_no_calls(style, text):
    decoded = decode_output(text, style)
    assert decoded.ok and decoded.calls == [] and decoded.ast_form() == []


@pytest.mark.parametrize("value", [None, 3, ["<tool_call>"], b"<tool_call>"])
def test_non_text_output_is_a_failed_decode(value):
    for style in STYLES:
        assert not decode_output(value, style).ok


def test_unknown_style_is_rejected():
    with pytest.raises(ValueError, match="toolrl, fc"):
        decode_output("x", "python")
    with pytest.raises(ValueError):
        build_request("python", _DOCS, [])


def test_toolrl_request_is_the_training_format():
    messages = [
        {"role": "system", "content": "You are a travel agent."},
        {"role": "user", "content": "Factorial of 5?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "math.factorial", "arguments": {"number": 5}}}]},
        {"role": "tool", "content": "120"},
    ]
    request = build_request("toolrl", _DOCS, messages)
    assert request.tools is None and request.prompt_text is None
    system, user = request.messages
    assert system["role"] == "system" and system["content"].startswith("You are a helpful multi-turn dialogue assistant")
    assert "1. Name: math.factorial\nDescription: Factorial.\nParameters: {" in system["content"]
    assert system["content"].endswith("\n\nYou are a travel agent.")
    assert user["content"].startswith("**Dialogue Records History**\n<user> Factorial of 5? </user>")
    assert '{"name": "math.factorial", "parameters": {"number": 5}}' in user["content"]
    assert user["content"].endswith("<obs> 120 </obs>")


def test_fc_request_passes_messages_and_json_schema_tools():
    messages = [{"role": "user", "content": "Factorial of 5?"}]
    request = build_request("fc", _DOCS, messages)
    assert request.messages == messages and request.messages is not messages
    (tool,) = request.tools
    assert tool["type"] == "function" and tool["function"]["name"] == "math.factorial"  # dots kept
    assert tool["function"]["parameters"] == {
        "type": "object",
        "properties": {"number": {"type": "integer", "description": "n"}},
        "required": ["number"],
    }


def test_assistant_message_keeps_calls_or_text():
    with_calls = assistant_message(Decoded(ok=True, calls=[ToolCall("f", {"x": 1})], response="ignored"))
    assert with_calls["tool_calls"] == [{"type": "function", "function": {"name": "f", "arguments": {"x": 1}}}]
    assert with_calls["content"] == ""
    assert assistant_message(Decoded(ok=True, response="hi")) == {"role": "assistant", "content": "hi"}
    assert assistant_message(Decoded(ok=False, error="bad")) == {"role": "assistant", "content": ""}


# ------------------------------------------------------------------------------------------------
# Data (needs bfcl-eval)
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    pytest.importorskip(
        "bfcl_eval",
        reason="bfcl-eval is not installed: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
        "pip install --no-deps bfcl-eval==2025.7.17",
        exc_type=ImportError,
    )
    from rest_rl.eval.bfcl.official import BfclUnavailable, load_bfcl

    try:
        return load_bfcl(tmp_path_factory.mktemp("bfcl_project_root"))
    except BfclUnavailable as exc:
        pytest.skip(str(exc))


def test_all_v3_categories_load_with_their_sizes(api):
    from rest_rl.eval.bfcl.data import ALL_CATEGORIES, CATEGORY_SIZES, TOTAL_ENTRIES, load_category

    assert TOTAL_ENTRIES == 4441
    for category in ALL_CATEGORIES:
        entries = load_category(category, api=api)
        assert len(entries) == CATEGORY_SIZES[category]
        assert len({e.id for e in entries}) == len(entries)
        assert all(e.id.rsplit("_", 1)[0] == category or e.id.startswith(category + "_") for e in entries)
        if entries[0].kind in ("ast", "multi_turn"):
            assert all(e.ground_truth for e in entries)
    assert [e.id for e in load_category("simple", limit=3, api=api)] == ["simple_0", "simple_1", "simple_2"]


def test_multi_turn_entries_hold_back_the_missed_functions(api):
    from rest_rl.eval.bfcl.data import load_category

    entry = load_category("multi_turn_miss_func", limit=1, api=api)[0]
    held = {d["name"] for docs in entry.missed_functions.values() for d in docs}
    assert held and not held & {f["name"] for f in entry.functions}
    assert entry.test_entry()["involved_classes"] == entry.involved_classes
    long = load_category("multi_turn_long_context", limit=1, api=api)[0]
    assert long.long_context and not entry.long_context


def test_categories_resolve_from_groups_and_names():
    from rest_rl.eval.bfcl.data import LIVE, MULTI_TURN, resolve_categories

    assert resolve_categories(["live"]) == LIVE
    assert resolve_categories(["multi_turn_base", "simple", "simple"]) == ("simple", "multi_turn_base")
    assert resolve_categories(["non_live,multi_turn"])[-4:] == MULTI_TURN
    with pytest.raises(ValueError, match="unknown BFCL category 'exec_simple'"):
        resolve_categories(["exec_simple"])


def test_function_docs_get_bfcl_language_hints_without_touching_the_entry(api):
    from rest_rl.eval.bfcl.data import load_category
    from rest_rl.eval.bfcl.prompts import function_docs

    java = load_category("java", limit=1, api=api)[0]
    before = copy.deepcopy(java.functions)
    docs = function_docs(java.functions, "java", api)
    assert java.functions == before
    assert docs[0]["description"].endswith("Note that the provided function is in Java 8 SDK syntax.")
    assert {p["type"] for p in docs[0]["parameters"]["properties"].values()} == {"string"}
    simple = load_category("simple", limit=1, api=api)[0]
    assert function_docs(simple.functions, "simple", api)[0]["description"].endswith("in Python 3 syntax.")
