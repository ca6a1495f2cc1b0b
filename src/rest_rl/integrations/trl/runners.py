"""The training runners behind ``rest-rl sft`` and ``rest-rl train`` (and the demo): a run configuration in,
a trained model in ``output_dir`` out.

* :class:`SFTRunConfig` / :class:`TrainRunConfig` — the ``model``, ``data`` and trainer sections of a run file;
* :func:`build_trainer_args` — a trainer section as :class:`~.sft.ResTSFTConfig` / :class:`~.grpo.ResTGRPOConfig`;
* :func:`prepare_output_dir` — fresh run or resume, checked before anything is loaded;
* :func:`run_sft` / :func:`run_train` — load, train, save.

Errors a user can fix are :class:`~rest_rl.errors.UserError` subclasses with one-line messages.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.config import build_dataclass, load_yaml, save_yaml, to_plain
from rest_rl.data.prompting import to_trl_dataset
from rest_rl.data.selection import DataSection, Selection, select_examples
from rest_rl.errors import ConfigError, UserError, one_line
from rest_rl.integrations.trl import callbacks as cb
from rest_rl.integrations.trl.callbacks import METRICS_FILE, install_callbacks
from rest_rl.integrations.trl.environments import EnvBuilder, EnvPlan, EnvSection, build_env_plan
from rest_rl.integrations.trl.rundir import (
    RESUMABLE_KEYS,
    RUN_CONFIG_FILE,
    RUN_STATUS_FILE,
    CheckpointChoice,
    check_writable_dir,
    checkpoint_problem,
    choose_checkpoint,
    config_differences,
    read_status,
    remove_fresh_run_files,
    write_status,
)
from rest_rl.models.loading import ModelSection, check_model_path, load_tokenizer

__all__ = [
    "RUN_CONFIG_FILE",
    "RunConfig",
    "SFTRunConfig",
    "TrainRunConfig",
    "build_trainer_args",
    "grpo_dataset",
    "prepare_output_dir",
    "quiet_libraries",
    "run_sft",
    "run_train",
]

DataCheck = Callable[[Sequence[Any]], Sequence[str]]
"""A check of the selected examples before a fresh run trains on them; returns lines to report."""

DATA_REPORT_FILE = "data_report.json"
"""What the data loaders read and skipped, written into the run directory when a row was skipped."""


@dataclass
class RunConfig:
    """What every training command has: the model it starts from and the examples it reads."""

    model: ModelSection = field(default_factory=ModelSection, metadata={"help": "The model to train (its start)."})
    data: DataSection = field(
        default_factory=DataSection,
        metadata={"help": "The examples: labelled steps (sft), or RL prompts with gold answers for the reward (train)."},
    )
    env: EnvSection = field(
        default_factory=EnvSection,
        metadata={
            "help": "Multi-turn training in a tool environment (env.name world or bfcl); replaces the data section: "
            "train runs TRL's tool loop with the environment's outcome reward, sft trains on gold trajectories."
        },
    )


@dataclass
class SFTRunConfig(RunConfig):
    """``rest-rl sft``: a model, its labelled examples and the trainer settings."""

    sft: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Trainer settings: any field of rest_rl.integrations.trl.sft.ResTSFTConfig (TRL's SFTConfig plus "
            "rest_sft_mode, rest_upweight, rest_region_weights, ...); listed by `rest-rl sft --help`."
        },
    )


@dataclass
class TrainRunConfig(RunConfig):
    """``rest-rl train``: a model, the RL prompts and the ResT-GRPO trainer settings."""

    train: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Trainer settings: any field of rest_rl.integrations.trl.grpo.ResTGRPOConfig (TRL's GRPOConfig plus the "
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




def quiet_libraries() -> None:
    """Keep library chatter (deprecation notes, per-step dict dumps) out of the command's output."""
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|transformers|trl|accelerate)\..*")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        hf_logging.disable_progress_bar()  # weight loading / saving bars; training bars are ours
    except ImportError:  # pragma: no cover
        pass


_RUN_FILES = (RUN_CONFIG_FILE, RUN_STATUS_FILE, METRICS_FILE, DATA_REPORT_FILE)


