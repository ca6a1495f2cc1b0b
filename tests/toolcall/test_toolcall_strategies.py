"""Hypothesis strategies shared by the tool-call and reward tests (plus checks of the strategies).

Other test modules import this one (``from test_toolcall_strategies import ...``).
"""

from __future__ import annotations

import json
import keyword
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from rest_rl.toolcall.types import ToolCall

TAG_RE = re.compile(r"</?(?:think|tool_call|response)>")

# Text without surrogates (not representable in UTF-8 model output).
text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)

json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(text, children, max_size=3),
    max_leaves=8,
)

arguments = st.dictionaries(text, json_values, max_size=4)
names = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
calls = st.lists(st.builds(ToolCall, names, arguments), max_size=4)

# Free text for think/response parts: no tag strings, no surrounding whitespace.
prose = text.map(str.strip).filter(lambda s: TAG_RE.search(s) is None)


def _identifier(s: str) -> bool:
    return s.isidentifier() and not keyword.iskeyword(s)


identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(_identifier)
dotted_names = st.lists(identifiers, min_size=1, max_size=3).map(".".join)
py_arguments = st.dictionaries(identifiers, json_values, max_size=4)
py_calls = st.lists(st.builds(ToolCall, dotted_names, py_arguments), max_size=4)

# Text that hits the parsers' interesting paths: tags, JSON fragments, Python fragments.
_FRAGMENTS = [
    "<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>",
    "\n", " ", "{", "}", "[", "]", "(", ")", '"', "'", ":", ",", "=", "```", "```python\n",
    '{"name": "f", "parameters": {"a": 1}}', '{"name": "f", "arguments": "{\\"a\\": 1}"}',
    '{"name": 3}', '{"name": "g"}', '{"name": "h", "parameters": [1]}', "null", "[1, 2",
    "f(a=1)", "g(1, b=2)", "m.f(x=[1, (2, 3)], y={'k': -1.5})", "h(x=y)", "**kw", "-",
    "\\u003c", "NaN", "1e999", "[[[[[", "\x00",
]
fuzz_text = st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(_FRAGMENTS) | st.text(max_size=4), max_size=25).map("".join),
)


def same_calls(a: list[ToolCall], b: list[ToolCall]) -> bool:
    """Equal names and arguments, with types kept (``1`` vs ``1.0`` vs ``True`` distinguished)."""
    return len(a) == len(b) and all(
        x.name == y.name and _typed(x.arguments) == _typed(y.arguments) for x, y in zip(a, b)
    )


def _typed(v: object) -> object:
    if isinstance(v, dict):
        return ("d", tuple((k, _typed(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return ("l", tuple(_typed(x) for x in v))
    if isinstance(v, float):
        return ("f", repr(v))
    return (type(v).__name__, v)


@settings(max_examples=30, deadline=None)
@given(calls)
def test_generated_calls_are_json_serialisable(cs: list[ToolCall]) -> None:
    for c in cs:
        assert json.loads(json.dumps(c.to_dict())) == c.to_dict()


@settings(max_examples=30, deadline=None)
@given(py_calls)
def test_generated_python_names_are_dotted_identifiers(cs: list[ToolCall]) -> None:
    for c in cs:
        assert all(_identifier(part) for part in c.name.split("."))
        assert all(_identifier(k) for k in c.arguments)
