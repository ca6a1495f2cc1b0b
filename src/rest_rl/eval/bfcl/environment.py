"""BFCL v3's simulators as a training environment (TRL ``environment_factory``), with a contamination guard.

For users who bring their own multi-turn tasks on BFCL's simulated APIs (file system, Twitter, trading, travel,
math, ...): :func:`bfcl_environment` builds an environment class whose tools are the public methods of the
chosen simulator classes, each with the simulator's own signature and docstring (so TRL and the chat template
see the same tool descriptions as BFCL's), dispatched through the evaluation's safe executor
(:class:`~rest_rl.eval.bfcl.multiturn.SimulatorSession`: fresh instances per episode, every argument bounded,
errors returned as the tool result, never ``eval``).

A dataset row for it holds the conversation (``prompt``) and the simulators' starting state
(``initial_config``: a mapping or its JSON, as in BFCL's entries; optional ``long_context``). The
environment's state is readable for a reward function through the non-tool :attr:`BfclEnvironment.session`
(``session.instances``: the simulator objects), which TRL passes to reward functions as ``environments=``.

**Contamination guard.** Training on BFCL's own test entries would make its scores meaningless. ``reset``
refuses (``BfclContaminationError``, one line) a row whose ``id`` is a BFCL v3 entry id, or whose user
messages match a BFCL v3 entry's (normalised exact match or word 8-gram containment >= 0.5, the rule of
:mod:`rest_rl.eval.contamination`); :func:`check_rows` applies the same test to a whole dataset up front,
which is what a training script should call before the first step.

This lives in ``eval/bfcl`` rather than ``envs/`` because it is built on the benchmark's simulators and the
evaluation's executor; ``envs`` sits below ``eval`` in the layer table.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rest_rl.errors import UserError
from rest_rl.eval.bfcl.official import BfclApi, load_bfcl

__all__ = [
    "BfclContaminationError",
    "BfclEnvironment",
    "bfcl_environment",
    "bfcl_state_reward",
    "check_rows",
    "load_training_rows",
    "state_matches",
]


class BfclContaminationError(UserError, ValueError):
    """A training row that is (or copies) a BFCL v3 test entry."""


@functools.lru_cache(maxsize=1)
def _guard() -> tuple[frozenset[str], Any]:
    from rest_rl.eval.contamination import load_index

    index = load_index(("bfcl",))
    return frozenset(p.id for p in index.prompts), index


def _user_text(row: Mapping[str, Any]) -> str:
    prompt = row.get("prompt")
    if isinstance(prompt, str):
        return prompt
    if isinstance(prompt, list):
        return "\n".join(str(m.get("content") or "") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user")
    return ""


def contamination_reason(row: Mapping[str, Any]) -> str | None:
    """Why ``row`` would be training on BFCL's test data, or ``None``."""
    from rest_rl.eval.contamination import NEAR_THRESHOLD

    ids, index = _guard()
    row_id = row.get("id")
    if isinstance(row_id, str) and row_id in ids:
        return f"its id {row_id!r} is a BFCL v3 test entry"
    text = _user_text(row)
    match = index.best_match(text) if text.strip() else None
    if match is not None:
        i, kind, containment, _, _ = match
        if kind == "exact" or containment >= NEAR_THRESHOLD:
            return f"its user messages match BFCL v3 entry {index.prompts[i].id} ({kind}, containment {containment:.2f})"
    return None


def check_rows(rows: Iterable[Mapping[str, Any]]) -> None:
    """:class:`BfclContaminationError` naming the first row that is or copies a BFCL v3 test entry."""
    for number, row in enumerate(rows):
        reason = contamination_reason(row)
        if reason is not None:
            raise BfclContaminationError(f"refusing to train on BFCL's test data: row {number}: {reason}")


class BfclEnvironment:
    """Base of the classes :func:`bfcl_environment` builds; see the module docstring. Public methods of a
    built class are ``reset`` and the simulators' tools; everything else is private or a property."""

    involved_classes: tuple[str, ...] = ()
    guard: bool = True

    def __init__(self) -> None:
        self._session: Any = None

    def reset(self, **row: Any) -> None:
        """Start an episode: fresh simulators in the row's ``initial_config`` (refused for BFCL's test data)."""
        from rest_rl.eval.bfcl.multiturn import SimulatorSession

        if self.guard:
            reason = contamination_reason(row)
            if reason is not None:
                raise BfclContaminationError(f"refusing to train on BFCL's test data: {reason}")
        config = row.get("initial_config") or {}
        if isinstance(config, str):
            try:
                config = json.loads(config)
            except ValueError as exc:
                raise ValueError(f"initial_config is not JSON: {exc}") from None
        if not isinstance(config, Mapping):
            raise ValueError(f"initial_config must be a mapping of class name to state, got {type(config).__name__}")
        self._session = SimulatorSession(
            self.involved_classes, dict(config), long_context=bool(row.get("long_context", False)), api=_api()
        )

    @property
    def session(self) -> Any:
        """The episode's :class:`~rest_rl.eval.bfcl.multiturn.SimulatorSession` (``RuntimeError`` before reset)."""
        if self._session is None:
            raise RuntimeError("no episode: call reset(**row) first")
        return self._session