def prepare_output_dir(output_dir: str | os.PathLike[str], resume: str | None, overwrite: bool) -> CheckpointChoice | None:
    """The checkpoint to resume from (``None`` for a fresh run), after checking the output directory.

    ``resume`` is ``None`` (fresh run), ``"auto"`` (the newest *complete* ``checkpoint-N`` of ``output_dir``;
    incomplete ones are skipped and named) or a checkpoint path, which must belong to ``output_dir``. A fresh
    run refuses a directory that already holds a run unless ``overwrite`` (which deletes only the run's own
    files: checkpoints, metrics, status, configuration).
    """
    out = Path(output_dir)
    if resume is not None:
        return choose_checkpoint(out, resume)
    checkpoints = [p for p in out.glob("checkpoint-*") if p.is_dir()]
    files = [name for name in _RUN_FILES if (out / name).exists()]
    if checkpoints or files:
        if not overwrite:
            held = max(checkpoints, key=lambda p: (len(p.name), p.name)).name if checkpoints else files[0]
            raise UserError(f"{out} already holds a run ({held}); pass --resume to continue it or --overwrite to start over")
        for child in out.glob("checkpoint-*"):
            if child.is_dir():
                shutil.rmtree(child)
        for name in _RUN_FILES:
            (out / name).unlink(missing_ok=True)
    return None


def _trainer_dataclass(name: str) -> type:
    if name == "sft":
        from rest_rl.integrations.trl.sft import ResTSFTConfig

        return ResTSFTConfig
    try:
        from rest_rl.integrations.trl.grpo import ResTGRPOConfig
    except ImportError as exc:
        raise UserError(f"the ResT GRPO trainer is not available: {one_line(exc)}") from None
    return ResTGRPOConfig


def build_trainer_args(kind: str, section: dict[str, Any], model: ModelSection, ablations: Sequence[str] = ()) -> Any:
    """``ResTSFTConfig`` (kind ``sft``) or ``ResTGRPOConfig`` (kind ``train``) from a config section,
    with the model's loading options as ``model_init_kwargs`` and the ablation presets applied."""
    cls = _trainer_dataclass(kind)
    values = dict(section)
    if "bf16" not in values and "fp16" not in values and not _has_accelerator():
        values["bf16"] = False  # TRL defaults to bf16, which a machine without GPU refuses
    values.setdefault("model_init_kwargs", model.init_kwargs())
    if model.trust_remote_code:
        values.setdefault("trust_remote_code", True)
    values.setdefault("output_dir", f"runs/{kind}")
    args = build_dataclass(cls, values, where=kind)
    check_trainer_domains(kind, args)
    if ablations:
        from rest_rl.integrations.trl.grpo import apply_ablation

        for name in ablations:
            try:
                apply_ablation(args, name)
            except ValueError as exc:
                raise ConfigError(one_line(exc)) from None
    return args


# (key, test, what the key must be) for every numeric knob a user sets: checked at configuration time.
_POSITIVE = lambda v: v > 0  # noqa: E731
_AT_LEAST_1 = lambda v: v >= 1  # noqa: E731
_NON_NEGATIVE = lambda v: v >= 0  # noqa: E731
_DOMAINS: tuple[tuple[str, Any, str], ...] = (
    ("max_steps", lambda v: v == -1 or v >= 1, "-1 (train for num_train_epochs) or >= 1"),
    ("num_train_epochs", _POSITIVE, "> 0"),
    ("learning_rate", _POSITIVE, "> 0"),
    ("per_device_train_batch_size", _AT_LEAST_1, ">= 1"),
    ("gradient_accumulation_steps", _AT_LEAST_1, ">= 1"),
    ("weight_decay", _NON_NEGATIVE, ">= 0"),
    ("max_grad_norm", _NON_NEGATIVE, ">= 0"),
    ("warmup_ratio", lambda v: 0 <= v < 1, "in [0, 1)"),
    ("warmup_steps", _NON_NEGATIVE, ">= 0"),
    ("logging_steps", _POSITIVE, "> 0"),
    ("save_steps", _POSITIVE, "> 0"),
    ("save_total_limit", lambda v: v is None or v >= 1, ">= 1 (or null to keep every checkpoint)"),
    ("seed", _NON_NEGATIVE, ">= 0"),
    ("max_length", lambda v: v is None or v >= 1, ">= 1 (or null)"),
    ("num_generations", lambda v: v is None or v >= 2, ">= 2 (advantages compare completions of one prompt)"),
    ("max_completion_length", lambda v: v is None or v >= 1, ">= 1"),
    ("max_prompt_length", lambda v: v is None or v >= 1, ">= 1 (or null)"),
    ("temperature", _POSITIVE, "> 0"),
    ("beta", _NON_NEGATIVE, ">= 0"),
    ("epsilon", _POSITIVE, "> 0"),
    ("epsilon_high", lambda v: v is None or v > 0, "> 0 (or null)"),
    ("num_iterations", _AT_LEAST_1, ">= 1"),
    ("steps_per_generation", lambda v: v is None or v >= 1, ">= 1 (or null)"),
)


