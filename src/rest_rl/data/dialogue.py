"""SWiRL-style step splitting: a dialogue with K assistant steps becomes K single-step examples."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from rest_rl.data.schema import ToolExample
from rest_rl.toolcall.prompts import message_tool_calls

__all__ = ["split_dialogue"]

_ROLES = ("user", "assistant", "tool")


def split_dialogue(
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]],
    source: str,
    id_prefix: str,
    meta: Mapping[str, Any] | None = None,
) -> list[ToolExample]:
    """One :class:`ToolExample` per assistant message: the messages before it are the prompt.

    The k-th assistant message (0-based) gives an example with id ``f"{id_prefix}-{k}"``, its
    ``tool_calls`` as ``gold_calls``, its ``content`` (when non-empty) as ``gold_response`` and its
    ``reasoning_content`` as ``gold_think``; ``meta`` is copied and gets ``"step": k``. Assistant
    messages earlier in the dialogue stay in the history as they are (renderers give them ToolRL's
    placeholder thought when they have none). Raises ``ValueError`` for a role other than
    user/assistant/tool, or an assistant message with nothing before it.
    """
    history: list[dict[str, Any]] = []
    examples: list[ToolExample] = []
    for i, raw in enumerate(messages):
        if not isinstance(raw, Mapping):
            raise ValueError(f"message {i} must be an object, got {type(raw).__name__}")
        role = raw.get("role")
        if role not in _ROLES:
            raise ValueError(f"message {i}: unsupported role {role!r} (expected one of {_ROLES})")
        content = raw.get("content")
        if content is not None and not isinstance(content, str):
            raise ValueError(f"message {i}: content must be a string, got {type(content).__name__}")
        message = copy.deepcopy(dict(raw))
        if role == "assistant":
            if not history:
                raise ValueError(f"message {i}: an assistant step needs a user turn before it")
            try:
                calls = message_tool_calls(message)
            except ValueError as exc:
                raise ValueError(f"message {i}: {exc}") from exc
            think = message.get("reasoning_content")
            step_meta = dict(copy.deepcopy(meta or {}))
            step_meta["step"] = len(examples)
            examples.append(
                ToolExample(
                    id=f"{id_prefix}-{len(examples)}",
                    source=source,
                    tools=copy.deepcopy([dict(t) for t in tools]),
                    messages=copy.deepcopy(history),
                    gold_calls=calls or None,
                    gold_response=content or None,
                    gold_think=think if isinstance(think, str) else None,
                    meta=step_meta,
                )
            )
        history.append(message)
    return examples