@functools.lru_cache(maxsize=1)
def _api() -> BfclApi:
    return load_bfcl()


def _tool(name: str, method: Any) -> Any:
    def tool(self: BfclEnvironment, **kwargs: Any) -> str:
        return self.session.call(name, (), kwargs)

    signature = inspect.signature(method)  # the class's function: ``self`` first, then the tool's parameters
    tool.__name__ = tool.__qualname__ = name
    tool.__doc__ = inspect.getdoc(method)
    tool.__signature__ = signature.replace(return_annotation=str)  # type: ignore[attr-defined]
    annotations = {k: v for k, v in getattr(method, "__annotations__", {}).items() if k != "return"}
    tool.__annotations__ = {**annotations, "return": str}
    return tool


def bfcl_environment(involved_classes: Sequence[str], *, guard: bool = True, api: BfclApi | None = None) -> type[BfclEnvironment]:
    """An environment class (for ``GRPOTrainer(environment_factory=...)``) whose tools are the public methods
    of BFCL's simulator classes ``involved_classes`` (e.g. ``["GorillaFileSystem", "MathAPI"]``). A method
    name defined by two classes goes to the later one, as in BFCL. ``guard=False`` turns the contamination
    guard off (for evaluation-time use only)."""
    api = api or _api()
    import importlib

    namespace: dict[str, Any] = {"involved_classes": tuple(involved_classes), "guard": guard}
    for class_name in involved_classes:
        module_name = api.class_file_path_mapping.get(class_name)
        if module_name is None:
            known = ", ".join(sorted(api.class_file_path_mapping))
            raise ValueError(f"unknown BFCL simulator class {class_name!r}; known: {known}")
        cls = getattr(importlib.import_module(module_name), class_name)
        for name, member in inspect.getmembers(cls, predicate=inspect.isfunction):
            if not name.startswith("_") and name not in ("reset", "session"):
                namespace[name] = _tool(name, member)
    return type(f"Bfcl{''.join(involved_classes)}Env", (BfclEnvironment,), namespace)


# ------------------------------------------------------------------------------------------------ training rows and reward


def _public_state(instance: Any) -> dict[str, Any]:
    return {k: v for k, v in vars(instance).items() if not k.startswith("_")}


def state_matches(session: Any, gold: Any) -> bool:
    """BFCL's state rule (``multi_turn_checker.state_checker``): every public attribute of every simulator of the
    ``gold`` session equals the same attribute of ``session``'s instance of that class."""
    for name, want in gold.instances.items():
        got = session.instances.get(name)
        if got is None or type(got) is not type(want):
            return False
        have = _public_state(got)
        for key, value in _public_state(want).items():
            if key not in have or have[key] != value:
                return False
    return True


def _gold_session(involved_classes: Sequence[str], row: Mapping[str, Any]) -> Any:
    from rest_rl.eval.bfcl.multiturn import SimulatorSession

    config = row.get("initial_config") or {}
    if isinstance(config, str):
        config = json.loads(config)
    session = SimulatorSession(involved_classes, dict(config), long_context=bool(row.get("long_context", False)), api=_api())
    session.execute(list(row.get("ground_truth") or []))
    return session


def bfcl_state_reward(
    completions: Sequence[Any],
    environments: Sequence[Any] | None = None,
    ground_truth: Sequence[Any] | None = None,
    initial_config: Sequence[Any] | None = None,
    involved_classes: Sequence[Any] | None = None,
    long_context: Sequence[Any] | None = None,
    **kwargs: Any,
) -> list[float]:
    """TRL reward function for :func:`load_training_rows` rows: 1.0 when the rollout's simulators end in the state
    the row's ``ground_truth`` calls produce from its ``initial_config`` (run in a fresh session by the safe
    executor, never ``eval``), compared by BFCL's state rule (:func:`state_matches`), else 0.0."""
    n = len(completions)
    envs = list(environments) if environments is not None else [None] * n
    out: list[float] = []
    for i in range(n):
        env = envs[i]
        session = getattr(env, "_session", None) if isinstance(env, BfclEnvironment) else None
        if session is None or ground_truth is None or involved_classes is None:
            out.append(0.0)
            continue
        row = {
            "ground_truth": ground_truth[i],
            "initial_config": initial_config[i] if initial_config is not None else {},
            "long_context": long_context[i] if long_context is not None else False,
        }
        try:
            gold = _gold_session(list(involved_classes[i]), row)
        except Exception:  # noqa: BLE001 - a row the plan accepted; a gold that cannot run scores 0, never a crash
            out.append(0.0)
            continue
        out.append(1.0 if state_matches(session, gold) else 0.0)
    return out


