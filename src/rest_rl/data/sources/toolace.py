"""ToolACE (HF ``Team-ACE/ToolACE``): ``system`` + ``conversations`` dialogues.

A record looks like::

    {"system": "<instructions> ... [{\"name\": \"f\", \"description\": ..., \"parameters\": ...}] ...",
     "conversations": [{"from": "user", "value": "..."},
                       {"from": "assistant", "value": "[f(a=1, b='x')]"},
                       {"from": "tool", "value": "[{\"name\": \"f\", \"results\": {...}}]"},
                       {"from": "assistant", "value": "Here is what I found ..."}]}

The tools are the first JSON list of named objects inside the system text. Assistant turns that
are a Python-style call list are parsed with :func:`rest_rl.toolcall.pycall.parse_python_calls`
(never executed); ToolACE tool names may contain spaces or dashes (``Search Managers``), which
Python syntax cannot hold, so such names are swapped for identifiers before parsing and restored
after. Every assistant turn becomes one example (:func:`split_dialogue`).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from rest_rl.data.dialogue import split_dialogue
from rest_rl.data.io import LoadResult, load_rows
from rest_rl.data.schema import ToolExample
from rest_rl.toolcall.prompts import normalize_tool, tool_call_message
from rest_rl.toolcall.pycall import parse_python_calls
from rest_rl.toolcall.types import ToolCall

__all__ = ["load_toolace", "parse_toolace_calls", "toolace_messages", "tools_from_system_text"]

_ROLE_MAP: Mapping[str, str] = MappingProxyType({
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "gpt": "assistant",
    "tool": "tool",
    "function": "tool",
    "observation": "tool",
})
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_LOOKS_LIKE_CALL = re.compile(r"^\[\s*[A-Za-z_][\w.]*\s*\(")  # "[name(" once odd names are aliased


def tools_from_system_text(system: str) -> list[dict[str, Any]]:
    """The first JSON list of ``{"name": ...}`` objects found in a system prompt.

    Raises ``ValueError`` when there is none.
    """
    if not isinstance(system, str):
        raise ValueError(f"field 'system' must be a string, got {type(system).__name__}")
    decoder = json.JSONDecoder()
    start = system.find("[")
    while start >= 0:
        try:
            value, _ = decoder.raw_decode(system, start)
        except json.JSONDecodeError:
            value = None
        if (
            isinstance(value, list)
            and value
            and all(isinstance(t, dict) and isinstance(t.get("name"), str) for t in value)
        ):
            return [normalize_tool(t) for t in value]
        start = system.find("[", start + 1)
    raise ValueError("no JSON list of tools found in the system text")


def parse_toolace_calls(text: str, tool_names: Sequence[str] = ()) -> list[ToolCall] | None:
    """Parse a ToolACE assistant turn written as ``[f(a=1), g(b='x')]``.

    Returns the calls, or ``None`` when the text is not a call list (an ordinary reply). Names in
    ``tool_names`` that are not Python identifiers are handled. Raises ``ValueError`` for text
    that looks like a call list but does not parse cleanly.
    """
    stripped = text.strip()
    if not (stripped.startswith("[") and stripped.endswith("]")):
        return None
    aliases: dict[str, str] = {}
    source = stripped
    for name in sorted(set(tool_names), key=len, reverse=True):
        if _IDENTIFIER.fullmatch(name):
            continue
        alias = f"_rest_rl_tool_{len(aliases)}"
        pattern = re.compile(r"(^|[\[,])(\s*)" + re.escape(name) + r"(\s*)\(")
        new_source = pattern.sub(lambda m, a=alias: f"{m.group(1)}{m.group(2)}{a}{m.group(3)}(", source)
        if new_source != source:
            aliases[alias] = name
            source = new_source
    parsed = parse_python_calls(source)
    if parsed.has_tool_call_block and parsed.calls and not parsed.problems:
        return [ToolCall(aliases.get(c.name, c.name), c.arguments) for c in parsed.calls]
    if _LOOKS_LIKE_CALL.match(source):
        reasons = "; ".join(parsed.problems) or "no call recognised"
        raise ValueError(f"assistant call list does not parse ({reasons}): {stripped[:80]!r}")
    return None


def toolace_messages(conversations: Any, tool_names: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Convert ToolACE ``conversations`` (a list, or its JSON string) into chat messages."""
    if isinstance(conversations, str):
        try:
            conversations = json.loads(conversations)
        except json.JSONDecodeError as exc:
            raise ValueError("field 'conversations' is a string that is not JSON") from exc
    if not isinstance(conversations, list) or not conversations:
        raise ValueError("field 'conversations' must be a non-empty list")
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(conversations):
        if not isinstance(turn, Mapping):
            raise ValueError(f"conversations[{i}] must be an object")
        who, value = turn.get("from"), turn.get("value")
        role = _ROLE_MAP.get(str(who).lower())
        if role is None:
            raise ValueError(f"conversations[{i}]: unknown speaker {who!r}")
        if not isinstance(value, str):
            raise ValueError(f"conversations[{i}]: 'value' must be a string")
        if role == "assistant":
            try:
                calls = parse_toolace_calls(value, tool_names)
            except ValueError as exc:
                raise ValueError(f"conversations[{i}]: {exc}") from exc
            messages.append(tool_call_message(calls) if calls is not None else {"role": "assistant", "content": value})
        else:
            messages.append({"role": role, "content": value})
    return messages


def load_toolace(
    path_or_hub_id: str | os.PathLike[str] = "Team-ACE/ToolACE",
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Load ToolACE dialogues, one example per assistant turn (ids ``toolace-<row>-<step>``).

    ``limit`` caps the number of examples (steps), not dialogues.
    """

    def convert(row: Any, index: int) -> list[ToolExample]:
        if not isinstance(row, Mapping):
            raise ValueError(f"row must be an object, got {type(row).__name__}")
        tools = tools_from_system_text(row.get("system"))  # type: ignore[arg-type]
        messages = toolace_messages(row.get("conversations"), [t["name"] for t in tools])
        examples = split_dialogue(
            messages, tools=tools, source="toolace", id_prefix=f"toolace-{index}", meta={"row": index}
        )
        if not examples:
            raise ValueError("dialogue has no assistant turn")
        return examples

    return load_rows(path_or_hub_id, convert, split=split, skip_invalid=skip_invalid, limit=limit)
