"""The work model for model-written tool calls: every bound of ``check_arguments`` and ``bound_result``."""

from __future__ import annotations

import math

import pytest

from rest_rl.envs.limits import DEFAULT_LIMITS, Limits, bound_result, check_arguments, short_repr


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_ordinary_arguments_pass():
    args = {"src": "K42", "amount": 30, "ratio": 0.5, "ok": True, "note": None, "tags": ["a", "b"], "x": {"y": [1]}}
    assert check_arguments(args) is None
    assert check_arguments({}) is None


@pytest.mark.parametrize(
    "value, ok",
    [(2**63 - 1, True), (-(2**63 - 1), True), (2**63, False), (-(2**63), False), (True, True)],
)
def test_integer_bound_is_in_bits(value, ok):
    assert (check_arguments({"n": value}) is None) is ok


def test_ten_thousand_digit_integer_is_refused_fast_and_not_echoed():
    huge = 10**10_000  # str(huge) would even raise in Python >= 3.11 (int max str digits)
    reason = check_arguments({"amount": huge})
    assert reason is not None and "integer too large in amount" in reason and "33220 bits" in reason
    assert len(reason) < 120


def test_integer_size_does_not_depend_on_the_base_it_was_written_in():
    from_hex = int("f" * 20, 16)  # 80 bits, only 20 hex digits
    from_bin = int("1" * 80, 2)
    assert from_hex == from_bin
    assert check_arguments({"n": from_hex}) == check_arguments({"n": from_bin}) is not None
    assert check_arguments({"n": int("7" * 21, 8)}) is None  # 63 bits


def test_string_bound_is_exact_and_a_megabyte_string_is_refused():
    limit = DEFAULT_LIMITS.max_str_chars
    assert check_arguments({"s": "x" * limit}) is None
    assert "string too long in s" in check_arguments({"s": "x" * (limit + 1)})
    reason = check_arguments({"s": "x" * 1_000_000})
    assert "1000000 characters" in reason and "xxx" not in reason


def test_keys_are_bounded_and_must_be_strings():
    assert "object key too long" in check_arguments({"k" * 300: 1})
    assert "object key in x is not a string" in check_arguments({"x": {1: 2}})


def test_list_and_object_lengths_are_bounded():
    n = DEFAULT_LIMITS.max_items
    assert check_arguments({"xs": list(range(n))}) is None
    assert "too many items in xs" in check_arguments({"xs": list(range(n + 1))})
    assert "too many items" in check_arguments({f"k{i}": i for i in range(n + 1)})


def test_nesting_depth_is_bounded_without_recursion():
    limit = DEFAULT_LIMITS.max_depth
    assert check_arguments(_nested(limit)) is None
    assert "nesting too deep" in check_arguments(_nested(limit + 1))
    reason = check_arguments({"x": _nested(100_000)})  # recursion would hit the interpreter's limit
    assert "nesting too deep in x" in reason


def test_total_size_is_bounded():
    limits = Limits(max_total=100)
    assert check_arguments({"a": "x" * 40, "b": "y" * 40}, limits) is None
    assert "total size over 100" in check_arguments({"a": "x" * 60, "b": "y" * 60}, limits)
    # the walk stops early: a wide, deep structure within each bound costs at most max_total steps
    wide = [[["z" * 10] * 60] * 60] * 60
    assert "total size" in check_arguments(wide, Limits(max_depth=8, max_items=64))


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_numbers_are_refused(value):
    assert "not finite" in check_arguments({"x": value})


@pytest.mark.parametrize("value", [b"bytes", {1, 2}, object(), 1j, print])
def test_values_json_cannot_carry_are_refused(value):
    assert "unsupported value type in v" in check_arguments({"v": value})


def test_error_path_names_the_place():
    assert "in items[2].name" in check_arguments({"items": [{"name": "a"}, {"name": "b"}, {"name": "x" * 999}]})


def test_bound_result_keeps_short_text_and_cuts_long_text_within_the_limit():
    assert bound_result("short") == "short"
    limits = Limits(max_result_chars=100)
    for n in (101, 150, 10_000, 1_000_000):
        out = bound_result("a" * n, limits)
        assert len(out) <= 100 and out.startswith("aaa")
        cut = int(out.rsplit("[cut ", 1)[1].split(" ")[0])
        assert cut == n - out.index("...[cut")  # the note says exactly how much is missing
    assert len(bound_result("a" * 100, limits)) == 100


def test_bound_result_of_non_strings():
    assert bound_result({"a": 1}) == "{'a': 1}"

    class Bad:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert bound_result(Bad()) == "<unprintable Bad>"


def test_short_repr_never_renders_huge_values():
    assert short_repr(10**10_000) == "<integer of 33220 bits>"
    assert len(short_repr("x" * 1_000_000)) <= 40
    assert short_repr(list(range(1000))) == "<list of 1000 items>"

    class Hostile:
        def __repr__(self) -> str:
            raise ValueError

    assert short_repr(Hostile()) == "<Hostile>"


@pytest.mark.parametrize("field", ["max_int_bits", "max_str_chars", "max_depth", "max_calls"])
def test_limits_reject_nonsense(field):
    with pytest.raises(ValueError, match=field):
        Limits(**{field: 0})
    with pytest.raises(ValueError):
        Limits(max_result_chars=10)
