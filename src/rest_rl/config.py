"""Run configuration: YAML files plus ``--set key=value`` overrides, turned into dataclasses.

A run file has a few sections, each mapped onto a dataclass::

    model:            # ModelSection: what --model points at
      name_or_path: Qwen/Qwen3-4B-Instruct-2507
    data:             # DataSection: where the examples come from and how prompts are written
      source: mix
      path: configs/data/rlla_4k_mix.yaml
    sft:  {...}       # every field of rest_rl.train.sft.ResTSFTConfig (TRL SFTConfig + rest_*)
    train: {...}      # every field of rest_rl.train.grpo.ResTGRPOConfig (TRL GRPOConfig + rest_*)

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

__all__ = [
    "ConfigError",
    "DATA_SOURCES",
    "DataSection",
    "ModelSection",
    "SFTRunConfig",
    "TrainRunConfig",
    "apply_overrides",
    "build_dataclass",
    "describe_fields",
    "format_fields",
    "load_examples",
    "load_yaml",
    "merge_trees",
    "parse_override",
    "resolve_tree",
    "save_yaml",
    "to_plain",
]


class ConfigError(ValueError):
    """A configuration problem the user can fix; its message is one line."""


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


# ------------------------------------------------------------------------------------------------
# The sections shared by the commands
# ------------------------------------------------------------------------------------------------

DATA_SOURCES: tuple[str, ...] = ("synthetic", "mix", "toolrl_sft", "toolrl_rl", "toolace", "xlam", "hammer", "examples")
"""Where a run's examples come from (see :class:`DataSection`)."""


@dataclass
class ModelSection:
    """The model a command trains or evaluates: a local Hugging Face directory or a hub id."""

    name_or_path: str = field(
        default="",
        metadata={
            "help": "Model directory or hub id (what --model sets), e.g. runs/demo/model or "
            "Qwen/Qwen3-4B-Instruct-2507. Its tokenizer and chat template are used too."
        },
    )
    dtype: str = field(
        default="float32",
        metadata={"help": "Weights dtype when loading: float32, bfloat16, float16 or auto (the checkpoint's)."},
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "Attention kernel (sdpa, eager, flash_attention_2); None = Transformers' choice."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the hub (off by default)."})

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16", "float16", "auto"):
            raise ValueError(f"model.dtype must be float32, bfloat16, float16 or auto, got {self.dtype!r}")

    def init_kwargs(self) -> dict[str, Any]:
        """``model_init_kwargs`` for TRL's trainers (they load the model from the path)."""
        kwargs: dict[str, Any] = {"dtype": self.dtype}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        return kwargs


from rest_rl.data.synthetic import SyntheticConfig  # noqa: E402  (light: imports no trainer framework)


@dataclass
class DataSection:
    """Where the examples of a run come from and how their prompts are written."""

    source: str = field(
        default="synthetic",
        metadata={
            "help": "synthetic (the embedded tool world), mix (a recipe YAML such as configs/data/rlla_4k_mix.yaml), "
            "toolrl_sft / toolrl_rl / toolace / xlam / hammer (one file or hub id with that loader), or examples "
            "(a .jsonl/.json/.parquet of ToolExample.to_dict rows)."
        },
    )
    path: str | None = field(
        default=None, metadata={"help": "Recipe YAML (source=mix) or data file / hub id (other non-synthetic sources)."}
    )
    split: str = field(
        default="train",
        metadata={"help": "Which split to use: train / validation / test (synthetic), train / test (mix), hub split."},
    )
    offset: int = field(default=0, metadata={"help": "Skip this many examples of the split first."})
    limit: int | None = field(default=None, metadata={"help": "Use at most this many examples (after offset)."})
    prompt_style: str = field(
        default="toolrl",
        metadata={
            "help": "Prompt layout: toolrl (ToolRL system prompt + dialogue history), compact (one line per tool; "
            "tiny models), chat_template (tools through the tokenizer's chat template, Hermes-format gold), hammer."
        },
    )
    think_placeholder: bool = field(
        default=True, metadata={"help": "Use ToolRL's placeholder thought when an example has no <think> text."}
    )
    skip_invalid: bool = field(default=True, metadata={"help": "Skip malformed rows of a file instead of stopping."})
    synthetic: SyntheticConfig = field(
        default_factory=SyntheticConfig, metadata={"help": "The synthetic world (source=synthetic)."}
    )

    def __post_init__(self) -> None:
        from rest_rl.data.prompting import PROMPT_STYLES

        if self.source not in DATA_SOURCES:
            raise ValueError(f"data.source must be one of {list(DATA_SOURCES)}, got {self.source!r}")
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"data.prompt_style must be one of {list(PROMPT_STYLES)}, got {self.prompt_style!r}")
        if self.source != "synthetic" and not self.path:
            raise ValueError(f"data.path is required for data.source={self.source!r}")
        if self.offset < 0 or (self.limit is not None and self.limit < 0):
            raise ValueError("data.offset and data.limit must be >= 0")

    def check_paths(self) -> None:
        """``ConfigError`` when a local path this section names does not exist (hub ids pass)."""
        if self.path is None:
            return
        p = Path(self.path)
        looks_local = p.suffix in (".json", ".jsonl", ".parquet", ".yaml", ".yml") or p.is_absolute() or self.path.startswith(".")
        if self.source in ("mix", "examples") or looks_local:
            if not p.exists():
                raise ConfigError(f"no such data file: {p}")


