"""Structured tool calls: the shared record of every parser and renderer, and its JSON list form
(``[{"name": ..., "arguments": {...}}]``, the storage format of gold calls)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolCall:
    """One function call: a name and its arguments (a JSON-like dict)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, arguments_key: str = "parameters") -> dict[str, Any]:
        return {"name": self.name, arguments_key: dict(self.arguments)}


@dataclass
class ParsedOutput:
    """What a parser recovered from (untrusted) model output.

    Parsers never raise on model output: whatever could not be understood is described in
    ``problems`` (human-readable strings), and the fields hold what could be recovered.
    """

    think: str | None = None  # text inside <think>...</think>, None when absent
    calls: list[ToolCall] = field(default_factory=list)
    response: str | None = None  # text inside <response>...</response>, None when absent
    has_tool_call_block: bool = False  # a <tool_call> block (or a python call list) was found
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def calls_to_json(calls: list[ToolCall] | None) -> str:
    """``[{"name": ..., "arguments": {...}}, ...]`` as a JSON string (``"[]"`` for no call)."""
    return json.dumps([c.to_dict("arguments") for c in calls or []], ensure_ascii=False)


def calls_from_json(value: Any) -> list[ToolCall]:
    """Inverse of :func:`calls_to_json`; also takes the decoded list, and "parameters" keys.

    Raises ``ValueError`` on anything that is not a list of ``{"name": str, "arguments": dict}``.
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"gold calls are not JSON: {value[:80]!r}") from exc
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"gold calls must be a list, got {type(value).__name__}")
    calls = []
    for i, item in enumerate(value):
        if isinstance(item, ToolCall):
            calls.append(item)
            continue
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise ValueError(f"gold call {i} needs a string 'name': {item!r}"[:200])
        args = item.get("arguments", item.get("parameters", {}))
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise ValueError(f"gold call {i} arguments must be an object, got {type(args).__name__}")
        calls.append(ToolCall(item["name"], dict(args)))
    return calls
