"""Hammer's function-masked data (``MadeAgents/Hammer``, ``data/train/masking_sft_data*.json``)
and name masking for xLAM-style examples.

A record is ``{"instruction", "input", "output"}``: ``instruction`` is Hammer's prompt (task
instruction, the tools as one JSON list, the format instruction, the query), ``input`` is empty
and ``output`` a fenced JSON list of ``{"name", "arguments"}`` calls (`` ```\\n[]\\n``` `` when no
tool applies). Function and parameter names are often replaced by random strings, so that a
model must read descriptions rather than rely on names; :func:`mask_names` applies the same
treatment to any example (ToolRL's "Hammer (masked)" share of its 4k mix).
"""

from __future__ import annotations

import copy
import json
import os
import random
import string
from collections.abc import Mapping, Sequence
from typing import Any

from rest_rl.data.io import LoadResult, load_rows
from rest_rl.data.schema import ToolExample
from rest_rl.toolcall.hammer import hammer_instruction, parse_hammer_instruction, parse_hammer_output, render_hammer_output
from rest_rl.toolcall.prompts import normalize_tool
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "hammer_instruction",
    "load_hammer",
    "mask_names",
    "parse_hammer_instruction",
    "parse_hammer_output",
    "render_hammer_output",
]

_MASK_CHARS = string.ascii_letters + string.digits + "_."


def load_hammer(
    path_or_hub_id: str | os.PathLike[str],
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Load Hammer's ``{instruction, input, output}`` records (ids ``hammer-<row>``).

    A non-empty ``input`` is rejected (Hammer's files leave it empty and the prompt would not
    round-trip). An output of ``[]`` gives an example whose gold makes no call.
    """

    def convert(row: Any, index: int) -> list[ToolExample]:
        if not isinstance(row, Mapping):
            raise ValueError(f"row must be an object, got {type(row).__name__}")
        for key in ("instruction", "output"):
            if not isinstance(row.get(key), str):
                raise ValueError(f"field {key!r} must be a string")
        if row.get("input"):
            raise ValueError("field 'input' is not empty; Hammer records carry the query in 'instruction'")
        tools, query = parse_hammer_instruction(row["instruction"])
        try:
            calls = parse_hammer_output(row["output"])
        except ValueError as exc:
            raise ValueError(f"field 'output': {exc}") from exc
        return [
            ToolExample(
                id=f"hammer-{index}",
                source="hammer",
                tools=tools,
                messages=[{"role": "user", "content": query}],
                gold_calls=calls or None,
                meta={"row": index},
            )
        ]

    return load_rows(path_or_hub_id, convert, split=split, skip_invalid=skip_invalid, limit=limit)


# ------------------------------------------------------------------------------------------------
# Masking
# ------------------------------------------------------------------------------------------------


def _random_name(rng: random.Random, taken: set[str]) -> str:
    while True:
        name = "".join(rng.choice(_MASK_CHARS) for _ in range(rng.randint(4, 15)))
        if name not in taken:
            taken.add(name)
            return name


def _rename_keys(obj: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    return {mapping.get(k, k): v for k, v in obj.items()}


def mask_names(example: ToolExample, seed: int, *, mask_parameters: bool = True) -> ToolExample:
    """A copy of ``example`` with tool (and parameter) names replaced by random strings.

    Names are renamed consistently in the tools, the gold calls and the history's tool calls;
    descriptions are left as they are. Deterministic in ``(seed, example.id)``. A tool's
    ``parameters_text`` is dropped (it would still show the old names).
    """
    rng = random.Random(f"{seed}:{example.id}")
    taken: set[str] = set()
    fn_map: dict[str, str] = {}
    param_maps: dict[str, dict[str, str]] = {}
    tools: list[dict[str, Any]] = []
    for raw in example.tools:
        tool = copy.deepcopy(normalize_tool(raw))
        tool.pop("parameters_text", None)
        old = tool["name"]
        fn_map.setdefault(old, _random_name(rng, taken))
        tool["name"] = fn_map[old]
        params = tool.get("parameters")
        if mask_parameters and isinstance(params, dict):
            pmap = param_maps.setdefault(old, {})
            schema_form = isinstance(params.get("properties"), dict)
            keys = list(params["properties"] if schema_form else params)
            for key in keys:
                pmap.setdefault(key, _random_name(rng, set(pmap.values())))
            if schema_form:
                params["properties"] = _rename_keys(params["properties"], pmap)
                if isinstance(params.get("required"), list):
                    params["required"] = [pmap.get(k, k) for k in params["required"]]
            else:
                tool["parameters"] = _rename_keys(params, pmap)
        tools.append(tool)

    def rename_call(name: str, args: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        return fn_map.get(name, name), _rename_keys(args, param_maps.get(name, {}))

    messages = copy.deepcopy(example.messages)
    for message in messages:
        for entry in message.get("tool_calls") or []:
            fn = entry.get("function", entry)
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                args = fn.get("arguments")
                fn["name"], new_args = rename_call(fn["name"], args if isinstance(args, dict) else {})
                if isinstance(args, dict):
                    fn["arguments"] = new_args
    gold = [ToolCall(*rename_call(c.name, c.arguments)) for c in example.gold_calls or []]
    return ToolExample(
        id=example.id,
        source=example.source,
        tools=tools,
        messages=messages,
        gold_calls=gold or None,
        gold_response=example.gold_response,
        gold_think=example.gold_think,
        meta={**copy.deepcopy(example.meta), "masked": True},
    )
