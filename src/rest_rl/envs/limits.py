"""A small work model for executing model-written tool calls: how big an argument or a result may be.

Tool arguments come from model output and are untrusted. Before a tool runs, :func:`check_arguments`
walks the decoded arguments once, without recursion, and refuses anything over the bounds of a
:class:`Limits`; after it runs, :func:`bound_result` cuts the text handed back to the model. Both return
plain values (an error message or ``None``; a string), never raise, so the caller turns a refusal into
the tool result the model reads.

What is bounded, and the defaults (:data:`DEFAULT_LIMITS`):

========================  =======  ==================================================================
field                     default  meaning
========================  =======  ==================================================================
``max_int_bits``          63       magnitude of an integer, in bits (``abs(n).bit_length()``): a signed
                                   64-bit range. Measured in bits, so a value written in any base, or
                                   built by Python without ever being a decimal string, counts the same.
``max_str_chars``         256      characters of one string (a value or an object key)
``max_items``             64       elements of one list or members of one object
``max_depth``             8        nesting of lists and objects (the top-level object is depth 1)
``max_total``             4096     total size: every scalar and container counts 1, strings and keys
                                   also count their characters, integers their bits / 8
``max_result_chars``      1024     characters of a tool result handed back to the model
``max_calls``             64       tool calls in one episode; later calls get an error result
``max_name_chars``        64       characters of a tool name (longer names are refused unread)
========================  =======  ==================================================================

Floats must be finite; ``None``, booleans, integers, floats, strings, lists (or tuples) and objects with
string keys are the only values accepted (what JSON can carry). The synthetic world
(:mod:`rest_rl.envs.world`) sends every call through these checks; the BFCL simulators can reuse them
with their own :class:`Limits`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

__all__ = ["DEFAULT_LIMITS", "Limits", "bound_result", "check_arguments", "short_repr"]


@dataclass(frozen=True)
class Limits:
    """Bounds on the arguments and results of model-driven tool calls (see the module docstring)."""

    max_int_bits: int = field(default=63, metadata={"help": "Largest integer magnitude, in bits (63: signed 64-bit)."})
    max_str_chars: int = field(default=256, metadata={"help": "Longest string value or object key, in characters."})
    max_items: int = field(default=64, metadata={"help": "Most elements of one list or members of one object."})
    max_depth: int = field(default=8, metadata={"help": "Deepest nesting of lists/objects (top level = 1)."})
    max_total: int = field(default=4096, metadata={"help": "Largest total size of all arguments together."})
    max_result_chars: int = field(default=1024, metadata={"help": "Longest tool result returned to the model."})
    max_calls: int = field(default=64, metadata={"help": "Most tool calls in one episode."})
    max_name_chars: int = field(default=64, metadata={"help": "Longest tool name accepted."})

    def __post_init__(self) -> None:
        for name in (
            "max_int_bits",
            "max_str_chars",
            "max_items",
            "max_depth",
            "max_total",
            "max_result_chars",
            "max_calls",
            "max_name_chars",
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Limits.{name} must be a positive integer, got {value!r}")
        if self.max_result_chars < 32:
            raise ValueError("Limits.max_result_chars must be at least 32 (room for the truncation note)")


#: The bounds used when none are given.
DEFAULT_LIMITS = Limits()


def short_repr(value: Any, limit: int = 40) -> str:
    """``repr(value)`` cut to about ``limit`` characters, safe for any value (for echoing input in errors).

    Huge strings and integers are not rendered in full: a string is cut before ``repr``, an integer over
    ``4 * limit`` bits is described by its size (``str`` of a 10,000-digit integer would even raise).
    """
    try:
        if isinstance(value, str):
            text = repr(value[: limit + 1])
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value).bit_length() > 4 * limit:
            return f"<integer of {abs(value).bit_length()} bits>"
        elif isinstance(value, (list, tuple, dict, set)) and len(value) > limit:
            return f"<{type(value).__name__} of {len(value)} items>"
        else:
            text = repr(value)
    except Exception:  # a hostile __repr__, a too-deep structure
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: max(0, limit - 3)] + "..."


def _path(parent: str, key: str | int) -> str:
    piece = f"[{key}]" if isinstance(key, int) else (f".{key}" if parent else key)
    joined = parent + piece
    return joined if len(joined) <= 80 else "..." + joined[-77:]


def check_arguments(value: Any, limits: Limits = DEFAULT_LIMITS) -> str | None:
    """``None`` when ``value`` (decoded tool arguments) is within ``limits``, else a one-line reason.

    The walk is iterative (no recursion limit to hit), looks at every element at most once and stops at
    the first violation, so its cost is bounded by ``limits.max_total`` steps whatever the input. The
    reason names where the problem is (``amount``, ``items[3].name``) but never echoes the oversized
    value itself.
    """
    total = 0
    # (value, depth of the container holding it, path)
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        where = f" in {path}" if path else ""
        total += 1
        if item is None or isinstance(item, bool):
            pass
        elif isinstance(item, int):
            bits = abs(item).bit_length()
            if bits > limits.max_int_bits:
                return f"integer too large{where}: {bits} bits > {limits.max_int_bits}"
            total += bits // 8
        elif isinstance(item, float):
            if not math.isfinite(item):
                return f"number{where} is not finite"
        elif isinstance(item, str):
            if len(item) > limits.max_str_chars:
                return f"string too long{where}: {len(item)} characters > {limits.max_str_chars}"
            total += len(item)
        elif isinstance(item, (list, tuple, dict)):
            if depth + 1 > limits.max_depth:
                return f"nesting too deep{where}: more than {limits.max_depth} levels"
            if len(item) > limits.max_items:
                return f"too many items{where}: {len(item)} > {limits.max_items}"
            if isinstance(item, dict):
                for key, member in item.items():
                    if not isinstance(key, str):
                        return f"object key{where} is not a string: {short_repr(key)}"
                    if len(key) > limits.max_str_chars:
                        return f"object key too long{where}: {len(key)} characters > {limits.max_str_chars}"
                    total += len(key)
                    stack.append((member, depth + 1, _path(path, key)))
            else:
                for index, member in enumerate(item):
                    stack.append((member, depth + 1, _path(path, index)))
        else:
            return f"unsupported value type{where}: {type(item).__name__}"
        if total > limits.max_total:
            return f"arguments too large: total size over {limits.max_total}"
    return None


def bound_result(text: Any, limits: Limits = DEFAULT_LIMITS) -> str:
    """``text`` as a string of at most ``limits.max_result_chars`` characters.

    A longer text keeps its head and ends with ``...[cut N chars]`` so the model can tell it was cut.
    A non-string is converted with :func:`str` first (a failing ``__str__`` gives a short placeholder).
    """
    if not isinstance(text, str):
        try:
            text = str(text)
        except Exception:
            text = f"<unprintable {type(text).__name__}>"
    limit = limits.max_result_chars
    if len(text) <= limit:
        return text
    note = f"...[cut {len(text) - limit} chars]"
    # the note's own length changes the count only by a digit or two; keep the total within the limit
    head = limit - len(note) - 2
    note = f"...[cut {len(text) - head} chars]"
    return text[:head] + note
