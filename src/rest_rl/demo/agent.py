"""The agentic demo: multi-turn tool use learned from scratch on CPU (``rest-rl demo agent``, ``make demo-agent``).

Where :mod:`rest_rl.demo.pipeline` trains one tool call per prompt, this demo trains an *agent*: the model calls a
tool, reads the result, calls again and finally answers, in the stateful tool world of :mod:`rest_rl.envs`
(bank, orders, calendar, files). A task succeeds when the world ends in the expected state *and* the final answer
is right. Stages, on CPU, nothing downloaded:

1. **world**: :func:`~rest_rl.envs.make_tasks` draws the train tasks and the held-out ``test`` tasks (task
   compositions -- domain x template -- never trained on); fresh tasks of the *training* compositions, never
   trained on either, form a second, in-distribution set (``indist``);
2. **tokenizer and model**: a byte-level BPE trained on the gold conversations of the train tasks, rendered with
   the chat template and the tools (:func:`~rest_rl.models.tiny.make_embedded_model` with ``corpus=``), and a tiny
   Qwen3-architecture model;
3. **SFT warm start** on a few gold trajectories (``sft_labels`` tasks): every assistant turn is one
   prompt/completion pair -- the conversation so far (request, earlier calls, tool results) as the prompt, the
   tools passed to the chat template, the gold turn as the completion -- trained with
   :class:`~rest_rl.integrations.trl.sft.ResTSFTTrainer`;
4. **ResT RL** from that start with :class:`~rest_rl.integrations.trl.grpo.ResTGRPOTrainer` under TRL's multi-turn
   tool loop (``environment_factory=ENVIRONMENTS``, one environment class per domain) on *fresh* train tasks,
   rewarded by :func:`~rest_rl.envs.outcome_reward` (1 iff final state and final answer are right; no gold
   trajectory is imitated);
5. **control arm**: the same SFT continued on the same labels for a fixed number of steps chosen to take about as
   long as the RL stage, so "RL beats SFT" is not just "more training beats less";
6. **evaluation**: every model runs every held-out task to its end with our own generate -> parse -> execute ->
   append loop (:func:`~rest_rl.eval.agent.run_episodes`, :class:`~rest_rl.eval.engines.HFEngine`, greedy);
   success with bootstrap 95% intervals, calls per task, tool-error rate, per domain; paired differences between
   the arms on the same tasks;
7. ``<out_dir>/report.md`` with the tables and PNG plots (reward and tool calls over RL steps, per-region entropy
   and weight, per-turn entropy) and ``summary.json``; the numbers are printed at the end.

Configuration: :class:`DemoAgentConfig` (``configs/demo_agent.yaml`` holds the same defaults). Step counts are
fixed, not seconds: the result does not depend on the machine's speed, only the wall time does.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rest_rl.envs.tasks import TaskConfig
from rest_rl.models.tiny import TinyModelConfig

__all__ = [
    "AGENT_ARMS",
    "AGENT_SPLITS",
    "DEMO_AGENT_RL",
    "DEMO_AGENT_SFT",
    "DemoAgentConfig",
    "agent_sft_rows",
    "agent_splits",
    "agent_chat_template",
    "conversation_corpus",
    "run_demo_agent",
    "write_agent_report",
]

DEMO_AGENT_SFT: dict[str, Any] = {
    "max_steps": 1000,
    "per_device_train_batch_size": 8,
    "learning_rate": 3.0e-3,
    "lr_scheduler_type": "linear",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "max_length": None,
    "assistant_only_loss": True,
    "rest_sft_mode": "custom",
    "rest_region_weights": {"ARG_VALUE": 5.0},
    "logging_steps": 25,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "gradient_checkpointing": False,
    "use_cpu": True,
    "dataset_num_proc": None,
    "seed": 0,
}
"""Settings of the SFT warm start (any :class:`~rest_rl.integrations.trl.sft.ResTSFTConfig` field)."""

DEMO_AGENT_RL: dict[str, Any] = {
    "max_steps": 50,
    "per_device_train_batch_size": 32,
    "num_generations": 8,
    "learning_rate": 3.0e-4,
    "lr_scheduler_type": "linear",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "beta": 0.0,
    "temperature": 1.0,
    "max_completion_length": 256,
    "max_tool_calling_iterations": 4,
    "logging_steps": 5,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "gradient_checkpointing": False,
    "use_cpu": True,
    "rest_scheme": "entropy",
    "seed": 0,
}
"""Settings of the ResT RL stage (any :class:`~rest_rl.integrations.trl.grpo.ResTGRPOConfig` field): 32 episodes per
step = 4 tasks x 8 samples, at most 4 assistant turns with calls per episode."""

AGENT_ARMS: tuple[str, ...] = ("sft", "rl", "control")
"""The compared models, in report order."""

AGENT_SPLITS: dict[str, str] = {
    "test": "held-out task compositions (domain x template never trained on)",
    "indist": "new tasks of the training compositions (never trained on)",
}
"""The evaluation sets: ``test`` is the headline; ``indist`` shows what training did on its own distribution."""


_SCHEMA_LOOP = "{%- for tool in tools -%}{{- '\n' + (tool | tojson) -}}{%- endfor -%}"
_SCHEMA_HEADER = "Tools you can call, one JSON schema per line:\n<tools>"
_SCHEMA_FOOTER = (
    "{{- '\n</tools>\nFor each tool call, write <tool_call>, then {\"name\": ..., \"arguments\": {...}} '"
    " + 'on its own line, then </tool_call>.<|im_end|>\n' -}}"
)
_COMPACT_LOOP = (
    "{%- for tool in tools -%}"
    "{%- set fn = tool['function'] if tool.get('function') else tool -%}"
    "{{- '\n' + fn['name'] + '(' -}}"
    "{%- for key, prop in ((fn.get('parameters') or {}).get('properties') or {}).items() -%}"
    "{%- if not loop.first -%}{{- ', ' -}}{%- endif -%}"
    "{{- key + ': ' + (prop.get('type') or 'any') -}}"
    "{%- endfor -%}"
    "{{- ') - ' + (fn.get('description') or '') -}}"
    "{%- endfor -%}"
)


_ASSISTANT_OPEN = "{{- '<|im_start|>assistant\n' -}}"
_ASSISTANT_CLOSE = "{{- '<|im_end|>\n' -}}{%- elif message['role'] == 'tool' -%}"


def agent_chat_template(*, compact_tools: bool = True, template: str | None = None) -> str:
    """The demo's chat template: the tiny model's tools template
    (:data:`~rest_rl.models.tokenizer.TOOLS_CHAT_TEMPLATE` unless ``template`` is given) with two changes that
    leave every rendered string as it was, or shorter:

    * every assistant turn (after its ``<|im_start|>assistant`` header, through its ``<|im_end|>``) is wrapped in
      ``{% generation %}``, so TRL's conversational SFT with ``assistant_only_loss=True`` trains a whole gold
      trajectory in one row, on the model's turns only (the text is unchanged);
    * with ``compact_tools``, the system turn lists each tool on one line, ``name(param: type, ...) -
      description``, instead of its JSON schema, and drops the one-line call instruction (a model trained from
      scratch learns the call format from its examples): a domain's system turn shrinks from about 380 tokens to
      about 90, so the demo's sequences are mostly the conversation, which is what makes multi-turn RL fit a few
      CPU minutes.

    The ``<tool_call>`` blocks, tool results as ``<tool_response>`` user turns, ``<|im_end|>`` after every turn
    and prefix preservation are unchanged, so the tokenizer's response parser and TRL's tool loop work as with
    the original. Raises ``ValueError`` if ``template`` lacks the parts it changes."""
    from rest_rl.models.tokenizer import TOOLS_CHAT_TEMPLATE

    base = TOOLS_CHAT_TEMPLATE if template is None else template
    needed = [_ASSISTANT_OPEN, _ASSISTANT_CLOSE] + ([_SCHEMA_LOOP, _SCHEMA_HEADER, _SCHEMA_FOOTER] if compact_tools else [])
    if any(part not in base for part in needed):
        raise ValueError("the chat template does not have the layout of rest_rl.models.tokenizer.TOOLS_CHAT_TEMPLATE")
    out = base.replace(_ASSISTANT_OPEN, _ASSISTANT_OPEN + "{%- generation -%}", 1)
    out = out.replace(_ASSISTANT_CLOSE, "{{- '<|im_end|>\n' -}}{%- endgeneration -%}{%- elif message['role'] == 'tool' -%}", 1)
    if compact_tools:
        out = out.replace(_SCHEMA_LOOP, _COMPACT_LOOP).replace(_SCHEMA_HEADER, "Tools:\n<tools>")
        out = out.replace(_SCHEMA_FOOTER, "{{- '\n</tools><|im_end|>\n' -}}")
    return out


def _tasks_default() -> TaskConfig:
    return TaskConfig(seed=0, n_train=800, n_validation=0, n_test=300, heldout_validation=False)


@dataclass
class DemoAgentConfig:
    """Everything the agentic demo does, with defaults that finish in a few minutes on 2 CPU cores."""

    out_dir: str = field(default="runs/demo-agent", metadata={"help": "Where the model, runs, report and plots go."})
    seed: int = field(default=0, metadata={"help": "Seed of the model initialisation (the trainers' seeds are in sft/rl)."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads (0 = leave torch's default)."})
    tasks: TaskConfig = field(
        default_factory=_tasks_default,
        metadata={
            "help": "The multi-turn tool world's task splits (rest_rl.envs.TaskConfig): n_train tasks hold the labelled "
            "trajectories, the RL tasks and the in-distribution evaluation tasks, in that order; n_test tasks of "
            "held-out compositions. n_validation is not used."
        },
    )
    model: TinyModelConfig = field(default_factory=TinyModelConfig, metadata={"help": "Sizes of the tiny model."})
    vocab_size: int = field(
        default=1024,
        metadata={"help": "Target vocabulary of the BPE tokenizer (the world's conversations yield fewer tokens)."},
    )
    compact_tools: bool = field(
        default=True,
        metadata={
            "help": "System turn with the tools one per line, name(param: type, ...) - description, and no call "
            "instruction (about 90 tokens per domain); false: one JSON schema per line and the instruction, as the "
            "embedded default's template (about 380 tokens)."
        },
    )
    split_words: bool = field(
        default=True,
        metadata={
            "help": "Train the tokenizer on the conversations with the space before a word replaced by a line break, so "
            "it learns no word token with a leading space: a word is then the same token after a space, a quote or a "
            "bracket, and a name in the request is the very token the call must copy. About a fifth more tokens per "
            "conversation; false: the plain byte-level BPE, where ' Wes' in a request and 'Wes' in a call are "
            "different tokens (in our runs the model then never learned to copy names from the request)."
        },
    )
    sft_format: str = field(
        default="conversation",
        metadata={
            "help": "How gold trajectories become SFT examples: conversation = one row per trajectory, loss on the "
            "assistant turns only (TRL's conversational SFT with assistant_only_loss); turns = one prompt/completion "
            "row per assistant turn (the conversation so far as the prompt). Same trained tokens; conversation reads "
            "each trajectory once."
        },
    )
    sft_labels: int = field(
        default=300,
        metadata={"help": "Gold trajectories of the SFT warm start (the first train tasks); each assistant turn is one example."},
    )
    rl_tasks: int | None = field(
        default=None,
        metadata={
            "help": "Train tasks for RL, taken after the labelled ones (None = rl.max_steps x tasks per step, so no "
            "task is seen twice)."
        },
    )
    eval_splits: list[str] = field(
        default_factory=lambda: ["test", "indist"],
        metadata={
            "help": "Evaluation sets, the first one being the headline: test = tasks of held-out compositions; "
            "indist = new tasks of the training compositions (the last eval_tasks train tasks, never trained on)."
        },
    )
    eval_tasks: int = field(default=300, metadata={"help": "Tasks evaluated per set and model."})
    eval_batch_size: int = field(default=100, metadata={"help": "Conversations per greedy generation batch."})
    eval_max_turns: int = field(
        default=5, metadata={"help": "Most assistant turns per evaluated task (an episode still calling tools then fails)."}
    )
    eval_max_new_tokens: int = field(default=96, metadata={"help": "Generation limit per assistant turn in evaluation."})
    control: bool = field(default=True, metadata={"help": "Run the control arm (SFT continued on the same labels)."})
    sft: dict[str, Any] = field(
        default_factory=lambda: dict(DEMO_AGENT_SFT),
        metadata={"help": "SFT warm start: any ResTSFTConfig field (output_dir is set by the demo)."},
    )
    control_sft: dict[str, Any] = field(
        default_factory=lambda: {"max_steps": 400, "lr_scheduler_type": "linear"},
        metadata={
            "help": "Control arm: ResTSFTConfig fields laid over `sft`, starting from the SFT model. max_steps is fixed "
            "so that the arm takes about as long as the RL stage on the reference machine; the learning rate decays "
            "linearly, as in the RL stage."
        },
    )
    rl: dict[str, Any] = field(
        default_factory=lambda: dict(DEMO_AGENT_RL),
        metadata={"help": "ResT RL stage: any ResTGRPOConfig field (output_dir is set by the demo)."},
    )

    def __post_init__(self) -> None:
        if self.sft_format not in ("conversation", "turns"):
            raise ValueError(f"sft_format must be 'conversation' or 'turns', got {self.sft_format!r}")
        if self.sft_labels < 1:
            raise ValueError(f"sft_labels must be >= 1, got {self.sft_labels}")
        if self.rl_tasks is not None and self.rl_tasks < 1:
            raise ValueError(f"rl_tasks must be >= 1 (or None), got {self.rl_tasks}")
        if not self.eval_splits or any(s not in AGENT_SPLITS for s in self.eval_splits) or len(set(self.eval_splits)) != len(self.eval_splits):
            raise ValueError(f"eval_splits must be a non-empty list of distinct {sorted(AGENT_SPLITS)}, got {self.eval_splits}")
        if self.eval_tasks < 1 or self.eval_batch_size < 1 or self.eval_max_turns < 1 or self.eval_max_new_tokens < 1:
            raise ValueError("eval_tasks, eval_batch_size, eval_max_turns and eval_max_new_tokens must be >= 1")
        if "test" in self.eval_splits and self.tasks.n_test < self.eval_tasks:
            raise ValueError(f"tasks.n_test ({self.tasks.n_test}) must be >= eval_tasks ({self.eval_tasks})")
        needed = self.sft_labels + self.n_rl_tasks + (self.eval_tasks if "indist" in self.eval_splits else 0)
        if self.tasks.n_train < needed:
            raise ValueError(
                f"tasks.n_train ({self.tasks.n_train}) must hold the {self.sft_labels} labelled tasks, the "
                f"{self.n_rl_tasks} RL tasks" + (f" and the {self.eval_tasks} indist tasks" if "indist" in self.eval_splits else "")
                + f" ({needed})"
            )

    @property
    def rl_tasks_per_step(self) -> int:
        """Distinct tasks per RL step: the batch divided by the samples per task."""
        batch = int(self.rl.get("per_device_train_batch_size", 8)) * int(self.rl.get("gradient_accumulation_steps", 1))
        return max(1, batch // max(1, int(self.rl.get("num_generations", 8) or 8)))

    @property
    def n_rl_tasks(self) -> int:
        """How many train tasks the RL stage draws from."""
        if self.rl_tasks is not None:
            return self.rl_tasks
        return max(1, int(self.rl.get("max_steps", 1))) * self.rl_tasks_per_step

    def check_trainer_sections(self) -> None:
        """Build the trainer configs of the three stages once, so a bad key fails before anything runs
        (``ConfigError`` naming the section and key)."""
        from rest_rl.demo.pipeline import check_stage_sections

        check_stage_sections(self.out_dir, sft=self.sft, control_sft=self.control_sft, rl=self.rl)

    def quick(self) -> DemoAgentConfig:
        """A tiny version of this configuration that runs in seconds (smoke tests only, not results)."""
        tasks = replace(self.tasks, n_train=40, n_validation=0, n_test=8)
        sft = {**self.sft, "max_steps": 3, "per_device_train_batch_size": 8, "logging_steps": 1}
        rl = {
            **self.rl,
            "max_steps": 2,
            "per_device_train_batch_size": 4,
            "num_generations": 2,
            "max_completion_length": 96,
            "max_tool_calling_iterations": 2,
            "logging_steps": 1,
        }
        return replace(
            self,
            tasks=tasks,
            model=TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, seed=self.model.seed),
            vocab_size=400,
            sft_labels=8,
            rl_tasks=None,
            eval_tasks=8,
            eval_batch_size=16,
            eval_max_turns=2,
            eval_max_new_tokens=24,
            sft=sft,
            control_sft={**self.control_sft, "max_steps": 2},
            rl=rl,
        )


# ------------------------------------------------------------------------------------------------------------
# Data: splits, the tokenizer corpus, SFT rows, RL rows
# ------------------------------------------------------------------------------------------------------------


def agent_splits(cfg: DemoAgentConfig) -> dict[str, list[Any]]:
    """The task lists of the demo: ``labelled`` (SFT), ``rl``, and the evaluation sets named in ``eval_splits``.

    The train split is cut in order: labelled tasks, RL tasks, then (for ``indist``) the last ``eval_tasks``
    tasks; all are distinct (:func:`~rest_rl.envs.make_tasks` never repeats a task)."""
    from rest_rl.envs import make_tasks

    splits = make_tasks(cfg.tasks)
    train = splits["train"]
    n_rl = cfg.n_rl_tasks
    out: dict[str, list[Any]] = {
        "labelled": train[: cfg.sft_labels],
        "rl": train[cfg.sft_labels : cfg.sft_labels + n_rl],
    }
    if "test" in cfg.eval_splits:
        out["test"] = splits["test"][: cfg.eval_tasks]
    if "indist" in cfg.eval_splits:
        out["indist"] = train[len(train) - cfg.eval_tasks :]
    return out


_SPACE_BEFORE_WORD = re.compile(r" (?=[^\W\d_])")


def conversation_corpus(tasks: Sequence[Any], chat_template: str, *, split_words: bool = False) -> list[str]:
    """The tokenizer's training texts: each task's gold conversation (request, calls, tool results, answer)
    rendered with ``chat_template`` and the task's tools, as the model will see it.

    ``split_words``: every space before a letter becomes a line break. The byte-level BPE's pre-tokenizer glues a
    leading space to a word but not a line break, so the tokenizer then learns word tokens without a leading space
    only; at run time such a space stays a token of its own and a word is the same token wherever it occurs."""
    from transformers.utils.chat_template_utils import render_jinja_template

    from rest_rl.envs import gold_messages, tool_schemas

    texts = []
    for task in tasks:
        rendered, _ = render_jinja_template([gold_messages(task)], tools=tool_schemas(task), chat_template=chat_template)
        texts.append(_SPACE_BEFORE_WORD.sub("\n", rendered[0]) if split_words else rendered[0])
    return texts


def agent_sft_rows(tasks: Sequence[Any], sft_format: str = "conversation") -> list[dict[str, Any]]:
    """SFT rows of the tasks' gold trajectories, with ``tools`` (the task's tool schemas as JSON, passed to the chat
    template by TRL) and an ``id``.

    ``conversation``: one row per task, ``messages`` = the whole gold conversation
    (:func:`~rest_rl.envs.to_sft_example`; train with ``assistant_only_loss=True``). ``turns``: one prompt/completion
    row per assistant turn: ``prompt`` is the conversation so far (request, earlier assistant turns with their calls,
    tool results), ``completion`` the gold turn."""
    from rest_rl.envs import gold_messages, to_sft_example, tool_schemas

    if sft_format == "conversation":
        return [{**to_sft_example(task), "id": task.id} for task in tasks]
    if sft_format != "turns":
        raise ValueError(f"sft_format must be 'conversation' or 'turns', got {sft_format!r}")
    rows = []
    for task in tasks:
        messages = gold_messages(task, json_arguments=True)
        tools = json.dumps(tool_schemas(task), ensure_ascii=False)
        turn = 0
        for i, message in enumerate(messages):
            if message["role"] != "assistant":
                continue
            turn += 1
            rows.append({"prompt": messages[:i], "completion": [message], "tools": tools, "id": f"{task.id}-turn{turn}"})
    return rows


# ------------------------------------------------------------------------------------------------------------
# Stages
# ------------------------------------------------------------------------------------------------------------


def build_agent_model(cfg: DemoAgentConfig, splits: Mapping[str, Sequence[Any]], out: Path) -> tuple[Path, dict[str, Any]]:
    """The tokenizer, trained on the gold conversations of the labelled and RL tasks, and the tiny model, with the
    agent chat template, in ``out``; returns the directory and its ``rest_rl_embedded.json`` (sizes)."""
    from rest_rl.models.tiny import make_embedded_model

    template = agent_chat_template(compact_tools=cfg.compact_tools)
    model_dir = make_embedded_model(
        out,
        config=replace(cfg.model, seed=cfg.seed),
        vocab_size=cfg.vocab_size,
        corpus=conversation_corpus(list(splits["labelled"]) + list(splits["rl"]), template, split_words=cfg.split_words),
    )
    _set_chat_template(model_dir, template)
    return model_dir, json.loads((model_dir / "rest_rl_embedded.json").read_text(encoding="utf-8"))


def _set_chat_template(model_dir: Path, template: str) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    tokenizer.chat_template = template
    tokenizer.save_pretrained(model_dir)


def train_agent_sft(base: Path, out: Path, rows: list[dict[str, Any]], section: dict[str, Any], description: str) -> None:
    """SFT of the model in ``base`` on ``rows`` (:func:`agent_sft_rows`) with the ResTSFTConfig fields of
    ``section``; the model and tokenizer are saved to ``out``."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rest_rl.config import build_dataclass
    from rest_rl.integrations.trl.callbacks import default_callbacks, install_callbacks
    from rest_rl.integrations.trl.sft import ResTSFTConfig, ResTSFTTrainer

    args = build_dataclass(ResTSFTConfig, {**section, "output_dir": str(out)}, where="sft")
    tokenizer = AutoTokenizer.from_pretrained(base)
    model = AutoModelForCausalLM.from_pretrained(base)
    trainer = ResTSFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tokenizer)
    install_callbacks(trainer, default_callbacks(description))
    trainer.train()
    trainer.save_model(str(out))
    tokenizer.save_pretrained(out)


