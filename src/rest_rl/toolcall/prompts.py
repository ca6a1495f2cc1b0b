"""Prompt text for tool-using models: the ToolRL system prompt and dialogue history, JSON schemas
for chat templates, and a compact prompt for tiny models.

Tools are plain dicts (JSON-serialisable, so they travel through ``datasets`` unchanged)::

    {"name": "get_weather",
     "description": "Current weather for a city.",
     "parameters": {...},            # the source's own parameter object, kept as it came
     "parameters_text": "{...}"}     # optional: the source's exact serialisation of "parameters"

``parameters`` is kept in whatever shape the source used: ToolRL/xLAM's flat
``{param: {"description", "type", "default"}}`` form, a JSON schema
(``{"type": "object"|"dict", "properties": ..., "required": [...]}``), or API-Bank's form.
``parameters_text`` is only present when ``json.dumps(parameters)`` would not reproduce the source
bytes (API-Bank prints its parameters with Python ``repr``); renderers use it verbatim, so a
parsed prompt renders back byte-for-byte. :func:`to_json_schema` gives the OpenAI-style view of
any of these shapes. OpenAI-style tools (``{"type": "function", "function": {...}}``) are accepted
wherever a tool is expected.

Messages follow the chat convention used by Hugging Face chat templates::

    {"role": "user", "content": "..."}
    {"role": "assistant", "content": "<response text or ''>",
     "reasoning_content": "<think text>",                       # optional
     "tool_calls": [{"type": "function",
                     "function": {"name": "...", "arguments": {...}}}]}  # optional
    {"role": "tool", "content": "<observation text>"}

The fixed instruction texts below are data: they are what the public ToolRL files contain, and a
prompt must match them byte-for-byte for a model trained on those files to see what it saw.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from rest_rl.toolcall.toolrl import render_toolrl
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "assistant_message_text",
    "TOOLRL_HISTORY_HEADER",
    "TOOLRL_THINK_CALL",
    "TOOLRL_THINK_RESPOND",
    "apply_tools_chat_template",
    "compact_system_prompt",
    "format_tool_parameters",
    "message_tool_calls",
    "normalize_tool",
    "parse_toolrl_history",
    "parse_toolrl_step",
    "parse_toolrl_system_prompt",
    "to_json_schema",
    "tool_call_message",
    "toolrl_history_prompt",
    "toolrl_step_text",
    "toolrl_system_prompt",
]

# --------------------------------------------------------------------------------------------
# ToolRL fixed texts (data: reproduced exactly as the public files contain them)
# --------------------------------------------------------------------------------------------

_TOOLRL_SYSTEM_HEAD = (
    "You are a helpful multi-turn dialogue assistant capable of leveraging tool calls to solve "
    "user tasks and provide structured chat responses.\n\n"
    "**Available Tools**\n"
    "In your response, you can use the following tools:\n"
)

_TOOLRL_SYSTEM_TAIL = (
    "\n\n**Steps for Each Turn**\n"
    "1. **Think:** Recall relevant context and analyze the current user goal.\n"
    "2. **Decide on Tool Usage:** If a tool is needed, specify the tool and its parameters.\n"
    "3. **Respond Appropriately:** If a response is needed, generate one while maintaining "
    "consistency across user queries.\n\n"
    "**Output Format**\n"
    "```plaintext\n"
    "<think> Your thoughts and reasoning </think>\n"
    "<tool_call>\n"
    '{"name": "Tool name", "parameters": {"Parameter name": "Parameter content", '
    '"... ...": "... ..."}}\n'
    '{"name": "... ...", "parameters": {"... ...": "... ...", "... ...": "... ..."}}\n'
    "...\n"
    "</tool_call>\n"
    "<response> AI's final response </response>\n"
    "```\n\n"
    "**Important Notes**\n"
    "1. You must always include the `<think>` field to outline your reasoning. Provide at least "
    "one of `<tool_call>` or `<response>`. Decide whether to use `<tool_call>` (possibly "
    "multiple times), `<response>`, or both.\n"
    "2. You can invoke multiple tool calls simultaneously in the `<tool_call>` fields. Each tool "
    'call should be a JSON object with a "name" field and an "parameters" field containing a '
    'dictionary of parameters. If no parameters are needed, leave the "parameters" field an '
    "empty dictionary.\n"
    "3. Refer to the previous dialogue records in the history, including the user's queries, "
    "previous `<tool_call>`, `<response>`, and any tool feedback noted as `<obs>` (if exists)."
)

#: First line of the ToolRL user turn.
TOOLRL_HISTORY_HEADER = "**Dialogue Records History**\n"
#: ToolRL's placeholder thought for a step that calls tools (RL targets and history steps).
TOOLRL_THINK_CALL = "I should use the appropriate tool with proper parameters to respond to the user's need."
#: ToolRL's placeholder thought for a step that only answers.
TOOLRL_THINK_RESPOND = "I should directly respond to the user's need."

_STEP_SEP = "\n\n"  # between dialogue segments (a user turn, an assistant step with its <obs>)
_PART_SEP = "\n"  # between the parts of one assistant step


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


def normalize_tool(tool: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``tool`` as a plain ``{"name", "description", "parameters", ...}`` dict.

    Accepts OpenAI-style ``{"type": "function", "function": {...}}`` wrappers; other dicts are
    copied with their keys (and key order) unchanged. Raises ``ValueError`` when there is no
    string ``name``.
    """
    if not isinstance(tool, Mapping):
        raise ValueError(f"a tool must be a dict, got {type(tool).__name__}")
    if tool.get("type") == "function" and isinstance(tool.get("function"), Mapping):
        tool = tool["function"]
    name = tool.get("name")
    if not isinstance(name, str):
        raise ValueError(f"a tool needs a string 'name', got {name!r}")
    return dict(tool)


