"""Generators of hostile model output, shared by the fuzz test and the fuzz benchmark.

Model output is untrusted: every parser, reward and the region labeller must return a defined result
for any string. :func:`random_model_output` builds strings that look *almost* like tool-use output —
tags (some unclosed or doubled), JSON fragments with broken quotes and braces, python-call strings,
unicode, control characters — because near-misses reach deeper code paths than uniform noise.
:func:`check_untrusted_text` runs one string through every consumer and returns what it saw.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

_TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>", "<obs>", "<")
_JSON_BITS = (
    '{"name": "get_weather", "parameters": {"city": "Paris"}}',
    '{"name": "f", "arguments": {"x": [1, 2, {"y": null}], "z": true}}',
    '{"name": "g", "arguments": "{\\"q\\": 1}"}',
    '{"name": ', '"parameters": {', '"arguments":', '{"', '"}', "}}", "{", "}", "[", "]", ":", ",", '"', "'",
    '\\"', "\\", "1e309", "-0", "NaN", "Infinity", "true", "null", '"\\ud800"', "[{}]", '{"name": 3}',
)
_PY_BITS = ("[f(a=1)]", "f(x='y', z=[1, 2])", "math.factorial(n=5)", "g(1, 2)", "__import__('os')", "a.b.c(d=e)")
_TEXT_BITS = (
    "hello", " ", "\n", "\t", "é", "日本語", "🙂", "\u200b", "\x00", "\r\n", "\ufffd", "a" * 50, "<<<", ">>>",
    "The user wants", "I will call", "```json", "```",
)


def random_model_output(rng: random.Random, max_parts: int = 24) -> str:
    """One adversarial completion: a random sequence of tag, JSON, python-call and text fragments."""
    parts = []
    for _ in range(rng.randint(0, max_parts)):
        kind = rng.random()
        if kind < 0.25:
            parts.append(rng.choice(_TAGS))
        elif kind < 0.6:
            parts.append(rng.choice(_JSON_BITS))
        elif kind < 0.7:
            parts.append(rng.choice(_PY_BITS))
        elif kind < 0.95:
            parts.append(rng.choice(_TEXT_BITS))
        else:
            parts.append("".join(chr(rng.randint(0, 0x2FFF)) for _ in range(rng.randint(1, 8))))
        if rng.random() < 0.3:
            parts.append("\n")
    return "".join(parts)


def random_offsets(rng: random.Random, n_chars: int) -> list[tuple[int, int]]:
    """Token offsets that cover the text in random-length pieces, with a few empty and out-of-range spans."""
    offsets, pos = [], 0
    while pos < n_chars:
        step = rng.randint(1, 6)
        offsets.append((pos, min(n_chars, pos + step)))
        pos += step
    if rng.random() < 0.2:
        offsets.append((n_chars, n_chars))  # a stripped EOS
    if rng.random() < 0.05:
        offsets.append((n_chars + 3, n_chars + 9))  # out of range: clipped, never raises
    return offsets


@dataclass
class FuzzOutcome:
    """What one string did: the number of tokens labelled and every reward total seen."""

    n_tokens: int
    rewards: list[float]


def check_untrusted_text(text: str, rng: random.Random) -> FuzzOutcome:
    """Run ``text`` through every parser, every reward variant and the region labeller.

    Raises ``AssertionError`` when a consumer returns something undefined (a reward outside its
    range or not finite, a region code out of range, a wrong number of labels); any other exception
    propagates, which is itself the failure the fuzzers look for.
    """
    from rest_rl.core.regions import NUM_REGIONS, label_chars, label_tokens
    from rest_rl.rewards import RewardConfig, reward_ranges, toolrl_reward
    from rest_rl.toolcall import ToolCall, parse_hermes, parse_python_calls, parse_toolrl

    for parse in (parse_toolrl, parse_hermes, parse_python_calls):
        parsed = parse(text)
        assert isinstance(parsed.problems, list)
    chars = label_chars(text)
    assert len(chars) == len(text)
    offsets = random_offsets(rng, len(text))
    tokens = label_tokens(text, offsets)
    assert len(tokens) == len(offsets)
    assert all(0 <= int(c) < NUM_REGIONS for c in tokens)

    gold = rng.choice([None, [ToolCall("get_weather", {"city": "Paris"})], [ToolCall("f", {"x": [1, 2]}), ToolCall("g")]])
    variant = rng.choice(["default", "equal_max", "two_stage", "fine_grained", "intermediate", "coarse", "length", "tool_n1"])
    config = RewardConfig(variant=variant, format_check=rng.choice(["strict", "relaxed"]))
    progress = rng.random()
    result = toolrl_reward(text, gold, gold_has_response=rng.random() < 0.3, progress=progress, config=config)
    assert math.isfinite(result.total), (text, result)
    low, high = reward_ranges(config, progress).total
    assert low - 1e-9 <= result.total <= high + 1e-9, (text, variant, result)
    return FuzzOutcome(n_tokens=len(tokens), rewards=[result.total])
