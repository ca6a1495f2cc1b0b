"""Structured tool calls: the shared record of every parser and renderer (CONTRACT: fixed)."""

from __future__ import annotations

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
