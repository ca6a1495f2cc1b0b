"""The one record every data source is converted into: a single assistant step to predict."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_rl.toolcall.hammer import render_hammer_output
from rest_rl.toolcall.hermes import render_hermes
from rest_rl.toolcall.prompts import toolrl_step_text
from rest_rl.toolcall.pycall import render_python_calls
from rest_rl.toolcall.types import ToolCall, calls_from_json, calls_to_json

__all__ = ["GOLD_FORMATS", "ToolExample", "calls_from_json", "calls_to_json"]

#: Formats :meth:`ToolExample.gold_text` can render.
GOLD_FORMATS = ("toolrl", "hermes", "python", "hammer")


def _json_field(value: Any, name: str, kind: type) -> Any:
    if isinstance(value, str) and kind is not str:
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"field {name!r} is not valid JSON") from exc
    if not isinstance(value, kind):
        raise ValueError(f"field {name!r} must be a {kind.__name__}, got {type(value).__name__}")
    return value


@dataclass
class ToolExample:
    """One assistant step of a tool-use dialogue, with the context that precedes it.

    Attributes:
        id: Unique id within its source (e.g. ``"toolace-12-1"``).
        source: Where it came from (``"toolrl_sft"``, ``"rlla"``, ``"toolace"``, ``"xlam"``,
            ``"hammer"``, ``"synthetic"``, ...).
        tools: Tools offered to the model, as dicts (see :mod:`rest_rl.toolcall.prompts`):
            ``name``, ``description``, ``parameters`` in the source's own shape, and an optional
            ``parameters_text`` holding the source's exact serialisation.
        messages: The dialogue before the step, as chat messages (``user``; ``assistant`` with
            optional ``reasoning_content`` and ``tool_calls``; ``tool``). The step to predict is
            not included; system prompts are not stored (they are rebuilt from ``tools``).
        gold_calls: The calls the step makes; ``None`` when it makes none (an empty list is
            normalised to ``None``).
        gold_response: The ``<response>`` text of the step, or ``None``.
        gold_think: The ``<think>`` text of the step, or ``None`` (renderers may substitute
            ToolRL's placeholder thought).
        meta: Free-form, JSON-serialisable provenance (row index, split, ...).
    """

    id: str
    source: str
    tools: list[dict[str, Any]]
    messages: list[dict[str, Any]]
    gold_calls: list[ToolCall] | None = None
    gold_response: str | None = None
    gold_think: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.gold_calls:
            self.gold_calls = None
        else:
            self.gold_calls = list(self.gold_calls)

    # ---- views -------------------------------------------------------------------------------

    @property
    def has_call(self) -> bool:
        """Whether the gold step calls at least one tool."""
        return bool(self.gold_calls)

    @property
    def has_response(self) -> bool:
        """Whether the gold step has a ``<response>``."""
        return self.gold_response is not None

    @property
    def kind(self) -> str:
        """``"call"``, ``"parallel"`` (several calls), ``"response"``, ``"call+response"`` or ``"none"``."""
        if self.has_call and self.has_response:
            return "call+response"
        if self.has_call:
            return "parallel" if len(self.gold_calls or []) > 1 else "call"
        return "response" if self.has_response else "none"

    def gold_text(self, format: str = "toolrl", *, think_placeholder: bool = True) -> str:
        """The gold step rendered as model output.

        Args:
            format: ``"toolrl"`` (``<think>``/``<tool_call>``/``<response>``, the default),
                ``"hermes"`` (Qwen3/Hermes ``<tool_call>`` blocks), ``"python"`` (BFCL
                ``[f(a=1)]``) or ``"hammer"`` (a fenced JSON list).
            think_placeholder: For ``toolrl``, use ToolRL's placeholder thought when
                ``gold_think`` is None.

        Raises ``ValueError`` for an unknown format, or a ToolRL gold with neither a call nor a
        response (the format requires one of them).
        """
        calls = list(self.gold_calls or [])
        if format == "toolrl":
            if not calls and self.gold_response is None:
                raise ValueError(
                    f"example {self.id!r}: a ToolRL target needs a tool call or a response, and this gold has neither"
                )
            return toolrl_step_text(
                calls, think=self.gold_think, response=self.gold_response, think_placeholder=think_placeholder
            )
        if format == "hermes":
            return render_hermes(calls, think=self.gold_think, content=self.gold_response)
        if format == "python":
            return render_python_calls(calls)
        if format == "hammer":
            return render_hammer_output(calls)
        raise ValueError(f"unknown gold format {format!r}; expected one of {GOLD_FORMATS}")

    # ---- serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """A flat dict whose nested parts are JSON strings (``tools``, ``messages``,
        ``gold_calls``, ``meta``), so rows of different shapes fit one Arrow schema."""
        try:
            return {
                "id": self.id,
                "source": self.source,
                "tools": json.dumps(self.tools, ensure_ascii=False),
                "messages": json.dumps(self.messages, ensure_ascii=False),
                "gold_calls": None if self.gold_calls is None else calls_to_json(self.gold_calls),
                "gold_response": self.gold_response,
                "gold_think": self.gold_think,
                "meta": json.dumps(self.meta, ensure_ascii=False),
            }
        except (TypeError, ValueError) as exc:
            raise ValueError(f"example {self.id!r} holds a value JSON cannot represent: {exc}") from exc

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ToolExample:
        """Inverse of :meth:`to_dict`; nested fields may also be given already decoded.

        Raises ``ValueError`` naming the offending field.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a dict, got {type(data).__name__}")
        for key in ("id", "source"):
            if not isinstance(data.get(key), str):
                raise ValueError(f"field {key!r} must be a string")
        gold_calls = data.get("gold_calls")
        for key in ("gold_response", "gold_think"):
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"field {key!r} must be a string or null")
        return cls(
            id=data["id"],
            source=data["source"],
            tools=copy.deepcopy(_json_field(data.get("tools", []), "tools", list)),
            messages=copy.deepcopy(_json_field(data.get("messages", []), "messages", list)),
            gold_calls=None if gold_calls is None else calls_from_json(gold_calls),
            gold_response=data.get("gold_response"),
            gold_think=data.get("gold_think"),
            meta=copy.deepcopy(_json_field(data.get("meta") or {}, "meta", dict)),
        )
