"""Generation engines behind one interface (CONTRACT STUB: the types below are fixed; the engines
are being implemented)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence


@dataclass
class GenerationRequest:
    """One prompt: chat messages, optionally the tools (JSON schemas) for the chat template (FC style).

    ``prompt_text`` overrides both: the engine sends that exact text (already templated) to the model.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    prompt_text: str | None = None


class GenerationEngine(Protocol):
    """Greedy, deterministic generation for evaluation."""

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        progress: bool = True,
    ) -> list[str]:
        """Return one completion text per request, in order (special tokens stripped, stop strings cut)."""
        ...