def check_trainer_domains(kind: str, args: Any) -> None:
    """One-line :class:`~rest_rl.errors.ConfigError` for a numeric trainer setting outside its domain
    (``max_steps`` 0 or below -1, a learning rate <= 0, a batch size of 0, ...), before any work starts."""
    for key, ok, what in _DOMAINS:
        if not hasattr(args, key):
            continue
        value = getattr(args, key)
        if value is None:  # unset: the library's own default applies
            continue
        try:
            good = bool(ok(value))
        except TypeError:
            good = False
        if not good:
            raise ConfigError(f"{kind}.{key} must be {what}, got {value!r}")


def _has_accelerator() -> bool:
    import torch

    if torch.cuda.is_available():
        return True
    xpu = getattr(torch, "xpu", None)
    return bool(xpu is not None and xpu.is_available())


def _default_callbacks(description: str) -> list[Any]:
    # Looked up on the module at call time, so a caller (or a test) can replace it.
    return cb.default_callbacks(description)




def grpo_dataset(examples: Sequence[Any], data: DataSection, tokenizer: Any) -> Any:
    """The RL prompt dataset: :func:`~rest_rl.data.prompting.to_trl_dataset`, with prompts rendered to text by
    the chat template when the style passes tools through it (TRL's GRPO has one tool list per trainer)."""
    try:
        return to_trl_dataset(
            examples,
            style=data.prompt_style,
            tokenizer=tokenizer if data.prompt_style == "chat_template" else None,
            think_placeholder=data.think_placeholder,
        )
    except ValueError as exc:
        raise ConfigError(one_line(exc)) from None


def run_sft(
    cfg: SFTRunConfig,
    *,
    resume: str | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Any] | None = None,
    tree: dict[str, Any] | None = None,
    data_check: DataCheck | None = None,
    env_builder: EnvBuilder | None = None,
) -> Any:
    """Train a supervised baseline per ``cfg``; returns the trainer (its model is saved to ``output_dir``), or
    ``None`` when ``resume`` finds the run already finished.

    ``resume``: ``None``, ``"auto"`` or a checkpoint path (see :func:`prepare_output_dir`).
    ``callbacks``: replaces the default ones (metrics file, wall clock, progress bar).
    ``tree``: the configuration as the user wrote it, recorded in ``output_dir/run_config.yaml``.
    ``data_check``: called with the selected examples before training; the lines it returns (e.g. the
    contamination check's findings, which ``rest-rl sft``/``train`` pass in) are printed and written to
    ``data_report.json``; not called for a run in an environment (``env.name`` set), whose rows are the environment's.
    ``env_builder``: turns the ``env`` section into rows, environment classes and rewards (default
    :func:`~rest_rl.integrations.trl.environments.build_env_plan`, which knows ``world``; ``rest-rl`` passes one that
    also knows ``bfcl``).
    """
    return _run(
        "sft", cfg, resume=resume, overwrite=overwrite, callbacks=callbacks, tree=tree, data_check=data_check,
        env_builder=env_builder,
    )


def run_train(
    cfg: TrainRunConfig,
    *,
    resume: str | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Any] | None = None,
    tree: dict[str, Any] | None = None,
    data_check: DataCheck | None = None,
    env_builder: EnvBuilder | None = None,
) -> Any:
    """Train with ResT per ``cfg``; returns the trainer (its model is saved to ``output_dir``), or ``None``
    when ``resume`` finds the run already finished.

    Same arguments as :func:`run_sft`. Resuming restores the model, optimizer, scheduler, RNG states and the
    data position (Transformers' checkpoint), and with them the training progress that drives the weight
    curriculum and the reward schedule (``global_step / max_steps``).
    """
    return _run(
        "train", cfg, resume=resume, overwrite=overwrite, callbacks=callbacks, tree=tree, data_check=data_check,
        env_builder=env_builder,
    )


def _section(kind: str, cfg: Any) -> dict[str, Any]:
    return cfg.sft if kind == "sft" else cfg.train


