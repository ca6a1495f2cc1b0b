"""The configuration engine (rest_rl.config): YAML + --set overrides -> dataclasses, with one-line errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from rest_rl.config import (
    ConfigError,
    apply_overrides,
    build_dataclass,
    describe_fields,
    load_yaml,
    merge_trees,
    parse_override,
    resolve_tree,
)



@dataclass
class _Inner:
    rate: float = field(default=0.5, metadata={"help": "A rate."})
    names: list[str] = field(default_factory=list, metadata={"help": "Names."})


@dataclass
class _Outer:
    steps: int = field(default=3, metadata={"help": "Steps."})
    flag: bool = field(default=False, metadata={"help": "A flag."})
    label: str | None = field(default=None, metadata={"help": "Optional label."})
    inner: _Inner = field(default_factory=_Inner, metadata={"help": "Nested."})

    def __post_init__(self) -> None:
        if self.steps < 0:
            raise ValueError("steps must be >= 0")


@pytest.mark.parametrize(
    "text, key, value",
    [
        ("a.b=1", ["a", "b"], 1),
        ("lr=1e-6", ["lr"], 1e-6),
        ("x=true", ["x"], True),
        ("x=null", ["x"], None),
        ("x=[1, 2]", ["x"], [1, 2]),
        ("x={A: 1}", ["x"], {"A": 1}),
        ("name=hello world", ["name"], "hello world"),
        ("empty=", ["empty"], ""),
    ],
)
def test_overrides_parse_yaml_values(text, key, value):
    assert parse_override(text) == (key, value)


def test_override_without_equals_is_a_config_error():
    with pytest.raises(ConfigError, match="key=value"):
        parse_override("train.learning_rate")


def test_overrides_create_sections_and_refuse_to_descend_into_values():
    tree = apply_overrides({"a": {"b": 1}}, ["a.c=2", "d.e=3"])
    assert tree == {"a": {"b": 1, "c": 2}, "d": {"e": 3}}
    with pytest.raises(ConfigError, match="is a value"):
        apply_overrides({"a": 1}, ["a.b=2"])


def test_merge_keeps_defaults_that_the_file_does_not_set():
    assert merge_trees({"s": {"a": 1, "b": 2}, "t": 1}, {"s": {"b": 3}}) == {"s": {"a": 1, "b": 3}, "t": 1}


def test_build_dataclass_coerces_and_nests():
    cfg = build_dataclass(_Outer, {"steps": 5.0, "flag": True, "inner": {"rate": 1, "names": ["x"]}})
    assert cfg.steps == 5 and cfg.flag is True and cfg.inner.rate == 1.0 and cfg.inner.names == ["x"]


@pytest.mark.parametrize(
    "data, message",
    [
        ({"stpes": 1}, "unknown key 'stpes' (did you mean 'steps'?)"),
        ({"steps": "many"}, "steps: expected an integer, got 'many'"),
        ({"flag": "yes"}, "flag: expected true or false"),
        ({"inner": {"rat": 1}}, "unknown key 'rat' in section 'inner' (did you mean 'rate'?)"),
        ({"inner": 3}, "inner: expected a section"),
        ({"steps": -1}, "steps must be >= 0"),
    ],
)
def test_build_dataclass_errors_are_one_line(data, message):
    with pytest.raises(ConfigError) as err:
        build_dataclass(_Outer, data)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_yaml_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  lr: [1, 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid YAML \(line \d+"):
        load_yaml(bad)
    with pytest.raises(ConfigError, match="no such config file"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "list.yaml").write_text("- 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_yaml(tmp_path / "list.yaml")


def test_resolve_tree_layers_defaults_file_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("a: {x: 1, y: 2}\n", encoding="utf-8")
    assert resolve_tree({"a": {"x": 0, "z": 9}}, path, ["a.y=5"]) == {"a": {"x": 1, "y": 5, "z": 9}}


def test_every_field_is_described_with_help():
    from rest_rl.integrations.trl.runners import TrainRunConfig

    rows = describe_fields(TrainRunConfig)
    keys = [r[0] for r in rows]
    assert "model.name_or_path" in keys and "data.synthetic.n_train" in keys and "train" in keys
    assert all(r[3] for r in rows), [r[0] for r in rows if not r[3]]
