"""Call comparison helpers: JSON value equality, multiset Jaccard, greedy matching, Tool-N1."""

from __future__ import annotations

import pytest

from rest_rl.rewards import match_fraction, multiset_jaccard, tool_n1_reward, values_equal
from rest_rl.rewards.matching import call_multisets_equal, call_sets_equal, canonical
from rest_rl.toolcall import ToolCall


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (1, "1", False),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        (None, None, True),
        (None, 0, False),
        ("a", "a", True),
        ([1, [2]], (1, (2,)), True),
        ([1, 2], [2, 1], False),
        ({"a": 1, "b": [1]}, {"b": [1.0], "a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        ({"a": True}, {"a": 1}, False),
        ([1], {"0": 1}, False),
    ],
)
def test_values_equal_is_json_equality(a, b, equal: bool) -> None:
    assert values_equal(a, b) is equal
    assert values_equal(b, a) is equal
    assert (canonical(a) == canonical(b)) is equal


def test_multiset_jaccard() -> None:
    assert multiset_jaccard([], []) == 1.0
    assert multiset_jaccard(["a"], []) == 0.0
    assert multiset_jaccard(["a", "b"], ["a", "c"]) == pytest.approx(1 / 3)
    # multiset: {f, f} vs {f}: intersection 1, union 2
    assert multiset_jaccard(["f", "f"], ["f"]) == pytest.approx(1 / 2)
    assert multiset_jaccard(["x", "y"], ["y", "x"]) == 1.0


def test_match_fraction_modes() -> None:
    gold = [ToolCall("f", {"a": 1, "b": 2})]
    pred = [ToolCall("f", {"a": 1, "c": 3})]
    # default: (1 + 1/3 + 1) / 4
    assert match_fraction(gold, pred) == pytest.approx(7 / 12)
    # fine-grained: (1 + 0 + 1) / 4
    assert match_fraction(gold, pred, "fine_grained") == pytest.approx(1 / 2)
    # intermediate: (1 + 0) / 2
    assert match_fraction(gold, pred, "intermediate") == pytest.approx(1 / 2)
    assert match_fraction(gold, list(gold)) == 1.0
    assert match_fraction(gold, []) == 0.0


def test_zero_scoring_candidates_are_not_consumed() -> None:
    # gold g0 = f(a=1) vs f(b=9): J(keys) 0, no value -> 0: not consumed, so g1 can take it.
    gold = [ToolCall("f", {"a": 1}), ToolCall("f", {"b": 9})]
    pred = [ToolCall("f", {"b": 9})]
    # J({f,f},{f}) = 1/2; g0: 0; g1: 1 + 1 = 2 -> 2.5 / 5
    assert match_fraction(gold, pred) == pytest.approx(0.5)


def test_call_multisets_and_sets() -> None:
    f1, g = ToolCall("f", {"a": 1}), ToolCall("g", {})
    assert call_multisets_equal([f1, g], [g, ToolCall("f", {"a": 1.0})])
    assert not call_multisets_equal([f1, g], [g, f1, f1])
    assert call_sets_equal([f1, g], [g, f1, f1])
    assert not call_sets_equal([f1], [ToolCall("f", {"a": True})])


def test_tool_n1_reward() -> None:
    gold = [ToolCall("f", {"a": 1})]
    good = '<think> x </think>\n<tool_call>\n{"name": "f", "parameters": {"a": 1}}\n</tool_call>'
    assert tool_n1_reward(good, gold) == 1.0
    assert tool_n1_reward(good.replace("<think> x </think>\n", ""), gold) == 0.0
    assert tool_n1_reward(good.replace("</tool_call>", "oops\n</tool_call>"), gold) == 0.0
    assert tool_n1_reward("<think> x </think>\n<response> hi </response>", None) == 1.0
    assert tool_n1_reward(None, gold) == 0.0  # type: ignore[arg-type]
