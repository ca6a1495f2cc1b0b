"""The ToolRL output format: parse and render.

One assistant step in this format (docs/method.md §1)::

    <think> reasoning </think>
    <tool_call>
    {"name": "tool_a", "parameters": {"x": 1}}
    {"name": "tool_b", "parameters": {}}
    </tool_call>
    <response> text for the user </response>

Parsing rules (model output is untrusted; nothing here raises on it):

* **Think.** The think span runs from the first ``<think>`` to the first ``</think>`` after it.
  Tags *inside* the think text are prose (real gold answers say things like "formatted within the
  <tool_call> tags"), so the tool-call block and the response are looked for only after the
  think span when it is closed, otherwise in the whole text. An unclosed ``<think>`` is a problem;
  a missing one is not (whether it is required is the reward's business, not the parser's).
* **Tool calls.** The block is the text after the *last* ``<tool_call>`` of that region up to the
  next ``</tool_call>`` (ToolRL's API-Bank rule, docs/method.md §6). One JSON object per line; blank
  lines are skipped. A line that is not JSON, not an object, or has no non-empty string ``"name"``
  is dropped and reported. Arguments come from ``"parameters"`` (preferred) or ``"arguments"`` and
  must be an object, else the line is dropped and reported. **Missing arguments**: the call is kept
  with ``{}`` *and* reported, because the format requires the field (ToolRL's prompt: "leave the
  parameters field an empty dictionary"); the reward treats any block problem as a parse failure.
  A block without ``</tool_call>`` (typically a truncated generation) is parsed to the end of the
  text and reported as unclosed.
* **Response.** The text between the last ``<response>`` of the region and the next
  ``</response>``; unclosed is reported and the rest of the text is taken.
* Think and response texts are returned stripped of surrounding whitespace.

Rendering writes exactly the layout of the ToolRL training data (checked against every record of
``rlla_sft.json`` and ``rlla_4k_test.parquet``): ``<think> {think} </think>``, a newline, the block
with one ``json.dumps`` line per call (default separators, key order kept), a newline,
``<response> {response} </response>``. Parts are omitted when ``None`` (calls: when ``None`` or
empty). The ToolRL files were written with ``ensure_ascii=True`` (one record escapes ``やま`` as
``\\u3084\\u307e``); this project renders readable UTF-8 by default and offers ``ensure_ascii=True``
to reproduce those files byte for byte. A tag string occurring inside a JSON string (``"</tool_call>"``
as an argument value) is written with ``<`` escaped as ``\\u003c`` so the block stays parseable;
no real record contains one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .types import ParsedOutput, ToolCall

__all__ = [
    "TAG_NAMES",
    "ToolRLScan",
    "call_from_object",
    "escape_tag_strings",
    "parse_toolrl",
    "parse_toolrl_lines",
    "render_toolrl",
    "scan_toolrl",
]

TAG_NAMES: tuple[str, ...] = ("think", "tool_call", "response")
"""The three tag names of the format, in their required order."""

_TAG_RE = re.compile(r"</?(?:think|tool_call|response)>")
_SNIPPET = 60  # characters of an offending line quoted in a problem message


def _snippet(text: str) -> str:
    return text if len(text) <= _SNIPPET else text[:_SNIPPET] + "..."


def call_from_object(obj: Any, where: str) -> tuple[ToolCall | None, str | None]:
    """Turn one decoded JSON value into a :class:`ToolCall`.

    Accepts ``{"name": str, "parameters" | "arguments": object}``; an arguments value that is a
    JSON-encoded string of an object is decoded (OpenAI/Hermes style). Returns ``(call, problem)``:
    ``call`` is ``None`` when the value cannot be a call; ``problem`` describes anything wrong
    (a missing arguments field yields a call with ``{}`` *and* a problem).
    """
    if not isinstance(obj, dict):
        return None, f"{where}: expected a JSON object, got {type(obj).__name__}"
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        return None, f"{where}: missing or non-string 'name'"
    if "parameters" in obj:
        args = obj["parameters"]
    elif "arguments" in obj:
        args = obj["arguments"]
    else:
        return ToolCall(name, {}), f"{where}: call {name!r} has no 'parameters'/'arguments'; used {{}}"
    if isinstance(args, str):
        try:
            args = json.loads(args)
        except (ValueError, RecursionError):
            return None, f"{where}: arguments of {name!r} are a string that is not JSON"
    if not isinstance(args, dict):
        return None, f"{where}: arguments of {name!r} are {type(args).__name__}, not an object"
    return ToolCall(name, args), None


def parse_toolrl_lines(body: str) -> tuple[list[ToolCall], list[str]]:
    """Parse the inside of a ``<tool_call>`` block: one JSON object per line.

    Returns the calls recovered and a list of problems (one per dropped or defective line).
    """
    calls: list[ToolCall] = []
    problems: list[str] = []
    for index, raw in enumerate(body.split("\n")):
        line = raw.strip()
        if not line:
            continue
        where = f"tool_call line {index}"
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError):
            problems.append(f"{where}: not valid JSON: {_snippet(line)!r}")
            continue
        call, problem = call_from_object(obj, where)
        if call is not None:
            calls.append(call)
        if problem is not None:
            problems.append(problem)
    return calls, problems


@dataclass
class ToolRLScan:
    """Everything the parser and the reward need from one ToolRL-format text, from one pass.

    ``tags_outside_think`` lists the tag strings in order of appearance, leaving out those inside
    the think text (the think span's own ``<think>``/``</think>`` are included). ``all_tags`` lists
    every tag with its ``(start, end)`` offsets, think text included.
    """

    think: str | None = None
    think_closed: bool = False
    calls: list[ToolCall] = field(default_factory=list)
    has_block: bool = False
    block_closed: bool = False
    block_problems: list[str] = field(default_factory=list)
    response: str | None = None
    other_problems: list[str] = field(default_factory=list)
    tags_outside_think: list[str] = field(default_factory=list)
    all_tags: list[tuple[str, int, int]] = field(default_factory=list)

    @property
    def block_ok(self) -> bool:
        """A closed ``<tool_call>`` block whose every line parsed into a well-formed call."""
        return self.has_block and self.block_closed and not self.block_problems

    def to_parsed(self) -> ParsedOutput:
        """The scan as the shared :class:`ParsedOutput` record (block problems first)."""
        return ParsedOutput(
            think=self.think,
            calls=list(self.calls),
            response=self.response,
            has_tool_call_block=self.has_block,
            problems=self.block_problems + self.other_problems,
        )


def scan_toolrl(text: str) -> ToolRLScan:
    """Scan a ToolRL-format text (see the module docstring for the rules). Never raises."""
    scan = ToolRLScan()
    if not isinstance(text, str):
        scan.other_problems.append(f"input is {type(text).__name__}, not str")
        return scan
    tags = [(m.group(), m.start(), m.end()) for m in _TAG_RE.finditer(text)]
    scan.all_tags = tags

    # Think span: first <think>, then the first </think> after it.
    open_i = next((i for i, t in enumerate(tags) if t[0] == "<think>"), -1)
    close_i = -1
    if open_i >= 0:
        close_i = next((i for i in range(open_i + 1, len(tags)) if tags[i][0] == "</think>"), -1)
    region_start = 0  # index into tags where the call/response search begins
    if open_i >= 0 and close_i >= 0:
        scan.think = text[tags[open_i][2] : tags[close_i][1]].strip()
        scan.think_closed = True
        region_start = close_i + 1
        scan.tags_outside_think = [t[0] for t in tags[: open_i + 1]] + [t[0] for t in tags[close_i:]]
    elif open_i >= 0:
        # Unclosed think: the think text runs to the first tag of another kind (or the end).
        nxt = next(
            (i for i in range(open_i + 1, len(tags)) if tags[i][0] not in ("<think>", "</think>")),
            len(tags),
        )
        end = tags[nxt][1] if nxt < len(tags) else len(text)
        scan.think = text[tags[open_i][2] : end].strip()
        scan.other_problems.append("unclosed <think>")
        scan.tags_outside_think = [t[0] for t in tags[: open_i + 1]]
    else:
        scan.tags_outside_think = [t[0] for t in tags]

    region = tags[region_start:]

    # Tool-call block: the last <tool_call> of the region up to the next </tool_call>.
    open_b = next((i for i in range(len(region) - 1, -1, -1) if region[i][0] == "<tool_call>"), -1)
    if open_b >= 0:
        scan.has_block = True
        body_start = region[open_b][2]
        close_b = next(
            (i for i in range(open_b + 1, len(region)) if region[i][0] == "</tool_call>"), -1
        )
        if close_b >= 0:
            scan.block_closed = True
            body = text[body_start : region[close_b][1]]
        else:
            body = text[body_start:]
            scan.block_problems.append("unclosed <tool_call> block")
        calls, problems = parse_toolrl_lines(body)
        scan.calls = calls
        scan.block_problems.extend(problems)

    # Response: the last <response> of the region up to the next </response>.
    open_r = next((i for i in range(len(region) - 1, -1, -1) if region[i][0] == "<response>"), -1)
    if open_r >= 0:
        start = region[open_r][2]
        close_r = next(
            (i for i in range(open_r + 1, len(region)) if region[i][0] == "</response>"), -1
        )
        if close_r >= 0:
            scan.response = text[start : region[close_r][1]].strip()
        else:
            scan.response = text[start:].strip()
            scan.other_problems.append("unclosed <response>")
    return scan


def parse_toolrl(text: str) -> ParsedOutput:
    """Parse one ToolRL-format assistant step (untrusted text; never raises).

    See the module docstring for the exact rules. ``problems`` lists dropped or defective call
    lines, an unclosed block, an unclosed ``<think>`` or ``<response>``.
    """
    return scan_toolrl(text).to_parsed()


def escape_tag_strings(line: str) -> str:
    """Escape ``<`` of tag strings inside a JSON line (valid JSON, decodes to the same value)."""
    if "<" not in line or _TAG_RE.search(line) is None:
        return line
    return _TAG_RE.sub(lambda m: "\\u003c" + m.group()[1:], line)


def render_toolrl(
    calls: Sequence[ToolCall] | None,
    *,
    think: str | None = None,
    response: str | None = None,
    ensure_ascii: bool = False,
) -> str:
    """Render one assistant step in the ToolRL training layout.

    ``<think> {think} </think>\\n<tool_call>\\n{json}\\n...\\n</tool_call>\\n<response> {response} </response>``
    with a part left out when ``think``/``response`` is ``None`` or ``calls`` is ``None`` or empty.
    Each call is ``json.dumps(call.to_dict("parameters"), ensure_ascii=ensure_ascii)``; pass
    ``ensure_ascii=True`` to reproduce ToolRL's files exactly for non-ASCII arguments.
    """
    parts: list[str] = []
    if think is not None:
        parts.append(f"<think> {think} </think>")
    if calls:
        lines = [
            escape_tag_strings(json.dumps(c.to_dict("parameters"), ensure_ascii=ensure_ascii)) for c in calls
        ]
        parts.append("<tool_call>\n" + "\n".join(lines) + "\n</tool_call>")
    if response is not None:
        parts.append(f"<response> {response} </response>")
    return "\n".join(parts)
