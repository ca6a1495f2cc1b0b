"""The Qwen3 / Hermes native tool-call format: parse and render.

An assistant step as Qwen3's chat template writes it (between ``<|im_start|>assistant\\n`` and
``<|im_end|>``)::

    <think>
    reasoning
    </think>

    Some content.
    <tool_call>
    {"name": "f", "arguments": {"x": 1}}
    </tool_call>
    <tool_call>
    {"name": "g", "arguments": {}}
    </tool_call>

Parsing rules (untrusted text; nothing here raises on it):

* **Think** is optional. ``<think>...</think>`` gives the think text; a ``</think>`` with no
  ``<think>`` before it (templates that put ``<think>`` in the prompt) makes everything before it
  the think text. An unclosed ``<think>`` is reported; everything after it is think text.
* **Calls.** Every ``<tool_call>...</tool_call>`` block after the think span. A block holds one JSON
  object ``{"name": ..., "arguments": ...}`` (``"parameters"`` is accepted too, and so is the
  OpenAI wrapping ``{"function": {...}}``); a block that is not one JSON value is read as one
  object per line. ``arguments`` given as a JSON-encoded string is decoded. Defects are reported and
  the call dropped, except missing arguments: kept as ``{}`` and reported. A final ``<tool_call>``
  without ``</tool_call>`` (a stop string may eat it) is parsed to the end of the text and reported.
* **Response.** The text outside the think span and the blocks, stripped; ``None`` when empty.
  (``ParsedOutput.response`` holds the message *content* here; there is no ``<response>`` tag.)

Rendering reproduces the template: ``<think>\\n{think}\\n</think>\\n\\n`` when a think is given
(newlines at its ends stripped, as the template does), then the content, then the blocks, a newline
before the first block when there is content and between blocks. Arguments are JSON with the
template's ``tojson`` conventions (``", "``/``": "`` separators, key order kept, UTF-8). Unlike the
template, the name is JSON-escaped (identical for every ordinary name; the template would emit
invalid JSON for a name holding a quote) and a tag string inside a JSON string is written with
``<`` as ``\\u003c``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from .toolrl import call_from_object, escape_tag_strings
from .types import ParsedOutput, ToolCall

__all__ = ["parse_hermes", "render_hermes"]

_OPEN = "<tool_call>"
_CLOSE = "</tool_call>"


def _parse_block(body: str, index: int) -> tuple[list[ToolCall], list[str]]:
    where = f"tool_call block {index}"
    stripped = body.strip()
    if not stripped:
        return [], [f"{where}: empty"]
    try:
        objs = [json.loads(stripped)]
    except (ValueError, RecursionError):
        objs = []
        for n, raw in enumerate(stripped.split("\n")):
            line = raw.strip()
            if not line:
                continue
            try:
                objs.append(json.loads(line))
            except (ValueError, RecursionError):
                snippet = line if len(line) <= 60 else line[:60] + "..."
                return [], [f"{where}: not valid JSON (line {n}: {snippet!r})"]
    calls: list[ToolCall] = []
    problems: list[str] = []
    for obj in objs:
        if isinstance(obj, dict) and "name" not in obj and isinstance(obj.get("function"), dict):
            obj = obj["function"]
        call, problem = call_from_object(obj, where)
        if call is not None:
            calls.append(call)
        if problem is not None:
            problems.append(problem)
    return calls, problems


def parse_hermes(text: str) -> ParsedOutput:
    """Parse one Qwen3/Hermes assistant step (untrusted text; never raises).

    See the module docstring for the rules.
    """
    out = ParsedOutput()
    if not isinstance(text, str):
        out.problems.append(f"input is {type(text).__name__}, not str")
        return out

    open_t = text.find("<think>")
    close_t = text.find("</think>", open_t + 7 if open_t >= 0 else 0)
    if open_t >= 0 and close_t >= 0:
        out.think = text[open_t + 7 : close_t].strip()
        outside = text[:open_t] + "\n" + text[close_t + 8 :]
    elif open_t < 0 and close_t >= 0:
        out.think = text[:close_t].strip()
        outside = text[close_t + 8 :]
    elif open_t >= 0:
        out.think = text[open_t + 7 :].strip()
        outside = text[:open_t]
        out.problems.append("unclosed <think>")
    else:
        outside = text

    # One left-to-right scan with str.find (linear; a lazy regex would rescan the rest of the text from every
    # unclosed <tool_call>, quadratic in repeated unclosed tags). A block runs from an opening tag to the
    # next closing tag; an opening tag with no closing tag after it opens an unclosed block to the end.
    pieces: list[str] = []
    pos = 0
    index = 0
    while True:
        open_at = outside.find(_OPEN, pos)
        if open_at < 0:
            pieces.append(outside[pos:])
            break
        pieces.append(outside[pos:open_at])
        out.has_tool_call_block = True
        body_at = open_at + len(_OPEN)
        close_at = outside.find(_CLOSE, body_at)
        if close_at < 0:
            out.problems.append(f"tool_call block {index}: unclosed")
            calls, problems = _parse_block(outside[body_at:], index)
            out.calls.extend(calls)
            out.problems.extend(problems)
            break
        calls, problems = _parse_block(outside[body_at:close_at], index)
        out.calls.extend(calls)
        out.problems.extend(problems)
        index += 1
        pos = close_at + len(_CLOSE)
    content = "\n".join(p.strip() for p in pieces if p.strip())
    out.response = content or None
    return out


def render_hermes(
    calls: Sequence[ToolCall] | None,
    *,
    think: str | None = None,
    content: str | None = None,
) -> str:
    """Render one assistant step as Qwen3's chat template writes it (see the module docstring)."""
    out: list[str] = []
    body = content or ""
    if think is not None:
        out.append("<think>\n" + think.strip("\n") + "\n</think>\n\n" + body.lstrip("\n"))
    else:
        out.append(body)
    for i, call in enumerate(calls or ()):
        if i > 0 or body:
            out.append("\n")
        line = json.dumps({"name": call.name, "arguments": dict(call.arguments)}, ensure_ascii=False)
        out.append("<tool_call>\n" + escape_tag_strings(line) + "\n</tool_call>")
    return "".join(out)
