"""The configuration engine: YAML files plus ``--set key=value`` overrides, turned into checked dataclasses.

A run file has a few sections, each mapped onto a dataclass::

    model:            # ModelSection: what --model points at
      name_or_path: Qwen/Qwen3-4B-Instruct-2507
    data:             # DataSection: where the examples come from and how prompts are written
      source: mix
      path: configs/data/rlla_4k_mix.yaml
    sft:  {...}       # every field of rest_rl.integrations.trl.sft.ResTSFTConfig (TRL SFTConfig + rest_*)
    train: {...}      # every field of rest_rl.integrations.trl.grpo.ResTGRPOConfig (TRL GRPOConfig + rest_*)

Overrides use dotted keys and YAML values: ``--set train.learning_rate=1e-6 --set data.limit=100``.
Every key is checked against the dataclass it lands in; unknown keys and values of the wrong type are
reported in one line (with a "did you mean" hint), never as a traceback.

    tree = apply_overrides(load_yaml("configs/demo.yaml"), ["rl.max_steps=10"])
    cfg = build_dataclass(DemoConfig, tree)
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import os
import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.errors import ConfigError

__all__ = [
    "ConfigError",
    "apply_overrides",
    "build_dataclass",
    "describe_fields",
    "format_fields",
    "load_yaml",
    "merge_trees",
    "parse_override",
    "resolve_tree",
    "save_yaml",
    "to_plain",
]


# ------------------------------------------------------------------------------------------------
# YAML and overrides
# ------------------------------------------------------------------------------------------------


def load_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML mapping; ``ConfigError`` for a missing file, a syntax error or a non-mapping."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"no such config file: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{p}: invalid YAML{where}: {problem}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{p}: not a UTF-8 text file") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: the top level must be a mapping of sections, got {type(data).__name__}")
    return data


def save_yaml(data: Any, path: str | os.PathLike[str]) -> None:
    """Write ``data`` (plain values, see :func:`to_plain`) as YAML, keys in insertion order."""
    import yaml

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(yaml.safe_dump(to_plain(data), sort_keys=False, allow_unicode=True), encoding="utf-8")


def merge_trees(base: Mapping[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``update`` laid over it: mappings merge key by key, anything else replaces."""
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(base))
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_trees(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_tree(
    defaults: Mapping[str, Any] | None = None,
    config_path: str | os.PathLike[str] | None = None,
    overrides: Iterable[str] = (),
) -> dict[str, Any]:
    """Defaults, then the YAML file (merged over them), then the ``key=value`` overrides."""
    tree = dict(defaults or {})
    if config_path is not None:
        tree = merge_trees(tree, load_yaml(config_path))
    return apply_overrides(tree, overrides)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"a.b=1e-3"`` -> ``(["a", "b"], 0.001)``: the value is parsed as YAML (``null``, ``true``,
    numbers, ``[1, 2]``, ``{k: v}``); an empty value is the empty string."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. train.learning_rate=1e-6)")
    key, raw = text.split("=", 1)
    parts = [p.strip() for p in key.strip().split(".")]
    if not parts or any(not p for p in parts):
        raise ConfigError(f"override {text!r} has an empty key part")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # a plain string that YAML cannot read (e.g. "a: b: c")
    # YAML 1.1 reads "1e-6" as a string; accept scientific notation as a number.
    if isinstance(value, str):
        try:
            if any(c in value for c in "eE") and value.strip().lower() not in ("e", "inf", "nan"):
                value = float(value)
        except ValueError:
            pass
    return parts, value