def format_tool_parameters(tool: Mapping[str, Any]) -> str:
    """The ``Parameters:`` text of a tool in the ToolRL system prompt.

    The source's exact text (``parameters_text``) when the tool has one, else
    ``json.dumps(parameters)`` with Python's defaults (ASCII escapes, ``", "`` / ``": "``
    separators, key order kept): the serialisation the ToolRL files use.
    """
    tool = normalize_tool(tool)
    text = tool.get("parameters_text")
    if isinstance(text, str):
        return text
    return json.dumps(tool.get("parameters", {}))


def toolrl_system_prompt(tools: Sequence[Mapping[str, Any]]) -> str:
    """The ToolRL system prompt listing ``tools``.

    Each tool is rendered as ``N. Name: …\\nDescription: …\\nParameters: …`` (see
    :func:`format_tool_parameters`), followed by ToolRL's fixed steps, output format and notes.
    """
    lines = []
    for i, raw in enumerate(tools, start=1):
        tool = normalize_tool(raw)
        description = tool.get("description", "")
        lines.append(
            f"{i}. Name: {tool['name']}\nDescription: {description}\n"
            f"Parameters: {format_tool_parameters(tool)}"
        )
    return _TOOLRL_SYSTEM_HEAD + "\n".join(lines) + _TOOLRL_SYSTEM_TAIL


def _decode_parameters(text: str) -> tuple[Any, bool]:
    """Decode a ``Parameters:`` value: JSON first, then a Python literal (API-Bank).

    Returns ``(value, reproducible)`` where ``reproducible`` says whether ``json.dumps(value)``
    gives ``text`` back. Raises ``ValueError`` when the text is neither.
    """
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        try:
            value = ast.literal_eval(text)  # literals only: never evaluates code
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            raise ValueError(f"tool parameters are neither JSON nor a Python literal: {text[:80]!r}") from exc
    try:
        reproducible = json.dumps(value) == text
    except (TypeError, ValueError):
        reproducible = False
    return value, reproducible


