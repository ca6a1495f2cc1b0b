"""Multi-turn BFCL without ``eval``: fresh simulators per conversation, calls read with :mod:`ast`.

bfcl-eval runs a model's calls by rewriting each call string into ``<instance>.method(...)`` and
passing it to Python's ``eval``, with the simulator instances kept in module globals keyed by model
name and test id (a second run of the same id in one process continues from the first run's state).
Here instead:

* :class:`SimulatorSession` holds *fresh* instances of the entry's involved classes (bfcl-eval's
  simulator classes, loaded from its own modules and set up with its ``_load_scenario`` on a deep copy
  of the entry's initial config). One session per conversation; nothing is shared or global.
* A call string is parsed with ``ast.parse(mode="eval")``: it must be a single call of a plain name;
  every argument must be a literal (read by ``ast.literal_eval``, which never runs code). The name is
  looked up among the *public methods of the loaded simulator instances* and nothing else, so no
  builtin, module or attribute is reachable. Results and errors are turned into strings exactly as
  bfcl-eval does (``str`` as is, ``dict`` as JSON, else ``str()``; ``"Error during execution: …"``).
* Every call's cost is bounded before it runs (the work model of :mod:`rest_rl.envs.limits`, with the
  bounds of :data:`BFCL_LIMITS`): every integer argument, in whatever base it was written (hex, octal,
  binary or decimal), at most :data:`MAX_INT_BITS` bits; strings, lists, nesting and total size bounded;
  non-finite floats, sets, bytes and complex numbers refused; on top, an integer exponent of
  ``MathAPI.power`` or a ``precision`` above :data:`MAX_WORK_ARGUMENT`. A refused call is an execution
  error the model reads, never a stall. Each call runs in a local :mod:`decimal` context with mpmath's
  precision restored after, so ``square_root``/``logarithm`` cannot change process-wide precision.
  ``benchmarks/fuzz_untrusted.py`` records the worst time of one call under these bounds; since
  bfcl-eval's checker replays the model's calls, a call's cost is paid at most twice, both times bounded.

Scoring uses bfcl-eval's own ``multi_turn_checker`` (its per-turn state comparison and result
comparison) with its executor swapped, for the duration of the call, for :class:`SessionRegistry`,
which hands every (model/ground-truth, entry) pair its own new session: :func:`check_conversation`.
The swap is guarded by a lock, so concurrent checks in threads do not interleave.

:class:`Conversation` drives one entry's inference the way bfcl-eval's multi-turn loop does: per turn
the user message (for a ``miss_func`` turn: the held-out docs are added and bfcl-eval's "I have updated
some more functions" message is sent), then steps until a step decodes to no call or fails to decode;
more than bfcl-eval's step limit (20) in one turn force-terminates the conversation.
"""

from __future__ import annotations

import ast
import copy
import decimal
import importlib
import inspect
import json
import threading
import warnings
from collections.abc import Sequence
from typing import Any
from unittest import mock

import mpmath

from rest_rl.envs.limits import Limits, check_arguments
from rest_rl.eval.bfcl.data import BfclEntry
from rest_rl.eval.bfcl.official import CHECKER_MODEL_NAME, BfclApi, load_bfcl
from rest_rl.eval.bfcl.prompts import assistant_message, build_request, decode_output, function_docs
from rest_rl.eval.engines import GenerationRequest

__all__ = [
    "BFCL_LIMITS",
    "MAX_CALL_CHARS",
    "MAX_INT_BITS",
    "MAX_WORK_ARGUMENT",
    "Conversation",
    "SessionRegistry",
    "SimulatorSession",
    "UnsafeCall",
    "check_conversation",
    "parse_call",
]

#: Longest call string that is parsed (longer ones are an execution error).
MAX_CALL_CHARS = 100_000
#: Largest integer exponent (``MathAPI.power``) or ``precision`` argument that is executed.
MAX_WORK_ARGUMENT = 10_000
#: Largest magnitude of an integer argument, in bits (any base): far above any BFCL task's numbers.
MAX_INT_BITS = 256
#: Bounds on every argument of a BFCL call (the call text itself is at most :data:`MAX_CALL_CHARS`).
BFCL_LIMITS = Limits(
    max_int_bits=MAX_INT_BITS,
    max_str_chars=MAX_CALL_CHARS,
    max_items=MAX_CALL_CHARS,
    max_depth=32,
    max_total=4 * MAX_CALL_CHARS,
    max_name_chars=256,
)

