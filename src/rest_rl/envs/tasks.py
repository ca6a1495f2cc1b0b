"""Tasks of the synthetic multi-turn world: templates, seeded generation, held-out-composition splits,
and the dataset rows TRL trains on.

Every domain (:mod:`rest_rl.envs.world`) has 6-8 *templates*. A template fixes the task's shape: the
request, the tool calls of the gold trajectory turn by turn, and the kind (``action``, ``info``, or
``refuse`` = no valid action). The values (names, ids, balances, dates, file names and texts) are drawn
per task from a seeded RNG. Possible tasks take 2-4 calls over 2-3 assistant turns, and a later call's
arguments (an id, a balance, a date, a path) are read from an earlier tool *result*. Several ``refuse``
templates use the very request of a possible one (``overdraw`` is ``pay`` with too little money,
``empty`` is ``move_one`` with an empty folder), so only the tool results tell the model that the right
final answer is "I cannot" and that nothing may change.

Splits hold out *compositions*: ``(domain, template)`` pairs. Per domain, ``heldout_per_domain``
templates go to ``test`` and as many others to ``validation`` (or validation draws fresh tasks of the
train compositions, ``heldout_validation=False``); a template is held out only if the train templates
that remain still use every tool it uses and keep every kind, so a held-out task is a new combination of
seen parts. Tasks are de-duplicated within and across splits; everything is deterministic in the config.

    splits = make_tasks(TaskConfig(n_train=2000, seed=0))
    rows = [to_grpo_row(t) for t in splits["train"]]            # GRPOTrainer(environment_factory=...)
    sft = [to_sft_example(t) for t in splits["train"]]          # {"messages", "tools"} for SFTTrainer
"""

from __future__ import annotations

import datetime as _dt
import itertools
import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rest_rl.envs.episode import KINDS, Task, ToolEnv, tool_names, tool_schema
from rest_rl.envs.world import DOMAIN_TOOLS, DOMAINS, ENVIRONMENTS, YEAR, WorldEnv, environment_for
from rest_rl.errors import ConfigError
from rest_rl.rewards import match_fraction
from rest_rl.toolcall.types import ToolCall

__all__ = [
    "SPLITS",
    "TEMPLATES",
    "TaskConfig",
    "agent_reward_funcs",
    "calls_reward",
    "compositions",
    "final_answer",
    "generate_task",
    "gold_messages",
    "heldout_compositions",
    "make_tasks",
    "outcome_reward",
    "replay",
    "to_grpo_row",
    "to_sft_example",
    "tool_error_penalty",
    "tool_schemas",
]

SPLITS = ("train", "validation", "test")

_NAMES = (
    "Ann", "Bob", "Cal", "Dee", "Eve", "Fay", "Gus", "Hal", "Ivy", "Joe", "Kim", "Lou",
    "Max", "Ned", "Oli", "Pam", "Ray", "Sue", "Tom", "Uma", "Val", "Wes", "Yan", "Zoe",
)  # fmt: skip
_ITEMS = ("lamp", "mug", "desk", "chair", "kettle", "scarf", "tent", "clock", "radio", "vase", "rug", "fan")
_TITLES = (
    "gym", "dentist", "standup", "lunch", "yoga", "haircut", "review", "piano", "doctor", "dinner",
    "book club", "vet visit",
)  # fmt: skip
_FOLDERS = ("inbox", "docs", "archive", "trash")
# (key word, file text): every key word occurs in its own text only
_TEXTS = (
    ("invoice", "invoice for March"), ("lunch", "lunch at noon"), ("trip", "trip to Rome"),
    ("budget", "notes on the budget"), ("vet", "call the vet"), ("party", "party on Friday"),
    ("report", "weekly report draft"), ("rent", "rent is due"), ("recipe", "recipe for soup"),
    ("tickets", "tickets for the show"), ("meeting", "meeting moved to 3"), ("gift", "gift ideas"),
)  # fmt: skip
_ID_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_CANNOT = "Sorry, I cannot do that with the tools I have."


# ------------------------------------------------------------------------------------------------ config


