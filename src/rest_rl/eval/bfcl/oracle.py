"""Oracle results built from BFCL's ground truth: what a model that answers correctly would write.

Used to check the pipeline end to end (tests, ``benchmarks/bfcl_scoring.py``): an oracle result
is a completion in a prompt style, scored like any model output.

* AST categories: every ground-truth call, each parameter set to its first allowed value that is not
  ``""`` (``""`` marks an optional parameter that may be left out; a parameter whose only option is
  ``""`` is left out). Java and JavaScript values are written as the strings their converters read
  (``true``, ``5L``, ``1.5f``, ``new ArrayList<>(Arrays.asList("a"))``, ``[1, 2]``, ...).
* irrelevance: a reply without a call; relevance: a call of the first function with no arguments.
* multi-turn: per turn, one step with all the turn's ground-truth calls (positional arguments named
  from the simulator method's signature), then a step that only replies; a turn whose ground truth is
  empty gets only the reply.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import json
from typing import Any

from rest_rl.eval.bfcl.data import BfclEntry
from rest_rl.eval.bfcl.official import BfclApi, load_bfcl
from rest_rl.eval.bfcl.prompts import render_output
from rest_rl.toolcall.types import ToolCall

__all__ = ["ORACLE_REPLY", "oracle_calls", "oracle_result", "oracle_turn_calls"]

#: The text of an oracle step that only replies.
ORACLE_REPLY = "Done."

_OMIT = object()


def _pick(options: Any) -> Any:
    """The first allowed value that is not ``""`` (``_OMIT`` when ``""`` is the only option)."""
    if not isinstance(options, list):
        return _materialize(options)
    for option in options:
        if option != "":
            return _materialize(option)
    return _OMIT


def _materialize(value: Any) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, options in value.items():
            chosen = _pick(options) if isinstance(options, list) else _materialize(options)
            if chosen is not _OMIT:
                out[key] = chosen
        return out
    if isinstance(value, list):
        return [_materialize(v) for v in value]
    return value


def _java_literal(value: Any) -> str:
    """A Java literal for an element of a collection (strings quoted)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    return str(value)


def _java_value(value: Any, spec: dict[str, Any]) -> str:
    type_ = spec.get("type", "String")
    nested = (spec.get("items") or {}).get("type") if isinstance(spec.get("items"), dict) else None
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "long" and isinstance(value, int):
        return f"{value}L"
    if type_ == "float" and isinstance(value, (int, float)):
        return f"{value}f"
    if type_ in ("ArrayList",) and isinstance(value, list):
        return "new ArrayList<>(Arrays.asList(" + ", ".join(_java_literal(v) for v in value) + "))"
    if type_ == "Array" and isinstance(value, list):
        elements = [str(v) if nested in ("String", "char") else _java_literal(v) for v in value]
        return "new " + (nested or "Object") + "[]{" + ", ".join(elements) + "}"
    if type_ == "HashMap" and isinstance(value, dict):
        puts = " ".join(f"put({json.dumps(str(k))}, {_java_literal(v)});" for k, v in value.items())
        return "new HashMap<>() {{ " + puts + " }}"
    return str(value)


def _js_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_js_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_js_literal(v)}" for k, v in value.items()) + "}"
    return str(value)


def _js_value(value: Any, spec: dict[str, Any]) -> str:
    type_ = spec.get("type", "String")
    if isinstance(value, bool):
        return "true" if value else "false"
    if type_ == "Bigint" and isinstance(value, int):
        return f"{value}n"
    if isinstance(value, (list, dict)):
        return _js_literal(value)
    return str(value)


def oracle_calls(entry: BfclEntry) -> list[ToolCall]:
    """The calls an AST entry's ground truth asks for (see the module docstring)."""
    docs = {f["name"]: f for f in entry.functions}
    calls = []
    for item in entry.ground_truth or []:
        for name, params in item.items():
            properties = (docs.get(name, {}).get("parameters") or {}).get("properties") or {}
            args: dict[str, Any] = {}
            for key, options in params.items():
                value = _pick(options)
                if value is _OMIT:
                    continue
                spec = properties.get(key) or {}
                if entry.category == "java":
                    value = _java_value(value, spec)
                elif entry.category == "javascript":
                    value = _js_value(value, spec)
                args[key] = value
            calls.append(ToolCall(name, args))
    return calls


def _named_arguments(call_text: str, classes: list[Any]) -> ToolCall:
    node = ast.parse(call_text, mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), call_text
    name = node.func.id
    args: dict[str, Any] = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg}
    if node.args:
        method = next(getattr(c, name) for c in reversed(classes) if hasattr(c, name))
        params = [p for p in inspect.signature(method).parameters if p != "self"]
        for pname, arg in zip(params, node.args):
            args[pname] = ast.literal_eval(arg)
    return ToolCall(name, args)


def oracle_turn_calls(entry: BfclEntry, api: BfclApi | None = None) -> list[list[ToolCall]]:
    """A multi-turn entry's ground-truth calls per turn, as named-argument calls."""
    api = api or load_bfcl()
    classes = [
        getattr(importlib.import_module(api.class_file_path_mapping[c]), c) for c in (entry.involved_classes or [])
    ]
    return [[_named_arguments(text, classes) for text in turn] for turn in entry.ground_truth or []]


def oracle_result(entry: BfclEntry, style: str, api: BfclApi | None = None) -> Any:
    """The oracle result of ``entry`` in ``style``: a completion, or turns of completions (multi-turn)."""
    reply = render_output(style, [], response=ORACLE_REPLY)
    if entry.kind == "multi_turn":
        turns = []
        for calls in oracle_turn_calls(entry, api):
            turns.append([render_output(style, calls), reply] if calls else [reply])
        return turns
    if entry.kind == "irrelevance":
        return reply
    if entry.kind == "relevance":
        return render_output(style, [ToolCall(entry.functions[0]["name"], {})])
    return render_output(style, oracle_calls(entry))
