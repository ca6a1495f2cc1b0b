"""Stateful tool environments: a synthetic multi-turn tool world whose tools a policy calls during a rollout.

This layer sits above :mod:`rest_rl.toolcall`, :mod:`rest_rl.rewards` and :mod:`rest_rl.data` and below the
engine integrations; see ``docs/architecture.md`` and ``docs/envs.md``.

* :mod:`rest_rl.envs.limits`: bounds on model-written tool arguments and results (:func:`check_arguments`).
* :mod:`rest_rl.envs.episode`: the task record, the guarded tool runner, the outcome check, the environment base.
* :mod:`rest_rl.envs.world`: four domains (bank, orders, calendar, files) as TRL ``environment_factory`` classes.
* :mod:`rest_rl.envs.tasks`: task templates, seeded held-out-composition splits, GRPO / SFT rows, the reward.

    from rest_rl.envs import ENVIRONMENTS, TaskConfig, make_tasks, outcome_reward, to_grpo_row
    splits = make_tasks(TaskConfig(n_train=2000))
    rows = [to_grpo_row(task) for task in splits["train"]]
    # GRPOTrainer(..., environment_factory=ENVIRONMENTS, reward_funcs=[outcome_reward])
"""

from rest_rl.envs.episode import (
    KINDS,
    REFUSAL_MARKERS,
    CallRecord,
    Episode,
    Outcome,
    Task,
    ToolEnv,
    ToolError,
    answer_ok,
    is_refusal,
    tool,
    tool_names,
    tool_schema,
)
from rest_rl.envs.limits import DEFAULT_LIMITS, Limits, bound_result, check_arguments
from rest_rl.envs.tasks import (
    SPLITS,
    TEMPLATES,
    TaskConfig,
    compositions,
    final_answer,
    generate_task,
    gold_messages,
    heldout_compositions,
    make_tasks,
    outcome_reward,
    replay,
    to_grpo_row,
    to_sft_example,
    tool_schemas,
)
from rest_rl.envs.world import (
    DOMAIN_TOOLS,
    DOMAINS,
    ENVIRONMENTS,
    BankEnv,
    CalendarEnv,
    FilesEnv,
    OrdersEnv,
    WorldEnv,
    environment_for,
)

__all__ = [
    "DEFAULT_LIMITS",
    "DOMAINS",
    "DOMAIN_TOOLS",
    "ENVIRONMENTS",
    "KINDS",
    "REFUSAL_MARKERS",
    "SPLITS",
    "TEMPLATES",
    "BankEnv",
    "CalendarEnv",
    "CallRecord",
    "Episode",
    "FilesEnv",
    "Limits",
    "OrdersEnv",
    "Outcome",
    "Task",
    "TaskConfig",
    "ToolEnv",
    "ToolError",
    "WorldEnv",
    "answer_ok",
    "bound_result",
    "check_arguments",
    "compositions",
    "environment_for",
    "final_answer",
    "generate_task",
    "gold_messages",
    "heldout_compositions",
    "is_refusal",
    "make_tasks",
    "outcome_reward",
    "replay",
    "to_grpo_row",
    "to_sft_example",
    "tool",
    "tool_names",
    "tool_schema",
    "tool_schemas",
]