def parse_toolrl_system_prompt(text: str) -> list[dict[str, Any]]:
    """Recover the tools from a ToolRL system prompt (inverse of :func:`toolrl_system_prompt`).

    Raises ``ValueError`` (with the reason) when ``text`` is not a ToolRL system prompt.
    ``toolrl_system_prompt(parse_toolrl_system_prompt(text)) == text`` for every prompt this
    accepts: a ``parameters_text`` is kept whenever JSON re-serialisation would differ.
    """
    if not isinstance(text, str):
        raise ValueError(f"system prompt must be a string, got {type(text).__name__}")
    if not text.startswith(_TOOLRL_SYSTEM_HEAD):
        raise ValueError("system prompt does not start with the ToolRL preamble")
    if not text.endswith(_TOOLRL_SYSTEM_TAIL):
        raise ValueError("system prompt does not end with the ToolRL steps/format/notes block")
    body = text[len(_TOOLRL_SYSTEM_HEAD) : len(text) - len(_TOOLRL_SYSTEM_TAIL)]
    tools: list[dict[str, Any]] = []
    pos = 0
    n = 1
    while pos < len(body):
        head = f"{n}. Name: "
        if not body.startswith(head, pos):
            raise ValueError(f"expected tool {n} ({head!r}) at offset {pos} of the tool list")
        pos += len(head)
        name_end = body.find("\nDescription: ", pos)
        if name_end < 0:
            raise ValueError(f"tool {n} has no 'Description:' line")
        name = body[pos:name_end]
        pos = name_end + len("\nDescription: ")
        next_head = f"\n{n + 1}. Name: "
        # The description may itself contain newlines: take the first "\nParameters: " whose
        # value runs to the end of a line that ends the list or starts the next tool.
        search = pos
        while True:
            mark = body.find("\nParameters: ", search)
            if mark < 0:
                raise ValueError(f"tool {n} ({name!r}) has no 'Parameters:' line")
            value_start = mark + len("\nParameters: ")
            line_end = body.find("\n", value_start)
            value_end = len(body) if line_end < 0 else line_end
            if line_end < 0 or body.startswith(next_head, line_end):
                try:
                    params, reproducible = _decode_parameters(body[value_start:value_end])
                except ValueError:
                    if line_end < 0:
                        raise
                else:
                    break
            search = mark + 1
        tool: dict[str, Any] = {"name": name, "description": body[pos:mark], "parameters": params}
        if not reproducible:
            tool["parameters_text"] = body[value_start:value_end]
        tools.append(tool)
        pos = value_end + (1 if line_end >= 0 else 0)
        n += 1
    return tools


# --------------------------------------------------------------------------------------------
# JSON schema view
# --------------------------------------------------------------------------------------------

_SCALAR_TYPES: Mapping[str, str] = MappingProxyType({
    "str": "string",
    "string": "string",
    "text": "string",
    "int": "integer",
    "integer": "integer",
    "long": "integer",
    "float": "number",
    "number": "number",
    "double": "number",
    "decimal": "number",
    "bool": "boolean",
    "boolean": "boolean",
    "list": "array",
    "array": "array",
    "tuple": "array",
    "set": "array",
    "dict": "object",
    "object": "object",
    "mapping": "object",
    "null": "null",
    "none": "null",
})


def _type_schema(type_text: str) -> tuple[dict[str, Any], bool]:
    """JSON-schema fragment for a type written as text ("str", "List[int]", "str, optional").

    Returns ``(schema, optional)``; unknown types give ``{}`` (any value).
    """
    text = type_text.strip()
    optional = False
    lowered = text.lower()
    if lowered.endswith(", optional"):
        optional = True
        text = text[: -len(", optional")].strip()
    elif lowered.startswith("optional[") and lowered.endswith("]"):
        optional = True
        text = text[len("optional[") : -1].strip()
    base, _, inner = text.partition("[")
    mapped = _SCALAR_TYPES.get(base.strip().lower())
    if mapped is None:
        return {}, optional
    schema: dict[str, Any] = {"type": mapped}
    if mapped == "array" and inner.endswith("]"):
        item_schema, _ = _type_schema(inner[:-1])
        if item_schema:
            schema["items"] = item_schema
    return schema, optional


