"""ToolExample (de)serialisation and gold rendering; step splitting; prompts and TRL datasets."""

from __future__ import annotations

import json

import pytest

from rest_rl.data import ToolExample, split_dialogue, to_prompt_messages, to_trl_dataset
from rest_rl.data.sources.hammer import mask_names
from rest_rl.toolcall.hermes import parse_hermes
from rest_rl.toolcall.prompts import TOOLRL_THINK_CALL, tool_call_message
from rest_rl.toolcall.pycall import parse_python_calls
from rest_rl.toolcall.toolrl import parse_toolrl
from rest_rl.toolcall.types import ToolCall

TOOL = {
    "name": "get_weather",
    "description": "Weather.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
CALL = ToolCall("get_weather", {"city": "Paris"})


def _example(**kw) -> ToolExample:
    base = dict(
        id="e1",
        source="test",
        tools=[TOOL],
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        gold_calls=[CALL],
        gold_think="need weather",
        meta={"row": 1},
    )
    base.update(kw)
    return ToolExample(**base)


def test_to_dict_is_flat_json_and_round_trips():
    ex = _example(messages=[{"role": "user", "content": "a"}, tool_call_message([CALL]), {"role": "tool", "content": "{}"}])
    data = ex.to_dict()
    assert all(isinstance(v, (str, type(None))) for v in data.values())
    assert json.loads(data["gold_calls"]) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert ToolExample.from_dict(data) == ex
    decoded = {k: json.loads(v) if k in ("tools", "messages", "meta") else v for k, v in data.items()}
    assert ToolExample.from_dict(decoded) == ex


def test_from_dict_names_the_bad_field():
    with pytest.raises(ValueError, match="'id'"):
        ToolExample.from_dict({"source": "x"})
    with pytest.raises(ValueError, match="'messages'"):
        ToolExample.from_dict({"id": "a", "source": "x", "messages": "{not json"})
    with pytest.raises(ValueError, match="name"):
        ToolExample.from_dict({"id": "a", "source": "x", "gold_calls": '[{"arguments": {}}]'})


def test_empty_gold_call_list_means_no_call():
    ex = _example(gold_calls=[], gold_response="hi")
    assert ex.gold_calls is None and ex.kind == "response" and not ex.has_call


def test_gold_text_in_every_format_parses_back_to_the_gold_calls():
    ex = _example(gold_calls=[CALL, ToolCall("get_weather", {"city": "Oslo"})], gold_response="on it")
    assert ex.kind == "call+response"
    toolrl = parse_toolrl(ex.gold_text("toolrl"))
    assert toolrl.calls == ex.gold_calls and toolrl.think == "need weather" and toolrl.response == "on it"
    hermes = parse_hermes(ex.gold_text("hermes"))
    assert hermes.calls == ex.gold_calls
    assert parse_python_calls(ex.gold_text("python")).calls == ex.gold_calls
    assert json.loads(ex.gold_text("hammer").strip("`\n")) == [c.to_dict("arguments") for c in ex.gold_calls]
    with pytest.raises(ValueError, match="unknown gold format"):
        ex.gold_text("yaml")


def test_gold_text_uses_toolrl_placeholder_thought_when_missing():
    ex = _example(gold_think=None)
    assert ex.gold_text().startswith(f"<think> {TOOLRL_THINK_CALL} </think>\n<tool_call>")
    assert ex.gold_text(think_placeholder=False).startswith("<tool_call>")


def test_split_dialogue_gives_one_example_per_assistant_step():
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        tool_call_message([CALL], think="call it"),
        {"role": "tool", "content": "sunny"},
        {"role": "assistant", "content": "It is sunny."},
        {"role": "user", "content": "and Oslo?"},
        tool_call_message([ToolCall("get_weather", {"city": "Oslo"})]),
    ]
    steps = split_dialogue(messages, tools=[TOOL], source="s", id_prefix="d", meta={"row": 3})
    assert [ex.id for ex in steps] == ["d-0", "d-1", "d-2"]
    assert [len(ex.messages) for ex in steps] == [1, 3, 5]
    assert steps[0].gold_calls == [CALL] and steps[0].gold_think == "call it"
    assert steps[1].gold_response == "It is sunny." and steps[1].gold_calls is None
    assert steps[2].meta == {"row": 3, "step": 2}
    steps[0].messages[0]["content"] = "changed"
    assert messages[0]["content"] == "weather in Paris?"  # histories are copies
    with pytest.raises(ValueError, match="needs a user turn"):
        split_dialogue([{"role": "assistant", "content": "x"}], tools=[], source="s", id_prefix="d")
    with pytest.raises(ValueError, match="unsupported role"):
        split_dialogue([{"role": "system", "content": "x"}], tools=[], source="s", id_prefix="d")


