"""The synthetic world's four domains, their state and their tools, as TRL environments.

Each domain is one environment class whose public methods are its four tools (short names, short JSON
results). A task uses one domain; its state is a small JSON object:

* bank: ``{"accounts": {id: {"owner", "balance"}}}``; ``acct(owner)``, ``balance(acct)``,
  ``owner(acct)``, ``transfer(src, dst, amount)``.
* orders: ``{"orders": {id: {"customer", "item", "status"}}}``; ``order(customer)``, ``status(order)``,
  ``cancel(order)`` (placed orders only), ``refund(order)`` (delivered orders only).
* calendar: ``{"events": {title: "MM-DD"}}`` in :data:`YEAR`; ``free(after)``, ``find(title)``,
  ``add(date, title)``, ``move(title, date)``.
* files: ``{"folders": [...], "files": {"folder/name": text}}``; ``ls(folder)``, ``read(path)``,
  ``mv(path, folder)``, ``rm(path)``.

Ids (accounts ``K42``, orders ``R521``, file names ``Q3.txt``) are drawn per task, so a model must read
them from a tool result. :class:`WorldEnv` has all sixteen tools (one class for a single
``environment_factory``); :data:`ENVIRONMENTS` maps each domain to its own class (for TRL's dict
``environment_factory``, which shows a prompt only the tools of its row's ``environment``).

    env = BankEnv()
    env.reset(task=task_json)
    env.acct(owner="Ann")                 # '{"id": "K42"}'
    env.episode.call("balance", {"acct": "K42"})
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Any, ClassVar

from rest_rl.envs.episode import Task, ToolEnv, ToolError, tool, tool_names

__all__ = [
    "DOMAINS",
    "DOMAIN_TOOLS",
    "ENVIRONMENTS",
    "YEAR",
    "BankEnv",
    "CalendarEnv",
    "FilesEnv",
    "OrdersEnv",
    "WorldEnv",
    "environment_for",
]

#: The calendar's year (not a leap year).
YEAR = 2025
_DATE_RE = re.compile(r"^(\d\d)-(\d\d)$")
_MAX_TITLE = 40


def _result(value: dict[str, Any]) -> str:
    """A tool result: compact one-line JSON."""
    return json.dumps(value, ensure_ascii=False)


def _name_key(name: str) -> str:
    return " ".join(name.split()).casefold()


def _parse_date(text: str) -> _dt.date:
    match = _DATE_RE.match(text.strip())
    if match:
        try:
            return _dt.date(YEAR, int(match.group(1)), int(match.group(2)))
        except ValueError:
            pass
    raise ToolError(f"bad date {text[:20]!r}: use MM-DD, like 06-14")


def _format_date(day: _dt.date) -> str:
    return f"{day.month:02d}-{day.day:02d}"


class BankEnv(ToolEnv):
    """Bank accounts: find an account by owner, read a balance, move money."""

    domains: ClassVar[tuple[str, ...]] = ("bank",)

    def _account(self, acct: str) -> dict[str, Any]:
        account = self._state["accounts"].get(acct.strip())
        if account is None:
            raise ToolError(f"no account {acct[:20]}")
        return account

    @tool
    def acct(self, owner: str) -> str:
        """Find the account id of a person.

        Args:
            owner: The account owner's name.
        """
        for account_id, account in self._state["accounts"].items():
            if _name_key(account["owner"]) == _name_key(owner):
                return _result({"id": account_id})
        raise ToolError(f"no account for {owner[:30]}")

    @tool
    def balance(self, acct: str) -> str:
        """Get the balance of an account.

        Args:
            acct: The account id.
        """
        return _result({"balance": self._account(acct)["balance"]})

    @tool
    def owner(self, acct: str) -> str:
        """Get the name of an account's owner.

        Args:
            acct: The account id.
        """
        return _result({"owner": self._account(acct)["owner"]})

    @tool
    def transfer(self, src: str, dst: str, amount: int) -> str:
        """Move money from one account to another.

        Args:
            src: The account id to take the money from.
            dst: The account id to pay into.
            amount: How much to move, a whole number.
        """
        source, target = self._account(src), self._account(dst)
        if source is target:
            raise ToolError("src and dst are the same account")
        if amount <= 0:
            raise ToolError("amount must be positive")
        if amount > source["balance"]:
            raise ToolError(f"insufficient funds: {src.strip()} has {source['balance']}")
        source["balance"] -= amount
        target["balance"] += amount
        return _result({"ok": True})


class OrdersEnv(ToolEnv):
    """Shop orders: find a customer's order, read its status, cancel or refund it."""

    domains: ClassVar[tuple[str, ...]] = ("orders",)

    def _order(self, order: str) -> dict[str, Any]:
        record = self._state["orders"].get(order.strip())
        if record is None:
            raise ToolError(f"no order {order[:20]}")
        return record

    @tool
    def order(self, customer: str) -> str:
        """Find the order id of a customer.

        Args:
            customer: The customer's name.
        """
        for order_id, record in self._state["orders"].items():
            if _name_key(record["customer"]) == _name_key(customer):
                return _result({"id": order_id})
        raise ToolError(f"no order for {customer[:30]}")

    @tool
    def status(self, order: str) -> str:
        """Get the status and the item of an order.

        Args:
            order: The order id.
        """
        record = self._order(order)
        return _result({"status": record["status"], "item": record["item"]})

    @tool
    def cancel(self, order: str) -> str:
        """Cancel an order that has not shipped yet.

        Args:
            order: The order id.
        """
        record = self._order(order)
        if record["status"] != "placed":
            raise ToolError(f"order is {record['status']}; only placed orders can be cancelled")
        record["status"] = "cancelled"
        return _result({"ok": True})

    @tool
    def refund(self, order: str) -> str:
        """Refund an order that was delivered.

        Args:
            order: The order id.
        """
        record = self._order(order)
        if record["status"] != "delivered":
            raise ToolError(f"order is {record['status']}; only delivered orders can be refunded")
        record["status"] = "refunded"
        return _result({"ok": True})