def _row_error(path: Any, line: int, message: str) -> ValueError:
    return ValueError(f"{path}:{line}: {message}")


def load_training_rows(
    path: str,
    involved_classes: Sequence[str] = (),
    *,
    offset: int = 0,
    limit: int | None = None,
    api: BfclApi | None = None,
) -> tuple[list[dict[str, Any]], dict[str, type[BfclEnvironment]]]:
    """Your BFCL-simulator tasks as GRPO rows, and the environment class of each row (TRL's dict
    ``environment_factory``, keyed by the rows' ``environment`` column: the row's classes joined by ``+``).

    ``path``: JSONL, one object per line with ``prompt`` (text or a list of messages), ``initial_config``
    (an object or its JSON), ``ground_truth`` (the gold call strings in BFCL's syntax, run by the safe executor
    for :func:`bfcl_state_reward`), and optionally ``involved_classes`` (else the argument's), ``id`` and
    ``long_context``. Rows ``offset`` to ``offset + limit`` are kept. Raises ``ValueError`` naming the file and
    line for a malformed row, and :class:`BfclContaminationError` for a row that is or copies a BFCL v3 test
    entry (:func:`check_rows`; the guard cannot be turned off here)."""
    from pathlib import Path

    api = api or _api()
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"no such file: {p}")
    rows: list[dict[str, Any]] = []
    classes_of: dict[str, tuple[str, ...]] = {}
    with p.open(encoding="utf-8") as handle:
        for line_no, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except ValueError as exc:
                raise _row_error(p, line_no, f"not JSON ({exc})") from None
            if not isinstance(raw, dict):
                raise _row_error(p, line_no, "a row must be a JSON object")
            prompt = raw.get("prompt")
            if isinstance(prompt, str):
                prompt = [{"role": "user", "content": prompt}]
            if not isinstance(prompt, list) or not prompt or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in prompt
            ):
                raise _row_error(p, line_no, "prompt must be a string or a non-empty list of {role, content} messages")
            classes = raw.get("involved_classes") or list(involved_classes)
            if not isinstance(classes, list) or not classes or not all(isinstance(c, str) for c in classes):
                raise _row_error(p, line_no, "no involved_classes (set them in the row or in env.involved_classes)")
            unknown = [c for c in classes if c not in api.class_file_path_mapping]
            if unknown:
                known = ", ".join(sorted(api.class_file_path_mapping))
                raise _row_error(p, line_no, f"unknown BFCL simulator class {unknown[0]!r}; known: {known}")
            gold = raw.get("ground_truth")
            if not isinstance(gold, list) or not all(isinstance(c, str) for c in gold):
                raise _row_error(p, line_no, "ground_truth must be a list of call strings (BFCL syntax)")
            config = raw.get("initial_config") or {}
            if isinstance(config, str):
                try:
                    config = json.loads(config)
                except ValueError:
                    raise _row_error(p, line_no, "initial_config is not JSON") from None
            if not isinstance(config, dict):
                raise _row_error(p, line_no, "initial_config must be an object of class name to state")
            key = "+".join(classes)
            classes_of[key] = tuple(classes)
            row: dict[str, Any] = {
                "prompt": prompt,
                "initial_config": json.dumps(config, ensure_ascii=False),  # one Arrow type for every row
                "involved_classes": list(classes),
                "ground_truth": list(gold),
                "long_context": bool(raw.get("long_context", False)),
                "environment": key,
                "id": str(raw["id"]) if raw.get("id") is not None else f"{p.name}:{line_no}",
            }
            rows.append(row)
    end = None if limit is None else offset + limit
    rows = rows[offset:end]
    if not rows:
        raise ValueError(f"{p}: no rows selected (offset {offset}, limit {limit})")
    check_rows(rows)
    used = {row["environment"] for row in rows}
    factories = {key: bfcl_environment(classes_of[key], api=api) for key in sorted(used)}
    return rows, factories
