"""Hammer's prompt and output format (``MadeAgents/Hammer``): the task instruction with the tools as one
JSON list, and a fenced JSON list of ``{"name", "arguments"}`` calls as the answer (`` ```\n[]\n``` `` when no
tool applies). The loader of Hammer's data is :mod:`rest_rl.data.sources.hammer`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from rest_rl.toolcall.prompts import normalize_tool
from rest_rl.toolcall.types import ToolCall, calls_from_json

__all__ = ["hammer_instruction", "parse_hammer_instruction", "parse_hammer_output", "render_hammer_output"]

# Hammer's fixed prompt texts (data: reproduced as the public files contain them).
_TASK = (
    "[BEGIN OF TASK INSTRUCTION]\n"
    "You are a tool calling assistant. In order to complete the user's request, you need to select "
    "one or more appropriate tools from the following tools and fill in the correct values for the "
    "tool parameters. Your specific tasks are:\n"
    "1. Make one or more function/tool calls to meet the request based on the question.\n"
    "2. If none of the function can be used, point it out and refuse to answer.\n"
    "3. If the given question lacks the parameters required by the function, also point it out.\n"
    "\n"
    "[END OF TASK INSTRUCTION]\n"
    "\n"
    "[BEGIN OF AVAILABLE TOOLS]\n"
)
_FORMAT = (
    "\n[END OF AVAILABLE TOOLS]\n"
    "\n"
    "[BEGIN OF FORMAT INSTRUCTION]\n"
    "\n"
    "The output MUST strictly adhere to the following JSON format, and NO other text MUST be included.\n"
    "The example format is as follows. Please make sure the parameter type is correct. If no function "
    "call is needed, please directly output an empty list '[]'\n"
    "```\n"
    "[\n"
    '    {"name": "func_name1", "arguments": {"argument1": "value1", "argument2": "value2"}},\n'
    "    ... (more tool calls as required)\n"
    "]\n"
    "```\n"
    "\n"
    "[END OF FORMAT INSTRUCTION]\n"
    "\n"
    "[BEGIN OF QUERY]\n"
)
_QUERY_END = "\n[END OF QUERY]\n\n"
_FENCE = "```\n"


def hammer_instruction(tools: Sequence[Mapping[str, Any]], query: str) -> str:
    """Hammer's prompt for ``tools`` and ``query`` (tools as one ``json.dumps`` list)."""
    listed = [{k: v for k, v in normalize_tool(t).items() if k != "parameters_text"} for t in tools]
    return _TASK + json.dumps(listed) + _FORMAT + query + _QUERY_END


def parse_hammer_instruction(text: str) -> tuple[list[dict[str, Any]], str]:
    """Inverse of :func:`hammer_instruction`: ``(tools, query)``; ``ValueError`` if not Hammer's."""
    if not isinstance(text, str):
        raise ValueError(f"instruction must be a string, got {type(text).__name__}")
    if not text.startswith(_TASK):
        raise ValueError("instruction does not start with Hammer's task instruction")
    if not text.endswith(_QUERY_END):
        raise ValueError("instruction does not end with '[END OF QUERY]'")
    middle = text.find(_FORMAT, len(_TASK))
    if middle < 0:
        raise ValueError("instruction has no format-instruction block after the tools")
    try:
        tools = json.loads(text[len(_TASK) : middle])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the tool list is not JSON: {exc}") from exc
    if not isinstance(tools, list):
        raise ValueError("the tool list is not a JSON list")
    query = text[middle + len(_FORMAT) : len(text) - len(_QUERY_END)]
    return [normalize_tool(t) for t in tools], query


def render_hammer_output(calls: Sequence[ToolCall] | None) -> str:
    """Hammer's target: a fenced JSON list of ``{"name", "arguments"}`` (``[]`` for no call)."""
    body = json.dumps([c.to_dict("arguments") for c in calls or []])
    return _FENCE + body + "\n```"


def parse_hammer_output(text: str) -> list[ToolCall]:
    """Inverse of :func:`render_hammer_output` (fence optional); ``ValueError`` if malformed."""
    if not isinstance(text, str):
        raise ValueError(f"output must be a string, got {type(text).__name__}")
    body = text.strip()
    if body.startswith("```"):
        body = body[3:]
        if body.endswith("```"):
            body = body[:-3]
        body = body.strip()
        if body.startswith("json"):
            body = body[4:].strip()
    return calls_from_json(body)
