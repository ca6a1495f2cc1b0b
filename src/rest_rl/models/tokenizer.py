"""A small, real byte-level BPE tokenizer trained locally in about a second.

Tests, benchmarks and the demo need a tokenizer that behaves like the ones of real chat models
(byte-level BPE as in GPT-2 / Qwen, digits split one by one, ChatML special tokens, the tool-use tags
either as single added tokens or as ordinary text) without downloading anything. The built-in
training corpus is generated deterministically from a fixed seed, so the same call always yields the
same vocabulary.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterable, Iterator
from typing import Any

from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

__all__ = [
    "DEFAULT_CHAT_TEMPLATE",
    "EOS_TOKEN",
    "IM_END",
    "IM_START",
    "SPECIAL_TOKENS",
    "TAG_TOKENS",
    "TOOLS_CHAT_TEMPLATE",
    "TOOLS_RESPONSE_TEMPLATE",
    "build_bpe_tokenizer",
    "default_corpus",
]

EOS_TOKEN = "<|endoftext|>"
"""End-of-sequence and padding token (special: dropped by ``decode(skip_special_tokens=True)``)."""

IM_START = "<|im_start|>"
"""Opens a chat turn (ChatML)."""

IM_END = "<|im_end|>"
"""Closes a chat turn (ChatML); the end-of-sequence token of chat models such as Qwen3-Instruct."""

SPECIAL_TOKENS: tuple[str, ...] = (EOS_TOKEN, IM_START, IM_END)
"""Special tokens of the tokenizer, in id order (ids 0, 1, 2)."""

TAG_TOKENS: tuple[str, ...] = (
    "<think>",
    "</think>",
    "<tool_call>",
    "</tool_call>",
    "<response>",
    "</response>",
)
"""The tool-use tags; single non-special added tokens when ``tags_as_tokens=True``."""

DEFAULT_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
"""A minimal ChatML template (the layout Qwen models use), set when no template is given."""

TOOLS_CHAT_TEMPLATE = (
    "{%- set ns = namespace(start=0) -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}{%- set ns.start = 1 -%}{%- endif -%}"
    "{%- if tools -%}"
    "{{- '<|im_start|>system\n' -}}"
    "{%- if ns.start == 1 -%}{{- messages[0]['content'] + '\n\n' -}}{%- endif -%}"
    "{{- 'Tools you can call, one JSON schema per line:\n<tools>' -}}"
    "{%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}"
    "{{- '\n</tools>\nFor each tool call, write <tool_call>, then {\"name\": ..., \"arguments\": {...}} '"
    " + 'on its own line, then </tool_call>.<|im_end|>\n' -}}"
    "{%- elif ns.start == 1 -%}"
    "{{- '<|im_start|>system\n' + messages[0]['content'] + '<|im_end|>\n' -}}"
    "{%- endif -%}"
    "{%- for message in messages[ns.start:] -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\n' -}}"
    "{%- if message.get('content') -%}{{- message['content'] -}}{%- endif -%}"
    "{%- for call in message.get('tool_calls') or [] -%}"
    "{%- if not loop.first or message.get('content') -%}{{- '\n' -}}{%- endif -%}"
    "{%- set fn = call['function'] if call.get('function') else call -%}"
    "{%- set args = fn.get('arguments', {}) -%}"
    "{{- '<tool_call>\n{\"name\": ' + (fn['name'] | tojson) + ', \"arguments\": ' -}}"
    "{%- if args is string -%}{{- args -}}{%- else -%}{{- args | tojson -}}{%- endif -%}"
    "{{- '}\n</tool_call>' -}}"
    "{%- endfor -%}"
    "{{- '<|im_end|>\n' -}}"
    "{%- elif message['role'] == 'tool' -%}"
    "{%- if loop.first or loop.previtem['role'] != 'tool' -%}{{- '<|im_start|>user' -}}{%- endif -%}"
    "{{- '\n<tool_response>\n' + message['content'] + '\n</tool_response>' -}}"
    "{%- if loop.last or loop.nextitem['role'] != 'tool' -%}{{- '<|im_end|>\n' -}}{%- endif -%}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\n' -}}{%- endif -%}"
)
"""A ChatML template that accepts ``tools`` (the layout of Qwen3's / Hermes', written for this project).

