"""From :class:`ToolExample` to trainer inputs: prompt messages and a TRL-ready ``datasets.Dataset``."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from rest_rl.data.schema import ToolExample, calls_to_json
from rest_rl.toolcall.hammer import hammer_instruction
from rest_rl.toolcall.prompts import (
    apply_tools_chat_template,
    compact_system_prompt,
    to_json_schema,
    toolrl_history_prompt,
    toolrl_system_prompt,
)

__all__ = ["PROMPT_STYLES", "to_prompt_messages", "to_trl_dataset", "trl_row"]

#: Prompt styles understood by :func:`to_prompt_messages`.
PROMPT_STYLES = ("toolrl", "chat_template", "compact", "hammer")


def _single_query(example: ToolExample, style: str) -> str:
    if len(example.messages) != 1 or example.messages[0].get("role") != "user":
        raise ValueError(f"example {example.id!r}: style {style!r} needs a history of exactly one user message")
    return str(example.messages[0].get("content") or "")


def to_prompt_messages(
    example: ToolExample,
    *,
    style: str = "toolrl",
    system_prompt: str | None = None,
    think_placeholder: bool = True,
    ensure_ascii: bool = True,
) -> list[dict[str, Any]]:
    """The prompt of ``example`` as chat messages (TRL's conversational prompt format).

    Styles:
        ``"toolrl"``: ``[system, user]`` exactly as ToolRL writes them: the system prompt lists the
            tools (:func:`~rest_rl.toolcall.prompts.toolrl_system_prompt`) and the user turn is the
            ``**Dialogue Records History**`` (:func:`~rest_rl.toolcall.prompts.toolrl_history_prompt`;
            ``think_placeholder`` and ``ensure_ascii`` are passed on).
        ``"chat_template"``: the history messages as they are, after an optional ``system_prompt``;
            the tools are meant for the chat template (``tools=`` of
            :func:`~rest_rl.toolcall.prompts.apply_tools_chat_template`), not the messages.
        ``"compact"``: a short tool list (:func:`~rest_rl.toolcall.prompts.compact_system_prompt`)
            as the system message, then the request; a multi-turn history is written as ToolRL's
            tagged turns without the header. For tiny models.
        ``"hammer"``: one user message holding Hammer's instruction (single-query examples only).
    """
    if style == "toolrl":
        return [
            {"role": "system", "content": toolrl_system_prompt(example.tools)},
            {
                "role": "user",
                "content": toolrl_history_prompt(
                    example.messages, think_placeholder=think_placeholder, ensure_ascii=ensure_ascii
                ),
            },
        ]
    if style == "chat_template":
        head = [{"role": "system", "content": system_prompt}] if system_prompt is not None else []
        return head + copy.deepcopy(example.messages)
    if style == "compact":
        system = system_prompt if system_prompt is not None else compact_system_prompt(example.tools)
        if len(example.messages) == 1 and example.messages[0].get("role") == "user":
            user = str(example.messages[0].get("content") or "")
        else:
            full = toolrl_history_prompt(
                example.messages, think_placeholder=think_placeholder, ensure_ascii=ensure_ascii
            )
            user = full.split("\n", 1)[1]
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]
    if style == "hammer":
        return [{"role": "user", "content": hammer_instruction(example.tools, _single_query(example, style))}]
    raise ValueError(f"unknown prompt style {style!r}; expected one of {PROMPT_STYLES}")


def _arrow_safe_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages with tool-call arguments as JSON strings (OpenAI's wire form), so that rows with
    different argument shapes share one Arrow schema. Chat templates accept string arguments."""
    out = []
    for message in messages:
        message = copy.deepcopy(message)
        for entry in message.get("tool_calls") or []:
            fn = entry.get("function", entry)
            if isinstance(fn, dict) and not isinstance(fn.get("arguments"), str):
                fn["arguments"] = json.dumps(fn.get("arguments") or {}, ensure_ascii=False)
        out.append(message)
    return out


def trl_row(
    example: ToolExample,
    *,
    style: str = "toolrl",
    tokenizer: Any = None,
    gold_format: str | None = None,
    system_prompt: str | None = None,
    think_placeholder: bool = True,
    ensure_ascii: bool = True,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One dataset row for ``example`` (see :func:`to_trl_dataset` for the columns)."""
    messages = to_prompt_messages(
        example,
        style=style,
        system_prompt=system_prompt,
        think_placeholder=think_placeholder,
        ensure_ascii=ensure_ascii,
    )
    prompt: Any = messages
    if style == "chat_template" and tokenizer is not None:
        prompt = apply_tools_chat_template(tokenizer, messages, example.tools, **dict(chat_template_kwargs or {}))
    elif style == "chat_template":
        prompt = _arrow_safe_messages(messages)
    fmt = gold_format or ("hermes" if style == "chat_template" else "hammer" if style == "hammer" else "toolrl")
    try:
        if fmt == "toolrl":
            gold_text = example.gold_text(fmt, think_placeholder=think_placeholder)
        else:
            gold_text = example.gold_text(fmt)
    except ValueError:
        gold_text = ""  # a ToolRL gold with neither call nor response has no text
    return {
        "prompt": prompt,
        "id": example.id,
        "source": example.source,
        "tools": json.dumps([to_json_schema(t) for t in example.tools], ensure_ascii=False),
        "gold_calls": calls_to_json(example.gold_calls),
        "gold_has_call": example.has_call,
        "gold_has_response": example.has_response,
        "gold_response": example.gold_response or "",
        "gold_text": gold_text,
    }


def to_trl_dataset(
    examples: Iterable[ToolExample],
    *,
    style: str = "toolrl",
    tokenizer: Any = None,
    gold_format: str | None = None,
    system_prompt: str | None = None,
    think_placeholder: bool = True,
    ensure_ascii: bool = True,
    chat_template_kwargs: Mapping[str, Any] | None = None,
) -> Any:
    """A ``datasets.Dataset`` for TRL trainers; extra columns reach reward functions as kwargs.

    Columns:
        ``prompt``: the conversational prompt of :func:`to_prompt_messages`; with
            ``style="chat_template"`` and a ``tokenizer``, the prompt text rendered by the chat
            template with the example's tools (TRL passes one tool list per trainer, not per row,
            so per-row tools must be rendered here).
        ``id``, ``source``: provenance.
        ``tools``: JSON string, the tools as OpenAI-style schemas.
        ``gold_calls``: JSON string ``[{"name", "arguments"}, ...]`` (``"[]"`` when the gold makes
            no call).
        ``gold_has_call``, ``gold_has_response``: booleans.
        ``gold_response``: the gold response text (``""`` when none).
        ``gold_text``: the gold step rendered in ``gold_format`` (default: ``"toolrl"``; ``"hermes"``
            for the chat-template style; ``"hammer"`` for the Hammer style); ``""`` when a ToolRL
            gold has neither call nor response.
    """
    import datasets

    rows = [
        trl_row(
            ex,
            style=style,
            tokenizer=tokenizer,
            gold_format=gold_format,
            system_prompt=system_prompt,
            think_placeholder=think_placeholder,
            ensure_ascii=ensure_ascii,
            chat_template_kwargs=chat_template_kwargs,
        )
        for ex in examples
    ]
    if not rows:
        raise ValueError("no examples to build a dataset from")
    return datasets.Dataset.from_list(rows)