def _read_example_rows(path: Path) -> list[dict[str, Any]]:
    import json

    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        rows = json.loads(text)
        return rows if isinstance(rows, list) else [rows]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def load_examples(section: DataSection) -> list[Any]:
    """The :class:`~rest_rl.data.schema.ToolExample` list a :class:`DataSection` names
    (split, then ``offset`` / ``limit``). Load problems become one-line ``ConfigError``s."""
    from rest_rl.data.io import DataError
    from rest_rl.data.schema import ToolExample

    section.check_paths()
    try:
        if section.source == "synthetic":
            from rest_rl.data.synthetic import SPLITS, SyntheticWorld, make_splits

            if section.split not in SPLITS:
                raise ConfigError(f"data.split must be one of {list(SPLITS)} for synthetic data, got {section.split!r}")
            cfg = section.synthetic
            need = section.offset + (section.limit if section.limit is not None else 0)
            if section.split in ("validation", "test"):  # de-duplicated against train: make_splits
                if need > getattr(cfg, f"n_{section.split}"):
                    raise ConfigError(
                        f"data.offset + data.limit = {need} exceeds synthetic.n_{section.split} = "
                        f"{getattr(cfg, f'n_{section.split}')}"
                    )
                examples = make_splits(cfg)[section.split]
            else:
                n = max(need, getattr(cfg, f"n_{section.split}"))
                examples = SyntheticWorld(cfg).sample(n, section.split, seed=0)
        elif section.source == "mix":
            from rest_rl.data.mix import build_mix, load_mix_config

            splits, _ = build_mix(load_mix_config(section.path))
            if section.split not in splits:
                raise ConfigError(f"data.split must be one of {sorted(splits)} for a mix, got {section.split!r}")
            examples = splits[section.split]
        elif section.source == "examples":
            rows = _read_example_rows(Path(str(section.path)))
            examples = []
            for i, row in enumerate(rows):
                try:
                    examples.append(ToolExample.from_dict(row))
                except ValueError as exc:
                    if not section.skip_invalid:
                        raise ConfigError(f"{section.path}: row {i}: {exc}") from None
        else:
            from rest_rl.data.mix import get_loader

            result = get_loader(section.source)(
                section.path, split=section.split, skip_invalid=section.skip_invalid
            )
            examples = list(result)
    except ConfigError:
        raise
    except (DataError, ValueError, OSError) as exc:
        raise ConfigError(" ".join(str(exc).split()) or type(exc).__name__) from None
    end = None if section.limit is None else section.offset + section.limit
    picked = list(examples)[section.offset : end]
    if not picked:
        raise ConfigError(f"no examples selected from data.source={section.source!r} (offset {section.offset}, limit {section.limit})")
    return picked


# ------------------------------------------------------------------------------------------------
# Command configurations
# ------------------------------------------------------------------------------------------------


@dataclass
class SFTRunConfig:
    """``rest-rl sft``: a model, its labelled examples and the trainer settings."""

    model: ModelSection = field(default_factory=ModelSection, metadata={"help": "The model to fine-tune."})
    data: DataSection = field(default_factory=DataSection, metadata={"help": "The labelled examples."})
    sft: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Trainer settings: any field of rest_rl.train.sft.ResTSFTConfig (TRL's SFTConfig plus "
            "rest_sft_mode, rest_upweight, rest_region_weights, ...); listed by `rest-rl sft --help`."
        },
    )


@dataclass
class TrainRunConfig:
    """``rest-rl train``: a model, the RL prompts and the ResT-GRPO trainer settings."""

    model: ModelSection = field(default_factory=ModelSection, metadata={"help": "The policy to train."})
    data: DataSection = field(default_factory=DataSection, metadata={"help": "The RL prompts (with gold answers for the reward)."})
    train: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Trainer settings: any field of rest_rl.train.grpo.ResTGRPOConfig (TRL's GRPOConfig plus the "
            "rest_* token-weight and reward_* knobs); listed by `rest-rl train --help`."
        },
    )
    ablations: list[str] = field(
        default_factory=list,
        metadata={"help": "Ablation presets applied in order after the train section (see `rest-rl train --help`)."},
    )
    launch: str | None = field(
        default=None,
        metadata={"help": "The launch command this file is meant for (documentation; printed by --dry-run)."},
    )
