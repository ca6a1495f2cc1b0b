"""The two prompt styles for BFCL, and the decoder that turns a completion into BFCL's decoded form.

``toolrl`` — our training format (docs/method.md §1). The system turn is the ToolRL system prompt listing
the entry's function docs (``N. Name / Description / Parameters``); a system message of the entry
is appended after it. The user turn is the ToolRL dialogue history (``**Dialogue Records History**``
with ``<user>``, earlier steps as ``<think>``/``<tool_call>``/``<response>`` and tool results as
``<obs>``). The model answers ``<think> … </think>`` then a ``<tool_call>`` block of JSON lines
``{"name": …, "parameters": {…}}`` and/or ``<response>``. Earlier steps carry ToolRL's placeholder
thought, as in the training data.

``fc`` — function calling through the model's own chat template: the entry's messages as they are,
the function docs as JSON schemas in ``tools=`` (the template decides how to show them), replies in
the Qwen3/Hermes form ``<tool_call>{"name": …, "arguments": {…}}</tool_call>`` (several blocks
allowed, ``<think>`` optional), earlier calls as assistant ``tool_calls`` and results as ``tool``
messages. For a function-calling model this is how the public leaderboard runs it (see docs/bfcl.md).

In both styles the function docs first go through bfcl-eval's
``func_doc_language_specific_pre_processing`` (the "Note that the provided function is in Python 3
syntax." hint; Java/JavaScript parameter types turned into strings with a description), exactly as
bfcl-eval's own handlers do; function names keep their dots.

Decoding (model output is untrusted; nothing here raises on it or executes it), by the rule of each
format's reference parser (docs/bfcl.md, "Decoding"):

* ``toolrl`` — ToolRL's own parser reads the ``<tool_call>`` block line by line, keeps every line that
  decodes and drops the others; so does this decoder. The block is found as in training
  (:func:`~rest_rl.toolcall.toolrl.scan_toolrl`: the last ``<tool_call>`` after a closed think span,
  read to the end of the text when ``</tool_call>`` is missing). Each non-blank line that is a JSON
  object with a non-empty string ``"name"`` and ``"parameters"`` (or ``"arguments"``) holding an
  object (or a JSON string of an object) is a call; a line with no arguments field is a call with ``{}``.
  Every other line (not JSON, truncated, not an object, no name, arguments not an object) is
  dropped and the calls of the other lines are kept: one correct call next to a truncated line still
  decodes to that call. A block that yields no call at all although it had content is a failed
  decode (BFCL counts it as no call either way). ``error`` lists what was dropped.
* ``fc`` — exactly bfcl-eval's Qwen FC decoder: a ``<tool_call>`` block with any defect (a block that
  is not a JSON call, arguments that are not an object, an unclosed block) fails the whole decode.

In both styles no block at all decodes to no calls. BFCL's decoded form is ``[{name: {arg: value}}]``
for the AST checker and ``["name(arg=repr(value))", …]`` (bfcl-eval's ``convert_to_function_call``)
for the multi-turn executor.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rest_rl.eval.bfcl.official import BfclApi, load_bfcl
from rest_rl.eval.engines import GenerationRequest
from rest_rl.toolcall.hermes import parse_hermes, render_hermes
from rest_rl.toolcall.prompts import (
    TOOLRL_THINK_CALL,
    TOOLRL_THINK_RESPOND,
    to_json_schema,
    tool_call_message,
    toolrl_history_prompt,
    toolrl_system_prompt,
)
from rest_rl.toolcall.toolrl import render_toolrl, scan_toolrl
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "STYLES",
    "Decoded",
    "assistant_message",
    "build_request",
    "decode_output",
    "function_docs",
    "render_output",
]

#: The prompt styles: ``toolrl`` (our training format) and ``fc`` (native chat template + tools).
STYLES: tuple[str, ...] = ("toolrl", "fc")


def _check_style(style: str) -> None:
    if style not in STYLES:
        raise ValueError(f"unknown BFCL prompt style {style!r}; choose one of: {', '.join(STYLES)}")


def function_docs(functions: Sequence[Mapping[str, Any]], category: str, api: BfclApi | None = None) -> list[dict[str, Any]]:
    """The function docs shown to the model: a copy passed through bfcl-eval's language pre-processing."""
    docs = copy.deepcopy([dict(f) for f in functions])
    return (api or load_bfcl()).func_doc_language_specific_pre_processing(docs, category)