def agent_rl_trainer(base: str | os.PathLike[str], args: Any, tasks: Sequence[Any], *, trainer_cls: type | None = None) -> Any:
    """The ResT trainer of the RL stage: ``tasks`` as GRPO rows, TRL's tool loop over the world's environments
    (``environment_factory``), the outcome reward only. ``trainer_cls``: a subclass of ``ResTGRPOTrainer``
    (benchmarks add probes this way)."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rest_rl.envs import ENVIRONMENTS, outcome_reward, to_grpo_row
    from rest_rl.integrations.trl.grpo import ResTGRPOTrainer

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory is "experimental" in TRL 1.16
    cls = trainer_cls or ResTGRPOTrainer
    return cls(
        model=AutoModelForCausalLM.from_pretrained(base),
        reward_funcs=[outcome_reward],
        args=args,
        train_dataset=Dataset.from_list([to_grpo_row(t) for t in tasks]),
        processing_class=AutoTokenizer.from_pretrained(base),
        environment_factory=ENVIRONMENTS,
    )


def _train_rl(base: Path, out: Path, tasks: Sequence[Any], section: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    from rest_rl.config import build_dataclass
    from rest_rl.integrations.trl.callbacks import default_callbacks, install_callbacks
    from rest_rl.integrations.trl.grpo import ResTGRPOConfig

    args = build_dataclass(ResTGRPOConfig, {**section, "output_dir": str(out)}, where="rl")
    trainer = agent_rl_trainer(base, args, tasks)
    install_callbacks(trainer, default_callbacks(f"rl ({args.rest_scheme})"))
    trainer.train()
    trainer.save_model(str(out))
    AutoTokenizer.from_pretrained(base).save_pretrained(out)


def evaluate_agent(
    model: Any, tasks: Sequence[Any], cfg: DemoAgentConfig, predictions: Path | None = None, *, tokenizer: Any = None
) -> list[dict[str, Any]]:
    """Run every task to its end with the model (greedy), ``eval_batch_size`` conversations at a time; return one
    record per task (``success`` among them), also written to ``predictions`` when given. ``model``: a model
    directory, or a loaded model with its ``tokenizer`` (evaluation during training)."""
    from rest_rl.eval.agent import run_episodes
    from rest_rl.eval.engines import HFEngine

    if tokenizer is None:
        engine = HFEngine(str(model), batch_size=cfg.eval_batch_size, device="cpu", dtype="float32")
    else:
        engine = HFEngine(model, tokenizer, batch_size=cfg.eval_batch_size)
    was_training = getattr(model, "training", False)
    records: list[dict[str, Any]] = []
    for start in range(0, len(tasks), cfg.eval_batch_size):
        chunk = tasks[start : start + cfg.eval_batch_size]
        records += run_episodes(chunk, engine, max_turns=cfg.eval_max_turns, max_new_tokens=cfg.eval_max_new_tokens)
    if was_training:
        model.train()
    if predictions is not None:
        predictions.parent.mkdir(parents=True, exist_ok=True)
        with open(predictions, "w", encoding="utf-8") as fh:
            for rec in records:
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    return records


def _paired(a: Sequence[Mapping[str, Any]], b: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``b - a`` in success on the same tasks (:func:`rest_rl.eval.stats.paired_comparison`)."""
    from rest_rl.eval.stats import paired_comparison

    return paired_comparison([1.0 if r["success"] else 0.0 for r in a], [1.0 if r["success"] else 0.0 for r in b])