def _comparable(kind: str, cfg: Any) -> dict[str, Any]:
    """``cfg`` as a plain tree in which the trainer section lists every key either side sets, missing ones
    at the trainer's default, and ``output_dir`` as an absolute path: two configurations that train the same
    run compare equal."""
    plain = to_plain(cfg)
    plain.pop("launch", None)  # documentation only
    return plain


def _resume_differences(kind: str, stored: Any, current: Any) -> list[tuple[str, Any, Any]]:
    cls = _trainer_dataclass(kind)
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    a, b = _comparable(kind, stored), _comparable(kind, current)
    for key in set(a[kind]) | set(b[kind]):
        for side in (a[kind], b[kind]):
            side.setdefault(key, to_plain(defaults.get(key, f"runs/{kind}" if key == "output_dir" else None)))
    for side in (a[kind], b[kind]):
        side["output_dir"] = str(Path(str(side["output_dir"])).resolve())
        side.pop("model_init_kwargs", None)  # derived from the model section, compared there
    return config_differences(a, b)


def _run(
    kind: str,
    cfg: Any,
    *,
    resume: str | None,
    overwrite: bool,
    callbacks: Sequence[Any] | None,
    tree: dict[str, Any] | None,
    data_check: DataCheck | None = None,
    env_builder: EnvBuilder | None = None,
) -> Any:
    """The one training path of ``sft`` and ``train``: check everything, then write, then train."""
    # 1. Everything that can be checked before any work or any write.
    check_model_path(cfg.model.name_or_path)
    check_env_section(cfg)
    args = build_trainer_args(kind, _section(kind, cfg), cfg.model, getattr(cfg, "ablations", ()))
    out = Path(args.output_dir)
    created_dir = not out.exists()
    check_writable_dir(out)
    try:
        choice = prepare_output_dir(out, resume, overwrite)
        record = tree if tree is not None else to_plain(cfg)
        changes: list[tuple[str, Any, Any]] = []
        if choice is not None:
            for path, why in choice.skipped:
                print(f"resume: skipping incomplete {path.name} ({why})", file=sys.stderr)
            record, changes = _check_resume(kind, cfg, out, record)
            status = read_status(out)
            budget = args.max_steps
            finished_at = choice.step if budget > 0 and choice.step >= budget else None
            if status.get("status") == "finished" and (budget <= 0 or int(status.get("global_step", 0)) >= budget):
                finished_at = int(status.get("global_step", choice.step))
            if finished_at is not None:
                print(
                    f"{out}: the run already finished (step {finished_at} of max_steps {budget}); nothing to do. "
                    f"To train longer, resume with a larger --max-steps."
                )
                return None
        tokenizer = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
        if getattr(tokenizer, "chat_template", None) is None:
            raise UserError(
                f"the tokenizer of {cfg.model.name_or_path!r} has no chat template; the trainers render "
                "conversational prompts with it (add chat_template to its tokenizer_config.json)"
            )
        plan: EnvPlan | None = None
        if cfg.env.enabled:
            plan = (env_builder or build_env_plan)(cfg.env, kind)
            selection, check_lines = Selection([]), []
            dataset = _env_dataset(plan)
            if kind == "train" and args.reward_weights is None:
                args.reward_weights = list(plan.reward_weights)
        else:
            selection = select_examples(cfg.data)
            check_lines = list(data_check(selection.examples)) if data_check is not None and choice is None else []
            dataset = _dataset(kind, selection.examples, cfg.data, tokenizer)
    except BaseException:
        if created_dir:
            remove_fresh_run_files(out, True, ())
        raise

    # 2. Write the run's files, then train; a fresh run that fails before its first checkpoint is undone.
    fresh = choice is None
    try:
        save_yaml(record, out / RUN_CONFIG_FILE)
        for line in selection.skip_lines() + check_lines:
            print(f"data: {line}", file=sys.stderr)
        if selection.n_skipped or check_lines:
            report = {**selection.to_dict(), "checks": check_lines}
            (out / DATA_REPORT_FILE).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
        event: dict[str, Any] = {"event": "start"} if fresh else {
            "event": "resume",
            "from_checkpoint": choice.path.name,
            "changes": {key: {"from": old, "to": new} for key, old, new in changes},
        }
        write_status(out, "running", event=event, global_step=0 if fresh else choice.step, max_steps=args.max_steps)
        trainer = _make_trainer(kind, cfg, args, dataset, tokenizer, plan)
        if len(trainer.train_dataset) == 0:
            length = f" (sft.max_length={args.max_length} may be too short for prompt + answer)" if kind == "sft" else ""
            raise ConfigError(f"no training example is left after the trainer prepared the {len(dataset)} selected ones{length}")
        description = f"sft ({args.rest_sft_mode})" if kind == "sft" else f"train ({args.rest_scheme})"
        install_callbacks(trainer, _default_callbacks(description) if callbacks is None else callbacks)
        trainer.train(resume_from_checkpoint=None if fresh else str(choice.path))
        trainer.save_model(args.output_dir)
        tokenizer.save_pretrained(args.output_dir)
    except BaseException:
        if fresh and not any(checkpoint_problem(p) is None for p in out.glob("checkpoint-*")):
            remove_fresh_run_files(out, created_dir, _RUN_FILES)
        else:
            write_status(out, "failed")
        raise
    write_status(out, "finished", event={"event": "finish"}, global_step=trainer.state.global_step, max_steps=args.max_steps)
    return trainer


