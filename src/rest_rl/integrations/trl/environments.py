"""The ``env`` section of a run file: multi-turn training in a tool environment from ``rest-rl train`` / ``rest-rl sft``.

With ``env.name`` set, a run does not read the ``data`` section: its rows come from the environment, and

* ``rest-rl train`` hands TRL's tool loop the environment classes (``environment_factory``), the rows of
  :func:`rest_rl.envs.to_grpo_row` and the reward of :func:`rest_rl.envs.tasks.agent_reward_funcs` (the
  outcome; process terms only when their weight is set);
* ``rest-rl sft`` trains on the gold trajectories (:func:`rest_rl.envs.to_sft_example`).

``env.name``:

* ``world`` — the synthetic multi-turn tool world of :mod:`rest_rl.envs` (seeded task splits, ``env.tasks``);
* ``bfcl`` — BFCL v3's simulators for tasks the user brings (``env.path``, a JSONL file); built by
  :func:`rest_rl.eval.bfcl.environment.training_plan`, which the ``rest-rl`` commands pass in as the plan
  builder (this module sits below ``eval`` in the layer table and cannot import it).

:func:`build_env_plan` turns a section into an :class:`EnvPlan` (rows, environment factory, rewards).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rest_rl.envs.tasks import SPLITS, TaskConfig
from rest_rl.errors import ConfigError

__all__ = ["ENV_NAMES", "EnvBuilder", "EnvPlan", "EnvSection", "build_env_plan", "world_plan"]

ENV_NAMES: tuple[str, ...] = ("none", "world", "bfcl")
"""Values of ``env.name``: ``none`` (single-step training on the ``data`` section), ``world``, ``bfcl``."""

_FACTORIES = ("domain", "world")
_TRAIN_SPLITS = ("train", "validation")


@dataclass
class EnvSection:
    """Multi-turn training in a tool environment (replaces the ``data`` section when ``name`` is set)."""

    name: str = field(
        default="none",
        metadata={
            "help": "none (single-step training on the data section), world (the synthetic multi-turn tool world of "
            "rest_rl.envs, tasks drawn by env.tasks) or bfcl (BFCL v3's simulators, your own tasks from env.path)."
        },
    )
    split: str = field(
        default="train",
        metadata={
            "help": "world: the task split to train on, train or validation (test is held out for `rest-rl eval agent`)."
        },
    )
    offset: int = field(default=0, metadata={"help": "Skip this many tasks of the split (or rows of env.path) first."})
    limit: int | None = field(default=None, metadata={"help": "Use at most this many tasks / rows (after offset)."})
    factory: str = field(
        default="domain",
        metadata={
            "help": "world: domain (one environment class per domain: a prompt lists its domain's four tools) or world "
            "(WorldEnv: every prompt lists all sixteen tools)."
        },
    )
    system: str | None = field(default=None, metadata={"help": "world: a system message put before every request."})
    tasks: TaskConfig = field(
        default_factory=TaskConfig,
        metadata={"help": "world: task generation and held-out splits (rest_rl.envs.TaskConfig; docs/envs.md)."},
    )
    calls_weight: float = field(
        default=0.0,
        metadata={
            "help": "train, world: weight of the process term calls_reward (ToolRL correctness of the calls against the "
            "gold trajectory); 0 = off. The outcome reward always has weight 1."
        },
    )
    error_weight: float = field(
        default=0.0,
        metadata={"help": "train, world: weight of the process term tool_error_penalty (share of calls that errored); 0 = off."},
    )
    path: str | None = field(
        default=None,
        metadata={
            "help": "bfcl: JSONL file of your tasks, one object per line: prompt (text or messages), initial_config, "
            "ground_truth (the gold call strings, e.g. \"mkdir(dir_name='drafts')\"), optional involved_classes and id."
        },
    )
    involved_classes: list[str] = field(
        default_factory=list,
        metadata={"help": "bfcl: simulator classes of rows that name none (e.g. [GorillaFileSystem, MathAPI])."},
    )

    def __post_init__(self) -> None:
        if self.name not in ENV_NAMES:
            close = difflib.get_close_matches(str(self.name), ENV_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"env.name must be one of {list(ENV_NAMES)}, got {self.name!r}{hint}")
        if self.factory not in _FACTORIES:
            raise ConfigError(f"env.factory must be one of {list(_FACTORIES)}, got {self.factory!r}")
        if self.offset < 0 or (self.limit is not None and self.limit < 1):
            raise ConfigError("env.offset must be >= 0 and env.limit >= 1 (or null)")
        for key in ("calls_weight", "error_weight"):
            if getattr(self, key) < 0:
                raise ConfigError(f"env.{key} must be >= 0, got {getattr(self, key)}")
        if self.name == "world":
            if self.split == "test":
                raise ConfigError(
                    "env.split=test is the held-out evaluation split (`rest-rl eval agent --split test`); "
                    "train on train or validation"
                )
            if self.split not in SPLITS:
                raise ConfigError(f"env.split must be one of {list(_TRAIN_SPLITS)} for env.name=world, got {self.split!r}")
        if self.name == "bfcl" and not self.path:
            raise ConfigError("env.name=bfcl needs env.path (a JSONL file of your tasks; see docs/envs.md)")

    @property
    def enabled(self) -> bool:
        return self.name != "none"


@dataclass
class EnvPlan:
    """What a run in an environment trains on: dataset rows, and (``train``) the environment classes and reward."""

    rows: list[dict[str, Any]]
    environment_factory: Any = None
    reward_funcs: list[Any] = field(default_factory=list)
    reward_weights: list[float] = field(default_factory=list)
    description: str = ""


EnvBuilder = Callable[[EnvSection, str], EnvPlan]
"""``builder(section, kind)`` → :class:`EnvPlan`; ``kind`` is ``"train"`` or ``"sft"``."""


def _window(items: Sequence[Any], section: EnvSection, what: str) -> list[Any]:
    end = None if section.limit is None else section.offset + section.limit
    picked = list(items)[section.offset : end]
    if not picked:
        raise ConfigError(f"no {what} selected (env.offset {section.offset}, env.limit {section.limit}, {len(items)} available)")
    return picked


def world_plan(section: EnvSection, kind: str) -> EnvPlan:
    """The :class:`EnvPlan` of ``env.name=world``: the tasks of ``env.split`` (``env.offset`` / ``env.limit``)."""
    from rest_rl.envs import ENVIRONMENTS, WorldEnv, make_tasks, to_grpo_row, to_sft_example, tool_schemas
    from rest_rl.envs.tasks import agent_reward_funcs

    tasks = _window(make_tasks(section.tasks)[section.split], section, f"env.tasks {section.split} tasks")
    where = f"world ({section.split} split, {len(tasks)} tasks, factory={section.factory})"
    if kind == "sft":
        rows = [{**to_sft_example(task, system=section.system), "id": task.id} for task in tasks]
        if section.factory == "world":  # the prompts the RL stage will see list all sixteen tools
            every_tool = json.dumps(tool_schemas(env=WorldEnv), ensure_ascii=False)
            rows = [{**row, "tools": every_tool} for row in rows]
        return EnvPlan(rows=rows, description=where)
    funcs, weights = agent_reward_funcs(section.calls_weight, section.error_weight)
    return EnvPlan(
        rows=[to_grpo_row(task, system=section.system) for task in tasks],
        environment_factory=dict(ENVIRONMENTS) if section.factory == "domain" else WorldEnv,
        reward_funcs=funcs,
        reward_weights=weights,
        description=where,
    )


def build_env_plan(section: EnvSection, kind: str) -> EnvPlan:
    """The plan of ``section`` for ``kind`` (``train`` / ``sft``). Handles ``world``; ``bfcl`` needs the builder
    of :mod:`rest_rl.eval.bfcl.environment` (the ``rest-rl`` commands pass it in)."""
    if section.name == "world":
        return world_plan(section, kind)
    if section.name == "bfcl":
        raise ConfigError(
            "env.name=bfcl is built by rest_rl.eval.bfcl.environment.training_plan: use the rest-rl commands, or pass "
            "env_builder=rest_rl.cli.train.env_builder to run_train / run_sft"
        )
    raise ConfigError(f"env.name={section.name!r} names no environment")
