"""ToolRL's processed files: the SFT json (``instruction``/``input``/``output``) and the RL parquet
(verl layout: ``prompt`` chat list, ``reward_model.ground_truth``, ``extra_info``), read and written."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rest_rl.data.io import LoadResult, load_rows
from rest_rl.data.schema import ToolExample
from rest_rl.toolcall.prompts import (
    message_tool_calls,
    parse_toolrl_history,
    parse_toolrl_step,
    parse_toolrl_system_prompt,
    toolrl_history_prompt,
    toolrl_system_prompt,
)

__all__ = ["load_toolrl_rl", "load_toolrl_sft", "toolrl_example", "toolrl_rl_row", "write_toolrl_rl"]


def _text(row: Mapping[str, Any], key: str) -> str:
    if not isinstance(row, Mapping):
        raise ValueError(f"row must be an object, got {type(row).__name__}")
    if key not in row:
        raise ValueError(f"missing field {key!r}")
    value = row[key]
    if not isinstance(value, str):
        raise ValueError(f"field {key!r} must be a string, got {type(value).__name__}")
    return value


def toolrl_example(
    system: str, user: str, target: str, *, id: str, source: str, meta: dict[str, Any] | None = None
) -> ToolExample:
    """Build a :class:`ToolExample` from ToolRL's three texts (system prompt, user turn, target).

    Raises ``ValueError`` naming the part that does not follow the ToolRL format.
    """
    try:
        tools = parse_toolrl_system_prompt(system)
    except ValueError as exc:
        raise ValueError(f"system prompt: {exc}") from exc
    try:
        messages = parse_toolrl_history(user)
    except ValueError as exc:
        raise ValueError(f"user turn: {exc}") from exc
    if not messages or messages[-1]["role"] not in ("user", "tool"):
        raise ValueError("user turn: the history must end with a <user> turn or an <obs>")
    try:
        step = parse_toolrl_step(target)
    except ValueError as exc:
        raise ValueError(f"target: {exc}") from exc
    calls = message_tool_calls(step)
    if "reasoning_content" not in step:
        raise ValueError("target: no <think> part")
    if not calls and not step["content"]:
        raise ValueError("target: neither a <tool_call> nor a <response>")
    return ToolExample(
        id=id,
        source=source,
        tools=tools,
        messages=messages,
        gold_calls=calls or None,
        gold_response=step["content"] or None,
        gold_think=step["reasoning_content"],
        meta=dict(meta or {}),
    )


def load_toolrl_sft(
    path_or_hub_id: str | os.PathLike[str],
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Load ToolRL's SFT file (``rlla_sft.json``: ``{instruction, input, output}`` records).

    ``instruction`` is the ToolRL system prompt, ``input`` the dialogue history, ``output`` the
    target step with real reasoning. One example per record; ids ``toolrl_sft-<row>``.
    """

    def convert(row: Any, index: int) -> list[ToolExample]:
        return [
            toolrl_example(
                _text(row, "instruction"),
                _text(row, "input"),
                _text(row, "output"),
                id=f"toolrl_sft-{index}",
                source="toolrl_sft",
                meta={"row": index},
            )
        ]

    return load_rows(path_or_hub_id, convert, split=split, skip_invalid=skip_invalid, limit=limit)


def load_toolrl_rl(
    path_or_hub_id: str | os.PathLike[str],
    *,
    split: str | None = None,
    skip_invalid: bool = False,
    limit: int | None = None,
) -> LoadResult:
    """Load ToolRL's RL split in verl's layout (``rlla_4k/{train,test}.parquet``).

    Each row has ``prompt`` (``[system, user]`` chat messages), ``reward_model.ground_truth``
    (the target step, placeholder reasoning) and ``extra_info`` (``index``, ``split``, ...).
    Ids are ``rlla-<split>-<index>``; ``meta`` keeps ``data_source``, ``ability``, ``index``,
    ``split`` and the row number.
    """

    def convert(row: Any, index: int) -> list[ToolExample]:
        if not isinstance(row, Mapping):
            raise ValueError(f"row must be an object, got {type(row).__name__}")
        prompt = row.get("prompt")
        if not isinstance(prompt, (list, tuple)) or len(prompt) != 2:
            raise ValueError("field 'prompt' must be a list of two messages (system, user)")
        roles = [m.get("role") if isinstance(m, Mapping) else None for m in prompt]
        if roles != ["system", "user"]:
            raise ValueError(f"field 'prompt' must hold a system then a user message, got roles {roles}")
        reward_model = row.get("reward_model")
        if not isinstance(reward_model, Mapping):
            raise ValueError("missing field 'reward_model'")
        extra = row.get("extra_info") if isinstance(row.get("extra_info"), Mapping) else {}
        split_name = extra.get("split") or split or "train"
        item_index = extra.get("index", index)
        meta = {
            "row": index,
            "index": item_index,
            "split": split_name,
            "data_source": row.get("data_source"),
            "ability": row.get("ability"),
        }
        return [
            toolrl_example(
                _text(prompt[0], "content"),
                _text(prompt[1], "content"),
                _text(reward_model, "ground_truth"),
                id=f"rlla-{split_name}-{item_index}",
                source="rlla",
                meta=meta,
            )
        ]

    return load_rows(path_or_hub_id, convert, split=split, skip_invalid=skip_invalid, limit=limit)