def build_request(style: str, docs: Sequence[Mapping[str, Any]], messages: Sequence[Mapping[str, Any]]) -> GenerationRequest:
    """The generation request for a conversation so far.

    ``docs`` are the (pre-processed) function docs; ``messages`` the chat so far: optional system
    messages, user turns, assistant messages (``tool_calls``) and ``tool`` results.
    """
    _check_style(style)
    if style == "fc":
        return GenerationRequest(messages=copy.deepcopy([dict(m) for m in messages]), tools=[to_json_schema(d) for d in docs])
    system_texts = [str(m.get("content") or "") for m in messages if m.get("role") == "system"]
    history = [m for m in messages if m.get("role") != "system"]
    system = toolrl_system_prompt(docs)
    if any(system_texts):
        system += "\n\n" + "\n\n".join(t for t in system_texts if t)
    return GenerationRequest(
        messages=[{"role": "system", "content": system}, {"role": "user", "content": toolrl_history_prompt(history)}]
    )


@dataclass
class Decoded:
    """A completion read in one style.

    ``ok`` is False when a tool-call block could not be decoded (``error`` says how); then ``calls``
    is empty and BFCL counts the output as "failed to decode". In the ``toolrl`` style ``ok`` may come
    with an ``error`` listing the lines that were dropped. ``response`` is the text reply, if any.
    """

    ok: bool = True
    calls: list[ToolCall] = field(default_factory=list)
    response: str | None = None
    error: str | None = None

    def ast_form(self) -> list[dict[str, dict[str, Any]]] | None:
        """``[{name: {arg: value}}]``, the AST checker's input; ``None`` when decoding failed."""
        if not self.ok:
            return None
        return [{c.name: dict(c.arguments)} for c in self.calls]

    def execute_form(self, api: BfclApi | None = None) -> list[str] | None:
        """``["name(arg=repr(value))", …]`` via bfcl-eval's ``convert_to_function_call``; ``None`` on failure."""
        form = self.ast_form()
        if form is None:
            return None
        try:
            return (api or load_bfcl()).convert_to_function_call(form)
        except (RecursionError, ValueError, TypeError):  # e.g. arguments nested too deeply to write
            return None


def decode_output(text: Any, style: str) -> Decoded:
    """Decode one completion (untrusted; never raises, never executes). See the module docstring."""
    _check_style(style)
    if not isinstance(text, str):
        return Decoded(ok=False, error=f"output is {type(text).__name__}, not text")
    if style == "toolrl":
        scan = scan_toolrl(text)  # keeps the calls of the good lines, reports every dropped line
        error = "; ".join(scan.block_problems) or None
        if scan.has_block and not scan.calls and error is not None:
            return Decoded(ok=False, response=scan.response, error=error)  # content, but not one call
        return Decoded(ok=True, calls=list(scan.calls), response=scan.response, error=error)
    parsed = parse_hermes(text)
    defects = [p for p in parsed.problems if p != "unclosed <think>"]
    if defects:
        return Decoded(ok=False, response=parsed.response, error="; ".join(defects))
    return Decoded(ok=True, calls=list(parsed.calls), response=parsed.response)


def assistant_message(decoded: Decoded) -> dict[str, Any]:
    """The assistant message that goes back into the history after a step.

    With calls: the calls and no text (as bfcl-eval's Qwen FC handler keeps it); otherwise the
    reply text (empty when there is none, e.g. a malformed block).
    """
    if decoded.ok and decoded.calls:
        return tool_call_message(decoded.calls)
    return {"role": "assistant", "content": decoded.response or ""}


def render_output(style: str, calls: Sequence[ToolCall] | None, *, response: str | None = None) -> str:
    """A well-formed completion in ``style`` carrying ``calls`` and/or ``response`` (oracles, tests).

    ``toolrl``: ``<think> placeholder </think>`` then the block and/or ``<response>``; ``fc``: the
    Hermes blocks (a reply without calls is the bare text).
    """
    _check_style(style)
    calls = list(calls or [])
    if style == "toolrl":
        think = TOOLRL_THINK_CALL if calls else TOOLRL_THINK_RESPOND
        return render_toolrl(calls, think=think, response=response)
    return render_hermes(calls, content=response)