With ``tools`` it opens with a system turn that holds the system message (if any), the tool schemas
one JSON object per line inside ``<tools> </tools>`` and a one-line instruction for calling them.
Assistant ``tool_calls`` are rendered as Qwen3 writes them: one ``<tool_call>\\n{"name": ...,
"arguments": ...}\\n</tool_call>`` block per call, after the content, a newline before the first
block when there is content and between blocks. Consecutive tool results share one user turn, each
in ``<tool_response>\\n...\\n</tool_response>`` (also Qwen3's layout). Every turn ends with
``<|im_end|>``, the end-of-sequence token of :func:`make_embedded_model
<rest_rl.models.tiny.make_embedded_model>`'s tokenizer, so generation stops at the end of a turn.
Rendering is prefix-preserving (a conversation renders as the concatenation of its turns), which
TRL's multi-turn tool loop requires. Messages without ``tool_calls`` / tool results render
exactly as plain ChatML (:data:`DEFAULT_CHAT_TEMPLATE`).

:data:`TOOLS_RESPONSE_TEMPLATE` parses what the model writes after ``<|im_start|>assistant\\n``
back into such a message.
"""

TOOLS_RESPONSE_TEMPLATE: dict[str, Any] = {
    "defaults": {"role": "assistant"},
    "start_anchor": IM_START + "assistant\n",
    "fields": {
        "tool_calls": {
            # the name is captured from the opening, the arguments object is the JSON body; ToolRL's
            # "parameters" key is read as "arguments"
            "open_pattern": r'<tool_call>\s*\{\s*"name"\s*:\s*"(?P<name>[^"\\]+)"\s*,'
            r'\s*"(?:arguments|parameters)"\s*:\s*',
            "close_pattern": r"\}\s*</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": {"name": "{name}", "arguments": "{content}"}},
        },
        "content": {"close_pattern": r"<\|im_end\|>\s*", "content": "text"},
    },
}
"""Response parser of :data:`TOOLS_CHAT_TEMPLATE` (a Transformers ``response_template``, read by
``tokenizer.parse_response`` and by TRL's tool loop): an assistant turn becomes ``{"role":
"assistant", "content": text outside the blocks (stripped; ``<think>`` stays in it), "tool_calls":
[{"type": "function", "function": {"name", "arguments"}}, ...]}``, one call per ``<tool_call>``
block whose JSON object starts with ``"name"`` then ``"arguments"`` (or ToolRL's
``"parameters"``). A block that does not fit -- several JSON lines in one block (ToolRL's layout),
other key order, invalid JSON, a missing ``</tool_call>`` -- makes the parser raise; TRL then keeps
the turn as plain text and runs no tool. Written for this project; TRL only recognises its own
shipped templates, and this one it reads from ``tokenizer.response_template``."""

_CORPUS_SEED = 20250926
_CORPUS_SIZE = 400

_TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("get_weather", ("city", "unit", "days")),
    ("search_flights", ("origin", "destination", "date", "passengers")),
    ("Search Managers", ("name",)),
    ("convert_currency", ("amount", "from", "to")),
    ("send_email", ("to", "subject", "body")),
    ("calculate_bmi", ("weight_kg", "height_m")),
    ("translate_text", ("text", "target_language")),
    ("get_stock_price", ("symbol", "exchange")),
    ("book_restaurant", ("restaurant", "time", "party_size", "options")),
    ("list_files", ("path", "recursive")),
)

_WORDS: tuple[str, ...] = (
    "Paris", "Berlin", "Tokyo", "São Paulo", "Zürich", "北京", "東京", "Москва", "Kraków", "Αθήνα",
    "celsius", "fahrenheit", "tomorrow", "report", "meeting", "café", "naïve", "résumé", "🙂", "🚀",
    "USD", "EUR", "JPY", "AAPL", "NASDAQ", "/home/user/docs", "hello world", "Alex Ferguson",
    "support@techhelp.org", "2024-05-17", "vegetarian", "window seat", "Español", "中文",
)

_THOUGHTS: tuple[str, ...] = (
    "The user wants {x}. Let me check which tool fits best.",
    "I need to call {t} with the right parameters; the user gave {x} directly.",
    "Okay, the request is about {x}. The tool {t} requires a few arguments.",
    "First, confirm the parameters: {x} is given, so no default is needed.",
    "There is no tool for this, so I should answer the user directly about {x}.",
    "Let me think step by step: the user mentioned {x}, which matches {t}.",
)

_RESPONSES: tuple[str, ...] = (
    "Here is what I found about {x}.",
    "I have called the tool; the result for {x} will follow shortly.",
    "Sorry, I cannot help with {x} without more details.",
    "Done! {x} is booked for you 🙂",
)


def _random_value(rng: random.Random) -> object:
    kind = rng.randrange(6)
    if kind == 0:
        return rng.randrange(0, 10_000)
    if kind == 1:
        return round(rng.uniform(-100.0, 100.0), rng.randrange(1, 4))
    if kind == 2:
        return rng.choice((True, False, None))
    if kind == 3:
        return [rng.choice(_WORDS) for _ in range(rng.randrange(1, 4))]
    if kind == 4:
        return {"kind": rng.choice(_WORDS), "n": rng.randrange(100)}
    return rng.choice(_WORDS)


def _random_call(rng: random.Random, args_key: str) -> dict[str, object]:
    name, params = rng.choice(_TOOLS)
    chosen = [p for p in params if rng.random() < 0.7]
    return {"name": name, args_key: {p: _random_value(rng) for p in chosen}}


def _random_example(rng: random.Random) -> str:
    name = rng.choice(_TOOLS)[0]
    word = rng.choice(_WORDS)
    thought = " ".join(
        rng.choice(_THOUGHTS).format(x=rng.choice(_WORDS), t=name) for _ in range(rng.randrange(1, 4))
    )
    response = rng.choice(_RESPONSES).format(x=word)
    dump = lambda obj: json.dumps(obj, ensure_ascii=rng.random() < 0.2)  # noqa: E731
    if rng.random() < 0.6:  # ToolRL format: one block, one JSON call per line
        parts = [f"<think> {thought} </think>"]
        if rng.random() < 0.8:
            calls = [_random_call(rng, "parameters") for _ in range(rng.randrange(1, 4))]
            parts.append("<tool_call>\n" + "\n".join(dump(c) for c in calls) + "\n</tool_call>")
        if len(parts) == 1 or rng.random() < 0.3:
            parts.append(f"<response> {response} </response>")
        return "\n".join(parts)
    # Qwen3 / Hermes format: one block per call, optional reasoning and free text around.
    parts = []
    if rng.random() < 0.5:
        parts.append(f"<think>\n{thought}\n</think>\n")
    for _ in range(rng.randrange(1, 3)):
        parts.append("<tool_call>\n" + dump(_random_call(rng, "arguments")) + "\n</tool_call>")
    if rng.random() < 0.3:
        parts.append(response)
    return "\n".join(parts)


def default_corpus(size: int = _CORPUS_SIZE, seed: int = _CORPUS_SEED) -> list[str]:
    """Return ``size`` deterministic tool-use completions (ToolRL and Hermes formats, some unicode)."""
    rng = random.Random(seed)
    return [_random_example(rng) for _ in range(size)]


def _iter_texts(texts: Iterable[str]) -> Iterator[str]:
    for text in texts:
        if isinstance(text, str) and text:
            yield text


def build_bpe_tokenizer(
    texts: Iterable[str] | None = None,
    *,
    vocab_size: int = 1024,
    tags_as_tokens: bool = True,
    chat_template: str | None = None,
    eos_token: str = EOS_TOKEN,
    response_template: dict[str, Any] | None = None,
) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer on ``texts`` and wrap it as a Transformers tokenizer.

    Args:
        texts: training texts; defaults to :func:`default_corpus` (tool-use completions).
        vocab_size: target vocabulary size, special and added tokens included.
        tags_as_tokens: if True, ``<think> </think> <tool_call> </tool_call> <response> </response>``
            are single added tokens that are *not* special (as in Qwen3, so
            ``decode(skip_special_tokens=True)`` keeps them); if False they are ordinary text split by BPE.
        chat_template: Jinja chat template; defaults to :data:`DEFAULT_CHAT_TEMPLATE` (ChatML).
        eos_token: the end-of-sequence token, one of :data:`SPECIAL_TOKENS`. The default
            ``<|endoftext|>`` is also the padding token; chat models end turns with ``<|im_end|>``
            (as Qwen3-Instruct does), which :func:`~rest_rl.models.tiny.make_embedded_model` uses.
        response_template: a Transformers ``response_template`` (how ``parse_response`` turns an
            assistant turn into a message), e.g. :data:`TOOLS_RESPONSE_TEMPLATE` with
            :data:`TOOLS_CHAT_TEMPLATE`; saved with the tokenizer. TRL's tool loop needs one. ``None``
            (default): none is set.

    Returns:
        A fast tokenizer with ``eos_token`` as eos, ``<|endoftext|>`` as pad token, the other special
        tokens as further special tokens, and left padding. Deterministic for a given input.
    """
    if eos_token not in SPECIAL_TOKENS:
        raise ValueError(f"eos_token must be one of {SPECIAL_TOKENS}, got {eos_token!r}")
    corpus = default_corpus() if texts is None else list(_iter_texts(texts))
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        show_progress=False,
        special_tokens=[AddedToken(tok, special=True, normalized=False) for tok in SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    backend.train_from_iterator(corpus, trainer=trainer)
    if tags_as_tokens:
        backend.add_tokens([AddedToken(tag, special=False, normalized=False) for tag in TAG_TOKENS])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        eos_token=eos_token,
        pad_token=EOS_TOKEN,
        additional_special_tokens=[t for t in SPECIAL_TOKENS if t not in (eos_token, EOS_TOKEN)],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    tokenizer.chat_template = DEFAULT_CHAT_TEMPLATE if chat_template is None else chat_template
    if response_template is not None:
        tokenizer.response_template = copy.deepcopy(response_template)
    return tokenizer
