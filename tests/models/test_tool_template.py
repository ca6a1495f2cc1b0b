"""The embedded model's chat template and response parser speak TRL's multi-turn tool loop.

TRL 1.16 accepts a tokenizer for ``GRPOTrainer(tools=..., environment_factory=...)`` when its template
renders a whole tool-calling conversation, is prefix-preserving (else TRL swaps in a template of its
own), ends turns with the EOS the model stops on, and the tokenizer has a response parser (TRL knows
only its shipped templates by exact text; ours is given as ``tokenizer.response_template``).
Single-step prompts and SFT targets render exactly as before (plain ChatML).
"""

from __future__ import annotations

import json

import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.chat_template_utils import (
    is_chat_template_prefix_preserving,
    parse_response,
    supports_tool_calling,
)

from rest_rl.data import SyntheticConfig, make_splits, to_prompt_messages
from rest_rl.models.tiny import TinyModelConfig, make_embedded_model
from rest_rl.models.tokenizer import DEFAULT_CHAT_TEMPLATE, IM_END, TOOLS_RESPONSE_TEMPLATE

WORLD = SyntheticConfig(seed=7, n_train=24, n_validation=0, n_test=0, p_no_call=0.2)
TINY = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, ffn_multiplier=2, seed=0)


def _call(name: str, arguments: dict | str) -> dict:
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


CONVERSATION = [
    {"role": "system", "content": "You are a bank clerk."},
    {"role": "user", "content": "Send 30 from alice to bob."},
    {
        "role": "assistant",
        "content": "<think> I need both ids. </think>",
        "tool_calls": [_call("get_account_id", {"name": "alice"}), _call("get_account_id", '{"name": "bob"}')],
    },
    {"role": "tool", "name": "get_account_id", "content": "AC-17"},
    {"role": "tool", "name": "get_account_id", "content": "BK-42"},
    {"role": "assistant", "content": "", "tool_calls": [_call("transfer", {"from_id": "AC-17", "amount": 30})]},
    {"role": "tool", "name": "transfer", "content": "ok"},
    {"role": "assistant", "content": "Done."},
]

EXPECTED = (
    "<|im_start|>system\nYou are a bank clerk.<|im_end|>\n"
    "<|im_start|>user\nSend 30 from alice to bob.<|im_end|>\n"
    "<|im_start|>assistant\n<think> I need both ids. </think>\n"
    '<tool_call>\n{"name": "get_account_id", "arguments": {"name": "alice"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "get_account_id", "arguments": {"name": "bob"}}\n</tool_call><|im_end|>\n'
    "<|im_start|>user\n<tool_response>\nAC-17\n</tool_response>\n<tool_response>\nBK-42\n</tool_response><|im_end|>\n"
    '<|im_start|>assistant\n<tool_call>\n{"name": "transfer", "arguments": {"from_id": "AC-17", "amount": 30}}\n'
    "</tool_call><|im_end|>\n"
    "<|im_start|>user\n<tool_response>\nok\n</tool_response><|im_end|>\n"
    "<|im_start|>assistant\nDone.<|im_end|>\n"
)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_embedded_model(tmp_path_factory.mktemp("tool-template"), WORLD, config=TINY, vocab_size=400)


@pytest.fixture(scope="module")
def tok(model_dir):
    return AutoTokenizer.from_pretrained(model_dir)


def test_a_tool_conversation_renders_in_the_qwen3_hermes_layout(tok):
    assert tok.apply_chat_template(CONVERSATION, tokenize=False) == EXPECTED


def test_trl_accepts_the_template_as_it_is(tok):
    assert supports_tool_calling(tok)
    assert is_chat_template_prefix_preserving(tok)  # TRL would otherwise replace it with its own
    # every turn boundary renders as a prefix of the whole (token ids, as TRL compares them); the results of
    # one assistant turn share a user turn (Qwen3's layout), and TRL always appends them together
    full = tok.apply_chat_template(CONVERSATION, tokenize=True, return_dict=False)
    checked = 0
    for end in range(1, len(CONVERSATION)):
        if CONVERSATION[end - 1]["role"] == CONVERSATION[end]["role"] == "tool":
            continue
        head = tok.apply_chat_template(CONVERSATION[:end], tokenize=True, return_dict=False)
        assert full[: len(head)] == head, end
        checked += 1
    assert checked == len(CONVERSATION) - 2


def test_eos_is_the_end_of_turn_token_the_model_stops_on(model_dir, tok):
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    assert tok.eos_token == IM_END
    assert tok.eos_token_id == model.generation_config.eos_token_id == model.config.eos_token_id
    assert tok.pad_token_id != tok.eos_token_id
    # every assistant turn of the rendering ends with EOS
    rendered = tok.apply_chat_template(CONVERSATION, tokenize=False)
    turns = rendered.split("<|im_start|>assistant\n")[1:]
    assert turns and all(IM_END in turn for turn in turns)


