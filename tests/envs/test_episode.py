"""The guard every tool call passes, the task record, the answer check and the outcome.

Hostile calls (unknown tool, missing / extra / wrong-typed arguments, a 10,000-digit integer, a 1 MB string,
deep nesting, a tool that raises, a huge result) must come back as short error strings and never raise,
through :meth:`Episode.call` (our evaluation loop) and through the tool methods themselves (as TRL calls them).
"""

from __future__ import annotations

import copy
import json
from typing import Any, ClassVar

import pytest

from rest_rl.envs import (
    BankEnv,
    CalendarEnv,
    FilesEnv,
    Limits,
    OrdersEnv,
    Task,
    ToolError,
    WorldEnv,
    answer_ok,
    environment_for,
    is_refusal,
    tool,
)

STATE = {"accounts": {"K42": {"owner": "Ann", "balance": 120}, "B07": {"owner": "Bob", "balance": 15}}}


def _task(**overrides: Any) -> Task:
    fields: dict[str, Any] = dict(
        id="t-1",
        domain="bank",
        template="pay",
        kind="action",
        request="Send 30 from Ann to Bob.",
        tools=("acct", "balance", "owner", "transfer"),
        state=STATE,
        final_state={"accounts": {"K42": {"owner": "Ann", "balance": 90}, "B07": {"owner": "Bob", "balance": 45}}},
        gold=(
            ({"name": "acct", "arguments": {"owner": "Ann"}}, {"name": "acct", "arguments": {"owner": "Bob"}}),
            ({"name": "transfer", "arguments": {"src": "K42", "dst": "B07", "amount": 30}},),
        ),
        answer="Sent 30 from Ann to Bob.",
    )
    fields.update(overrides)
    return Task(**fields)


@pytest.fixture
def env() -> BankEnv:
    env = BankEnv()
    env.reset(task=_task().to_json(), prompt=[{"role": "user", "content": "x"}], environment="bank")
    return env


def _error(result: str) -> str:
    assert isinstance(result, str) and len(result) <= 1024
    data = json.loads(result)
    assert set(data) == {"error"}, data
    return data["error"]


# ------------------------------------------------------------------------------------------------ normal calls


def test_a_call_returns_a_short_json_string_and_changes_the_state(env):
    assert env.episode.call("acct", {"owner": "Ann"}) == '{"id": "K42"}'
    assert env.acct(owner="bob") == '{"id": "B07"}'  # names match without case
    assert env.acct("Ann") == '{"id": "K42"}'  # positional, as a person would call it
    assert env.transfer(src="K42", dst="B07", amount=30) == '{"ok": true}'
    assert env.episode.state["accounts"]["K42"]["balance"] == 90
    assert env.episode.call("balance", '{"acct": "B07"}') == '{"balance": 45}'  # arguments as JSON text
    assert (env.episode.calls, env.episode.tool_errors, env.episode.invalid_calls) == (5, 0, 0)
    assert [r.name for r in env.episode.history] == ["acct", "acct", "acct", "transfer", "balance"]


def test_tool_errors_are_results_and_leave_the_state_alone(env):
    before = copy.deepcopy(env.episode.state)
    assert _error(env.transfer(src="K42", dst="B07", amount=500)) == "insufficient funds: K42 has 120"
    assert _error(env.transfer(src="K42", dst="K42", amount=5)) == "src and dst are the same account"
    assert _error(env.transfer(src="K42", dst="B07", amount=-5)) == "amount must be positive"
    assert _error(env.balance(acct="Z99")) == "no account Z99"
    assert _error(env.acct(owner="Zed")) == "no account for Zed"
    assert env.episode.state == before
    assert (env.episode.tool_errors, env.episode.invalid_calls, env.episode.crashes) == (5, 0, 0)


# ------------------------------------------------------------------------------------------------ hostile calls