class CalendarEnv(ToolEnv):
    """A calendar of one year: find an event, find a free day, add or move an event."""

    domains: ClassVar[tuple[str, ...]] = ("calendar",)

    def _title(self, title: str) -> str:
        clean = " ".join(title.split())
        if not clean:
            raise ToolError("title is empty")
        if len(clean) > _MAX_TITLE:
            raise ToolError(f"title too long: at most {_MAX_TITLE} characters")
        return clean

    def _event_key(self, title: str) -> str:
        wanted = _name_key(title)
        for key in self._state["events"]:
            if _name_key(key) == wanted:
                return key
        raise ToolError(f"no event {title[:30]}")

    @tool
    def free(self, after: str) -> str:
        """Find the first day with no event after a date.

        Args:
            after: A date, MM-DD.
        """
        day = _parse_date(after)
        busy = {_parse_date(date) for date in self._state["events"].values()}
        while True:
            day += _dt.timedelta(days=1)
            if day.year != YEAR:
                raise ToolError(f"no free day after {_format_date(day - _dt.timedelta(days=1))} this year")
            if day not in busy:
                return _result({"date": _format_date(day)})

    @tool
    def find(self, title: str) -> str:
        """Find the date of an event.

        Args:
            title: The event's title.
        """
        return _result({"date": self._state["events"][self._event_key(title)]})

    @tool
    def add(self, date: str, title: str) -> str:
        """Add an event on a date.

        Args:
            date: The date, MM-DD.
            title: The event's title.
        """
        day = _parse_date(date)
        clean = self._title(title)
        if any(_name_key(key) == _name_key(clean) for key in self._state["events"]):
            raise ToolError(f"there is already an event {clean}")
        self._state["events"][clean] = _format_date(day)
        return _result({"ok": True})

    @tool
    def move(self, title: str, date: str) -> str:
        """Move an event to another date.

        Args:
            title: The event's title.
            date: The new date, MM-DD.
        """
        key = self._event_key(title)
        self._state["events"][key] = _format_date(_parse_date(date))
        return _result({"ok": True})


