"""Tests for rest_rl.toolcall.prompts: ToolRL system prompt and history, JSON schemas, templates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rest_rl.toolcall.prompts import (
    TOOLRL_HISTORY_HEADER,
    TOOLRL_THINK_CALL,
    TOOLRL_THINK_RESPOND,
    apply_tools_chat_template,
    compact_system_prompt,
    format_tool_parameters,
    message_tool_calls,
    parse_toolrl_history,
    parse_toolrl_step,
    parse_toolrl_system_prompt,
    to_json_schema,
    tool_call_message,
    toolrl_history_prompt,
    toolrl_step_text,
    toolrl_system_prompt,
)
from rest_rl.toolcall.types import ToolCall

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _shared(relative: str) -> Path:
    path = SHARED_DATA / relative
    if not path.is_file():
        pytest.skip(f"real data file not available: {path}")
    return path


def _toolrl_records() -> list[tuple[str, str, str]]:
    """(system, user, target) of every record of both ToolRL files."""
    import pyarrow.parquet as pq

    sft = json.loads(_shared("toolrl/rlla_sft.json").read_text(encoding="utf-8"))
    records = [(r["instruction"], r["input"], r["output"]) for r in sft]
    for row in pq.read_table(_shared("toolrl/rlla_4k_test.parquet")).to_pylist():
        records.append((row["prompt"][0]["content"], row["prompt"][1]["content"], row["reward_model"]["ground_truth"]))
    return records


WEATHER = {
    "name": "get_weather",
    "description": "Weather in a city.",
    "parameters": {"city": {"description": "City", "type": "str", "default": ""}},
}


# ---- system prompt --------------------------------------------------------------------------


def test_system_prompt_of_every_real_toolrl_record_is_reproduced_byte_for_byte():
    records = _toolrl_records()
    assert len(records) == 480
    for i, (system, _, _) in enumerate(records):
        tools = parse_toolrl_system_prompt(system)
        assert tools, i
        assert toolrl_system_prompt(tools) == system, f"record {i}"


def test_real_toolrl_parameters_are_plain_json_dumps_without_raw_text():
    for system, _, _ in _toolrl_records()[:50]:
        for tool in parse_toolrl_system_prompt(system):
            assert "parameters_text" not in tool
            assert format_tool_parameters(tool) == json.dumps(tool["parameters"])


@pytest.mark.parametrize("level", [1, 2])
def test_api_bank_system_prompts_with_python_repr_parameters_round_trip(level):
    records = json.loads(_shared(f"api_bank/level-{level}-api_processed.json").read_text(encoding="utf-8"))
    for i, record in enumerate(records):
        tools = parse_toolrl_system_prompt(record["system"])
        assert toolrl_system_prompt(tools) == record["system"], f"level {level} record {i}"
    # the Python-literal parameters are decoded into dicts and their text kept verbatim
    assert isinstance(tools[0]["parameters"], dict)
    assert tools[0]["parameters_text"].startswith("{'")


def test_system_prompt_renders_tools_in_order_with_numbered_blocks():
    text = toolrl_system_prompt([WEATHER, {"name": "ping", "description": "", "parameters": {}}])
    assert "\n1. Name: get_weather\nDescription: Weather in a city.\nParameters: {\"city\": " in text
    assert "\n2. Name: ping\nDescription: \nParameters: {}\n\n**Steps for Each Turn**" in text
    assert parse_toolrl_system_prompt(text)[1] == {"name": "ping", "description": "", "parameters": {}}


def test_system_prompt_description_with_newlines_and_openai_wrapper_round_trip():
    tool = {"name": "multi", "description": "line one\nParameters: not json\nline three", "parameters": {"a": 1}}
    text = toolrl_system_prompt([{"type": "function", "function": tool}, WEATHER])
    assert parse_toolrl_system_prompt(text) == [tool, WEATHER]


def test_parse_system_prompt_rejects_other_texts():
    with pytest.raises(ValueError, match="preamble"):
        parse_toolrl_system_prompt("You are a helpful assistant.")
    broken = toolrl_system_prompt([WEATHER]).replace("Parameters: {", "Parameters: {{")
    with pytest.raises(ValueError):
        parse_toolrl_system_prompt(broken)


def test_parameters_never_evaluated_as_code():
    text = toolrl_system_prompt([dict(WEATHER, parameters_text="__import__('os').system('true')")])
    with pytest.raises(ValueError, match="neither JSON nor a Python literal"):
        parse_toolrl_system_prompt(text)


# ---- JSON schema view -----------------------------------------------------------------------


def test_json_schema_of_flat_toolrl_parameters():
    tool = {
        "name": "f",
        "description": "d",
        "parameters": {
            "q": {"description": "query", "type": "str", "default": ""},
            "n": {"description": "count", "type": "int", "default": 5},
            "tags": {"description": "tags", "type": "List[str]", "default": ""},
            "ratio": {"description": "r", "type": "float, optional", "default": ""},
            "x": {"description": "any", "type": "Callable"},
        },
    }
    schema = to_json_schema(tool)
    assert schema["type"] == "function"
    fn = schema["function"]
    assert fn["name"] == "f" and fn["description"] == "d"
    props = fn["parameters"]["properties"]
    assert props["q"] == {"description": "query", "type": "string"}
    assert props["n"] == {"description": "count", "type": "integer", "default": 5}
    assert props["tags"]["type"] == "array" and props["tags"]["items"] == {"type": "string"}
    assert props["ratio"]["type"] == "number"
    assert "type" not in props["x"]
    assert fn["parameters"]["required"] == ["q", "tags", "x"]


def test_json_schema_of_schema_form_maps_python_type_names():
    tool = {
        "name": "g",
        "description": "",
        "parameters": {
            "type": "dict",
            "properties": {"a": {"type": "float"}, "b": {"type": "array", "items": {"type": "dict"}}},
            "required": ["a"],
        },
    }
    params = to_json_schema(tool)["function"]["parameters"]
    assert params == {
        "type": "object",
        "properties": {"a": {"type": "number"}, "b": {"type": "array", "items": {"type": "object"}}},
        "required": ["a"],
    }


def test_json_schema_accepts_openai_tools_and_requires_a_name():
    wrapped = to_json_schema(WEATHER)
    assert to_json_schema(wrapped) == wrapped
    with pytest.raises(ValueError, match="name"):
        to_json_schema({"description": "nameless"})


# ---- history --------------------------------------------------------------------------------


def test_history_and_target_of_every_real_record_round_trip():
    for i, (_, user, target) in enumerate(_toolrl_records()):
        messages = parse_toolrl_history(user)
        assert toolrl_history_prompt(messages) == user, f"record {i}"
        step = parse_toolrl_step(target)
        rendered = toolrl_step_text(
            message_tool_calls(step), think=step["reasoning_content"], response=step["content"] or None
        )
        assert rendered == target, f"record {i}"


def test_history_renders_turns_steps_and_observations():
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        tool_call_message([ToolCall("get_weather", {"city": "Paris"})]),
        {"role": "tool", "content": '[{"name": "get_weather", "results": {"t": 20}}]'},
        {"role": "assistant", "content": "It is 20 degrees."},
        {"role": "user", "content": "thanks"},
    ]
    text = toolrl_history_prompt(messages)
    assert text == (
        TOOLRL_HISTORY_HEADER
        + "<user> weather in Paris? </user>\n\n"
        + f"<think> {TOOLRL_THINK_CALL} </think>\n<tool_call>\n"
        + '{"name": "get_weather", "parameters": {"city": "Paris"}}\n</tool_call>\n'
        + '<obs> [{"name": "get_weather", "results": {"t": 20}}] </obs>\n\n'
        + f"<think> {TOOLRL_THINK_RESPOND} </think>\n<response> It is 20 degrees. </response>\n\n"
        + "<user> thanks </user>"
    )
    parsed = parse_toolrl_history(text)
    assert [m["role"] for m in parsed] == ["user", "assistant", "tool", "assistant", "user"]
    assert parsed[1]["reasoning_content"] == TOOLRL_THINK_CALL
    assert message_tool_calls(parsed[1]) == [ToolCall("get_weather", {"city": "Paris"})]


def test_history_escapes_non_ascii_like_the_toolrl_files_unless_asked_not_to():
    messages = [{"role": "user", "content": "x"}, tool_call_message([ToolCall("f", {"q": "やま"})])]
    assert "\\u3084\\u307e" in toolrl_history_prompt(messages)
    assert "やま" in toolrl_history_prompt(messages, ensure_ascii=False)


def test_history_parser_names_the_problem():
    with pytest.raises(ValueError, match="Dialogue Records History"):
        parse_toolrl_history("<user> hi </user>")
    with pytest.raises(ValueError, match="never closed"):
        parse_toolrl_history(TOOLRL_HISTORY_HEADER + "<user> hi")
    with pytest.raises(ValueError, match="not JSON"):
        parse_toolrl_history(TOOLRL_HISTORY_HEADER + "<user> a </user>\n\n<think> t </think>\n<tool_call>\n{bad\n</tool_call>")
    with pytest.raises(ValueError, match="system"):
        toolrl_history_prompt([{"role": "system", "content": "s"}])
    with pytest.raises(ValueError, match="must follow an assistant step"):
        toolrl_history_prompt([{"role": "user", "content": "u"}, {"role": "tool", "content": "t"}])


def test_content_mentioning_a_closing_tag_still_parses():
    messages = [{"role": "user", "content": "what does </user> mean?"}, {"role": "assistant", "content": "a tag"}]
    text = toolrl_history_prompt(messages)
    parsed = parse_toolrl_history(text)
    assert parsed[0]["content"] == "what does </user> mean?"
    assert toolrl_history_prompt(parsed) == text


_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=20).map(str.strip).filter(bool)
_args = st.dictionaries(st.text(min_size=1, max_size=5), st.one_of(st.integers(), st.text(max_size=8), st.booleans()), max_size=3)
_call = st.builds(ToolCall, st.text(min_size=1, max_size=8).filter(lambda s: "\n" not in s), _args)


@st.composite
def _dialogue(draw):
    messages = []
    for _ in range(draw(st.integers(1, 3))):
        messages.append({"role": "user", "content": draw(_text)})
        calls = draw(st.lists(_call, max_size=2))
        response = draw(st.one_of(st.none(), _text))
        if not calls and response is None:
            response = "ok"
        messages.append(tool_call_message(calls, content=response or "", think=draw(_text)))
        if calls:
            messages.append({"role": "tool", "content": draw(_text)})
    return messages[: draw(st.integers(1, len(messages)))]


@settings(max_examples=60, deadline=None)
@given(_dialogue())
def test_property_history_render_parse_render_is_stable(messages):
    text = toolrl_history_prompt(messages)
    parsed = parse_toolrl_history(text)
    assert toolrl_history_prompt(parsed) == text
    assert [m["role"] for m in parsed] == [m["role"] for m in messages]
    for original, recovered in zip(messages, parsed):
        if original["role"] == "assistant":
            assert message_tool_calls(recovered) == message_tool_calls(original)


def test_parse_step_is_strict():
    assert parse_toolrl_step("<think> t </think>\n<response> r </response>") == {
        "role": "assistant",
        "content": "r",
        "reasoning_content": "t",
    }
    with pytest.raises(ValueError):
        parse_toolrl_step("<think> t </think>\n\n<response> r </response>")
    with pytest.raises(ValueError):
        parse_toolrl_step("<user> u </user>")
    with pytest.raises(ValueError):
        parse_toolrl_step("free text")


# ---- compact prompt and chat templates ------------------------------------------------------


def test_compact_prompt_lists_signatures_with_optional_and_enum_parameters():
    tool = {
        "name": "get_weather",
        "description": "Weather.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    }
    text = compact_system_prompt([tool])
    assert text.splitlines()[1] == "get_weather(city: str, unit?: c|f) - Weather."


def _tiny_tokenizer(chat_template: str | None):
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")))
    tok.chat_template = chat_template
    return tok


def test_apply_tools_chat_template_passes_json_schemas():
    template = (
        "{% if tools %}TOOLS:{% for t in tools %}{{ t.function.name }}={{ t.function.parameters.required | join(',') }};"
        "{% endfor %}\n{% endif %}{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}"
        "{% if add_generation_prompt %}<assistant>{% endif %}"
    )
    text = apply_tools_chat_template(_tiny_tokenizer(template), [{"role": "user", "content": "hi"}], [WEATHER])
    assert text == "TOOLS:get_weather=city;<user>hi\n<assistant>"  # (jinja trims a newline after a block tag)
    no_tools = apply_tools_chat_template(
        _tiny_tokenizer(template), [{"role": "user", "content": "hi"}], [], add_generation_prompt=False
    )
    assert no_tools == "<user>hi\n"


def test_apply_tools_chat_template_needs_a_template():
    with pytest.raises(ValueError, match="no chat template"):
        apply_tools_chat_template(_tiny_tokenizer(None), [{"role": "user", "content": "hi"}], [WEATHER])


# ---------------------------------------------------------------- parsed assistant messages as text


def test_assistant_message_text_puts_every_call_in_one_block_that_both_parsers_read():
    from rest_rl.eval.apibank import parse_apibank_output
    from rest_rl.toolcall import parse_hermes, parse_toolrl
    from rest_rl.toolcall.prompts import assistant_message_text

    message = {
        "role": "assistant",
        "reasoning_content": "two lookups",
        "content": "",
        "tool_calls": [
            {"type": "function", "function": {"name": "a", "arguments": '{"x": 1}'}},
            {"type": "function", "function": {"name": "b", "arguments": {"y": "z"}}},
        ],
    }
    text = assistant_message_text(message)
    assert text == (
        '<think>two lookups</think>\n<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n'
        '{"name": "b", "arguments": {"y": "z"}}\n</tool_call>'
    )
    expected = [("a", {"x": 1}), ("b", {"y": "z"})]
    assert [(c.name, c.arguments) for c in parse_toolrl(text).calls] == expected
    assert [(c.name, c.arguments) for c in parse_hermes(text).calls] == expected
    assert [c["name"] for c in parse_apibank_output(text).calls] == ["a", "b"]  # API-Bank reads the last block


def test_assistant_message_text_is_lenient_and_does_not_double_tags():
    from rest_rl.toolcall.prompts import assistant_message_text

    assert assistant_message_text(None) == ""
    assert assistant_message_text({"content": [{"type": "text", "text": "hi"}, 3]}) == "hi"
    bad = {"content": "ok", "tool_calls": [{"function": {"name": "f", "arguments": "{not json"}}, "junk", {"function": {}}]}
    assert assistant_message_text(bad) == "ok"
    raw = "<think>r</think>\n<tool_call>\n{}\n</tool_call>"
    already = {"content": raw, "reasoning_content": "r", "tool_calls": [{"function": {"name": "f", "arguments": {}}}]}
    assert assistant_message_text(already) == raw