@dataclass
class TaskConfig:
    """Knobs of task generation and splitting. Same config, same tasks."""

    seed: int = field(default=0, metadata={"help": "Seed of the held-out choice and of every split's draw."})
    domains: tuple[str, ...] = field(
        default=DOMAINS, metadata={"help": "Domains to draw tasks from (bank, orders, calendar, files)."}
    )
    n_train: int = field(default=2000, metadata={"help": "Tasks in the train split."})
    n_validation: int = field(default=200, metadata={"help": "Tasks in the validation split."})
    n_test: int = field(default=200, metadata={"help": "Tasks in the test split."})
    heldout_per_domain: int = field(
        default=1,
        metadata={
            "help": "Possible (action/info) templates per domain held out for test (and as many for validation)."
        },
    )
    heldout_refuse_per_domain: int = field(
        default=1,
        metadata={"help": "No-valid-action templates per domain held out for test (and as many for validation)."},
    )
    heldout_validation: bool = field(
        default=True,
        metadata={
            "help": "True: validation has its own held-out compositions; False: validation draws new tasks "
            "of the train compositions (in distribution)."
        },
    )
    refuse_share: float = field(
        default=0.25,
        metadata={"help": "Share of tasks drawn from no-valid-action templates, when a split has both kinds."},
    )
    test_compositions: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "Pin the test compositions ('domain/template', ...) instead of drawing them."},
    )
    validation_compositions: tuple[str, ...] | None = field(
        default=None,
        metadata={"help": "Pin the held-out validation compositions ('domain/template', ...)."},
    )

    def __post_init__(self) -> None:
        self.domains = tuple(self.domains)
        if not self.domains or len(set(self.domains)) != len(self.domains):
            raise ConfigError("domains must be a non-empty list without repeats")
        unknown = [d for d in self.domains if d not in DOMAINS]
        if unknown:
            raise ConfigError(f"unknown domains {unknown}; domains: {', '.join(DOMAINS)}")
        for name in ("n_train", "n_validation", "n_test", "heldout_per_domain", "heldout_refuse_per_domain"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0, got {value!r}")
        if not 0.0 <= self.refuse_share <= 1.0:
            raise ConfigError(f"refuse_share must be in [0, 1], got {self.refuse_share}")
        for name in ("test_compositions", "validation_compositions"):
            value = getattr(self, name)
            if value is None:
                continue
            value = tuple(value)
            setattr(self, name, value)
            for key in value:
                domain, _, template = key.partition("/")
                if (domain, template) not in TEMPLATES:
                    raise ConfigError(f"{name}: unknown composition {key!r} (write 'domain/template')")


# ------------------------------------------------------------------------------------------------ templates


@dataclass(frozen=True)
class _Draft:
    request: str
    state: dict[str, Any]
    final_state: dict[str, Any]
    gold: list[list[dict[str, Any]]]
    answer: str
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Template:
    domain: str
    name: str
    kind: str
    uses: frozenset[str]  # tools its gold calls
    build: Callable[[random.Random], _Draft]


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _ids(rng: random.Random, n: int, suffix: str = "", digits: int = 2) -> list[str]:
    seen: set[str] = set()
    while len(seen) < n:
        seen.add(rng.choice(_ID_LETTERS) + str(rng.randrange(10 ** (digits - 1), 10**digits)) + suffix)
    out = sorted(seen)
    rng.shuffle(out)
    return out


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(state))


# -- bank


def _bank(rng: random.Random, n: int = 3) -> tuple[list[str], list[str], dict[str, Any]]:
    owners = rng.sample(_NAMES, n)
    ids = _ids(rng, n)
    accounts = {i: {"owner": o, "balance": rng.randrange(2, 61) * 5} for i, o in zip(ids, owners)}
    return owners, ids, {"accounts": accounts}


def _bank_balance(rng: random.Random) -> _Draft:
    owners, ids, state = _bank(rng)
    a, ia = owners[0], ids[0]
    bal = state["accounts"][ia]["balance"]
    request = rng.choice(("What is {a}'s balance?", "How much money does {a} have?", "Check {a}'s balance."))
    return _Draft(
        request.format(a=a), state, _copy(state), [[_call("acct", owner=a)], [_call("balance", acct=ia)]],
        f"{a} has {bal}.", (str(bal),),
    )  # fmt: skip


def _pay_request(rng: random.Random, a: str, b: str, x: int) -> str:
    phrasings = (
        "Send {x} from {a} to {b}.", "Transfer {x} from {a}'s account to {b}.", "Pay {b} {x} from {a}'s account.",
    )  # fmt: skip
    return rng.choice(phrasings).format(a=a, b=b, x=x)