def run_demo_agent(cfg: DemoAgentConfig, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the whole agentic demo (see the module docstring); returns the summary written to ``summary.json``."""
    import torch

    from rest_rl.demo.pipeline import Stage, machine_info, say
    from rest_rl.eval.agent import score_records

    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass
    log = log or say
    cfg.check_trainer_sections()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    rl_steps = int(cfg.rl.get("max_steps", 0))
    sft_steps = int(cfg.sft.get("max_steps", 0))
    control_steps = int({**cfg.sft, **cfg.control_sft}.get("max_steps", 0))

    log("rest-rl demo agent: multi-turn tool world -> tiny model -> SFT on gold trajectories -> ResT RL in TRL's "
        "tool loop -> held-out episodes")
    log(f"(CPU, {torch.get_num_threads()} threads, no downloads; output in {out})\n")

    with Stage(timings, "world_model", "[1/6] multi-turn tool world, tokenizer and tiny model", log):
        splits = agent_splits(cfg)
        model_dir, info = build_agent_model(cfg, splits, out / "model")
        sft_rows = agent_sft_rows(splits["labelled"], cfg.sft_format)
        sft_turns = sum(len(task.gold) + 1 for task in splits["labelled"])
        held_out = {split: splits[split] for split in cfg.eval_splits}
        log(
            f"      {len(cfg.tasks.domains)} domains ({', '.join(cfg.tasks.domains)}); {cfg.sft_labels} gold trajectories "
            f"({sft_turns} assistant turns, {len(sft_rows)} SFT rows), {len(splits['rl'])} RL tasks; evaluated: "
            + ", ".join(f"{len(v)} {k} tasks" for k, v in held_out.items())
        )
        log(f"      model: {info['parameters'] / 1e6:.2f}M parameters, vocabulary {info['vocab_size']} ({model_dir})")

    records: dict[str, dict[str, list[dict[str, Any]]]] = {split: {} for split in cfg.eval_splits}

    def evaluate(arm: str, model: Path) -> None:
        for split, tasks in held_out.items():
            records[split][arm] = evaluate_agent(model, tasks, cfg, out / "eval" / f"{arm}-{split}.jsonl")

    def success_line(arm: str) -> str:
        return ", ".join(
            f"{split} {sum(r['success'] for r in by_arm[arm]) / max(1, len(by_arm[arm])):.3f}" for split, by_arm in records.items()
        )

    sft_dir = out / "sft"
    with Stage(
        timings, "sft", f"[2/6] SFT warm start on {cfg.sft_labels} gold trajectories ({sft_steps} steps)", log
    ):
        train_agent_sft(model_dir, sft_dir, sft_rows, cfg.sft, "sft")

    with Stage(timings, "eval_sft", "[3/6] held-out episodes of the SFT start (greedy)", log):
        evaluate("sft", sft_dir)
        log("      success: " + success_line("sft"))

    rl_dir = out / "rl"
    per_step = cfg.rl_tasks_per_step
    with Stage(
        timings,
        "rl",
        f"[4/6] ResT RL from the SFT start in TRL's tool loop: {rl_steps} steps x {per_step} fresh tasks x "
        f"{cfg.rl.get('num_generations')} episodes, scheme={cfg.rl.get('rest_scheme', 'entropy')}, outcome reward",
        log,
    ):
        _train_rl(sft_dir, rl_dir, splits["rl"], cfg.rl)

    control_dir = out / "control"
    if cfg.control:
        with Stage(
            timings, "control", f"[5/6] control arm: SFT continued on the same {cfg.sft_labels} trajectories ({control_steps} steps)", log
        ):
            train_agent_sft(sft_dir, control_dir, sft_rows, {**cfg.sft, **cfg.control_sft}, "control")
    else:
        log("[5/6] control arm skipped (control: false)")

    with Stage(timings, "eval_final", "[6/6] held-out episodes of the RL model" + (" and the control" if cfg.control else ""), log):
        evaluate("rl", rl_dir)
        if cfg.control:
            evaluate("control", control_dir)

    arms = [a for a in AGENT_ARMS if a in records[cfg.eval_splits[0]]]
    held: dict[str, dict[str, Any]] = {}
    for split, by_arm in records.items():
        held[split] = {arm: score_records(recs, total=len(recs)).to_dict() for arm, recs in by_arm.items()}
    comparisons: dict[str, dict[str, Any]] = {}
    for split, by_arm in records.items():
        pairs = {"rl_vs_sft": ("sft", "rl")}
        if cfg.control:
            pairs.update({"control_vs_sft": ("sft", "control"), "rl_vs_control": ("control", "rl")})
        comparisons[split] = {name: _paired(by_arm[a], by_arm[b]) for name, (a, b) in pairs.items()}

    elapsed = time.perf_counter() - t_start
    summary: dict[str, Any] = {
        "headline_split": cfg.eval_splits[0],
        "arms": arms,
        "held_out": held,
        "comparisons": comparisons,
        "split_labels": {k: AGENT_SPLITS[k] for k in cfg.eval_splits},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "total_s": round(elapsed, 1),
        "steps": {"sft": sft_steps, "rl": rl_steps, "control": control_steps if cfg.control else 0},
        "sft_labels": cfg.sft_labels,
        "sft_examples": len(sft_rows),
        "sft_turns": sft_turns,
        "rl_tasks": len(splits["rl"]),
        "model": info,
        "world": {
            "domains": list(cfg.tasks.domains),
            "test_compositions": sorted({f"{t.domain}/{t.template}" for t in splits.get("test", [])}),
            "train_compositions": sorted({f"{t.domain}/{t.template}" for t in splits["labelled"] + splits["rl"]}),
        },
        "machine": machine_info(),
        "config": _plain(cfg),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report = write_agent_report(out, summary, rl_metrics=rl_dir / "metrics.jsonl")

    log("")
    labels = {
        "sft": f"SFT start ({cfg.sft_labels} trajectories, {sft_steps} steps)",
        "rl": f"+ ResT RL ({rl_steps} steps on fresh tasks, {timings['rl']:.0f} s)",
        "control": f"+ more SFT on the same trajectories ({control_steps} steps, {timings.get('control', 0):.0f} s)",
    }
    width = max(len(labels[a]) for a in arms) + 2
    for split in cfg.eval_splits:
        n = held[split]["sft"]["overall"]["n"]
        log(f"Task success on {n} {AGENT_SPLITS[split]} (greedy; 95% bootstrap interval):")
        for arm in arms:
            o = held[split][arm]["overall"]
            ci = o["success_ci95"]
            log(f"  {labels[arm]:<{width}}{o['success']:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        c = comparisons[split]["rl_vs_sft"]
        log(f"  RL - SFT start: {c['diff']:+.3f} [{c['diff_ci95'][0]:+.3f}, {c['diff_ci95'][1]:+.3f}] (paired), McNemar p = {c['mcnemar_p']:.2g}")
        if cfg.control:
            c = comparisons[split]["rl_vs_control"]
            log(f"  RL - control:   {c['diff']:+.3f} [{c['diff_ci95'][0]:+.3f}, {c['diff_ci95'][1]:+.3f}] (paired), McNemar p = {c['mcnemar_p']:.2g}")
    log(f"report: {report}   (total {elapsed:.0f} s)")
    return summary


def _plain(cfg: DemoAgentConfig) -> dict[str, Any]:
    from rest_rl.config import to_plain

    return to_plain(cfg)


# ------------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------------

_ARM_LABELS = {
    "sft": "SFT start",
    "rl": "SFT start + ResT RL",
    "control": "SFT start + more SFT (control)",
}


def _turn_buckets(records: Sequence[Mapping[str, Any]]) -> list[str]:
    found = set()
    for r in records:
        for key in r:
            if key.startswith("rest/turn") and "/" in key[len("rest/") :]:
                found.add(key.split("/")[1])
    return sorted(found, key=lambda b: (len(b), b))


def _turn_series(records: Sequence[Mapping[str, Any]], bucket: str, kind: str) -> tuple[list[int], list[float]]:
    """Per logged step: the token-share-weighted mean of ``rest/<bucket>/<kind>/<REGION>`` over the regions."""
    from rest_rl.core.regions import Region

    steps, values = [], []
    for r in records:
        num = den = 0.0
        for region in Region:
            v = r.get(f"rest/{bucket}/{kind}/{region.name}")
            s = r.get(f"rest/{bucket}/share/{region.name}")
            if isinstance(v, (int, float)) and isinstance(s, (int, float)) and math.isfinite(v) and math.isfinite(s) and s > 0:
                num += s * v
                den += s
        if den > 0 and isinstance(r.get("step"), int):
            steps.append(r["step"])
            values.append(num / den)
    return steps, values


def _plot_reward_and_calls(records: Sequence[Mapping[str, Any]], path: Path) -> Path | None:
    from rest_rl.demo.report import series

    steps, reward = series(records, "reward")
    if not steps:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, reward, color="tab:blue", label="mean reward (task success)")
    ax.set_xlabel("RL step")
    ax.set_ylabel("mean outcome reward of the sampled episodes", color="tab:blue")
    ax.set_ylim(0, 1)
    s2, calls = series(records, "tools/call_frequency")
    if s2:
        ax2 = ax.twinx()
        ax2.plot(s2, calls, color="tab:orange", label="tool calls per episode")
        ax2.set_ylabel("tool calls per episode", color="tab:orange")
    ax.set_title("ResT RL in TRL's tool loop: reward and tool calls over training")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _plot_turns(records: Sequence[Mapping[str, Any]], kind: str, path: Path, *, title: str, ylabel: str) -> Path | None:
    buckets = _turn_buckets(records)
    if not buckets:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    drawn = 0
    for bucket in buckets:
        steps, values = _turn_series(records, bucket, kind)
        if steps:
            ax.plot(steps, values, label=bucket.replace("turn", "assistant turn "))
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel("RL step")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _pct(x: float) -> str:
    return f"{100 * x:.1f}"


def _ci(ci: Any) -> str:
    if not isinstance(ci, (list, tuple)) or len(ci) != 2:
        return ""
    return f" [{100 * float(ci[0]):.1f}, {100 * float(ci[1]):.1f}]"


def write_agent_report(out_dir: str | os.PathLike[str], summary: Mapping[str, Any], *, rl_metrics: str | os.PathLike[str]) -> Path:
    """Write ``report.md`` and the plots into ``out_dir``; returns the report's path.

    ``summary`` is the agentic demo's summary (``held_out[split][arm]`` as :func:`~rest_rl.eval.agent.score_records`
    gives it, ``comparisons``, ``timings_s``, ``steps``, ...); ``rl_metrics`` the RL stage's ``metrics.jsonl``.
    """
    from rest_rl.core.regions import Region
    from rest_rl.demo.report import comparison_lines, plot_regions, run_lines, series
    from rest_rl.integrations.trl.callbacks import read_metrics

    out = Path(out_dir)
    records = [r for r in read_metrics(rl_metrics) if "reward" in r]  # the training steps' logs, not the final summary
    plots = {
        "reward": _plot_reward_and_calls(records, out / "reward.png"),
        "entropy": plot_regions(
            records, "entropy", out / "region_entropy.png", title="Mean token entropy per region (model tokens)", ylabel="entropy (nats)"
        ),
        "weight": plot_regions(
            records, "weight", out / "region_weight.png", title="Mean ResT token weight per region", ylabel="weight"
        ),
        "turns": _plot_turns(
            records, "entropy", out / "turn_entropy.png", title="Mean token entropy per assistant turn", ylabel="entropy (nats)"
        ),
    }
    splits = list(summary["held_out"])
    headline = summary.get("headline_split", splits[0])
    labels = summary.get("split_labels", {})
    steps = summary.get("steps", {})
    timings = summary.get("timings_s", {})
    world = summary.get("world", {})
    arms = [a for a in AGENT_ARMS if a in summary["held_out"][headline]]
    detail = {
        "sft": f"{summary['sft_labels']} gold trajectories ({summary.get('sft_turns', '?')} turns), {steps.get('sft', '?')} steps "
        f"({timings.get('sft', 0):.0f} s)",
        "rl": f"+ {steps.get('rl', '?')} RL steps on {summary.get('rl_tasks', '?')} fresh tasks ({timings.get('rl', 0):.0f} s)",
        "control": f"+ {steps.get('control', '?')} SFT steps on the same trajectories ({timings.get('control', 0):.0f} s)",
    }
    lines = [
        "# rest-rl agentic demo report",
        "",
        f"Multi-turn tool world ({', '.join(world.get('domains', []))}; four tools per domain), tiny "
        f"Qwen3-architecture model ({summary['model']['parameters'] / 1e6:.2f}M parameters) trained from scratch on CPU. "
        "Every task is run to its end (greedy): the model calls tools, reads the results, calls again and answers. "
        "Success = the world ends in the expected state and the final answer is right. In brackets: 95% bootstrap "
        "intervals over the tasks.",
        "",
        "| model | training | " + " | ".join(f"success % ({s})" for s in splits) + " |",
        "|---|---|" + "---:|" * len(splits),
    ]
    for arm in arms:
        cells = []
        for split in splits:
            o = summary["held_out"][split][arm]["overall"]
            value = _pct(o["success"])
            cells.append((f"**{value}**" if split == headline else value) + _ci(o.get("success_ci95")))
        lines.append(f"| {_ARM_LABELS[arm]} | {detail[arm]} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += comparison_lines(summary.get("comparisons", {}), splits, items="tasks")
    for split in splits:
        held = summary["held_out"][split]
        lines += [
            f"## {split}: {labels.get(split, split)}",
            "",
            f"{held[arms[0]]['overall']['n']} tasks"
            + (f"; compositions: {', '.join(world.get('test_compositions', []))}" if split == "test" and world.get("test_compositions") else "")
            + ".",
            "",
            "| model | tasks | success % | calls/task | tool errors % | unparsed replies % |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for arm in arms:
            groups = [("all", held[arm]["overall"])] + [(f"{d}", g) for d, g in held[arm]["domains"].items()] + [
                (f"kind {k}", g) for k, g in held[arm]["kinds"].items()
            ]
            for name, g in groups:
                lines.append(
                    f"| {_ARM_LABELS[arm] if name == 'all' else ''} | {name} ({g['n']}) | {_pct(g['success'])}{_ci(g.get('success_ci95'))} | "
                    f"{g['calls_per_task']:.2f} | {_pct(g['tool_error_rate'])} | {_pct(g['unparsed_reply_rate'])} |"
                )
        lines.append("")
    lines += [
        "How to read it: the SFT start imitated a few gold trajectories; ResT RL then ran fresh training tasks in TRL's "
        "multi-turn tool loop and was rewarded only for the outcome (final state and answer), imitating nothing. The "
        "control arm continued SFT on the same trajectories for a comparable time. `test` tasks come from task "
        "compositions (domain x template) that no training stage saw; `indist` tasks are new tasks of the training "
        "compositions. Tool errors: calls whose result is an error (refused by the tool or by the argument guard), "
        "per call. One seed, one run: the intervals cover the sampling of the evaluation tasks, not the variation "
        "between training runs.",
        "",
    ]
    if records:
        first, last = records[: max(1, len(records) // 10)], records[-max(1, len(records) // 10) :]

        def mean(values: Sequence[float]) -> float:
            return sum(values) / len(values) if values else float("nan")

        def fmt(x: float) -> str:
            return "n/a" if not math.isfinite(x) else f"{x:.2f}"

        lines += [
            "## RL: per-region statistics of the sampled episodes' model tokens (first 10% of logs -> last 10%)",
            "",
            "| region | token share | mean entropy | mean weight |",
            "|---|---:|---:|---:|",
        ]
        for region in Region:
            cells = []
            for kind in ("share", "entropy", "weight"):
                key = f"rest/{kind}/{region.name}"
                cells.append(f"{fmt(mean(series(first, key)[1]))} -> {fmt(mean(series(last, key)[1]))}")
            lines.append(f"| {region.name} | " + " | ".join(cells) + " |")
        lines.append("")
        for key, label in (
            ("reward", "mean outcome reward"),
            ("tools/call_frequency", "tool calls per episode"),
            ("tools/failure_frequency", "failed calls per call (TRL's count)"),
            ("rest/turns_per_episode", "model turns per episode"),
        ):
            a, b = mean(series(first, key)[1]), mean(series(last, key)[1])
            if math.isfinite(a) or math.isfinite(b):
                lines.append(f"- {label}: {fmt(a)} -> {fmt(b)}")
        lines.append("")
        buckets = _turn_buckets(records)
        if buckets:
            lines += ["Mean token entropy per assistant turn (first 10% of logs -> last 10%): " + "; ".join(
                f"{b}: {fmt(mean(_turn_series(first, b, 'entropy')[1]))} -> {fmt(mean(_turn_series(last, b, 'entropy')[1]))}"
                for b in buckets
            ), ""]
    for name, caption in (
        ("reward", "Outcome reward and tool calls per episode over RL steps"),
        ("entropy", "Per-region token entropy over RL steps"),
        ("weight", "Per-region ResT weight over RL steps"),
        ("turns", "Token entropy per assistant turn over RL steps"),
    ):
        if plots[name] is not None:
            lines += [f"![{caption}]({plots[name].name})", ""]
    lines += run_lines(
        summary,
        "Per-step metrics: `rl/metrics.jsonl`, `sft/metrics.jsonl`, `control/metrics.jsonl`; episodes with transcripts: "
        "`eval/<model>-<split>.jsonl`; full configuration: `summary.json`.",
    )
    path = out / "report.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