def toolrl_rl_row(
    example: ToolExample,
    *,
    index: int,
    split: str = "train",
    data_source: str = "rlla",
    ability: str = "math",
    think_placeholder: bool = True,
) -> dict[str, Any]:
    """One row of ToolRL's RL parquet (verl's RL layout) for ``example``.

    The columns are those of ToolRL's ``rlla_4k/{train,test}.parquet``, which verl's ``RLHFDataset`` and
    reward managers read: ``data_source``, ``prompt`` (``[system, user]`` messages: the ToolRL system prompt
    listing the tools and the ``**Dialogue Records History**`` user turn), ``ability``,
    ``reward_model`` (``{"ground_truth": gold step in ToolRL format, "style": "rule"}``) and ``extra_info``
    (``index``, ``split`` and the three texts again as ``instruction``/``input``/``output``). ToolRL's files
    say ``ability="math"`` (a leftover of verl's math example); it is kept so a written file matches theirs.
    ``think_placeholder``: the gold's ``<think>`` is ToolRL's placeholder when the example has no thought.
    """
    system = toolrl_system_prompt(example.tools)
    user = toolrl_history_prompt(example.messages)
    target = example.gold_text("toolrl", think_placeholder=think_placeholder)
    return {
        "data_source": data_source,
        "prompt": [{"content": system, "role": "system"}, {"content": user, "role": "user"}],
        "ability": ability,
        "reward_model": {"ground_truth": target, "style": "rule"},
        "extra_info": {"index": int(index), "input": user, "instruction": system, "output": target, "split": split},
    }


def write_toolrl_rl(
    examples: Any,
    path: str | os.PathLike[str],
    *,
    split: str = "train",
    data_source: str = "rlla",
    think_placeholder: bool = True,
) -> int:
    """Write ``examples`` (an iterable of :class:`ToolExample`) as a parquet file in ToolRL's RL layout.

    Rows are :func:`toolrl_rl_row` with ``index`` 0, 1, ... in order; :func:`load_toolrl_rl` reads the file
    back into the same examples (ids ``rlla-<split>-<index>``). Parent folders are created. Returns the number
    of rows written. Raises ``ValueError`` (naming the example) for a gold with neither a call nor a response.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = []
    for i, example in enumerate(examples):
        try:
            rows.append(
                toolrl_rl_row(example, index=i, split=split, data_source=data_source, think_placeholder=think_placeholder)
            )
        except ValueError as exc:
            raise ValueError(f"example {i} ({getattr(example, 'id', '?')}): {exc}") from exc
    message = pa.struct([("content", pa.string()), ("role", pa.string())])
    schema = pa.schema(
        [
            ("data_source", pa.string()),
            ("prompt", pa.list_(message)),
            ("ability", pa.string()),
            ("reward_model", pa.struct([("ground_truth", pa.string()), ("style", pa.string())])),
            (
                "extra_info",
                pa.struct(
                    [
                        ("index", pa.int64()),
                        ("input", pa.string()),
                        ("instruction", pa.string()),
                        ("output", pa.string()),
                        ("split", pa.string()),
                    ]
                ),
            ),
        ]
    )
    target = os.fspath(path)
    parent = os.path.dirname(target)
    if parent:
        os.makedirs(parent, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), target)
    return len(rows)