def test_the_response_parser_is_saved_with_the_tokenizer(tok):
    assert tok.response_template == TOOLS_RESPONSE_TEMPLATE


def _parse(tok, conversation_head: list[dict], text: str, **kwargs) -> dict:
    prefix = tok.apply_chat_template(conversation_head, tokenize=True, return_dict=False, add_generation_prompt=True)
    ids = tok(text, add_special_tokens=False)["input_ids"]
    return parse_response(tok, ids, prefix=prefix, **kwargs)


def test_rendered_assistant_turns_parse_back(tok):
    """What the template renders for an assistant turn, the parser turns back into the same calls."""
    for index, message in enumerate(CONVERSATION):
        if message["role"] != "assistant":
            continue
        head = CONVERSATION[:index]
        before = tok.apply_chat_template(head, tokenize=False, add_generation_prompt=True)
        after = tok.apply_chat_template(CONVERSATION[: index + 1], tokenize=False)
        text = after[len(before) :].rstrip("\n")
        parsed = _parse(tok, head, text)
        assert parsed["content"] == message["content"]
        calls = [
            (c["function"]["name"], c["function"]["arguments"]) for c in message.get("tool_calls") or []
        ]
        got = [(c["function"]["name"], c["function"]["arguments"]) for c in parsed.get("tool_calls") or []]
        want = [(n, json.loads(a) if isinstance(a, str) else a) for n, a in calls]
        assert got == want, index


def test_parser_reads_toolrl_parameters_and_rejects_what_it_cannot_run(tok):
    head = CONVERSATION[:2]
    parsed = _parse(tok, head, '<tool_call>\n{"name": "f", "parameters": {"x": 1}}\n</tool_call>' + IM_END)
    assert parsed["tool_calls"] == [_call("f", {"x": 1})]
    # a tag inside a JSON string does not end the block
    parsed = _parse(tok, head, '<tool_call>\n{"name": "f", "arguments": {"x": "<tool_call>"}}\n</tool_call>' + IM_END)
    assert parsed["tool_calls"] == [_call("f", {"x": "<tool_call>"})]
    # ToolRL's several-calls-in-one-block, broken JSON and an unclosed block run no tool: plain text
    for text in (
        '<tool_call>\n{"name": "f", "parameters": {}}\n{"name": "g", "parameters": {}}\n</tool_call>' + IM_END,
        '<tool_call>\n{"name": "f", "arguments": {"x": 1}\n</tool_call>' + IM_END,
        '<tool_call>\n{"name": "f", "arguments": {"x": 1}}',
    ):
        parsed = _parse(tok, head, text)
        assert "tool_calls" not in parsed and parsed["content"].startswith("<tool_call>"), text


def test_single_step_prompts_and_targets_render_as_plain_chatml(tok):
    """No tools, no tool calls: byte-identical to the minimal ChatML template (what the demo trains on)."""
    examples = make_splits(WORLD)["train"][:12]
    assert examples
    for example in examples:
        for style in ("compact", "toolrl"):
            messages = to_prompt_messages(example, style=style)
            target = messages + [{"role": "assistant", "content": example.gold_text("toolrl")}]
            for conversation, gen in ((messages, True), (target, False)):
                ours = tok.apply_chat_template(conversation, tokenize=False, add_generation_prompt=gen)
                plain = tok.apply_chat_template(
                    conversation, tokenize=False, add_generation_prompt=gen, chat_template=DEFAULT_CHAT_TEMPLATE
                )
                assert ours == plain


def test_trl_grpo_trainer_keeps_template_and_parser(model_dir, tok, tmp_path):
    """Given tools, TRL neither rejects the tokenizer nor swaps its template for a training one."""
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    def lookup(name: str) -> str:
        """Look a name up.

        Args:
            name: The name.
        """
        return name

    args = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, gradient_checkpointing=False, report_to=[],
        per_device_train_batch_size=2, num_generations=2, max_completion_length=16, save_strategy="no",
    )
    data = Dataset.from_list([{"prompt": [{"role": "user", "content": "hi"}]}] * 2)
    trainer = GRPOTrainer(
        model=str(model_dir), reward_funcs=lambda completions, **kw: [0.0] * len(completions), args=args,
        train_dataset=data, processing_class=tok, tools=[lookup],
    )
    assert trainer.chat_template is None  # its own template kept (prefix-preserving)
    assert trainer._tokenizer.response_template == TOOLS_RESPONSE_TEMPLATE