def _property_schema(spec: Any) -> tuple[dict[str, Any], bool]:
    """JSON schema of one parameter spec; returns ``(schema, optional_hint)``."""
    if not isinstance(spec, Mapping):
        return {"description": str(spec)}, False
    out: dict[str, Any] = {}
    optional = False
    for key, value in spec.items():
        if key == "type":
            if isinstance(value, str):
                type_schema, optional = _type_schema(value)
                out.update(type_schema)
            elif isinstance(value, list):  # JSON-schema union ["string", "null"]
                out["type"] = [_SCALAR_TYPES.get(str(v).lower(), str(v)) for v in value]
        elif key == "items" and isinstance(value, Mapping):
            out["items"] = _property_schema(value)[0]
        elif key == "properties" and isinstance(value, Mapping):
            out["properties"] = {k: _property_schema(v)[0] for k, v in value.items()}
        elif key == "default" and value in ("", None):
            continue  # ToolRL/xLAM write "" for "no default"
        else:
            out[key] = value
    return out, optional


def _is_json_schema_object(params: Any) -> bool:
    return (
        isinstance(params, Mapping)
        and isinstance(params.get("properties"), Mapping)
        and params.get("type", "object") in ("object", "dict")
    )


def to_json_schema(tool: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI-style function schema of a tool, whatever shape its parameters came in.

    Returns ``{"type": "function", "function": {"name", "description", "parameters":
    {"type": "object", "properties": {...}, "required": [...]}}}``. Python-ish type names
    (``str``, ``float``, ``List[int]``, ``dict``) become JSON-schema types; unknown types are
    left open. For the flat ``{param: spec}`` form, which has no ``required`` list, a parameter is
    required unless its type says ``optional`` or it has a non-empty ``default`` (ToolRL and xLAM
    write ``"default": ""`` for "none").
    """
    tool = normalize_tool(tool)
    params = tool.get("parameters") or {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    if _is_json_schema_object(params):
        for key, spec in params["properties"].items():
            properties[key] = _property_schema(spec)[0]
        declared = params.get("required")
        required = [str(k) for k in declared] if isinstance(declared, list) else []
    elif isinstance(params, Mapping):
        for key, spec in params.items():
            schema, optional = _property_schema(spec)
            properties[key] = schema
            has_default = isinstance(spec, Mapping) and spec.get("default") not in (None, "")
            if not optional and not has_default:
                required.append(key)
    return {
        "type": "function",
        "function": {
            "name": tool["name"],
            "description": str(tool.get("description", "")),
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


# --------------------------------------------------------------------------------------------
# Messages <-> ToolRL dialogue history
# --------------------------------------------------------------------------------------------


def tool_call_message(
    calls: Sequence[ToolCall] | None, *, content: str = "", think: str | None = None
) -> dict[str, Any]:
    """An assistant chat message carrying ``calls`` (and optional reasoning / response text)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if think is not None:
        message["reasoning_content"] = think
    if calls:
        message["tool_calls"] = [
            {"type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}} for c in calls
        ]
    return message


def message_tool_calls(message: Mapping[str, Any]) -> list[ToolCall]:
    """The tool calls of an assistant message (OpenAI ``function`` wrapper or flat dicts).

    String ``arguments`` (OpenAI's wire form) are decoded as JSON. Raises ``ValueError`` on a
    malformed entry.
    """
    calls = []
    for entry in message.get("tool_calls") or []:
        if not isinstance(entry, Mapping):
            raise ValueError(f"tool_calls entry must be a dict, got {type(entry).__name__}")
        fn = entry.get("function", entry)
        if not isinstance(fn, Mapping) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tool call without a string name: {entry!r}"[:200])
        args = fn.get("arguments", fn.get("parameters", {}))
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"tool call arguments are not JSON: {args[:80]!r}") from exc
        if args is None:
            args = {}
        if not isinstance(args, Mapping):
            raise ValueError(f"tool call arguments must be an object, got {type(args).__name__}")
        calls.append(ToolCall(fn["name"], dict(args)))
    return calls


def assistant_message_text(message: Any) -> str:
    """The completion text of an assistant chat message, for parsers that read text.

    Servers and TRL may hand back a parsed message (``reasoning_content``, ``content``,
    ``tool_calls``) instead of raw text. This writes it back as ``<think>...</think>`` + content +
    one ``<tool_call>`` block with one JSON call per line (``"arguments"``), which both
    :func:`parse_toolrl` and :func:`parse_hermes` read, and which keeps every call inside the last
    block (API-Bank's protocol reads only that one). Untrusted input: anything malformed is skipped,
    never raised; a content that already holds a ``<think>`` or ``<tool_call>`` is not doubled.
    """
    if not isinstance(message, Mapping):
        return ""
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(
            p if isinstance(p, str) else p.get("text", "") if isinstance(p, Mapping) and isinstance(p.get("text"), str) else ""
            for p in content
        )
    text = content if isinstance(content, str) else ""
    reasoning = next(
        (r for r in (message.get(k) for k in ("reasoning_content", "reasoning", "thinking")) if isinstance(r, str) and r),
        None,
    )
    if reasoning and "<think>" not in text:
        text = f"<think>{reasoning}</think>\n{text}"
    raw_calls = message.get("tool_calls")
    if isinstance(raw_calls, list) and raw_calls and "<tool_call>" not in text:
        lines = []
        for entry in raw_calls:
            try:
                (call,) = message_tool_calls({"tool_calls": [entry]})
                lines.append(json.dumps({"name": call.name, "arguments": call.arguments}, ensure_ascii=False))
            except (ValueError, TypeError):
                continue  # a malformed call is dropped; the parser would reject it anyway
        if lines:
            block = "<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"
            text = f"{text}\n{block}" if text and not text.endswith("\n") else text + block
    return text


def toolrl_step_text(
    calls: Sequence[ToolCall] | None,
    *,
    think: str | None,
    response: str | None,
    think_placeholder: bool = True,
    ensure_ascii: bool = True,
) -> str:
    """One assistant step in ToolRL format (``<think>``, ``<tool_call>``, ``<response>``).

    When ``think`` is None and ``think_placeholder`` is set, ToolRL's placeholder thought is used
    (:data:`TOOLRL_THINK_CALL` or :data:`TOOLRL_THINK_RESPOND`). Rendering is delegated to
    :func:`rest_rl.toolcall.toolrl.render_toolrl`, the single source of the format.
    ``ensure_ascii=True`` (the default here) escapes non-ASCII characters in call lines as the
    ToolRL files do; pass False for readable UTF-8.
    """
    if think is None and think_placeholder:
        think = TOOLRL_THINK_CALL if calls else TOOLRL_THINK_RESPOND
    return render_toolrl(list(calls or []), think=think, response=response, ensure_ascii=ensure_ascii)


def toolrl_history_prompt(
    messages: Sequence[Mapping[str, Any]], *, think_placeholder: bool = True, ensure_ascii: bool = True
) -> str:
    """The ToolRL user turn: ``**Dialogue Records History**`` then every message as a tagged turn.

    User messages become ``<user> … </user>``; an assistant message becomes its ToolRL step
    (``<think>``/``<tool_call>``/``<response>``), and the tool messages that follow it are
    attached as ``<obs> … </obs>``. Segments are separated by a blank line, the parts of one
    step by a newline. System messages are not part of the history and raise ``ValueError``.
    ``ensure_ascii`` as in :func:`toolrl_step_text`.
    """
    segments: list[str] = []
    for i, message in enumerate(messages):
        role = message.get("role")
        content = message.get("content")
        content = "" if content is None else str(content)
        if role == "user":
            segments.append(f"<user> {content} </user>")
        elif role == "assistant":
            reasoning = message.get("reasoning_content")
            segments.append(
                toolrl_step_text(
                    message_tool_calls(message),
                    think=reasoning if isinstance(reasoning, str) else None,
                    response=content or None,
                    think_placeholder=think_placeholder,
                    ensure_ascii=ensure_ascii,
                )
            )
        elif role == "tool":
            if i == 0 or messages[i - 1].get("role") not in ("assistant", "tool"):
                raise ValueError(f"message {i}: a tool message must follow an assistant step")
            segments[-1] += _PART_SEP + f"<obs> {content} </obs>"
        else:
            raise ValueError(f"message {i}: role {role!r} cannot appear in a ToolRL history")
    return TOOLRL_HISTORY_HEADER + _STEP_SEP.join(segments)


_OPEN_TAGS = ("<user> ", "<think> ", "<tool_call>\n", "<obs> ", "<response> ")
_CLOSE_TAGS: Mapping[str, str] = MappingProxyType(
    {
        "<user> ": " </user>",
        "<think> ": " </think>",
        "<tool_call>\n": "\n</tool_call>",
        "<obs> ": " </obs>",
        "<response> ": " </response>",
    }
)


def _next_is_tag(text: str, pos: int) -> bool:
    """Whether ``text[pos:]`` is empty or a separator followed by an opening tag."""
    if pos == len(text):
        return True
    for sep in (_STEP_SEP, _PART_SEP):
        if text.startswith(sep, pos):
            return any(text.startswith(tag, pos + len(sep)) for tag in _OPEN_TAGS)
    return False


def _tagged_items(text: str) -> list[tuple[str, str, str]]:
    """Split a history body into ``(tag, content, separator_before)`` items."""
    items: list[tuple[str, str, str]] = []
    pos = 0
    sep = ""
    while pos < len(text):
        tag = next((t for t in _OPEN_TAGS if text.startswith(t, pos)), None)
        if tag is None:
            raise ValueError(
                f"expected a <user>/<think>/<tool_call>/<obs>/<response> tag at offset {pos}: {text[pos:pos + 40]!r}"
            )
        close = _CLOSE_TAGS[tag]
        start = pos + len(tag)
        search = start
        while True:  # content may mention the closing tag: take the first that ends a turn
            end = text.find(close, search)
            if end < 0:
                raise ValueError(f"{tag.strip()} at offset {pos} is never closed")
            if _next_is_tag(text, end + len(close)):
                break
            search = end + 1
        items.append((tag.strip(), text[start:end], sep))
        pos = end + len(close)
        if pos < len(text):
            sep = _STEP_SEP if text.startswith(_STEP_SEP, pos) else _PART_SEP
            pos += len(sep)
    return items


def _parse_call_lines(block: str) -> list[ToolCall]:
    calls = []
    for line in block.split("\n"):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"tool call line is not JSON: {line[:80]!r}") from exc
        if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
            raise ValueError(f"tool call line is not a {{'name', 'parameters'}} object: {line[:80]!r}")
        args = obj.get("parameters", obj.get("arguments", {}))
        if not isinstance(args, dict):
            raise ValueError(f"tool call parameters must be an object: {line[:80]!r}")
        calls.append(ToolCall(obj["name"], args))
    return calls