_ERROR = "Error during execution: "
_CHECK_LOCK = threading.Lock()  # serialises the executor swap inside bfcl-eval's checker module


class UnsafeCall(ValueError):
    """A call string that is not one call of a plain name with literal arguments."""


def parse_call(text: str) -> tuple[str, list[Any], dict[str, Any]]:
    """Read ``name(arg, key=value, ...)`` into ``(name, args, kwargs)`` without evaluating anything.

    Raises :class:`UnsafeCall` (with the reason) for anything else: not a single call, a dotted or
    computed callee, ``*args``/``**kwargs``, or an argument that is not a literal.
    """
    if not isinstance(text, str):
        raise UnsafeCall(f"call is {type(text).__name__}, not text")
    if len(text) > MAX_CALL_CHARS:
        raise UnsafeCall(f"call text longer than {MAX_CALL_CHARS} characters")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarning for odd escapes in model strings
            tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise UnsafeCall(f"not a Python call ({type(exc).__name__}: {exc})") from None
    node = tree.body
    if not isinstance(node, ast.Call):
        raise UnsafeCall(f"not a call: {type(node).__name__}")
    if not isinstance(node.func, ast.Name):
        callee = ast.unparse(node.func) if isinstance(node.func, ast.Attribute) else type(node.func).__name__
        raise UnsafeCall(f"callee {callee!r} is not a plain function name")
    name = node.func.id
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    try:
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise UnsafeCall(f"{name}: *args are not allowed")
            args.append(ast.literal_eval(arg))
        for kw in node.keywords:
            if kw.arg is None:
                raise UnsafeCall(f"{name}: **kwargs are not allowed")
            kwargs[kw.arg] = ast.literal_eval(kw.value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise UnsafeCall(f"{name}: an argument is not a literal ({exc})") from None
    return name, args, kwargs


def _stringify(result: Any) -> str:
    """bfcl-eval's conversion of a simulator result into the text the model sees."""
    if type(result) is str:
        return result
    if type(result) is dict:
        try:
            return json.dumps(result)
        except (TypeError, ValueError, RecursionError):
            return str(result)
    return str(result)


def _too_much_work(class_name: str, method: str, bound: inspect.BoundArguments) -> str | None:
    if class_name != "MathAPI":
        return None
    values = bound.arguments
    if method == "power":
        exponent = values.get("exponent")
        if isinstance(exponent, int) and not isinstance(exponent, bool) and abs(exponent) > MAX_WORK_ARGUMENT:
            return f"exponent {exponent} is above the sandbox limit {MAX_WORK_ARGUMENT}"
    precision = values.get("precision")
    if isinstance(precision, int) and not isinstance(precision, bool) and abs(precision) > MAX_WORK_ARGUMENT:
        return f"precision {precision} is above the sandbox limit {MAX_WORK_ARGUMENT}"
    return None


class SimulatorSession:
    """Fresh instances of an entry's simulator classes, and a safe way to call their methods.

    Args:
        involved_classes: class names as in the entry (``GorillaFileSystem``, ``TwitterAPI``, ...);
            only the classes bfcl-eval maps to its simulator modules are accepted.
        initial_config: the entry's ``initial_config`` (deep-copied; never modified).
        long_context: load the long-context scenario (bfcl-eval's ``long_context`` flag).
    """

    def __init__(
        self,
        involved_classes: Sequence[str],
        initial_config: dict[str, Any] | None,
        *,
        long_context: bool = False,
        api: BfclApi | None = None,
    ) -> None:
        api = api or load_bfcl()
        self.instances: dict[str, Any] = {}
        self._methods: dict[str, tuple[str, Any]] = {}
        config = initial_config or {}
        for class_name in involved_classes:
            module_name = api.class_file_path_mapping.get(class_name)
            if module_name is None:
                raise ValueError(f"unknown BFCL simulator class {class_name!r}")
            cls = getattr(importlib.import_module(module_name), class_name)
            instance = cls()
            if class_name not in api.stateless_classes:
                instance._load_scenario(copy.deepcopy(config.get(class_name, {})), long_context=long_context)
            self.instances[class_name] = instance
            for method_name, method in inspect.getmembers(instance, predicate=inspect.ismethod):
                if not method_name.startswith("_"):
                    self._methods[method_name] = (class_name, method)  # a later class wins, as in bfcl-eval

    @property
    def method_names(self) -> list[str]:
        """The callable names: public methods of the loaded instances."""
        return sorted(self._methods)

    def execute_one(self, call: str) -> str:
        """Run one call string; the result or ``"Error during execution: ..."`` (never raises)."""
        try:
            name, args, kwargs = parse_call(call)
        except UnsafeCall as exc:
            return _ERROR + str(exc)
        return self.call(name, args, kwargs)

    def call(self, name: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None) -> str:
        """Run one already-decoded call (a method name and its arguments) with the same checks as a call
        string: the name must be a public method of a loaded instance, every argument within
        :data:`BFCL_LIMITS`, no work argument above :data:`MAX_WORK_ARGUMENT`. The result or
        ``"Error during execution: ..."`` (never raises)."""
        kwargs = dict(kwargs or {})
        target = self._methods.get(name) if isinstance(name, str) else None
        if target is None:
            return _ERROR + f"name {name!r} is not defined"
        too_big = check_arguments({"positional": list(args), **{str(k): v for k, v in kwargs.items()}}, BFCL_LIMITS)
        if too_big is not None:
            return _ERROR + f"{name}: {too_big}"
        class_name, method = target
        try:
            bound: inspect.BoundArguments | None = inspect.signature(method).bind(*args, **kwargs)
        except (TypeError, ValueError):
            bound = None  # the call below raises Python's own TypeError, worded as bfcl-eval reports it
        refusal = _too_much_work(class_name, name, bound) if bound is not None else None
        if refusal is not None:
            return _ERROR + refusal
        try:
            dps = mpmath.mp.dps
            try:
                with decimal.localcontext():
                    result = method(*args, **kwargs)
            finally:
                mpmath.mp.dps = dps
            return _stringify(result)
        except Exception as exc:  # noqa: BLE001 - a simulator error is the model's result, as in bfcl-eval
            return _ERROR + str(exc)

    def execute(self, calls: Sequence[str]) -> list[str]:
        """Run call strings in order; one result string each."""
        return [self.execute_one(c) for c in calls]


class SessionRegistry:
    """bfcl-eval's executor signature, backed by one fresh :class:`SimulatorSession` per key.

    A key is (model name, test id, eval run or not), the identity bfcl-eval uses for its globals, but
    the sessions live in this object only: a new registry starts from scratch.
    """

    def __init__(self, api: BfclApi | None = None) -> None:
        self.api = api or load_bfcl()
        self.sessions: dict[tuple[str, str, bool], SimulatorSession] = {}

    def execute_multi_turn_func_call(
        self,
        func_call_list: list[str],
        initial_config: dict[str, Any],
        involved_classes: list[str],
        model_name: str,
        test_entry_id: str,
        long_context: bool = False,
        is_evaL_run: bool = False,  # noqa: N803 - bfcl-eval's parameter name
    ) -> tuple[list[str], dict[str, Any]]:
        key = (str(model_name), str(test_entry_id), bool(is_evaL_run))
        session = self.sessions.get(key)
        if session is None:
            session = SimulatorSession(involved_classes, initial_config, long_context=long_context, api=self.api)
            self.sessions[key] = session
        return session.execute(func_call_list), dict(session.instances)


def check_conversation(
    decoded_turns: list[list[list[str]]], entry: BfclEntry, api: BfclApi | None = None
) -> dict[str, Any]:
    """bfcl-eval's ``multi_turn_checker`` on decoded calls (turns → steps → call strings), run safely.

    Model and ground-truth calls execute in fresh sessions of a new :class:`SessionRegistry`; the
    checker's verdict dict is returned (``{"valid": True}`` or ``valid`` False with ``error_type``,
    ``error_message`` and details). A checker exception becomes an invalid verdict.
    """
    api = api or load_bfcl()
    registry = SessionRegistry(api)
    module = api.multi_turn_checker_module
    try:
        with _CHECK_LOCK, mock.patch.object(module, "execute_multi_turn_func_call", registry.execute_multi_turn_func_call):
            return api.multi_turn_checker(
                copy.deepcopy(decoded_turns),
                copy.deepcopy(entry.ground_truth),
                entry.test_entry(),
                entry.category,
                CHECKER_MODEL_NAME,
            )
    except Exception as exc:  # noqa: BLE001 - the checker on odd input: a failed entry, not a crash
        return {
            "valid": False,
            "error_type": "multi_turn:checker_exception",
            "error_message": f"{type(exc).__name__}: {exc}",
        }


class Conversation:
    """One multi-turn entry being generated, step by step (see the module docstring).

    Call :meth:`request` for the next prompt and :meth:`feed` with the model's completion until
    :attr:`done`. :attr:`turn_outputs` is the entry's result in bfcl-eval's layout (turns → raw step
    outputs); :attr:`inference_log` holds per step the decoded calls and the tool results.
    """

    def __init__(self, entry: BfclEntry, style: str, api: BfclApi | None = None) -> None:
        if not entry.is_multi_turn:
            raise ValueError(f"{entry.id} is not a multi-turn entry")
        self.api = api or load_bfcl()
        self.entry = entry
        self.style = style
        self.functions: list[dict[str, Any]] = copy.deepcopy(entry.functions)
        self.messages: list[dict[str, Any]] = []
        self.session = SimulatorSession(
            entry.involved_classes or [], entry.initial_config, long_context=entry.long_context, api=self.api
        )
        self.turn = -1
        self.step = 0
        self.turn_outputs: list[list[str]] = []
        self.inference_log: list[list[dict[str, Any]]] = []
        self.force_terminated = False
        self.done = False
        self._docs: list[dict[str, Any]] = []
        self._next_turn()

    def _next_turn(self) -> None:
        self.turn += 1
        self.step = 0
        if self.turn >= len(self.entry.question):
            self.done = True
            return
        messages = copy.deepcopy(self.entry.question[self.turn])
        held_out = (self.entry.missed_functions or {}).get(str(self.turn))
        if held_out is not None:
            self.functions.extend(copy.deepcopy(held_out))
            messages = [{"role": "user", "content": self.api.additional_function_prompt_fc}]
        self._docs = function_docs(self.functions, self.entry.category, self.api)
        self.messages.extend(messages)
        self.turn_outputs.append([])
        self.inference_log.append([])

    def request(self) -> GenerationRequest:
        """The prompt for the next step."""
        if self.done:
            raise RuntimeError(f"conversation {self.entry.id} is finished")
        return build_request(self.style, self._docs, self.messages)

    def feed(self, text: str) -> None:
        """Take the model's completion for the current step and advance (never raises on the text)."""
        if self.done:
            raise RuntimeError(f"conversation {self.entry.id} is finished")
        text = text if isinstance(text, str) else ""
        self.turn_outputs[-1].append(text)
        decoded = decode_output(text, self.style)
        calls = decoded.execute_form(self.api)
        self.messages.append(assistant_message(decoded))
        log: dict[str, Any] = {"decoded": calls, "decode_error": decoded.error}
        self.inference_log[-1].append(log)
        if calls is None or self.api.is_empty_execute_response(calls):
            self._next_turn()
            return
        results = self.session.execute(calls)
        log["results"] = results
        self.messages.extend({"role": "tool", "content": r} for r in results)
        self.step += 1
        if self.step > self.api.maximum_step_limit:
            self.force_terminated = True
            self.done = True

    def record(self) -> dict[str, Any]:
        """The result-file record of this entry (bfcl-eval's ``{"id", "result"}`` plus our log)."""
        return {
            "id": self.entry.id,
            "result": self.turn_outputs,
            "style": self.style,
            "force_terminated": self.force_terminated,
            "inference_log": self.inference_log,
        }
