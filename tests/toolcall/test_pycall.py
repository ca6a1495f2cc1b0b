"""BFCL Python-call strings: parse with ast (never executed), render, round trips."""

from __future__ import annotations

from hypothesis import given, settings
from test_toolcall_strategies import fuzz_text, py_calls, same_calls

from rest_rl.toolcall import ParsedOutput, ToolCall, parse_python_calls, render_python_calls


def test_bfcl_call_list() -> None:
    parsed = parse_python_calls("[f(a=1, b='x'), g()]")
    assert parsed == ParsedOutput(
        calls=[ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g", {})], has_tool_call_block=True
    )


def test_without_brackets_and_dotted_names() -> None:
    assert parse_python_calls("math.factorial(n=5)").calls == [ToolCall("math.factorial", {"n": 5})]
    assert [c.name for c in parse_python_calls("f(a=1), g(b=2)").calls] == ["f", "g"]
    assert [c.name for c in parse_python_calls("f(a=1)\ng(b=2)").calls] == ["f", "g"]


def test_nested_literals() -> None:
    parsed = parse_python_calls(
        "[calc.area(points=[(0, 0), (1, -2.5)], opts={'unit': 'm', 'tags': ['a', None]}, "
        "flag=True, off=False, n=-3, p=+4, e=1e-3)]"
    )
    assert parsed.ok
    assert parsed.calls == [
        ToolCall(
            "calc.area",
            {
                "points": [[0, 0], [1, -2.5]],
                "opts": {"unit": "m", "tags": ["a", None]},
                "flag": True,
                "off": False,
                "n": -3,
                "p": 4,
                "e": 0.001,
            },
        )
    ]


def test_code_fence_and_think_are_stripped() -> None:
    parsed = parse_python_calls("<think>use f</think>\n```python\n[f(a='b')]\n```")
    assert parsed.think == "use f"
    assert parsed.calls == [ToolCall("f", {"a": "b"})] and parsed.ok
    assert parse_python_calls("```\nf(x=1)\n```").calls == [ToolCall("f", {"x": 1})]


def test_positional_and_star_arguments_are_reported() -> None:
    parsed = parse_python_calls("[f(1, b=2), g(**kw)]")
    assert parsed.calls == [ToolCall("f", {"b": 2}), ToolCall("g", {})]
    assert len(parsed.problems) == 2


def test_non_literals_are_reported_never_executed() -> None:
    parsed = parse_python_calls(
        "[f(a=__import__('os').system('echo pwned'), b=x, c=1+2, d={1, 2}, e=f'{x}', "
        "g=b'raw', h=3j, i={1: 'a'}, j=-'s', k=..., ok='fine')]"
    )
    assert parsed.calls == [ToolCall("f", {"ok": "fine"})]
    assert len(parsed.problems) == 10


def test_bad_callees_and_non_calls() -> None:
    parsed = parse_python_calls("[f()(), x[0](a=1), 3, g(a=1)]")
    assert parsed.calls == [ToolCall("g", {"a": 1})]
    assert len(parsed.problems) == 3


def test_prose_around_a_call_list() -> None:
    parsed = parse_python_calls("Sure! Here you go: [f(a=1)] Hope that helps.")
    assert parsed.calls == [ToolCall("f", {"a": 1})]
    assert parsed.problems == ["text outside the call list was ignored"]


def test_no_call() -> None:
    assert parse_python_calls("") == ParsedOutput()
    prose = parse_python_calls("I cannot help with that request.")
    assert prose.calls == [] and not prose.has_tool_call_block and not prose.ok
    empty = parse_python_calls("[]")
    assert empty.calls == [] and empty.has_tool_call_block and empty.ok


def test_render() -> None:
    assert render_python_calls([ToolCall("f", {"a": 1, "b": "x"}), ToolCall("g")]) == "[f(a=1, b='x'), g()]"
    assert render_python_calls(
        [ToolCall("m.f", {"l": [1, None], "d": {"k": True}, "n": -2.5})]
    ) == "[m.f(l=[1, None], d={'k': True}, n=-2.5)]"
    assert render_python_calls([]) == "[]"


def test_values_holding_fences_or_think_tags() -> None:
    call = ToolCall("f", {"code": "```python\nx\n```", "t": "</think>"})
    assert parse_python_calls(render_python_calls([call])).calls == [call]


@settings(max_examples=150, deadline=None)
@given(py_calls)
def test_round_trip(cs: list[ToolCall]) -> None:
    parsed = parse_python_calls(render_python_calls(cs))
    assert parsed.ok, parsed.problems
    assert same_calls(parsed.calls, cs)
    assert parsed.has_tool_call_block


@settings(max_examples=300, deadline=None)
@given(fuzz_text)
def test_arbitrary_text_never_raises(text: str) -> None:
    parsed = parse_python_calls(text)
    assert isinstance(parsed, ParsedOutput)
    assert all(isinstance(c.arguments, dict) for c in parsed.calls)


def test_pathological_inputs() -> None:
    for text in ["(" * 10_000, "[" * 300 + "]" * 300, "f(a=" + "1" * 10_000 + ")", "\x00", "f(a=1" * 500]:
        assert isinstance(parse_python_calls(text), ParsedOutput)