def _messages_from_items(items: list[tuple[str, str, str]]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    order = {"think": 0, "tool_call": 1, "response": 2, "obs": 3}
    step: dict[str, Any] | None = None  # the assistant step being read
    last_part = -1
    for tag, content, sep in items:
        name = tag[1:-1]
        if name == "user":
            if sep == _PART_SEP:
                raise ValueError("a <user> turn must follow a blank line")
            messages.append({"role": "user", "content": content})
            step = None
            continue
        if name == "think" or sep == _STEP_SEP or step is None:
            if name == "obs":
                raise ValueError("<obs> must follow an assistant step")
            step = {"role": "assistant", "content": ""}
            messages.append(step)
            last_part = -1
        if order[name] < last_part or (order[name] == last_part and name != "obs"):
            raise ValueError(f"<{name}> out of order inside an assistant step")
        last_part = order[name]
        if name == "think":
            step["reasoning_content"] = content
        elif name == "tool_call":
            calls = _parse_call_lines(content)
            if calls:
                step["tool_calls"] = tool_call_message(calls)["tool_calls"]
        elif name == "response":
            step["content"] = content
        else:  # obs
            messages.append({"role": "tool", "content": content})
    return messages


def parse_toolrl_history(text: str) -> list[dict[str, Any]]:
    """Recover chat messages from a ToolRL user turn (inverse of :func:`toolrl_history_prompt`).

    Tag contents are kept exactly (not stripped). Raises ``ValueError`` with the reason when the
    text does not follow the format: missing header, an unknown or unclosed tag, a part out of
    order (think, tool_call, response, obs), or a tool call line that is not JSON.
    """
    if not isinstance(text, str):
        raise ValueError(f"history must be a string, got {type(text).__name__}")
    if not text.startswith(TOOLRL_HISTORY_HEADER):
        raise ValueError(f"history does not start with {TOOLRL_HISTORY_HEADER.strip()!r}")
    return _messages_from_items(_tagged_items(text[len(TOOLRL_HISTORY_HEADER) :]))


def parse_toolrl_step(text: str) -> dict[str, Any]:
    """Strictly parse one ToolRL assistant step (a gold answer) into an assistant message.

    Unlike :func:`rest_rl.toolcall.toolrl.parse_toolrl`, which is lenient towards model output,
    this accepts only the exact training layout and keeps tag contents unstripped, so that
    rendering the result gives ``text`` back. Returns ``{"role": "assistant", "content",
    "reasoning_content"?, "tool_calls"?}``; raises ``ValueError`` with the reason otherwise.
    """
    if not isinstance(text, str):
        raise ValueError(f"step must be a string, got {type(text).__name__}")
    items = _tagged_items(text)
    if not items:
        raise ValueError("empty step")
    for tag, _, sep in items:
        if tag in ("<user>", "<obs>"):
            raise ValueError(f"{tag} cannot appear in an assistant step")
        if sep == _STEP_SEP:
            raise ValueError("an assistant step cannot contain a blank line between its parts")
    messages = _messages_from_items(items)
    if len(messages) != 1:
        raise ValueError("text holds more than one assistant step")
    return messages[0]


# --------------------------------------------------------------------------------------------
# Compact prompt (tiny models) and chat templates
# --------------------------------------------------------------------------------------------


def _compact_param(name: str, schema: Mapping[str, Any], required: bool) -> str:
    type_ = schema.get("type", "any")
    if "enum" in schema and isinstance(schema["enum"], list):
        type_ = "|".join(str(v) for v in schema["enum"])
    elif isinstance(type_, list):
        type_ = "|".join(str(t) for t in type_)
    short = {"string": "str", "integer": "int", "number": "num", "boolean": "bool"}.get(str(type_), str(type_))
    return f"{name}{'' if required else '?'}: {short}"


def compact_system_prompt(tools: Sequence[Mapping[str, Any]], *, header: str = "Tools:") -> str:
    """A short system prompt for tiny models: one line per tool.

    ``name(param: type, opt?: type) - description``, enums written as ``a|b|c``, then one line
    stating the ToolRL output format. Designed to stay within ~30 tokens per tool.
    """
    lines = [header]
    for raw in tools:
        fn = to_json_schema(raw)["function"]
        params = fn["parameters"]
        required = set(params.get("required", []))
        args = ", ".join(_compact_param(k, v, k in required) for k, v in params["properties"].items())
        desc = f" - {fn['description']}" if fn["description"] else ""
        lines.append(f"{fn['name']}({args}){desc}")
    lines.append("Answer with <think>, then <tool_call> JSON lines and/or <response>.")
    return "\n".join(lines)


def apply_tools_chat_template(
    tokenizer: Any,
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]],
    *,
    add_generation_prompt: bool = True,
    **kwargs: Any,
) -> str:
    """Render ``messages`` with the tokenizer's chat template, passing ``tools`` as JSON schemas.

    Extra keyword arguments go to ``tokenizer.apply_chat_template`` (e.g. ``enable_thinking``).
    Raises ``ValueError`` when the tokenizer has no chat template.
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(
            f"{type(tokenizer).__name__} has no chat template: set tokenizer.chat_template, or build "
            "the prompt text yourself (e.g. style='toolrl')"
        )
    schemas = [to_json_schema(t) for t in tools]
    text = tokenizer.apply_chat_template(
        [dict(m) for m in messages],
        tools=schemas or None,  # some templates print a tool preamble even for an empty list
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        **kwargs,
    )
    if not isinstance(text, str):  # a template returning ids would be a caller error
        raise ValueError("apply_chat_template did not return text (tokenize=False was overridden?)")
    return text