def _check_resume(kind: str, cfg: Any, out: Path, tree: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, Any, Any]]]:
    """The configuration a resumed run continues with, and the (allowed) changes: the stored one, refused
    (one-line error listing every difference) when ``cfg`` differs from it beyond :data:`RESUMABLE_KEYS`."""
    saved = out / RUN_CONFIG_FILE
    if not saved.is_file():
        print(f"resume: {saved} is missing; continuing with the configuration given now", file=sys.stderr)
        return tree, []
    stored_tree = load_yaml(saved)
    stored = build_dataclass(type(cfg), stored_tree)
    differences = _resume_differences(kind, stored, cfg)
    allowed = {f"{kind}.{key}" for key in RESUMABLE_KEYS}
    refused = [d for d in differences if d[0] not in allowed]
    if refused:
        listed = "; ".join(f"{key}: {old!r} -> {new!r}" for key, old, new in refused)
        raise UserError(
            f"--resume continues the run's own configuration ({saved}), but this one differs: {listed}. "
            f"Only {', '.join(sorted(allowed))} may change on resume; start a new run (another --output-dir) "
            "to change anything else"
        )
    changes = [d for d in differences if d[0] in allowed]
    record = copy.deepcopy(stored_tree)
    for key, _old, new in changes:
        record.setdefault(kind, {})[key.split(".", 1)[1]] = new
    return record, changes


def _dataset(kind: str, examples: Sequence[Any], data: DataSection, tokenizer: Any) -> Any:
    if kind == "train":
        return grpo_dataset(examples, data, tokenizer)
    from rest_rl.integrations.trl.sft import sft_dataset

    try:
        return sft_dataset(examples, style=data.prompt_style, think_placeholder=data.think_placeholder)
    except ValueError as exc:
        raise ConfigError(one_line(exc)) from None


def _env_dataset(plan: EnvPlan) -> Any:
    from datasets import Dataset

    return Dataset.from_list(plan.rows)


def check_env_section(cfg: Any) -> None:
    """One-line :class:`~rest_rl.errors.ConfigError` when a run sets both ``env.name`` and a ``data`` section
    (the environment supplies the rows; a data section would be silently ignored)."""
    env = getattr(cfg, "env", None)
    if env is not None and env.enabled and cfg.data != DataSection():
        raise ConfigError(
            f"env.name={env.name} trains on the environment's tasks and does not read the data section: remove data.* "
            "(or set env.name=none)"
        )


def _make_trainer(kind: str, cfg: Any, args: Any, dataset: Any, tokenizer: Any, plan: EnvPlan | None = None) -> Any:
    if kind == "sft":
        from rest_rl.integrations.trl.sft import ResTSFTTrainer as trainer_cls
    else:
        from rest_rl.integrations.trl.grpo import ResTGRPOTrainer as trainer_cls
    extra: dict[str, Any] = {}
    if plan is not None and kind == "train":
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # environment_factory is "experimental" in TRL 1.16
        extra = {"environment_factory": plan.environment_factory, "reward_funcs": list(plan.reward_funcs)}
    try:
        return trainer_cls(model=cfg.model.name_or_path, args=args, train_dataset=dataset, processing_class=tokenizer, **extra)
    except (ValueError, ImportError) as exc:
        if plan is None:
            raise
        raise ConfigError(f"cannot train in {plan.description}: {one_line(exc, 300)}") from None