def test_prompt_styles():
    ex = _example()
    toolrl = to_prompt_messages(ex)
    assert toolrl[0]["content"].startswith("You are a helpful multi-turn dialogue assistant")
    assert toolrl[1]["content"] == "**Dialogue Records History**\n<user> Weather in Paris? </user>"
    assert to_prompt_messages(ex, style="chat_template") == ex.messages
    assert to_prompt_messages(ex, style="chat_template", system_prompt="S")[0] == {"role": "system", "content": "S"}
    compact = to_prompt_messages(ex, style="compact")
    assert compact[0]["content"].splitlines()[1] == "get_weather(city: str) - Weather."
    assert compact[1] == {"role": "user", "content": "Weather in Paris?"}
    assert to_prompt_messages(ex, style="hammer")[0]["content"].startswith("[BEGIN OF TASK INSTRUCTION]")
    with pytest.raises(ValueError, match="unknown prompt style"):
        to_prompt_messages(ex, style="other")


def test_trl_dataset_columns_for_rewards():
    examples = [_example(), _example(id="e2", gold_calls=None, gold_response="Hello!")]
    ds = to_trl_dataset(examples)
    assert set(ds.column_names) >= {"prompt", "gold_calls", "gold_has_call", "gold_has_response", "gold_text", "tools"}
    assert ds["gold_has_response"] == [False, True] and ds["gold_has_call"] == [True, False]
    assert json.loads(ds[0]["gold_calls"]) == [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    assert ds[1]["gold_calls"] == "[]" and ds[1]["gold_response"] == "Hello!"
    assert json.loads(ds[0]["tools"])[0]["function"]["name"] == "get_weather"


def test_trl_dataset_chat_template_style_with_and_without_tokenizer():
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    ex = _example(messages=[{"role": "user", "content": "a"}, tool_call_message([CALL]), {"role": "user", "content": "b"}])
    other = _example(id="e2", messages=[{"role": "user", "content": "a"}, tool_call_message([ToolCall("x", {"n": 1})])])
    ds = to_trl_dataset([ex, other], style="chat_template")
    assert ds[0]["prompt"][1]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert parse_hermes(ds[0]["gold_text"]).calls == [CALL]
    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"<unk>": 0}, unk_token="<unk>")))
    tok.chat_template = "{{ tools | length }} tools;{% for m in messages %}{{ m.role }};{% endfor %}"
    rendered = to_trl_dataset([ex], style="chat_template", tokenizer=tok)
    assert rendered[0]["prompt"] == "1 tools;user;assistant;user;"


def test_mask_names_renames_consistently_and_deterministically():
    ex = _example(messages=[{"role": "user", "content": "a"}, tool_call_message([CALL]), {"role": "user", "content": "b"}])
    masked = mask_names(ex, seed=1)
    assert masked == mask_names(ex, seed=1) and masked != mask_names(ex, seed=2)
    name = masked.tools[0]["name"]
    param = next(iter(masked.tools[0]["parameters"]["properties"]))
    assert name != "get_weather" and param != "city"
    assert masked.tools[0]["parameters"]["required"] == [param]
    assert masked.gold_calls == [ToolCall(name, {param: "Paris"})]
    assert masked.messages[1]["tool_calls"][0]["function"] == {"name": name, "arguments": {param: "Paris"}}
    assert ex.tools[0]["name"] == "get_weather"  # the input is untouched