class FilesEnv(ToolEnv):
    """Files in a few folders: list a folder, read, move or delete a file."""

    domains: ClassVar[tuple[str, ...]] = ("files",)

    def _folder(self, folder: str) -> str:
        clean = folder.strip().strip("/")
        if clean not in self._state["folders"]:
            raise ToolError(f"no folder {folder[:20]}; folders: {', '.join(self._state['folders'])}")
        return clean

    def _path(self, path: str) -> str:
        clean = path.strip()
        if clean not in self._state["files"]:
            hint = "" if "/" in clean else " (use folder/name)"
            raise ToolError(f"no file {path[:40]}{hint}")
        return clean

    @tool
    def ls(self, folder: str) -> str:
        """List the files in a folder.

        Args:
            folder: The folder name.
        """
        name = self._folder(folder)
        files = sorted(p.split("/", 1)[1] for p in self._state["files"] if p.split("/", 1)[0] == name)
        return _result({"files": files})

    @tool
    def read(self, path: str) -> str:
        """Read a file.

        Args:
            path: The file's path, folder/name.
        """
        return _result({"text": self._state["files"][self._path(path)]})

    @tool
    def mv(self, path: str, folder: str) -> str:
        """Move a file to another folder.

        Args:
            path: The file's path, folder/name.
            folder: The folder to move it to.
        """
        source = self._path(path)
        target = self._folder(folder) + "/" + source.split("/", 1)[1]
        if target == source:
            raise ToolError(f"{source} is already in {folder.strip()}")
        if target in self._state["files"]:
            raise ToolError(f"{target} exists")
        self._state["files"][target] = self._state["files"].pop(source)
        return _result({"path": target})

    @tool
    def rm(self, path: str) -> str:
        """Delete a file.

        Args:
            path: The file's path, folder/name.
        """
        del self._state["files"][self._path(path)]
        return _result({"ok": True})


class WorldEnv(BankEnv, OrdersEnv, CalendarEnv, FilesEnv):
    """All four domains in one class: serves any task and offers all sixteen tools (a task may call only
    its own domain's; the others answer that they are not available)."""

    domains: ClassVar[tuple[str, ...]] = ("bank", "orders", "calendar", "files")


#: The domain of each environment class, in a fixed order.
DOMAINS: tuple[str, ...] = WorldEnv.domains

#: One environment class per domain, for TRL's ``environment_factory={...}`` (rows name theirs in an
#: ``environment`` column).
ENVIRONMENTS: dict[str, type[ToolEnv]] = {
    "bank": BankEnv,
    "orders": OrdersEnv,
    "calendar": CalendarEnv,
    "files": FilesEnv,
}

#: The tools of each domain, sorted.
DOMAIN_TOOLS: dict[str, tuple[str, ...]] = {domain: tool_names(cls) for domain, cls in ENVIRONMENTS.items()}


def environment_for(task: Any, *, world: bool = False) -> ToolEnv:
    """A fresh environment with ``task`` (a :class:`~rest_rl.envs.episode.Task`, its dict or JSON) loaded:
    its domain's class, or :class:`WorldEnv` when ``world`` is true. Raises ``ValueError`` for a bad task."""
    loaded = Task.coerce(task)
    if loaded.domain not in ENVIRONMENTS:
        raise ValueError(f"unknown domain {loaded.domain[:20]!r}; domains: {', '.join(DOMAINS)}")
    env = WorldEnv() if world else ENVIRONMENTS[loaded.domain]()
    env.reset(task=loaded)
    return env