HOSTILE_CALLS: list[tuple[Any, Any, str]] = [
    ("nope", {}, "unknown tool 'nope'; tools: acct, balance, owner, transfer"),
    (42, {}, "tool name must be a string, got integer"),
    (None, None, "tool name must be a string, got null"),
    ("x" * 100_000, {}, "tool name too long: 100000 characters > 64"),
    ("ls", {"folder": "inbox"}, "unknown tool 'ls'"),  # another domain's tool
    ("transfer", {"src": "K42", "dst": "B07"}, "missing argument 'amount'; transfer takes (src, dst, amount)"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": 1, "memo": "hi"}, "unexpected argument 'memo'"),
    ("acct", {"owner": "Ann", "self": 1}, "unexpected argument 'self'"),
    ("acct", {"owner": "Ann", "env": 1}, "unexpected argument 'env'"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": "30"}, "argument 'amount' must be an integer, got string '30'"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": 30.0}, "argument 'amount' must be an integer, got number"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": True}, "argument 'amount' must be an integer, got boolean"),
    ("acct", {"owner": ["Ann"]}, "argument 'owner' must be a string, got array"),
    ("acct", {"owner": None}, "argument 'owner' must be a string, got null"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": 10**10_000}, "integer too large in amount: 33220 bits > 63"),
    ("acct", {"owner": "A" * 1_000_000}, "string too long in owner: 1000000 characters > 256"),
    ("acct", {"owner": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": 1}}}}}}}}}, "nesting too deep"),
    ("acct", [["Ann"]], "arguments must be an object, got array"),
    ("acct", "Ann", "arguments are not valid JSON"),
    ("acct", '"Ann"', "arguments must be an object, got string"),
    ("acct", "{" * 100_000, "arguments too large"),
    ("acct", '{"owner": ' + "[" * 50 + "]" * 50 + "}", "nesting too deep in owner"),
    ("acct", 7, "arguments must be an object, got integer"),
    ("transfer", {"src": "K42", "dst": "B07", "amount": float("nan")}, "number in amount is not finite"),
    ("transfer", '{"src": "K42", "dst": "B07", "amount": Infinity}', "number in amount is not finite"),
    ("acct", {1: "Ann"}, "argument names must be strings, got integer"),
]


@pytest.mark.parametrize("name, arguments, message", HOSTILE_CALLS, ids=[str(i) for i in range(len(HOSTILE_CALLS))])
def test_hostile_calls_by_name_get_error_strings(env, name, arguments, message):
    before = copy.deepcopy(env.episode.state)
    result = env.episode.call(name, arguments)
    assert message in _error(result)
    assert env.episode.state == before
    assert (env.episode.calls, env.episode.tool_errors, env.episode.invalid_calls) == (1, 1, 1)
    record = env.episode.history[-1]
    assert record.error and record.arguments is None and len(record.name) <= 64


def test_hostile_direct_calls_as_trl_makes_them_never_raise(env):
    """TRL calls ``getattr(env, name)(**arguments)``: whatever the keys and values, a string comes back."""
    before = copy.deepcopy(env.episode.state)
    cases = [
        ({}, "missing argument 'src', 'dst', 'amount'"),
        ({"src": "K42", "dst": "B07", "amount": 5, "extra": 1}, "unexpected argument 'extra'"),
        ({"self": 1, "src": "K42", "dst": "B07", "amount": 5}, "unexpected argument 'self'"),
        ({"src": "K42", "dst": "B07", "amount": 10**10_000}, "integer too large"),
        ({"src": "K" * 1_000_000, "dst": "B07", "amount": 5}, "string too long in src"),
        ({"src": "K42", "dst": "B07", "amount": "5"}, "must be an integer"),
        ({"a b": 1}, "unexpected argument 'a b'"),
    ]
    for arguments, message in cases:
        assert message in _error(env.transfer(**arguments))
    assert "transfer takes 3 arguments, got 4" in _error(env.transfer("K42", "B07", 5, 6))
    assert "argument 'src' given twice" in _error(env.transfer("K42", src="K42", dst="B07", amount=1))
    assert env.episode.state == before
    assert env.episode.invalid_calls == len(cases) + 2


class _Faulty(BankEnv):
    """A bank whose extra tools misbehave (a tool raising, a tool returning a huge or odd result)."""

    limits: ClassVar[Limits] = Limits(max_result_chars=200, max_calls=10)

    @tool
    def boom(self, x: int) -> str:
        """Raise an exception.

        Args:
            x: Anything.
        """
        raise RuntimeError("kaboom " * 1000)

    @tool
    def huge(self, n: int) -> str:
        """Return a long text.

        Args:
            n: How long.
        """
        return "y" * n

    @tool
    def wordy(self, x: int) -> str:
        """Refuse at length.

        Args:
            x: Anything.
        """
        raise ToolError("no " * 500)

    @tool
    def odd(self, x: int) -> str:
        """Return a value JSON cannot hold.

        Args:
            x: Anything.
        """
        return {"bad": {1, 2}}  # type: ignore[return-value]


@pytest.fixture
def faulty() -> _Faulty:
    env = _Faulty()
    env.reset(task=_task(tools=("acct", "balance", "boom", "huge", "odd", "owner", "transfer", "wordy")))
    return env


def test_a_tool_that_raises_gives_an_error_result(faulty):
    message = _error(faulty.boom(x=1))
    assert message.startswith("tool boom failed: RuntimeError: 'kaboom kaboom")
    assert len(message) < 300
    assert _error(faulty.episode.call("odd", {"x": 1})).startswith("tool odd failed: TypeError")
    assert (faulty.episode.crashes, faulty.episode.tool_errors, faulty.episode.invalid_calls) == (2, 2, 0)


def test_a_long_tool_error_is_cut_inside_valid_json(faulty):
    result = faulty.wordy(x=1)
    assert len(result) <= 200 and _error(result).startswith("no no no") and _error(result).endswith("...")
    assert (faulty.episode.tool_errors, faulty.episode.invalid_calls, faulty.episode.crashes) == (1, 0, 0)


def test_huge_results_are_cut(faulty):
    out = faulty.huge(n=1_000_000)
    assert len(out) <= 200 and out.startswith("yyy") and out.endswith("chars]")
    assert faulty.huge(n=10) == "y" * 10


def test_the_call_budget_is_enforced(faulty):
    for _ in range(10):
        faulty.balance(acct="K42")
    assert "call budget spent" in _error(faulty.balance(acct="K42"))
    assert "call budget spent" in _error(faulty.episode.call("balance", {"acct": "K42"}))
    assert faulty.episode.calls == 12


def test_a_tool_not_offered_by_the_task_is_refused(faulty):
    faulty.reset(task=_task())  # this task offers only the four bank tools
    assert "tool boom is not available in this task" in _error(faulty.boom(x=1))
    assert "unknown tool 'boom'" in _error(faulty.episode.call("boom", {"x": 1}))
    assert faulty.episode.crashes == 0


def test_world_env_refuses_other_domains_tools():
    env = environment_for(_task(), world=True)
    assert isinstance(env, WorldEnv)
    assert "tool ls is not available in this task" in _error(env.ls(folder="inbox"))
    assert env.acct(owner="Ann") == '{"id": "K42"}'


def test_calls_before_reset_return_an_error_and_episode_says_why():
    env = BankEnv()
    assert "call reset" in _error(env.acct(owner="Ann"))
    with pytest.raises(RuntimeError, match="reset"):
        env.episode


def test_reset_starts_afresh(env):
    env.transfer(src="K42", dst="B07", amount=30)
    env.reset(task=_task())
    assert env.episode.state == STATE and env.episode.calls == 0 and env.episode.history == []


@pytest.mark.parametrize(
    "row, message",
    [
        ({}, "no 'task' column"),
        ({"task": "{not json"}, "not valid JSON"),
        ({"task": "[1, 2]"}, "must be an object"),
        ({"task": json.dumps({"id": "x"})}, "task is missing"),
        ({"task": 7}, "must be an object"),
    ],
)
def test_reset_rejects_bad_rows(row, message):
    with pytest.raises(ValueError, match=message):
        BankEnv().reset(**row)


def test_reset_rejects_a_task_of_another_domain():
    with pytest.raises(ValueError, match="BankEnv serves bank, not 'files' tasks"):
        BankEnv().reset(task=_task(domain="files"))
    with pytest.raises(ValueError, match="WorldEnv has no tool nope"):
        WorldEnv().reset(task=_task(tools=("ls", "nope")))


# ------------------------------------------------------------------------------------------------ domain tools


def test_orders_tools():
    state = {"orders": {"R521": {"customer": "Cal", "item": "lamp", "status": "placed"},
                        "R900": {"customer": "Dee", "item": "mug", "status": "shipped"}}}  # fmt: skip
    tools = ("cancel", "order", "refund", "status")
    env = environment_for(_task(domain="orders", tools=tools, state=state, final_state=state))
    assert isinstance(env, OrdersEnv)
    assert env.order(customer="Cal") == '{"id": "R521"}'
    assert env.status(order="R900") == '{"status": "shipped", "item": "mug"}'
    assert _error(env.cancel(order="R900")) == "order is shipped; only placed orders can be cancelled"
    assert _error(env.refund(order="R521")) == "order is placed; only delivered orders can be refunded"
    assert env.cancel(order="R521") == '{"ok": true}'
    assert env.episode.state["orders"]["R521"]["status"] == "cancelled"


def test_calendar_tools():
    state = {"events": {"gym": "06-14", "yoga": "06-15", "vet visit": "06-17"}}
    tools = ("add", "find", "free", "move")
    env = environment_for(_task(domain="calendar", tools=tools, state=state, final_state=state))
    assert isinstance(env, CalendarEnv)
    assert env.free(after="06-13") == '{"date": "06-16"}'
    assert env.free(after="06-15") == '{"date": "06-16"}'
    assert env.free(after="12-31") == '{"error": "no free day after 12-31 this year"}'
    assert env.find(title="Vet  Visit") == '{"date": "06-17"}'
    for bad in ("6-14", "06-31", "2025-06-14", "13-01", ""):
        assert _error(env.free(after=bad)).startswith("bad date")
    assert _error(env.add(date="06-20", title="GYM")) == "there is already an event GYM"
    assert _error(env.add(date="06-20", title="   ")) == "title is empty"
    assert env.add(date="06-20", title="piano") == '{"ok": true}'
    assert env.move(title="gym", date="06-21") == '{"ok": true}'
    assert env.episode.state["events"] == {"gym": "06-21", "yoga": "06-15", "vet visit": "06-17", "piano": "06-20"}


def test_files_tools():
    state = {"folders": ["inbox", "docs"], "files": {"inbox/a1.txt": "rent is due", "docs/b2.txt": "lunch at noon"}}
    env = environment_for(_task(domain="files", tools=("ls", "mv", "read", "rm"), state=state, final_state=state))
    assert isinstance(env, FilesEnv)
    assert env.ls(folder="inbox/") == '{"files": ["a1.txt"]}'
    assert _error(env.ls(folder="trash")) == "no folder trash; folders: inbox, docs"
    assert env.read(path="inbox/a1.txt") == '{"text": "rent is due"}'
    assert _error(env.read(path="a1.txt")) == "no file a1.txt (use folder/name)"
    assert _error(env.mv(path="inbox/a1.txt", folder="inbox")) == "inbox/a1.txt is already in inbox"
    assert env.mv(path="inbox/a1.txt", folder="docs") == '{"path": "docs/a1.txt"}'
    assert env.rm(path="docs/b2.txt") == '{"ok": true}'
    assert env.episode.state["files"] == {"docs/a1.txt": "rent is due"}


# ------------------------------------------------------------------------------------------------ record, verdict


def test_task_round_trips_through_json_and_rejects_malformed_records():
    task = _task()
    assert Task.from_json(task.to_json()) == task
    assert Task.coerce(task.to_dict()) == task and Task.coerce(task) is task
    assert task.composition == ("bank", "pay") and len(task.gold_calls) == 3
    for bad, message in [
        (dict(kind="maybe"), "kind"),
        (dict(tools=()), "tools"),
        (dict(gold=((),)), "gold turn"),
        (dict(gold=(({"name": "acct"},),)), "gold call"),
        (dict(state={"x": {1, 2}}), "not JSON"),
        (dict(expect=("",)), "expect"),
        (dict(request=None), "request"),
    ]:
        with pytest.raises(ValueError, match=message):
            _task(**bad)


@pytest.mark.parametrize(
    "kind, expect, answer, ok",
    [
        ("info", ("120",), "Ann has 120.", True),
        ("info", ("120",), "ANN HAS 120 left", True),
        ("info", ("120",), "Ann has 1200.", False),
        ("info", ("120",), "Ann has 12.", False),
        ("info", ("120",), "I cannot say, maybe 120.", False),
        ("info", ("lunch at noon",), "It says:  Lunch at\nnoon.", True),
        ("info", ("06-17",), "You are free on 06-17.", True),
        ("action", (), "Done.", True),
        ("action", (), "", False),
        ("action", (), "   ", False),
        ("action", (), "Sorry, I can't.", False),
        ("action", ("Bob",), "Sent 30 to Bob.", True),
        ("action", ("Bob",), "Sent 30 to Bobby.", False),
        ("refuse", (), "Sorry, I cannot: Ann has only 20.", True),
        ("refuse", (), "I am unable to do that.", True),
        ("refuse", (), "That is not possible.", True),
        ("refuse", (), "Done.", False),
        ("refuse", (), None, False),
        ("refuse", (), ["cannot"], False),
    ],
)
def test_answer_check(kind, expect, answer, ok):
    assert answer_ok(_task(kind=kind, expect=expect), answer) is ok


def test_refusal_markers_are_whole_words():
    assert is_refusal("I can't do it") and is_refusal("Impossible.")
    assert not is_refusal("the cannotation") and not is_refusal("unableness")
    assert not is_refusal("You can note that.")


def test_outcome_needs_the_state_and_the_answer(env):
    for call in env.episode.task.gold_calls:
        env.episode.call(call["name"], call["arguments"])
    outcome = env.episode.outcome("Sent 30 from Ann to Bob.")
    assert outcome.success and outcome.reward == 1.0 and outcome.detail == ""
    assert outcome.calls == 3 and outcome.tool_errors == 0
    bad = env.episode.outcome("Sorry, I cannot.")
    assert bad.state_ok and not bad.answer_ok and not bad.success and bad.reward == 0.0
    env.transfer(src="B07", dst="K42", amount=1)
    wrong = env.episode.outcome("Sent 30 from Ann to Bob.")
    assert not wrong.state_ok and wrong.detail == "state: accounts.B07.balance is 44, expected 45"
    env.transfer(src="K42", dst="B07", amount=1)  # undone: the state is what counts, not the calls
    assert env.episode.success("Sent 30 from Ann to Bob.")