def _bank_pay(rng: random.Random) -> _Draft:
    owners, ids, state = _bank(rng)
    (a, b), (ia, ib) = owners[:2], ids[:2]
    x = rng.randrange(1, state["accounts"][ia]["balance"] // 5 + 1) * 5
    final = _copy(state)
    final["accounts"][ia]["balance"] -= x
    final["accounts"][ib]["balance"] += x
    gold = [[_call("acct", owner=a), _call("acct", owner=b)], [_call("transfer", src=ia, dst=ib, amount=x)]]
    return _Draft(_pay_request(rng, a, b, x), state, final, gold, f"Sent {x} from {a} to {b}.")


def _bank_pay_all(rng: random.Random) -> _Draft:
    owners, ids, state = _bank(rng)
    (a, b), (ia, ib) = owners[:2], ids[:2]
    bal = state["accounts"][ia]["balance"]
    final = _copy(state)
    final["accounts"][ia]["balance"] = 0
    final["accounts"][ib]["balance"] += bal
    request = rng.choice(
        ("Move all of {a}'s money to {b}.", "Send {b} everything {a} has.", "Empty {a}'s account into {b}'s.")
    )
    gold = [
        [_call("acct", owner=a), _call("acct", owner=b)],
        [_call("balance", acct=ia)],
        [_call("transfer", src=ia, dst=ib, amount=bal)],
    ]
    return _Draft(request.format(a=a, b=b), state, final, gold, f"Moved {bal} from {a} to {b}.")


def _bank_pay_owner(rng: random.Random) -> _Draft:
    owners, ids, state = _bank(rng)
    (a, b), (ia, ib) = owners[:2], ids[:2]
    x = rng.randrange(1, state["accounts"][ia]["balance"] // 5 + 1) * 5
    final = _copy(state)
    final["accounts"][ia]["balance"] -= x
    final["accounts"][ib]["balance"] += x
    request = rng.choice((
        "Send {x} from {a} to the owner of account {ib}, and tell me who that is.",
        "Who owns account {ib}? Pay them {x} from {a}'s account.",
    ))  # fmt: skip
    gold = [[_call("acct", owner=a), _call("owner", acct=ib)], [_call("transfer", src=ia, dst=ib, amount=x)]]
    return _Draft(request.format(a=a, ib=ib, x=x), state, final, gold, f"Sent {x} to {b}.", (b,))


def _bank_overdraw(rng: random.Random) -> _Draft:
    owners, ids, state = _bank(rng)
    (a, b), (ia, ib) = owners[:2], ids[:2]
    bal = state["accounts"][ia]["balance"]
    x = bal + rng.randrange(1, 21) * 5
    gold = [[_call("acct", owner=a), _call("acct", owner=b)], [_call("transfer", src=ia, dst=ib, amount=x)]]
    return _Draft(_pay_request(rng, a, b, x), state, _copy(state), gold, f"Sorry, I cannot: {a} has only {bal}.")


def _bank_no_account(rng: random.Random) -> _Draft:
    owners, _, state = _bank(rng)
    z = rng.choice([n for n in _NAMES if n not in owners])
    request = rng.choice(("What is {a}'s balance?", "How much money does {a} have?", "Check {a}'s balance."))
    return _Draft(
        request.format(a=z), state, _copy(state), [[_call("acct", owner=z)]], f"Sorry, I cannot: {z} has no account."
    )


def _bank_unsupported(rng: random.Random) -> _Draft:
    owners, _, state = _bank(rng)
    request = rng.choice(("Close {a}'s account.", "Open a second account for {a}.", "Lend {a} 100 until Friday."))
    return _Draft(request.format(a=owners[0]), state, _copy(state), [], _CANNOT)


# -- orders


def _orders(rng: random.Random, statuses: Sequence[str]) -> tuple[list[str], list[str], dict[str, Any]]:
    customers = rng.sample(_NAMES, 3)
    ids = _ids(rng, 3, digits=3)
    items = rng.sample(_ITEMS, 3)
    rest = [rng.choice(("placed", "shipped", "delivered")) for _ in range(3 - len(statuses))]
    status = list(statuses) + rest
    orders = {i: {"customer": c, "item": it, "status": s} for i, c, it, s in zip(ids, customers, items, status)}
    return customers, ids, {"orders": orders}


def _orders_status(rng: random.Random) -> _Draft:
    customers, ids, state = _orders(rng, [rng.choice(("placed", "shipped", "delivered"))])
    c, i = customers[0], ids[0]
    status = state["orders"][i]["status"]
    request = rng.choice(("Where is {c}'s order?", "What is the status of {c}'s order?"))
    return _Draft(
        request.format(c=c), state, _copy(state), [[_call("order", customer=c)], [_call("status", order=i)]],
        f"{c}'s order is {status}.", (status,),
    )  # fmt: skip


def _orders_item(rng: random.Random) -> _Draft:
    customers, ids, state = _orders(rng, [])
    c, i = customers[0], ids[0]
    item = state["orders"][i]["item"]
    request = rng.choice(("What did {c} order?", "Which item did {c} buy?"))
    return _Draft(
        request.format(c=c), state, _copy(state), [[_call("order", customer=c)], [_call("status", order=i)]],
        f"{c} ordered a {item}.", (item,),
    )  # fmt: skip


def _cancel_request(rng: random.Random, c: str) -> str:
    return rng.choice(("Cancel {c}'s order.", "Please cancel the order of {c}.")).format(c=c)


def _orders_change(rng: random.Random, action: str) -> _Draft:
    status = "placed" if action == "cancel" else "delivered"
    customers, ids, state = _orders(rng, [status])
    c, i = customers[0], ids[0]
    final = _copy(state)
    final["orders"][i]["status"] = "cancelled" if action == "cancel" else "refunded"
    if action == "cancel":
        request, answer = _cancel_request(rng, c), f"Cancelled {c}'s order."
    else:
        request = rng.choice(("Refund {c}'s order.", "Give {c} a refund for the order.")).format(c=c)
        answer = f"Refunded {c}'s order."
    return _Draft(request, state, final, [[_call("order", customer=c)], [_call(action, order=i)]], answer)


def _orders_undo(rng: random.Random) -> _Draft:
    status = rng.choice(("placed", "delivered"))
    customers, ids, state = _orders(rng, [status])
    c, i = customers[0], ids[0]
    action = "cancel" if status == "placed" else "refund"
    final = _copy(state)
    final["orders"][i]["status"] = "cancelled" if action == "cancel" else "refunded"
    request = rng.choice((
        "{c} wants their money back: cancel the order if it has not shipped, refund it if it was delivered.",
        "Undo {c}'s order: cancel it if it is only placed, or refund it if it is delivered.",
    ))  # fmt: skip
    gold = [[_call("order", customer=c)], [_call("status", order=i)], [_call(action, order=i)]]
    answer = f"Cancelled {c}'s order." if action == "cancel" else f"Refunded {c}'s order."
    return _Draft(request.format(c=c), state, final, gold, answer)


def _orders_too_late(rng: random.Random) -> _Draft:
    status = rng.choice(("shipped", "delivered"))
    customers, ids, state = _orders(rng, [status])
    c, i = customers[0], ids[0]
    gold = [[_call("order", customer=c)], [_call("cancel", order=i)]]
    answer = f"Sorry, I cannot: the order is already {status}."
    return _Draft(_cancel_request(rng, c), state, _copy(state), gold, answer)


def _orders_no_order(rng: random.Random) -> _Draft:
    customers, _, state = _orders(rng, [])
    z = rng.choice([n for n in _NAMES if n not in customers])
    request = rng.choice(("Where is {c}'s order?", "What is the status of {c}'s order?"))
    return _Draft(
        request.format(c=z), state, _copy(state), [[_call("order", customer=z)]], f"Sorry, I cannot: {z} has no order."
    )


def _orders_unsupported(rng: random.Random) -> _Draft:
    customers, _, state = _orders(rng, [])
    request = rng.choice(
        ("Change the address of {c}'s order.", "Speed up {c}'s delivery.", "Add a gift note to {c}'s order.")
    )
    return _Draft(request.format(c=customers[0]), state, _copy(state), [], _CANNOT)


# -- calendar


def _date(day: _dt.date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


def _calendar(rng: random.Random, n: int = 5) -> tuple[list[str], dict[str, Any], int]:
    month = rng.randrange(1, 12)
    days: set[int] = set()
    while len(days) < n:  # runs of busy days, so the first free day is often not the next one
        start = rng.randrange(1, 25)
        days.update(range(start, start + rng.randrange(1, 4)))
    chosen = sorted(days)[:n]
    titles = rng.sample(_TITLES, n)
    rng.shuffle(chosen)
    events = {t: _date(_dt.date(YEAR, month, d)) for t, d in zip(titles, chosen)}
    return titles, {"events": events}, month


def _first_free(events: Mapping[str, str], after: str) -> str:
    busy = set(events.values())
    day = _dt.date(YEAR, int(after[:2]), int(after[3:]))
    while True:
        day += _dt.timedelta(days=1)
        if _date(day) not in busy:
            return _date(day)


def _new_title(rng: random.Random, titles: Sequence[str]) -> str:
    return rng.choice([t for t in _TITLES if t not in titles])


def _calendar_book(rng: random.Random, *, duplicate: bool = False) -> _Draft:
    titles, state, month = _calendar(rng)
    t = titles[-1] if duplicate else _new_title(rng, titles)
    after = rng.choice([*state["events"].values(), _date(_dt.date(YEAR, month, rng.randrange(1, 26)))])
    free = _first_free(state["events"], after)
    request = rng.choice(("Book {t} on the first free day after {d}.", "Put {t} on my first free day after {d}."))
    gold = [[_call("free", after=after)], [_call("add", date=free, title=t)]]
    if duplicate:  # add refuses a second event of the same title
        answer = f"Sorry, I cannot: you already have {t} on {state['events'][t]}."
        return _Draft(request.format(t=t, d=after), state, _copy(state), gold, answer)
    final = _copy(state)
    final["events"][t] = free
    return _Draft(request.format(t=t, d=after), state, final, gold, f"Booked {t} on {free}.")


def _calendar_when_free(rng: random.Random) -> _Draft:
    titles, state, _ = _calendar(rng)
    e = titles[0]
    free = _first_free(state["events"], state["events"][e])
    request = rng.choice(("What is the first free day after my {e}?", "When am I free after my {e}?"))
    gold = [[_call("find", title=e)], [_call("free", after=state["events"][e])]]
    return _Draft(request.format(e=e), state, _copy(state), gold, f"You are free on {free}.", (free,))


def _move_request(rng: random.Random, e: str) -> str:
    return rng.choice(("Move my {e} to the first free day after it.", "Push my {e} to the next free day.")).format(e=e)


def _calendar_move(rng: random.Random) -> _Draft:
    titles, state, _ = _calendar(rng)
    e = titles[0]
    free = _first_free(state["events"], state["events"][e])
    final = _copy(state)
    final["events"][e] = free
    gold = [[_call("find", title=e)], [_call("free", after=state["events"][e])], [_call("move", title=e, date=free)]]
    return _Draft(_move_request(rng, e), state, final, gold, f"Moved {e} to {free}.")


def _calendar_same_day(rng: random.Random) -> _Draft:
    titles, state, _ = _calendar(rng)
    e, t = titles[0], _new_title(rng, titles)
    final = _copy(state)
    final["events"][t] = state["events"][e]
    request = rng.choice(("Book {t} on the same day as my {e}.", "Add {t} on the day of my {e}."))
    gold = [[_call("find", title=e)], [_call("add", date=state["events"][e], title=t)]]
    return _Draft(request.format(t=t, e=e), state, final, gold, f"Booked {t} on {state['events'][e]}.")


def _calendar_no_event(rng: random.Random) -> _Draft:
    titles, state, _ = _calendar(rng)
    t = _new_title(rng, titles)
    gold = [[_call("find", title=t)]]
    answer = f"Sorry, I cannot: there is no {t} in your calendar."
    return _Draft(_move_request(rng, t), state, _copy(state), gold, answer)


def _calendar_unsupported(rng: random.Random) -> _Draft:
    titles, state, _ = _calendar(rng)
    request = rng.choice(("Invite {a} to my {e}.", "Make my {e} repeat every week.", "Set an alarm before my {e}."))
    return _Draft(request.format(a=rng.choice(_NAMES), e=titles[0]), state, _copy(state), [], _CANNOT)


# -- files


def _files(
    rng: random.Random, src_count: int, texts: Sequence[tuple[str, str]] = ()
) -> tuple[str, str, list[str], dict[str, Any]]:
    """A file tree whose folder ``src`` holds ``src_count`` files (texts given or drawn); ``dst`` differs."""
    src, dst = rng.sample(_FOLDERS, 2)
    pool = [t for t in _TEXTS if t not in texts]
    rng.shuffle(pool)
    chosen_texts = list(texts) + pool[: src_count - len(texts)]
    other = [f for f in _FOLDERS if f != src]
    extra = rng.randrange(0, 4)
    names = _ids(rng, src_count + extra, suffix=".txt", digits=1)
    files: dict[str, str] = {}
    src_names = names[:src_count]
    for name, (_, text) in zip(src_names, chosen_texts):
        files[f"{src}/{name}"] = text
    for name in names[src_count:]:
        files[f"{rng.choice(other)}/{name}"] = rng.choice(pool[src_count:] or _TEXTS)[1]
    return src, dst, sorted(src_names), {"folders": list(_FOLDERS), "files": files}


def _move_one_request(rng: random.Random, src: str, dst: str) -> str:
    return rng.choice(("Move the file in {s} to {d}.", "Put the file from {s} into {d}.")).format(s=src, d=dst)


def _files_move_one(rng: random.Random) -> _Draft:
    src, dst, (name,), state = _files(rng, 1)
    final = _copy(state)
    final["files"][f"{dst}/{name}"] = final["files"].pop(f"{src}/{name}")
    gold = [[_call("ls", folder=src)], [_call("mv", path=f"{src}/{name}", folder=dst)]]
    return _Draft(_move_one_request(rng, src, dst), state, final, gold, f"Moved {name} to {dst}.")


def _files_read_one(rng: random.Random) -> _Draft:
    src, _, (name,), state = _files(rng, 1)
    text = state["files"][f"{src}/{name}"]
    request = rng.choice(("What does the file in {s} say?", "Read me the file in {s}."))
    gold = [[_call("ls", folder=src)], [_call("read", path=f"{src}/{name}")]]
    return _Draft(request.format(s=src), state, _copy(state), gold, f"It says: {text}.", (text,))


def _files_delete_one(rng: random.Random) -> _Draft:
    src, _, (name,), state = _files(rng, 1)
    final = _copy(state)
    del final["files"][f"{src}/{name}"]
    request = rng.choice(("Delete the file in {s}.", "Remove the file from {s}."))
    gold = [[_call("ls", folder=src)], [_call("rm", path=f"{src}/{name}")]]
    return _Draft(request.format(s=src), state, final, gold, f"Deleted {name}.")


def _by_word(rng: random.Random, *, match: bool) -> tuple[str, str, list[str], dict[str, Any], str, str | None]:
    texts = rng.sample(_TEXTS, 3)
    src, dst, names, state = _files(rng, 2, texts[:2])
    word = texts[0][0] if match else texts[2][0]
    hit = next((n for n in names if word in state["files"][f"{src}/{n}"].split()), None)
    return src, dst, names, state, word, hit


def _files_word(rng: random.Random, action: str) -> _Draft:
    src, dst, names, state, word, hit = _by_word(rng, match=True)
    assert hit is not None
    final = _copy(state)
    if action == "mv":
        final["files"][f"{dst}/{hit}"] = final["files"].pop(f"{src}/{hit}")
        request = rng.choice(
            ("Move the file in {s} that mentions {w} to {d}.", "In {s}, find the {w} file and move it to {d}.")
        )
        last, answer = _call("mv", path=f"{src}/{hit}", folder=dst), f"Moved {hit} to {dst}."
    else:
        del final["files"][f"{src}/{hit}"]
        request = _delete_word_request(rng)
        last, answer = _call("rm", path=f"{src}/{hit}"), f"Deleted {hit}."
    gold = [[_call("ls", folder=src)], [_call("read", path=f"{src}/{n}") for n in names], [last]]
    return _Draft(request.format(s=src, w=word, d=dst), state, final, gold, answer)


def _delete_word_request(rng: random.Random) -> str:
    return rng.choice(("Delete the file in {s} that mentions {w}.", "In {s}, remove the {w} file."))


def _files_empty(rng: random.Random) -> _Draft:
    src, dst, _, state = _files(rng, 0)
    gold = [[_call("ls", folder=src)]]
    return _Draft(_move_one_request(rng, src, dst), state, _copy(state), gold, f"Sorry, I cannot: {src} is empty.")


def _files_no_match(rng: random.Random) -> _Draft:
    src, _, names, state, word, _ = _by_word(rng, match=False)
    gold = [[_call("ls", folder=src)], [_call("read", path=f"{src}/{n}") for n in names]]
    answer = f"Sorry, I cannot: no file in {src} mentions {word}."
    return _Draft(_delete_word_request(rng).format(s=src, w=word), state, _copy(state), gold, answer)


def _files_unsupported(rng: random.Random) -> _Draft:
    src, _, _, state = _files(rng, 1)
    request = rng.choice(("Email the file in {s} to {a}.", "Print the file in {s}.", "Share the file in {s} with {a}."))
    return _Draft(request.format(s=src, a=rng.choice(_NAMES)), state, _copy(state), [], _CANNOT)


def _t(domain: str, name: str, kind: str, uses: str, build: Callable[[random.Random], _Draft]) -> _Template:
    return _Template(domain, name, kind, frozenset(uses.split()), build)


#: Every template, keyed by its composition ``(domain, template)``.
TEMPLATES: dict[tuple[str, str], _Template] = {
    (t.domain, t.name): t
    for t in (
        _t("bank", "balance", "info", "acct balance", _bank_balance),
        _t("bank", "pay", "action", "acct transfer", _bank_pay),
        _t("bank", "pay_all", "action", "acct balance transfer", _bank_pay_all),
        _t("bank", "pay_owner", "action", "acct owner transfer", _bank_pay_owner),
        _t("bank", "overdraw", "refuse", "acct transfer", _bank_overdraw),
        _t("bank", "no_account", "refuse", "acct", _bank_no_account),
        _t("bank", "unsupported", "refuse", "", _bank_unsupported),
        _t("orders", "status", "info", "order status", _orders_status),
        _t("orders", "item", "info", "order status", _orders_item),
        _t("orders", "cancel", "action", "order cancel", lambda rng: _orders_change(rng, "cancel")),
        _t("orders", "refund", "action", "order refund", lambda rng: _orders_change(rng, "refund")),
        _t("orders", "undo", "action", "order status cancel refund", _orders_undo),
        _t("orders", "too_late", "refuse", "order cancel", _orders_too_late),
        _t("orders", "no_order", "refuse", "order", _orders_no_order),
        _t("orders", "unsupported", "refuse", "", _orders_unsupported),
        _t("calendar", "book", "action", "free add", _calendar_book),
        _t("calendar", "when_free", "info", "find free", _calendar_when_free),
        _t("calendar", "move", "action", "find free move", _calendar_move),
        _t("calendar", "same_day", "action", "find add", _calendar_same_day),
        _t("calendar", "no_event", "refuse", "find", _calendar_no_event),
        _t("calendar", "duplicate", "refuse", "free add", lambda rng: _calendar_book(rng, duplicate=True)),
        _t("calendar", "unsupported", "refuse", "", _calendar_unsupported),
        _t("files", "move_one", "action", "ls mv", _files_move_one),
        _t("files", "read_one", "info", "ls read", _files_read_one),
        _t("files", "delete_one", "action", "ls rm", _files_delete_one),
        _t("files", "move_word", "action", "ls read mv", lambda rng: _files_word(rng, "mv")),
        _t("files", "delete_word", "action", "ls read rm", lambda rng: _files_word(rng, "rm")),
        _t("files", "empty", "refuse", "ls", _files_empty),
        _t("files", "no_match", "refuse", "ls read", _files_no_match),
        _t("files", "unsupported", "refuse", "", _files_unsupported),
    )
}


# ------------------------------------------------------------------------------------------------ generation


def generate_task(composition: tuple[str, str], rng: random.Random, task_id: str = "envs-0") -> Task:
    """One task of ``composition`` (``(domain, template)``) drawn with ``rng``."""
    template = TEMPLATES.get(tuple(composition))  # type: ignore[arg-type]
    if template is None:
        raise ValueError(f"unknown composition {composition!r}")
    draft = template.build(rng)
    return Task(
        id=task_id,
        domain=template.domain,
        template=template.name,
        kind=template.kind,
        request=draft.request,
        tools=DOMAIN_TOOLS[template.domain],
        state=draft.state,
        final_state=draft.final_state,
        gold=tuple(tuple(turn) for turn in draft.gold),
        answer=draft.answer,
        expect=draft.expect,
    )


def compositions(domains: Sequence[str] = DOMAINS) -> list[tuple[str, str]]:
    """All compositions of ``domains``, in table order."""
    return [key for key in TEMPLATES if key[0] in domains]


def _covered(train: Sequence[_Template], held: Sequence[_Template]) -> bool:
    tools = frozenset().union(*(t.uses for t in train)) if train else frozenset()
    needed = frozenset().union(*(t.uses for t in held)) if held else frozenset()
    return needed <= tools and {t.kind for t in train} == set(KINDS)


def _choices(pool: Sequence[_Template], counts: Sequence[tuple[tuple[str, ...], int]]) -> list[list[_Template]]:
    """Every way to take ``count`` templates of each kind group from ``pool``, in ``pool``'s order."""
    per_group = [list(itertools.combinations([t for t in pool if t.kind in kinds], n)) for kinds, n in counts]
    return [[t for combo in picked for t in combo] for picked in itertools.product(*per_group)]


def heldout_compositions(config: TaskConfig) -> dict[str, list[tuple[str, str]]]:
    """``{"train", "validation", "test"}`` → compositions.

    Per domain and held-out split, ``heldout_per_domain`` possible (action / info) templates and
    ``heldout_refuse_per_domain`` refuse templates are held out: the first choice, in an order shuffled
    by the seed, that leaves train every tool the held-out templates use and every kind. Pinned
    compositions replace the choice of their split. Validation's list is empty when it draws from the
    train compositions (``heldout_validation=False``). Raises ``ConfigError`` when no choice works.
    """
    counts = ((("action", "info"), config.heldout_per_domain), (("refuse",), config.heldout_refuse_per_domain))
    out: dict[str, list[tuple[str, str]]] = {"train": [], "validation": [], "test": []}
    for domain in config.domains:
        templates = [TEMPLATES[k] for k in compositions((domain,))]
        order = list(templates)
        random.Random(f"envs-heldout:{config.seed}:{domain}").shuffle(order)
        options: dict[str, list[list[_Template]]] = {}
        for split in ("test", "validation"):
            pinned = getattr(config, f"{split}_compositions")
            if pinned is not None:
                keys = [(k.split("/", 1)[0], k.split("/", 1)[1]) for k in pinned]
                options[split] = [[TEMPLATES[k] for k in keys if k[0] == domain]]
            elif split == "validation" and not config.heldout_validation:
                options[split] = [[]]
            else:
                options[split] = _choices(order, counts)
        for test, validation in itertools.product(options["test"], options["validation"]):
            held = [*test, *validation]
            if len(set(map(id, held))) == len(held) and _covered([t for t in templates if t not in held], held):
                break
        else:
            raise ConfigError(
                f"domain {domain}: no way to hold out the asked templates (pinned or "
                f"{config.heldout_per_domain} possible + {config.heldout_refuse_per_domain} refuse per split) "
                "and keep every held-out tool and every kind in train"
            )
        out["test"] += [(t.domain, t.name) for t in test]
        out["validation"] += [(t.domain, t.name) for t in validation]
        out["train"] += [(t.domain, t.name) for t in templates if t not in held]
    return out


def _task_key(task: Task) -> str:
    return json.dumps([task.domain, task.template, task.request, task.state], sort_keys=True)


def make_tasks(config: TaskConfig | None = None) -> dict[str, list[Task]]:
    """``{"train", "validation", "test"}`` with ``config.n_*`` tasks each (fewer only if a split's
    compositions cannot yield that many distinct tasks). No task appears twice in or across splits."""
    config = config or TaskConfig()
    comps = heldout_compositions(config)
    if not config.heldout_validation:
        comps["validation"] = list(comps["train"])
    seen: set[str] = set()
    out: dict[str, list[Task]] = {}
    for split in SPLITS:
        wanted = getattr(config, f"n_{split}")
        keys = comps[split]
        refuse = [k for k in keys if TEMPLATES[k].kind == "refuse"]
        other = [k for k in keys if TEMPLATES[k].kind != "refuse"]
        rng = random.Random(f"envs:{config.seed}:{split}")
        tasks: list[Task] = []
        attempts = 0
        while len(tasks) < wanted and keys and attempts < 50 * wanted:
            attempts += 1
            group = refuse if (refuse and (not other or rng.random() < config.refuse_share)) else other
            task = generate_task(rng.choice(group), rng, f"envs-{split}-{len(tasks)}")
            key = _task_key(task)
            if key not in seen:
                seen.add(key)
                tasks.append(task)
        out[split] = tasks
    return out


# ------------------------------------------------------------------------------------------------ trajectories and rows


def tool_schemas(task: Task | None = None, *, env: type[ToolEnv] | None = None) -> list[dict[str, Any]]:
    """The JSON schemas of the tools a prompt lists, sorted by name as TRL lists them: every tool of
    ``env`` when given (TRL shows all of a class's tools), else the tools of ``task``, else all tools
    of :class:`WorldEnv`."""
    if env is not None:
        cls, names = env, tool_names(env)
    elif task is not None:
        cls, names = ENVIRONMENTS[task.domain], tuple(sorted(task.tools))
    else:
        cls, names = WorldEnv, tool_names(WorldEnv)
    return [tool_schema(getattr(cls, name)) for name in names]


def replay(task: Task, env: ToolEnv | None = None) -> list[list[tuple[dict[str, Any], str]]]:
    """Run the gold calls through an environment (a fresh one of the task's domain unless given, reset
    to the task); per turn, the ``(call, result)`` pairs."""
    if env is None:
        env = environment_for(task)
    else:
        env.reset(task=task)
    return [[(call, env.episode.call(call["name"], call["arguments"])) for call in turn] for turn in task.gold]


def gold_messages(
    task: Task, *, system: str | None = None, json_arguments: bool = False
) -> list[dict[str, Any]]:
    """The gold conversation in the chat format TRL's templates render and its parser produces:
    ``user``; per turn ``{"role": "assistant", "content": "", "tool_calls": [{"type": "function",
    "function": {"name", "arguments"}}]}`` then one ``{"role": "tool", "name", "content"}`` per call; a
    final ``{"role": "assistant", "content": answer}``.

    ``json_arguments=True`` writes each call's arguments as a JSON string (the chat templates print a
    string as is): use it when the messages go into an Arrow table, which would otherwise merge the
    argument dicts of all rows into one struct and add ``null`` for the keys a call does not have.
    """
    messages: list[dict[str, Any]] = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": task.request})
    for turn in replay(task):
        calls = [
            {
                "type": "function",
                "function": {
                    "name": call["name"],
                    "arguments": (
                        json.dumps(call["arguments"], ensure_ascii=False) if json_arguments else dict(call["arguments"])
                    ),
                },
            }
            for call, _ in turn
        ]
        messages.append({"role": "assistant", "content": "", "tool_calls": calls})
        messages += [{"role": "tool", "name": call["name"], "content": result} for call, result in turn]
    messages.append({"role": "assistant", "content": task.answer})
    return messages


def to_grpo_row(task: Task, *, system: str | None = None) -> dict[str, Any]:
    """A GRPO dataset row: ``prompt`` (conversational), ``task`` (the task's JSON, what ``reset`` reads)
    and ``environment`` (the domain, for TRL's dict ``environment_factory=ENVIRONMENTS``)."""
    prompt = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": task.request}]
    return {"prompt": prompt, "task": task.to_json(), "environment": task.domain}


def to_sft_example(task: Task, *, system: str | None = None, json_arguments: bool = True) -> dict[str, Any]:
    """An SFT row: ``messages`` (:func:`gold_messages`) and ``tools`` (a JSON string of the task's tool
    schemas, which TRL's SFTTrainer passes to the chat template)."""
    return {
        "messages": gold_messages(task, system=system, json_arguments=json_arguments),
        "tools": json.dumps(tool_schemas(task), ensure_ascii=False),
    }


# ------------------------------------------------------------------------------------------------ reward


def final_answer(completion: Any) -> str:
    """The final answer of a completion: the text of its last assistant message when that message makes
    no tool call, else ``""`` (the episode ended on a call). A plain-string completion is its own answer;
    anything else gives ``""``."""
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, list) or not completion:
        return ""
    last = completion[-1]
    if not isinstance(last, dict) or last.get("role") != "assistant" or last.get("tool_calls"):
        return ""
    content = last.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def outcome_reward(completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
    """TRL reward function: 1.0 when the rollout's environment ends in the expected state *and* the
    completion's final answer is right (:meth:`Episode.outcome`), else 0.0. Rollouts without an
    environment with a loaded task score 0.0."""
    envs = list(environments) if environments is not None else [None] * len(completions)
    rewards = []
    for completion, env in zip(completions, envs):
        try:
            episode = env.episode if isinstance(env, ToolEnv) else None
        except RuntimeError:  # never reset
            episode = None
        rewards.append(episode.outcome(final_answer(completion)).reward if episode is not None else 0.0)
    return rewards


def _episode(env: Any) -> Any:
    try:
        return env.episode if isinstance(env, ToolEnv) else None
    except RuntimeError:  # never reset
        return None


def calls_reward(completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
    """Process term (TRL reward function): ToolRL's correctness of the episode's calls against the task's gold
    calls, all turns pooled (:func:`rest_rl.rewards.match_fraction`: names, keys and values, in [0, 1]);
    1.0 for a no-valid-action task answered with no call. Calls the environment refused count with the name
    the model wrote and no arguments."""
    envs = list(environments) if environments is not None else [None] * len(completions)
    out = []
    for env in envs[: len(completions)]:
        episode = _episode(env)
        if episode is None:
            out.append(0.0)
            continue
        gold = [ToolCall(c["name"], dict(c["arguments"])) for turn in episode.task.gold for c in turn]
        made = [ToolCall(r.name, dict(r.arguments or {})) for r in episode.history]
        out.append(1.0 if not gold and not made else match_fraction(gold, made))
    return out


def tool_error_penalty(completions: Sequence[Any], environments: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
    """Process term (TRL reward function): minus the share of the episode's calls that came back as an error
    (unknown tool, bad arguments, a refused action), in [-1, 0]; 0 for an episode without calls."""
    envs = list(environments) if environments is not None else [None] * len(completions)
    out = []
    for env in envs[: len(completions)]:
        episode = _episode(env)
        calls = episode.calls if episode is not None else 0
        out.append(-episode.tool_errors / calls if calls else 0.0)
    return out


def agent_reward_funcs(calls_weight: float = 0.0, error_weight: float = 0.0) -> tuple[list[Any], list[float]]:
    """The reward of multi-turn training as TRL ``reward_funcs`` and ``reward_weights``: the outcome (weight 1),
    plus the optional process terms :func:`calls_reward` and :func:`tool_error_penalty` when their weight is
    not 0.

    The default is the outcome alone: success on the final state and answer is what is evaluated, it admits
    every valid path (a process term tied to the gold trajectory penalises a correct alternative, e.g. reading
    a balance before paying), and it cannot be gamed by making plausible-looking calls. Process terms give a
    denser signal when outcomes are rare (a weak start); keep their weights well below 1."""
    funcs: list[Any] = [outcome_reward]
    weights = [1.0]
    for func, weight in ((calls_reward, calls_weight), (tool_error_penalty, error_weight)):
        if weight < 0:
            raise ValueError(f"process reward weights must be >= 0, got {weight}")
        if weight:
            funcs.append(func)
            weights.append(float(weight))
    return funcs, weights
