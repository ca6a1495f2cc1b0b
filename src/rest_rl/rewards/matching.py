"""Comparing tool calls: value equality, multiset Jaccard, and ToolRL's greedy call matching.

Value equality is JSON equality, made explicit because Python's ``==`` is not: strings compare
exactly; numbers by value (``1 == 1.0``); booleans only with booleans (Python says ``True == 1``,
JSON does not); ``None`` only with ``None``; lists element-wise in order (tuples count as lists);
objects by equal key sets and equal values. So ``1 != "1"``, as in ToolRL and API-Bank scoring.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal

from rest_rl.toolcall.types import ToolCall

__all__ = [
    "call_canonical",
    "call_lists_equal",
    "call_multisets_equal",
    "call_sets_equal",
    "canonical",
    "match_fraction",
    "multiset_jaccard",
    "values_equal",
]

MatchMode = Literal["default", "fine_grained", "intermediate"]


def values_equal(a: Any, b: Any) -> bool:
    """JSON equality of two values (see the module docstring)."""
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        if len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not values_equal(v, b[k]):
                return False
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (Mapping, list, tuple, int, float)) or isinstance(
        b, (Mapping, list, tuple, int, float)
    ):
        return False
    try:
        return bool(a == b)
    except Exception:  # an exotic object whose __eq__ misbehaves
        return False


def canonical(value: Any) -> Hashable:
    """A hashable key with ``canonical(a) == canonical(b)`` exactly when ``values_equal(a, b)``.

    (NaN aside: it is never equal to itself.)
    """
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z",)
    if isinstance(value, Mapping):
        return ("d", frozenset((k, canonical(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("l", tuple(canonical(v) for v in value))
    try:
        return ("o", type(value).__name__, repr(value))
    except Exception:
        return ("o", type(value).__name__, id(value))


def call_canonical(call: ToolCall) -> Hashable:
    """Hashable key of a call: its name and the canonical form of its arguments."""
    return (call.name, canonical(call.arguments))


def call_lists_equal(a: Sequence[ToolCall], b: Sequence[ToolCall]) -> bool:
    """Same calls in the same order."""
    return len(a) == len(b) and all(
        x.name == y.name and values_equal(x.arguments, y.arguments) for x, y in zip(a, b)
    )


def call_multisets_equal(a: Sequence[ToolCall], b: Sequence[ToolCall]) -> bool:
    """Same calls with the same multiplicities, order ignored."""
    return len(a) == len(b) and Counter(map(call_canonical, a)) == Counter(map(call_canonical, b))


def call_sets_equal(a: Sequence[ToolCall], b: Sequence[ToolCall]) -> bool:
    """Same set of distinct calls (order and repetition ignored), as Tool-N1 compares."""
    return set(map(call_canonical, a)) == set(map(call_canonical, b))


def multiset_jaccard(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    """``|a ∩ b| / (|a| + |b| - |a ∩ b|)`` over multisets; 1.0 when both are empty."""
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    ca, cb = Counter(a), Counter(b)
    inter = sum(min(n, cb[k]) for k, n in ca.items() if k in cb)
    return inter / (len(a) + len(b) - inter)


def _multiset_equal(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    return 1.0 if len(a) == len(b) and Counter(a) == Counter(b) else 0.0


def match_fraction(
    gold: Sequence[ToolCall], pred: Sequence[ToolCall], mode: MatchMode = "default"
) -> float:
    """ToolRL's correctness score divided by its maximum, in ``[0, 1]`` (docs/method.md §4).

    ``default``: score = J(gold names, predicted names) + Σ over gold calls, in gold order, of the
    best unused predicted call with the same name, scored J(keys) + number of gold keys whose
    value is equal; S_max = 1 + Σ_gold (1 + #gold params). J is the multiset Jaccard. A predicted
    call is consumed only by a match scoring above 0; ties go to the earliest predicted call.

    ``fine_grained``: both Jaccards become all-or-nothing (1 when the multisets are equal, else 0).

    ``intermediate``: a gold call scores 1 when an unused predicted call equals it exactly, else 0;
    S_max = 1 + #gold calls.

    An identical call list returns 1.0 in every mode.
    """
    if call_lists_equal(gold, pred):
        return 1.0
    names_score = multiset_jaccard if mode != "fine_grained" else _multiset_equal
    keys_score = multiset_jaccard if mode != "fine_grained" else _multiset_equal
    score = names_score([c.name for c in gold], [c.name for c in pred])
    s_max = 1.0
    used = [False] * len(pred)
    for g in gold:
        g_args = g.arguments
        if mode == "intermediate":
            s_max += 1.0
            for i, p in enumerate(pred):
                if not used[i] and p.name == g.name and values_equal(g_args, p.arguments):
                    used[i] = True
                    score += 1.0
                    break
            continue
        s_max += 1.0 + len(g_args)
        g_keys = list(g_args)
        best, best_i = 0.0, -1
        for i, p in enumerate(pred):
            if used[i] or p.name != g.name:
                continue
            p_args = p.arguments
            s = keys_score(g_keys, list(p_args))
            s += sum(1 for k, v in g_args.items() if k in p_args and values_equal(v, p_args[k]))
            if s > best:
                best, best_i = s, i
        if best_i >= 0:
            used[best_i] = True
            score += best
    frac = score / s_max
    return 1.0 if frac > 1.0 else frac
