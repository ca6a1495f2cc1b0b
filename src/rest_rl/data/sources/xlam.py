"""xLAM function-calling data (HF ``Salesforce/xlam-function-calling-60k``, gated; and the
same layout in ``MadeAgents/xlam-irrelevance-7.5k``).

A record::

    {"id": 7,
     "query": "What is the weather in Paris?",
     "tools": "[{\\"name\\": \\"get_weather\\", \\"description\\": \\"...\\",
                 \\"parameters\\": {\\"city\\": {\\"type\\": \\"str\\", \\"description\\": \\"...\\"}}}]",
     "answers": "[{\\"name\\": \\"get_weather\\", \\"arguments\\": {\\"city\\": \\"Paris\\"}}]"}

``tools`` and ``answers`` are JSON strings (decoded lists are accepted too). ``answers == []``
(the irrelevance set) is an example whose gold makes no call.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from rest_rl.data.io import LoadResult, load_rows
from rest_rl.data.schema import ToolExample, calls_from_json
from rest_rl.toolcall.prompts import normalize_tool

__all__ = ["load_xlam", "xlam_example"]


def _json_list(row: Mapping[str, Any], key: str) -> list[Any]:
    if key not in row:
        raise ValueError(f"missing field {key!r}")
    value = row[key]
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"field {key!r} is not valid JSON: {exc}") from exc
    if not isinstance(value, list):
        raise ValueError(f"field {key!r} must be a JSON list, got {type(value).__name__}")
    return value


def xlam_example(row: Mapping[str, Any], *, index: int, source: str = "xlam") -> ToolExample:
    """Convert one xLAM record; raises ``ValueError`` naming the bad field."""
    if not isinstance(row, Mapping):
        raise ValueError(f"row must be an object, got {type(row).__name__}")
    query = row.get("query")
    if not isinstance(query, str) or not query:
        raise ValueError("field 'query' must be a non-empty string")
    tools = [normalize_tool(t) for t in _json_list(row, "tools")]
    try:
        calls = calls_from_json(_json_list(row, "answers"))
    except ValueError as exc:
        raise ValueError(f"field 'answers': {exc}") from exc
    known = {t["name"] for t in tools}
    unknown = sorted({c.name for c in calls} - known)
    if unknown:
        raise ValueError(f"field 'answers' calls tools that are not listed: {unknown}")
    row_id = row.get("id", index)
    return ToolExample(
        id=f"{source}-{row_id}",
        source=source,
        tools=tools,
        messages=[{"role": "user", "content": query}],
        gold_calls=calls or None,
        meta={"row": index, "id": row_id} if isinstance(row_id, (int, str)) else {"row": index},
    )


def load_xlam(
    path_or_hub_id: str | os.PathLike[str] = "Salesforce/xlam-function-calling-60k",
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Load xLAM records (one single-turn example each; ids ``xlam-<id>``)."""
    return load_rows(
        path_or_hub_id,
        lambda row, index: [xlam_example(row, index=index)],
        split=split,
        skip_invalid=skip_invalid,
        limit=limit,
    )
