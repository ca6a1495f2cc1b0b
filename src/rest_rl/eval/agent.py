"""Agent evaluation: held-out multi-turn tasks run to the end with a generate -> parse -> execute -> append loop.

``rest-rl eval agent --model M [--split test]`` takes the tasks of a split of the synthetic multi-turn world
(:mod:`rest_rl.envs`), and for every task:

1. renders the conversation so far with the model's chat template and the task domain's tools (the same
   tool list TRL's loop shows during training: every tool of the domain's environment class);
2. generates greedily and parses the reply as Qwen3/Hermes ``<tool_call>`` blocks
   (:func:`~rest_rl.toolcall.parse_hermes`, which never raises on model output);
3. with calls: appends the assistant turn, runs every call in the environment (bounded arguments, results
   and errors as text: :meth:`~rest_rl.envs.episode.Episode.call`, never ``eval``) and appends the results
   as ``tool`` messages, then goes on; without calls: the reply is the final answer and the episode ends;
4. after ``max_turns`` assistant turns without a final answer the episode ends with none.

A task succeeds when the environment ends in the expected state *and* the final answer is right
(:meth:`~rest_rl.envs.episode.Episode.outcome`): state, not call strings. Reported: success rate (overall, per
domain, per kind of task: possible / no valid action) with bootstrap 95% intervals, mean calls per task, the
share of replies with an unparseable ``<tool_call>`` block, and the tool-error rate. Conversations of a batch
advance together, one turn per generation call, so the engine batches across tasks.

The run directory works like the other benchmarks' (:mod:`rest_rl.eval.runs`): ``predictions.jsonl`` holds one
record per finished task (with its transcript), ``verdicts.jsonl`` the per-task success for ``rest-rl eval
compare``, ``--resume`` runs only the missing tasks and refuses a different model, decoding, task set or
protocol.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.envs.episode import Task
from rest_rl.envs.tasks import TaskConfig, make_tasks, tool_schemas
from rest_rl.envs.world import environment_for
from rest_rl.eval.compare import write_verdicts
from rest_rl.eval.engines import GenerationEngine, GenerationRequest
from rest_rl.eval.report import markdown_table
from rest_rl.eval.runs import (
    PREDICTIONS_FILE,
    EvalRunConfig,
    RunError,
    append_jsonl,
    build_engine,
    chunked,
    generate_checked,
    log_invocation,
    open_run,
    option,
    read_predictions,
    slugify,
    write_json,
)
from rest_rl.eval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, Interval, bootstrap_mean, format_estimate
from rest_rl.toolcall.hermes import parse_hermes

__all__ = ["PROTOCOL_VERSION", "AgentConfig", "AgentRun", "AgentScores", "run_agent", "run_episodes"]

#: Bumped whenever the loop, the prompt rendering or the success check change; part of a run's identity.
PROTOCOL_VERSION = "agent-world/rest-rl-1"

SPLITS = ("train", "validation", "test")


@dataclass
class AgentConfig(EvalRunConfig):
    """Settings of an agent evaluation run on the synthetic multi-turn world (``rest-rl eval agent``)."""

    env: str = option("world", "Environment: 'world' (the synthetic multi-turn tool world of rest_rl.envs).")
    split: str = option("test", "Task split: train, validation or test (held-out task compositions).")
    seed: int = option(0, "Seed of the task world (rest_rl.envs.tasks.TaskConfig.seed).", "N")
    n_tasks: int = option(200, "Tasks in the split (TaskConfig.n_<split>); --limit evaluates the first N of them.", "N")
    max_turns: int = option(6, "Most assistant turns per task; an episode still calling tools then ends without an answer.", "N")
    max_new_tokens: int = option(256, "Most tokens generated per assistant turn.", "N")
    system: str | None = option(None, "A system message put before every task's request (none by default, as in training).")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.env != "world":
            raise ValueError(f"env must be 'world' (the synthetic multi-turn tool world), got {self.env!r}")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        for name in ("n_tasks", "max_turns"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def task_config(self) -> TaskConfig:
        sizes = {"n_train": 0, "n_validation": 0, "n_test": 0}
        if self.split == "train":  # train tasks are drawn from the train compositions, as training draws them
            sizes["n_train"] = self.n_tasks
        sizes[f"n_{self.split}"] = self.n_tasks
        return TaskConfig(seed=self.seed, **sizes)

    def benchmark_identity(self) -> dict[str, Any]:
        return {
            "benchmark": "agent",
            "protocol": PROTOCOL_VERSION,
            "env": self.env,
            "split": self.split,
            "seed": self.seed,
            "max_turns": self.max_turns,
            "system": self.system,
        }


# ------------------------------------------------------------------------------------------------
# The loop
# ------------------------------------------------------------------------------------------------


@dataclass
class _Conversation:
    task: Task
    env: Any
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]]
    turns: int = 0
    unparsed: int = 0
    answer: str | None = None
    done: bool = False


def _assistant_turn(text: str, calls: list[Any]) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": c.name, "arguments": dict(c.arguments)}} for c in calls],
    }


def run_episodes(
    tasks: Sequence[Task],
    engine: GenerationEngine,
    *,
    max_turns: int = 6,
    max_new_tokens: int = 256,
    system: str | None = None,
    on_step: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    """Run every task to its end with ``engine`` (see the module docstring); one record per task, in order.

    A record holds the outcome (``success``, ``state_ok``, ``answer_ok``), the counts (``turns``, ``calls``,
    ``tool_errors``, ``invalid_calls``: calls the environment refused before running, ``unparsed``: replies
    whose ``<tool_call>`` block could not be read), the final ``answer`` and the ``transcript``.
    """
    conversations = []
    for task in tasks:
        env = environment_for(task)
        messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": task.request}]
        conversations.append(_Conversation(task, env, messages, tool_schemas(env=type(env))))
    for _ in range(max_turns):
        active = [c for c in conversations if not c.done]
        if not active:
            break
        requests = [GenerationRequest(messages=list(c.messages), tools=c.tools) for c in active]
        outputs = generate_checked(engine, requests, max_new_tokens)
        for conv, text in zip(active, outputs):
            conv.turns += 1
            parsed = parse_hermes(text)
            if parsed.has_tool_call_block and not parsed.calls:
                conv.unparsed += 1  # a call was attempted but could not be read: the text is the answer
            if not parsed.calls:
                conv.answer = parsed.response if parsed.response is not None else text.strip()
                conv.messages.append({"role": "assistant", "content": conv.answer})
                conv.done = True
                continue
            conv.messages.append(_assistant_turn(text, parsed.calls))
            for call in parsed.calls:
                result = conv.env.episode.call(call.name, call.arguments)
                conv.messages.append({"role": "tool", "name": call.name, "content": result})
        if on_step is not None:
            on_step(sum(c.done for c in conversations))
    records = []
    for conv in conversations:
        episode = conv.env.episode
        outcome = episode.outcome(conv.answer or "")
        records.append(
            {
                "id": conv.task.id,
                "domain": conv.task.domain,
                "kind": conv.task.kind,
                "template": conv.task.template,
                "task_sha256": _task_sha(conv.task),
                "success": outcome.success,
                "state_ok": outcome.state_ok,
                "answer_ok": outcome.answer_ok,
                "detail": getattr(outcome, "detail", ""),
                "turns": conv.turns,
                "finished": conv.done,
                "calls": episode.calls,
                "tool_errors": episode.tool_errors,
                "invalid_calls": episode.invalid_calls,
                "unparsed": conv.unparsed,
                "answer": conv.answer,
                "transcript": conv.messages,
            }
        )
    return records


def _task_sha(task: Task) -> str:
    return hashlib.sha256(task.to_json().encode("utf-8")).hexdigest()


# ------------------------------------------------------------------------------------------------
# Scores
# ------------------------------------------------------------------------------------------------


@dataclass
class GroupScore:
    """Success of a group of tasks (all, a domain, a kind), with its bootstrap interval and loop counts."""

    n: int = 0
    successes: int = 0
    interval: Interval | None = None
    calls: int = 0
    tool_errors: int = 0
    invalid_calls: int = 0
    unparsed: int = 0
    turns: int = 0

    @property
    def success_rate(self) -> float:
        return self.successes / self.n if self.n else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "success": round(self.success_rate, 6),
            "success_ci95": None if self.interval is None else [round(self.interval.low, 6), round(self.interval.high, 6)],
            "calls_per_task": round(self.calls / self.n, 4) if self.n else 0.0,
            "tool_error_rate": round(self.tool_errors / self.calls, 6) if self.calls else 0.0,
            "invalid_call_rate": round(self.invalid_calls / self.calls, 6) if self.calls else 0.0,
            "unparsed_reply_rate": round(self.unparsed / self.turns, 6) if self.turns else 0.0,
        }


@dataclass
class AgentScores:
    overall: GroupScore = field(default_factory=GroupScore)
    domains: dict[str, GroupScore] = field(default_factory=dict)
    kinds: dict[str, GroupScore] = field(default_factory=dict)
    selected: int = 0
    total: int = 0

    def subset_note(self) -> str | None:
        if self.selected < self.total:
            return f"Subset: {self.selected} of the split's {self.total} tasks (--limit)."
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall.to_dict(),
            "domains": {k: v.to_dict() for k, v in sorted(self.domains.items())},
            "kinds": {k: v.to_dict() for k, v in sorted(self.kinds.items())},
            "selected": self.selected,
            "total": self.total,
        }


def score_records(records: Sequence[dict[str, Any]], *, total: int, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> AgentScores:
    """Success rates with bootstrap intervals and loop counts, overall, per domain and per kind."""
    scores = AgentScores(selected=len(records), total=total)

    def add(group: GroupScore, rec: dict[str, Any]) -> None:
        group.n += 1
        group.successes += bool(rec["success"])
        for key in ("calls", "tool_errors", "invalid_calls", "unparsed", "turns"):
            setattr(group, key, getattr(group, key) + int(rec.get(key) or 0))

    outcomes: dict[tuple[str, str], list[float]] = {}
    for rec in records:
        add(scores.overall, rec)
        add(scores.domains.setdefault(rec["domain"], GroupScore()), rec)
        add(scores.kinds.setdefault(rec["kind"], GroupScore()), rec)
        for key in (("all", ""), ("domain", rec["domain"]), ("kind", rec["kind"])):
            outcomes.setdefault(key, []).append(1.0 if rec["success"] else 0.0)
    for (what, name), values in outcomes.items():
        group = scores.overall if what == "all" else (scores.domains if what == "domain" else scores.kinds)[name]
        group.interval = bootstrap_mean(values, resamples=resamples, seed=seed)
    return scores


def scores_table(scores: AgentScores) -> str:
    rows = []

    def row(name: str, g: GroupScore) -> None:
        d = g.to_dict()
        rows.append(
            [
                name,
                str(g.n),
                format_estimate(g.success_rate, g.interval),
                f"{d['calls_per_task']:.2f}",
                f"{100 * d['tool_error_rate']:.1f}",
                f"{100 * d['unparsed_reply_rate']:.1f}",
            ]
        )

    row("overall", scores.overall)
    for name, g in sorted(scores.domains.items()):
        row(f"domain {name}", g)
    for name, g in sorted(scores.kinds.items()):
        row(f"kind {name}", g)
    return markdown_table(["tasks", "n", "success % [95% CI]", "calls/task", "tool errors %", "unparsed replies %"], rows)


# ------------------------------------------------------------------------------------------------
# A run
# ------------------------------------------------------------------------------------------------


@dataclass
class AgentRun:
    """Result of :func:`run_agent`: where it went, what it scored, how much was generated now."""

    run_dir: Path
    scores: AgentScores
    generated: int
    reused: int
    table: str


def _report(scores: AgentScores, config: AgentConfig, run_dir: Path) -> str:
    lines = [
        f"# Agent evaluation: {config.model}",
        "",
        f"Split `{config.split}` of the synthetic multi-turn world (seed {config.seed}); protocol `{PROTOCOL_VERSION}`;"
        f" at most {config.max_turns} assistant turns per task, greedy decoding. A task succeeds when the final"
        " environment state and the final answer are both right. Intervals: percentile bootstrap over tasks, 95%.",
        "",
        scores_table(scores),
        "",
    ]
    note = scores.subset_note()
    if note:
        lines += [note, ""]
    lines.append(f"Run directory: `{run_dir}`; transcripts in `{PREDICTIONS_FILE}`.")
    return "\n".join(lines) + "\n"


def run_agent(
    config: AgentConfig,
    *,
    engine: GenerationEngine | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> AgentRun:
    """Evaluate a model on held-out multi-turn tasks into a run directory (fresh, or ``config.resume``)."""
    say = log or (lambda msg: print(msg, file=sys.stderr))
    tasks = make_tasks(config.task_config())[config.split]
    total = len(tasks)
    if config.limit is not None:
        tasks = tasks[: config.limit]
    digest = hashlib.sha256("\n".join(_task_sha(t) for t in make_tasks(config.task_config())[config.split]).encode()).hexdigest()
    identity = config.identity({f"tasks-{config.split}": digest})
    if not config.resume and tasks and engine is None:
        engine = build_engine(config)  # before the run directory exists: a bad model leaves nothing behind
    run_dir, record = open_run(config, f"agent-{slugify(config.model)}-{config.split}", identity)
    predictions = run_dir / PREDICTIONS_FILE
    existing = read_predictions(predictions)
    for task in tasks:
        rec = existing.get(task.id)
        if rec is not None and rec.get("task_sha256") != _task_sha(task):
            raise RunError(f"{predictions}: prediction {task.id} was made for a different task")
    missing = [t for t in tasks if t.id not in existing]
    log_invocation(run_dir, record, config, split=config.split, generated=len(missing))
    if missing:
        say(f"agent: running {len(missing)} of {len(tasks)} tasks ({config.split}) into {run_dir}")
        engine = engine or build_engine(config)
        from tqdm.auto import tqdm

        with tqdm(total=len(missing), disable=not progress, desc="agent", unit="task", dynamic_ncols=True) as bar:
            for chunk in chunked(missing, config.chunk_size):
                done_before = bar.n

                def advance(done: int, base: int = done_before) -> None:
                    bar.update(base + done - bar.n)

                records = run_episodes(
                    chunk, engine, max_turns=config.max_turns, max_new_tokens=config.max_new_tokens,
                    system=config.system, on_step=advance,
                )  # fmt: skip
                append_jsonl(predictions, records)
                bar.update(done_before + len(chunk) - bar.n)
    else:
        say(f"agent: all {len(tasks)} selected tasks already in {run_dir}; scoring only")
    saved = read_predictions(predictions)
    selected = [saved[t.id] for t in tasks if t.id in saved]
    settings = config.bootstrap_settings()
    scores = score_records(selected, total=total, resamples=settings.resamples, seed=settings.seed)
    write_verdicts(run_dir, [{"id": r["id"], "group": r["domain"], "scores": {"success": bool(r["success"])}} for r in selected])
    write_json(run_dir / "scores.json", {**config.benchmark_identity(), "model": identity["model"], **scores.to_dict()})
    (run_dir / "report.md").write_text(_report(scores, config, run_dir), encoding="utf-8")
    return AgentRun(run_dir=run_dir, scores=scores, generated=len(missing), reused=len(tasks) - len(missing), table=scores_table(scores))


def transcripts_json(records: Sequence[dict[str, Any]]) -> str:
    """The transcripts of ``records`` as indented JSON (for reading a run by eye)."""
    return json.dumps([{"id": r["id"], "success": r["success"], "transcript": r["transcript"]} for r in records], indent=1)
