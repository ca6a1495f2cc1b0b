"""BFCL's Python-call strings: parse (with :mod:`ast`, never executed) and render.

BFCL's prompting mode asks for calls such as ``[f(a=1, b='x'), math.factorial(n=5)]``.

Parsing rules (untrusted text; nothing here raises on it, nothing is evaluated):

* Text that is valid Python as it stands is used as is. Otherwise a ``<think>...</think>`` prefix
  is split off into ``think`` (a lone ``</think>`` too) and a Markdown code fence
  (```` ```python ... ``` ````) is unwrapped, the first one counting.
* The text is parsed with ``ast.parse``; accepted statements are a call, a list or tuple of calls
  (``[f(), g()]``, ``f(), g()``) or several such lines. When that fails and the text holds a
  ``[...]`` span that parses, the span is used and the surrounding text reported as ignored.
* A callee is a name or a dotted name (``math.factorial``); anything else (``f()()``,
  ``x[0]()``) drops the call with a problem.
* Argument values are read by walking the AST: string, number, ``True``/``False``/``None``, a
  sign in front of a number, lists, tuples (become lists) and dicts with string keys, nested
  freely. Anything else (names, arithmetic, calls, sets, f-strings, bytes, complex numbers) is not
  a literal: that argument is dropped and reported. Positional arguments and ``**kwargs`` are
  dropped and reported; the call itself is kept with its keyword arguments.
* ``has_tool_call_block`` is true when a call list was recognised (an empty ``[]`` included).
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Sequence
from typing import Any

from .types import ParsedOutput, ToolCall

__all__ = ["parse_python_calls", "render_python_calls"]

_FENCE_RE = re.compile(r"```[A-Za-z0-9_+.-]*[ \t]*\n?(.*?)(?:```|\Z)", re.DOTALL)


class _NotLiteral(Exception):
    """Internal signal: an AST node is not a plain literal (never leaves this module)."""


def _literal(node: ast.AST) -> Any:
    """The JSON-like value of a literal AST node, built by walking it (no evaluation)."""
    if isinstance(node, ast.Constant):
        value = node.value
        if value is None or isinstance(value, (str, bool, int, float)):
            return value
        raise _NotLiteral(f"constant of type {type(value).__name__}")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        operand = node.operand
        if (
            isinstance(operand, ast.Constant)
            and isinstance(operand.value, (int, float))
            and not isinstance(operand.value, bool)
        ):
            return -operand.value if isinstance(node.op, ast.USub) else +operand.value
        raise _NotLiteral("sign applied to a non-number")
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        out: dict[str, Any] = {}
        for k, v in zip(node.keys, node.values):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                raise _NotLiteral("dict key that is not a string literal")
            out[k.value] = _literal(v)
        return out
    raise _NotLiteral(type(node).__name__)


def _dotted_name(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _convert_call(node: ast.Call, index: int, problems: list[str]) -> ToolCall | None:
    name = _dotted_name(node.func)
    if name is None:
        problems.append(f"call {index}: callee is not a (dotted) name ({type(node.func).__name__})")
        return None
    if node.args:
        problems.append(f"call {index} ({name}): {len(node.args)} positional argument(s) dropped")
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            problems.append(f"call {index} ({name}): **kwargs dropped")
            continue
        try:
            args[kw.arg] = _literal(kw.value)
        except _NotLiteral as exc:
            problems.append(f"call {index} ({name}): argument {kw.arg!r} is not a literal ({exc})")
        except RecursionError:
            problems.append(f"call {index} ({name}): argument {kw.arg!r} nested too deeply")
    return ToolCall(name, args)


def _parse_module(source: str) -> ast.Module | None:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. SyntaxWarning for '\d' in model strings
            return ast.parse(source, mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError, TypeError):
        return None


def _split_think(text: str) -> tuple[str | None, str, list[str]]:
    problems: list[str] = []
    open_t = text.find("<think>")
    close_t = text.find("</think>", open_t + 7 if open_t >= 0 else 0)
    if close_t >= 0:
        start = open_t + 7 if open_t >= 0 else 0
        return text[start:close_t].strip(), text[close_t + 8 :], problems
    if open_t >= 0:
        problems.append("unclosed <think>")
        return text[open_t + 7 :].strip(), "", problems
    return None, text, problems


def parse_python_calls(text: str) -> ParsedOutput:
    """Parse a BFCL Python-call string such as ``[f(a=1, b='x'), g()]`` (never executes it).

    See the module docstring for the rules.
    """
    out = ParsedOutput()
    if not isinstance(text, str):
        out.problems.append(f"input is {type(text).__name__}, not str")
        return out
    source = text.strip()
    if not source:
        return out
    # Valid Python as it stands is taken as is (a value may hold "```" or "</think>");
    # otherwise a think prefix and a code fence are removed first.
    module = _parse_module(source)
    if module is None:
        out.think, rest, out.problems = _split_think(text)
        fence = _FENCE_RE.search(rest)
        if fence is not None:
            rest = fence.group(1)
        source = rest.strip()
        if not source:
            return out
        module = _parse_module(source)
    if module is None:
        lo, hi = source.find("["), source.rfind("]")
        if 0 <= lo < hi:
            module = _parse_module(source[lo : hi + 1])
            if module is not None:
                out.problems.append("text outside the call list was ignored")
    if module is None:
        out.problems.append("not Python call syntax")
        return out

    index = 0
    for stmt in module.body:
        value = stmt.value if isinstance(stmt, ast.Expr) else None
        if isinstance(value, ast.Call):
            nodes: list[ast.AST] = [value]
        elif isinstance(value, (ast.List, ast.Tuple)):
            nodes = list(value.elts)
        else:
            out.problems.append(f"statement {type(value or stmt).__name__} is not a call or call list")
            continue
        out.has_tool_call_block = True
        for node in nodes:
            if isinstance(node, ast.Call):
                call = _convert_call(node, index, out.problems)
                if call is not None:
                    out.calls.append(call)
            else:
                out.problems.append(f"call {index}: list element {type(node).__name__} is not a call")
            index += 1
    return out


def render_python_calls(calls: Sequence[ToolCall] | None) -> str:
    """Render calls as a BFCL call list, ``[f(a=1, b='x'), g()]``, values written with ``repr``.

    Names and argument keys are written as given (BFCL's are identifiers); values should be
    JSON-like (str, int, finite float, bool, None, lists, dicts with string keys).
    """
    rendered = []
    for call in calls or ():
        args = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
        rendered.append(f"{call.name}({args})")
    return "[" + ", ".join(rendered) + "]"
