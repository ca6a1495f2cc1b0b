"""One task of the synthetic tool world being played: the task record, the guarded tool runner, the outcome.

* :class:`Task` is the serialisable record of one task: the user request, the initial state, the gold
  trajectory (turns of tool calls and a final answer), the expected final state and what the final
  answer must say.
* :class:`Episode` holds the live state of one task and runs calls on it. Every call — from TRL, which
  calls an environment's tool method with the model's decoded arguments, or from our own evaluation
  loop through :meth:`Episode.call` — passes the same guard: the tool must be offered by the task, the
  arguments must bind to the tool's signature, pass :func:`rest_rl.envs.limits.check_arguments` and have
  the annotated types; the tool's own errors (:class:`ToolError`) and any other exception become an
  ``{"error": ...}`` result; results are cut by :func:`rest_rl.envs.limits.bound_result`. A call never
  raises.
* :class:`ToolEnv` is the base of the environments (:mod:`rest_rl.envs.world`): a no-argument
  constructor and ``reset(**row)`` as TRL's ``environment_factory`` wants, tool methods marked with
  :func:`tool`, and everything else private or a property, because TRL offers every public method
  (other than ``reset`` and ``get_reward``) to the model as a tool.
* :class:`Outcome` is the success check, BFCL multi-turn style: the final *state* must equal the
  expected one (whatever calls got there), and the final *answer* must say what the task asks
  (the values read, or that the request cannot be done).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rest_rl.envs.limits import DEFAULT_LIMITS, Limits, bound_result, check_arguments, short_repr

__all__ = [
    "KINDS",
    "REFUSAL_MARKERS",
    "CallRecord",
    "Episode",
    "Outcome",
    "Task",
    "ToolEnv",
    "ToolError",
    "answer_ok",
    "is_refusal",
    "tool",
    "tool_names",
    "tool_schema",
]

#: Task kinds: ``action`` changes the state, ``info`` asks for a value read from a tool result,
#: ``refuse`` has no valid action (the right answer says it cannot be done and the state stays as it is).
KINDS = ("action", "info", "refuse")

#: Phrases that make an answer a refusal (matched as whole words, case-insensitively).
REFUSAL_MARKERS = ("cannot", "can't", "can\u2019t", "can not", "unable", "not possible", "impossible")
_REFUSAL_RE = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(m) for m in REFUSAL_MARKERS) + r")(?![\w])")
_ANSWER_CHECK_CHARS = 4000  # only the head of an answer is searched


class ToolError(Exception):
    """A tool's refusal of a well-formed call (unknown account, insufficient funds, ...).

    Raised inside a tool; the guard turns it into the result ``{"error": message}``. The message is
    what the model reads, so it says what was wrong in a few words.
    """


# ------------------------------------------------------------------------------------------------ task record


def _json_copy(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"{what} is not JSON: {exc}") from None


@dataclass(frozen=True)
class Task:
    """One task of the synthetic world.

    Attributes:
        id: Unique within its split (``"envs-train-17"``).
        domain: ``bank``, ``orders``, ``calendar`` or ``files``.
        template: The task template within the domain; ``(domain, template)`` is the task's
            composition, the unit the splits hold out.
        kind: One of :data:`KINDS`.
        request: The user's message.
        tools: Names of the tools offered (the domain's tools: the ones the gold uses plus distractors).
        state: The initial state (JSON).
        final_state: The expected final state, computed by the generator without running the tools.
        gold: The gold trajectory: one list of calls per assistant turn, each call
            ``{"name": ..., "arguments": {...}}``; a turn's calls may run in any order, later turns use
            values read from earlier results.
        answer: The gold final answer.
        expect: Strings the final answer must contain (values read from tool results), case-insensitive
            whole words.
    """

    id: str
    domain: str
    template: str
    kind: str
    request: str
    tools: tuple[str, ...]
    state: dict[str, Any]
    final_state: dict[str, Any]
    gold: tuple[tuple[dict[str, Any], ...], ...]
    answer: str
    expect: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("id", "domain", "template", "request", "answer"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"task field {name!r} must be a string")
        if self.kind not in KINDS:
            raise ValueError(f"task kind must be one of {KINDS}, got {short_repr(self.kind)}")
        if not isinstance(self.state, dict) or not isinstance(self.final_state, dict):
            raise ValueError("task state and final_state must be objects")
        tools = tuple(self.tools)
        if not tools or not all(isinstance(t, str) for t in tools):
            raise ValueError("task tools must be a non-empty list of names")
        expect = tuple(self.expect)
        if not all(isinstance(e, str) and e for e in expect):
            raise ValueError("task expect must be a list of non-empty strings")
        turns: list[tuple[dict[str, Any], ...]] = []
        for turn in self.gold:
            if not isinstance(turn, (list, tuple)) or not turn:
                raise ValueError("each gold turn must be a non-empty list of calls")
            calls = []
            for call in turn:
                if (
                    not isinstance(call, Mapping)
                    or not isinstance(call.get("name"), str)
                    or not isinstance(call.get("arguments"), Mapping)
                ):
                    raise ValueError("each gold call must be {'name': str, 'arguments': {...}}")
                calls.append({"name": call["name"], "arguments": _json_copy(dict(call["arguments"]), "gold arguments")})
            turns.append(tuple(calls))
        object.__setattr__(self, "tools", tools)
        object.__setattr__(self, "expect", expect)
        object.__setattr__(self, "gold", tuple(turns))
        object.__setattr__(self, "state", _json_copy(self.state, "task state"))
        object.__setattr__(self, "final_state", _json_copy(self.final_state, "task final_state"))

    @property
    def composition(self) -> tuple[str, str]:
        """``(domain, template)``: what the splits hold out."""
        return (self.domain, self.template)

    @property
    def gold_calls(self) -> list[dict[str, Any]]:
        """The gold calls of all turns, in order."""
        return [call for turn in self.gold for call in turn]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (lists, not tuples)."""
        return {
            "id": self.id,
            "domain": self.domain,
            "template": self.template,
            "kind": self.kind,
            "request": self.request,
            "tools": list(self.tools),
            "state": copy.deepcopy(self.state),
            "final_state": copy.deepcopy(self.final_state),
            "gold": [[copy.deepcopy(call) for call in turn] for turn in self.gold],
            "answer": self.answer,
            "expect": list(self.expect),
        }

    def to_json(self) -> str:
        """The task as one JSON string (the ``task`` column of a dataset row)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_dict(cls, data: Any) -> Task:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` naming what is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a task must be an object, got {type(data).__name__}")
        names = ("id", "domain", "template", "kind", "request", "tools", "state", "final_state", "gold", "answer")
        missing = [n for n in names if n not in data]
        if missing:
            raise ValueError(f"task is missing {', '.join(missing)}")
        if not isinstance(data["tools"], (list, tuple)) or not isinstance(data["gold"], (list, tuple)):
            raise ValueError("task tools and gold must be lists")
        expect = data.get("expect", ())
        if not isinstance(expect, (list, tuple)):
            raise ValueError("task expect must be a list")
        return cls(
            id=data["id"],
            domain=data["domain"],
            template=data["template"],
            kind=data["kind"],
            request=data["request"],
            tools=tuple(data["tools"]),
            state=data["state"],
            final_state=data["final_state"],
            gold=tuple(tuple(turn) if isinstance(turn, (list, tuple)) else turn for turn in data["gold"]),
            answer=data["answer"],
            expect=tuple(expect),
        )

    @classmethod
    def from_json(cls, text: str) -> Task:
        """Inverse of :meth:`to_json`; raises ``ValueError``."""
        if not isinstance(text, str):
            raise ValueError(f"a task JSON must be a string, got {type(text).__name__}")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"task is not valid JSON: {short_repr(str(exc), 80)}") from None
        return cls.from_dict(data)

    @classmethod
    def coerce(cls, value: Any) -> Task:
        """A :class:`Task` from a task, its dict or its JSON string; ``ValueError`` otherwise."""
        if isinstance(value, Task):
            return value
        if isinstance(value, str):
            return cls.from_json(value)
        return cls.from_dict(value)


# ------------------------------------------------------------------------------------------------ answers


def _answer_text(answer: Any) -> str:
    if not isinstance(answer, str):
        return ""
    return " ".join(answer[:_ANSWER_CHECK_CHARS].split()).casefold()


def is_refusal(answer: Any) -> bool:
    """Whether ``answer`` says the request cannot be done (contains one of :data:`REFUSAL_MARKERS`)."""
    return bool(_REFUSAL_RE.search(_answer_text(answer)))


def _contains(text: str, value: str) -> bool:
    pattern = r"(?<![0-9a-z])" + re.escape(" ".join(value.split()).casefold()) + r"(?![0-9a-z])"
    return re.search(pattern, text) is not None


def answer_ok(task: Task, answer: Any) -> bool:
    """Whether ``answer`` is a right final answer for ``task``.

    A ``refuse`` task needs a refusal. Any other task needs a non-empty answer that is not a refusal and
    contains every string of ``task.expect`` (whole words, case and spacing ignored). A non-string
    answer is an empty one.
    """
    text = _answer_text(answer)
    if task.kind == "refuse":
        return is_refusal(text)
    if not text or is_refusal(text):
        return False
    return all(_contains(text, value) for value in task.expect)


def _first_difference(got: Any, want: Any, path: str = "") -> str | None:
    """Where two JSON values first differ (a path and the two values), or ``None`` if equal."""
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                return f"{where} missing"
            if key not in want:
                return f"{where} unexpected"
            found = _first_difference(got[key], want[key], where)
            if found:
                return found
        return None
    if got != want or type(got) is not type(want):
        return f"{path or 'state'} is {short_repr(got)}, expected {short_repr(want)}"
    return None


# ------------------------------------------------------------------------------------------------ tools


@dataclass(frozen=True)
class _ToolSpec:
    """What the guard needs of one tool: its name, the unguarded function and its parameters."""

    name: str
    fn: Callable[..., Any]

    @functools.cached_property
    def params(self) -> tuple[tuple[str, type], ...]:
        hints = typing.get_type_hints(self.fn)
        names = list(inspect.signature(self.fn).parameters)[1:]  # drop self
        return tuple((n, hints[n]) for n in names)


_SCALAR_TYPES: dict[type, tuple[str, str]] = {
    str: ("string", "a string"),
    int: ("integer", "an integer"),
    float: ("number", "a number"),
    bool: ("boolean", "true or false"),
}


def _type_ok(value: Any, kind: type) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, kind)


def _json_kind(value: Any) -> str:
    """The JSON name of a value's type (``string``, ``integer``, ...), for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def tool(fn: Callable[..., Any]) -> Callable[..., str]:
    """Mark a method of a :class:`ToolEnv` subclass as a tool and put it behind the guard.

    The method is written plainly: typed parameters (``str``, ``int``, ``float``, ``bool``), a Google
    docstring with an ``Args:`` section, a body that reads and changes ``self._state`` and returns a
    JSON-ready value or raises :class:`ToolError`. The returned wrapper keeps the name, signature and
    docstring (so TRL and ``transformers.utils.get_json_schema`` see the original), accepts any
    arguments, and always returns a string (see :meth:`Episode._execute`).
    """
    spec = _ToolSpec(fn.__name__, fn)

    @functools.wraps(fn)
    def guarded(env: ToolEnv, /, *args: Any, **kwargs: Any) -> str:
        episode = env.__dict__.get("_episode")
        if not isinstance(episode, Episode):
            return _error_json("no task is loaded: call reset(**row) first")
        return episode._direct_call(spec, args, kwargs)

    guarded.__rest_tool__ = spec  # type: ignore[attr-defined]
    return guarded


def tool_names(env: type | object) -> tuple[str, ...]:
    """Names of the tools of an environment class (or instance), sorted."""
    cls = env if isinstance(env, type) else type(env)
    return tuple(
        sorted(
            name
            for name, member in inspect.getmembers(cls, predicate=inspect.isfunction)
            if getattr(member, "__rest_tool__", None) is not None
        )
    )


def _tool_specs(cls: type) -> dict[str, _ToolSpec]:
    return {name: getattr(cls, name).__rest_tool__ for name in tool_names(cls)}


_ARG_LINE = re.compile(r"^(\s*)(\w+):\s*(.*)$")


def tool_schema(method: Callable[..., Any]) -> dict[str, Any]:
    """The JSON schema of a tool method, in the shape ``transformers.utils.get_json_schema`` gives and
    chat templates render: ``{"type": "function", "function": {"name", "description", "parameters",
    "return"}}``. Built from the signature and the Google docstring (a test checks it equals what
    transformers builds), so prompts of our own evaluation list the tools exactly as TRL does."""
    fn = getattr(method, "__rest_tool__", None)
    fn = fn.fn if fn is not None else method
    doc = inspect.getdoc(fn) or ""
    head, _, rest = doc.partition("\nArgs:\n")
    description = head.strip()
    descriptions: dict[str, str] = {}
    indent: str | None = None
    current: str | None = None
    for line in rest.splitlines():
        if not line.strip():
            continue
        match = _ARG_LINE.match(line)
        if match and (indent is None or match.group(1) == indent):
            indent = match.group(1)
            current = match.group(2)
            descriptions[current] = match.group(3).strip()
        elif indent is not None and line.startswith(indent) and current is not None and not match:
            descriptions[current] = (descriptions[current] + " " + line.strip()).strip()
        else:
            break
    hints = typing.get_type_hints(fn)
    names = list(inspect.signature(fn).parameters)[1:]
    properties = {
        name: {"type": _SCALAR_TYPES[hints[name]][0], "description": descriptions[name]} for name in names
    }
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    if names:
        parameters["required"] = names
    function: dict[str, Any] = {"name": fn.__name__, "description": description, "parameters": parameters}
    if hints.get("return") in _SCALAR_TYPES:
        function["return"] = {"type": _SCALAR_TYPES[hints["return"]][0]}
    return {"type": "function", "function": function}


# ------------------------------------------------------------------------------------------------ episode


def _error_json(message: str, limit: int | None = None) -> str:
    """``{"error": message}`` as JSON of at most ``limit`` characters: the message is cut, not the JSON,
    so the result always parses."""
    text = json.dumps({"error": message}, ensure_ascii=False)
    while limit is not None and len(text) > limit and message:
        message = message[: max(0, len(message) - (len(text) - limit) - 3)] + "..."
        message = message if len(message) > 3 else ""
        text = json.dumps({"error": message}, ensure_ascii=False)
    return text


@dataclass(frozen=True)
class CallRecord:
    """One call of an episode: the tool name (cut to the name limit), the arguments when they were
    accepted (else ``None``), the result string, and whether the result is an error."""

    name: str
    arguments: dict[str, Any] | None
    result: str
    error: bool


@dataclass(frozen=True)
class Outcome:
    """The verdict on an episode: ``success`` = right final state and right final answer."""

    state_ok: bool
    answer_ok: bool
    calls: int
    tool_errors: int
    invalid_calls: int
    detail: str = ""

    @property
    def success(self) -> bool:
        return self.state_ok and self.answer_ok

    @property
    def reward(self) -> float:
        """1.0 on success, else 0.0."""
        return 1.0 if self.success else 0.0


class Episode:
    """The live state of one task and the guarded runner of its tool calls.

    Counters: ``calls`` (every call, valid or not), ``tool_errors`` (calls whose result is an error),
    ``invalid_calls`` (calls refused before the tool ran: unknown or unavailable tool, arguments that do
    not bind, break the limits or have the wrong type, over the call budget), ``crashes`` (tools that
    raised something other than :class:`ToolError`). ``history`` keeps every call.
    """

    def __init__(self, task: Task, tools: Mapping[str, _ToolSpec], owner: object, limits: Limits = DEFAULT_LIMITS):
        self.task = task
        self.limits = limits
        self.state: dict[str, Any] = copy.deepcopy(task.state)
        self.calls = 0
        self.tool_errors = 0
        self.invalid_calls = 0
        self.crashes = 0
        self.history: list[CallRecord] = []
        self._specs = dict(tools)
        self._owner = owner

    @property
    def tools(self) -> tuple[str, ...]:
        """The tools this task offers."""
        return self.task.tools

    # -- running calls ---------------------------------------------------------------------------

    def _record(self, name: str, arguments: dict[str, Any] | None, result: str, *, error: bool, invalid: bool) -> str:
        if error:
            self.tool_errors += 1
        if invalid:
            self.invalid_calls += 1
        self.history.append(CallRecord(name, arguments, result, error))
        return result

    def _refuse(self, name: str, message: str) -> str:
        return self._record(name, None, _error_json(message, self.limits.max_result_chars), error=True, invalid=True)

    def call(self, name: Any, arguments: Any = None) -> str:
        """Run one parsed call and return the result string the model reads; never raises.

        Args:
            name: The tool name (anything; a non-string or unknown name gets an error result).
            arguments: The arguments as an object, a JSON string of one, or ``None`` for none.
        """
        self.calls += 1
        if not isinstance(name, str):
            return self._refuse("?", f"tool name must be a string, got {_json_kind(name)}")
        label = name[: self.limits.max_name_chars]
        if len(name) > self.limits.max_name_chars:
            return self._refuse(label, f"tool name too long: {len(name)} characters > {self.limits.max_name_chars}")
        if self.calls > self.limits.max_calls:
            return self._refuse(label, f"call budget spent: at most {self.limits.max_calls} calls per task")
        if name not in self._specs or name not in self.task.tools:
            return self._refuse(label, f"unknown tool {short_repr(name)}; tools: {', '.join(self.tools)}")
        if arguments is None:
            arguments = {}
        if isinstance(arguments, str):
            if len(arguments) > 2 * self.limits.max_total:
                return self._refuse(label, f"arguments too large: {len(arguments)} characters of JSON")
            try:
                arguments = json.loads(arguments)
            except (ValueError, RecursionError):
                return self._refuse(label, "arguments are not valid JSON")
        if not isinstance(arguments, dict):
            return self._refuse(label, f"arguments must be an object, got {_json_kind(arguments)}")
        return self._execute(self._specs[name], (), arguments)

    def _direct_call(self, spec: _ToolSpec, args: Sequence[Any], kwargs: Mapping[Any, Any]) -> str:
        """A tool method called directly (as TRL does: ``env.tool(**arguments)``)."""
        self.calls += 1
        if self.calls > self.limits.max_calls:
            return self._refuse(spec.name, f"call budget spent: at most {self.limits.max_calls} calls per task")
        if spec.name not in self.task.tools:
            return self._refuse(
                spec.name, f"tool {spec.name} is not available in this task; tools: {', '.join(self.tools)}"
            )
        return self._execute(spec, args, kwargs)

    def _execute(self, spec: _ToolSpec, args: Sequence[Any], kwargs: Mapping[Any, Any]) -> str:
        """Bind, check and run one (already counted) call of an offered tool: the guard of every call."""
        name = spec.name
        params = spec.params
        if len(args) > len(params):
            return self._refuse(name, f"{name} takes {len(params)} arguments, got {len(args)}")
        bound: dict[str, Any] = {p: v for (p, _), v in zip(params, args)}
        known = {p for p, _ in params}
        for key, value in kwargs.items():
            if not isinstance(key, str):
                return self._refuse(name, f"argument names must be strings, got {_json_kind(key)}")
            if key not in known:
                return self._refuse(name, f"unexpected argument {short_repr(key)}; {name} takes {_names(params)}")
            if key in bound:
                return self._refuse(name, f"argument {key!r} given twice")
            bound[key] = value
        missing = [p for p, _ in params if p not in bound]
        if missing:
            listed = ", ".join(map(repr, missing))
            return self._refuse(name, f"missing argument {listed}; {name} takes {_names(params)}")
        problem = check_arguments(bound, self.limits)
        if problem:
            return self._refuse(name, problem)
        for param, kind in params:
            if not _type_ok(bound[param], kind):
                wanted = _SCALAR_TYPES[kind][1] if kind in _SCALAR_TYPES else kind.__name__
                got = _json_kind(bound[param])
                return self._refuse(name, f"argument {param!r} must be {wanted}, got {got} {short_repr(bound[param])}")
        arguments = {p: bound[p] for p, _ in params}
        try:
            value = spec.fn(self._owner, **arguments)
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        except ToolError as exc:
            result = _error_json(str(exc)[: self.limits.max_result_chars], self.limits.max_result_chars)
            return self._record(name, arguments, result, error=True, invalid=False)
        except Exception as exc:  # a bug in a tool, or a value it could not handle: the model still gets a result
            self.crashes += 1
            message = f"tool {name} failed: {type(exc).__name__}: {short_repr(str(exc), 200)}"
            result = _error_json(message, self.limits.max_result_chars)
            return self._record(name, arguments, result, error=True, invalid=False)
        return self._record(name, arguments, bound_result(text, self.limits), error=False, invalid=False)

    # -- verdict ---------------------------------------------------------------------------------

    def state_ok(self) -> bool:
        """Whether the state now equals the task's expected final state (types included: 1.0 is not 1)."""
        return _first_difference(self.state, self.task.final_state) is None

    def outcome(self, answer: Any) -> Outcome:
        """The verdict given the model's final answer (``""`` / ``None`` when it gave none)."""
        difference = _first_difference(self.state, self.task.final_state)
        good_answer = answer_ok(self.task, answer)
        details = []
        if difference:
            details.append(f"state: {difference}")
        if not good_answer:
            details.append("answer: " + ("should refuse" if self.task.kind == "refuse" else "wrong or missing"))
        return Outcome(
            state_ok=difference is None,
            answer_ok=good_answer,
            calls=self.calls,
            tool_errors=self.tool_errors,
            invalid_calls=self.invalid_calls,
            detail="; ".join(details),
        )

    def success(self, answer: Any) -> bool:
        """Whether the episode succeeded with this final answer."""
        return self.outcome(answer).success


def _names(params: Sequence[tuple[str, type]]) -> str:
    return "(" + ", ".join(p for p, _ in params) + ")"


# ------------------------------------------------------------------------------------------------ environment


class ToolEnv:
    """Base of the synthetic world's environments, usable as TRL's ``environment_factory``.

    ``ToolEnv()`` takes no arguments; :meth:`reset` loads a task from a dataset row. Subclasses add tools
    with :func:`tool`. The public methods of a subclass are exactly ``reset`` and its tools (TRL offers
    every other public method to the model as a tool); the rest of the API is the :attr:`episode`
    property (calls by name, counters, outcome) and private helpers.
    """

    #: Bounds applied to every call; a subclass may set its own.
    limits: ClassVar[Limits] = DEFAULT_LIMITS
    #: The domains whose tasks this environment serves (set by subclasses).
    domains: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._episode: Episode | None = None

    def reset(self, **row: Any) -> None:
        """Load the task of a dataset row (its ``task`` column: JSON, a dict or a :class:`Task`).

        Other columns (``prompt``, ``environment``, ...) are accepted and ignored. Returns ``None``: the
        row's ``prompt`` already holds the request, so TRL appends nothing to it. Raises ``ValueError``
        for a row without a valid task or a task this environment cannot serve (a dataset bug).
        """
        if "task" not in row:
            raise ValueError("the row has no 'task' column (see rest_rl.envs.to_grpo_row)")
        task = Task.coerce(row["task"])
        specs = _tool_specs(type(self))
        if self.domains and task.domain not in self.domains:
            raise ValueError(f"{type(self).__name__} serves {', '.join(self.domains)}, not {task.domain!r} tasks")
        unknown = [t for t in task.tools if t not in specs]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no tool {', '.join(unknown)}")
        self._episode = Episode(task, specs, self, self.limits)

    @property
    def episode(self) -> Episode:
        """The episode of the loaded task (raises ``RuntimeError`` before the first :meth:`reset`)."""
        if self._episode is None:
            raise RuntimeError("no task is loaded: call reset(**row) first")
        return self._episode

    @property
    def _state(self) -> dict[str, Any]:
        return self.episode.state
