"""Open, named registries of interchangeable implementations (advantage estimators, weight schemes,
loss aggregations).

Each extensible table of :mod:`rest_rl.core` is a :class:`Registry`: a dict from a name to an
implementation, filled by a decorator (``register_advantage_estimator``,
``register_weight_scheme``, ``register_aggregation``), with the built-ins registering themselves
through the very same decorators. The public constants (``ADVANTAGE_ESTIMATORS``,
``WEIGHT_SCHEMES``, ``AGGREGATIONS``) are :attr:`Registry.view`: read-only *live* views
(:class:`types.MappingProxyType`), so every validation that checks ``name in VIEW`` accepts an
implementation registered later, without editing core.

Rules, the same for every registry:

* names are non-empty strings without surrounding whitespace;
* registering a name that is already taken raises ``ValueError`` unless ``override=True``;
* the built-ins (the names present when their module finished importing) may be overridden but
  never unregistered, so defaults such as ``WeightConfig(scheme="entropy")`` keep resolving;
* :meth:`Registry.unregister` removes a name registered later (e.g. by a test) and returns its
  value.

This module is pure Python (no torch).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

__all__ = ["Registry"]

V = TypeVar("V")


class Registry(Generic[V]):
    """A name -> implementation table with a decorator-friendly ``register``.

    Args:
        kind: what the entries are, for error messages (e.g. ``"weight scheme"``).
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, V] = {}
        self._builtin: frozenset[str] = frozenset()
        self._view: Mapping[str, V] = MappingProxyType(self._entries)

    @property
    def view(self) -> Mapping[str, V]:
        """Read-only live view of the entries (insertion order: built-ins first)."""
        return self._view

    def names(self) -> tuple[str, ...]:
        """The registered names, in registration order."""
        return tuple(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def check_name(self, name: object) -> str:
        """Return ``name`` if it is a valid entry name; ``ValueError`` otherwise."""
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"{self.kind} name must be a non-empty string without surrounding spaces, got {name!r}")
        return name

    def add(self, name: str, value: V, *, override: bool = False) -> V:
        """Register ``value`` under ``name`` and return it.

        Raises:
            ValueError: if ``name`` is not a valid name, or is taken and ``override`` is false.
        """
        name = self.check_name(name)
        if name in self._entries and not override:
            raise ValueError(
                f"{self.kind} {name!r} is already registered; pass override=True to replace it"
            )
        self._entries[name] = value
        return value

    def register(self, name: str, *, override: bool = False) -> Callable[[V], V]:
        """Decorator form of :meth:`add`: ``@registry.register("name")`` registers and returns the object."""
        self.check_name(name)

        def decorator(value: V) -> V:
            return self.add(name, value, override=override)

        return decorator

    def unregister(self, name: str) -> V:
        """Remove ``name`` and return its value.

        Raises:
            ValueError: if ``name`` is not registered, or is a built-in (override it instead).
        """
        if name not in self._entries:
            raise ValueError(f"{self.kind} {name!r} is not registered; registered: {self.names()}")
        if name in self._builtin:
            raise ValueError(
                f"{self.kind} {name!r} is built in and cannot be unregistered; "
                "register a replacement with override=True instead"
            )
        return self._entries.pop(name)

    def get(self, name: str) -> V:
        """The value registered under ``name``.

        Raises:
            ValueError: naming the registered alternatives when ``name`` is unknown.
        """
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; expected one of {self.names()}") from None

    def seal_builtins(self) -> None:
        """Mark the names registered so far as built-ins (called once by the defining module)."""
        self._builtin = frozenset(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, names={self.names()})"