def apply_overrides(tree: Mapping[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """A copy of ``tree`` with each ``key=value`` override set (intermediate mappings are created)."""
    import copy

    out: dict[str, Any] = copy.deepcopy(dict(tree))
    for text in overrides:
        parts, value = parse_override(text)
        node = out
        for i, part in enumerate(parts[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {text!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
            node = child
        node[parts[-1]] = value
    return out


# ------------------------------------------------------------------------------------------------
# Dataclasses from mappings
# ------------------------------------------------------------------------------------------------


def _type_hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to no checking
        return {}


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _is_str_enum(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, enum.Enum) and issubclass(tp, str)


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp`` (converting int->float, list->tuple, str->Enum)."""
    if tp is Any or tp is None or isinstance(tp, (str, typing.TypeVar)):
        return value
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        if isinstance(value, bool) and bool not in args and (str in args or any(_is_str_enum(a) for a in args)):
            value = "yes" if value else "no"  # YAML 1.1 reads `no` / `yes` as booleans: `save_strategy: no`
        errors = []
        for member in args:
            if member is type(None):
                continue
            try:
                return _coerce(value, member, where)
            except ConfigError as exc:
                errors.append(exc)
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{where}: expected one of {list(args)}, got {value!r}")
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a section (mapping), got {value!r}")
        return build_dataclass(tp, value, where=where)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if tp is str or _is_str_enum(tp):
        if isinstance(value, bool):
            value = "yes" if value else "no"  # see the Union case
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. a numeric run name
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        if isinstance(value, tp):
            return value
        try:
            return tp(value)
        except ValueError:
            names = [m.value for m in tp]
            raise ConfigError(f"{where}: expected one of {names}, got {value!r}") from None
    if origin in (list, Sequence, typing.Sequence) or tp is list:
        if isinstance(value, (list, tuple)):
            inner = args[0] if args else Any
            return [_coerce(v, inner, f"{where}[{i}]") for i, v in enumerate(value)]
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if origin is tuple or tp is tuple:
        if isinstance(value, (list, tuple)):
            if len(args) == 2 and args[1] is Ellipsis:
                return tuple(_coerce(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
            if args and len(args) != len(value):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(_coerce(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args or [Any] * len(value))))
        raise ConfigError(f"{where}: expected a list, got {value!r}")
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if isinstance(value, Mapping):
            return dict(value)
        raise ConfigError(f"{where}: expected a mapping, got {value!r}")
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    return value


def _init_fields(cls: type) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")]


def build_dataclass(cls: type, data: Mapping[str, Any] | None, *, where: str = "") -> Any:
    """Instantiate dataclass ``cls`` from ``data``: unknown keys, wrong types and the class's own
    validation errors become a one-line :class:`ConfigError` naming the key (``where`` prefixes it)."""
    data = dict(data or {})
    fields = {f.name: f for f in _init_fields(cls)}
    hints = _type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in fields:
            hint = difflib.get_close_matches(str(key), list(fields), n=1)
            suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
            section = f" in section {where!r}" if where else ""
            raise ConfigError(f"unknown key {key!r}{section}{suggestion}")
        kwargs[key] = _coerce(value, hints.get(key, Any), path)
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except (ValueError, TypeError, ImportError) as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{message}") from None


def to_plain(obj: Any) -> Any:
    """A dataclass / enum / path tree as plain YAML-able values (for printing a resolved config)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_plain(getattr(obj, f.name)) for f in _init_fields(type(obj))}
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): to_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    return obj


def describe_fields(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """``(dotted key, type, default, help)`` for every init field of ``cls`` (nested dataclasses expanded)."""
    rows = []
    hints = _type_hints(cls)
    for f in _init_fields(cls):
        key = f"{prefix}{f.name}"
        tp = hints.get(f.name, f.type)
        if dataclasses.is_dataclass(tp) and isinstance(tp, type):
            rows.extend(describe_fields(tp, key + "."))
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            try:
                default = f.default_factory()  # type: ignore[misc]
            except Exception:  # noqa: BLE001
                default = "..."
        else:
            default = "(required)"
        default_text = repr(to_plain(default)) if default != "(required)" else default
        help_text = " ".join(str(f.metadata.get("help", "")).split())
        rows.append((key, _type_name(tp), default_text, help_text))
    return rows


def format_fields(cls: type, prefix: str = "", *, title: str | None = None, width: int = 100) -> str:
    """Help text listing every knob of ``cls`` as ``key (type, default X): help``."""
    import textwrap

    lines = [title] if title else []
    for key, tp, default, help_text in describe_fields(cls, prefix):
        head = f"  {key} ({tp}, default {default})"
        lines.append(head)
        if help_text:
            lines.extend(textwrap.wrap(help_text, width=width, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)
