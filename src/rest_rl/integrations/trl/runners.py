"""The training runners behind ``rest-rl sft`` and ``rest-rl train`` (and the demo): a run configuration in,
a trained model in ``output_dir`` out.

* :class:`SFTRunConfig` / :class:`TrainRunConfig` — the ``model``, ``data`` and trainer sections of a run file;
* :func:`build_trainer_args` — a trainer section as :class:`~.sft.ResTSFTConfig` / :class:`~.grpo.ResTGRPOConfig`;
* :func:`prepare_output_dir` — fresh run or resume, checked before anything is loaded;
* :func:`run_sft` / :func:`run_train` — load, train, save.

Errors a user can fix are :class:`~rest_rl.errors.UserError` subclasses with one-line messages.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.config import build_dataclass, save_yaml, to_plain
from rest_rl.data.prompting import to_trl_dataset
from rest_rl.data.selection import DataSection, load_examples
from rest_rl.errors import ConfigError, UserError, one_line
from rest_rl.integrations.trl import callbacks as cb
from rest_rl.integrations.trl.callbacks import METRICS_FILE, install_callbacks
from rest_rl.models.loading import ModelSection, check_model_path, load_tokenizer

__all__ = [
    "RUN_CONFIG_FILE",
    "SFTRunConfig",
    "TrainRunConfig",
    "build_trainer_args",
    "grpo_dataset",
    "prepare_output_dir",
    "quiet_libraries",
    "run_sft",
    "run_train",
]

RUN_CONFIG_FILE = "run_config.yaml"
"""The resolved configuration a run writes into its output directory (``--resume`` reads it back)."""


@dataclass
class SFTRunConfig:
    """``rest-rl sft``: a model, its labelled examples and the trainer settings."""

    model: ModelSection = field(default_factory=ModelSection, metadata={"help": "The model to fine-tune."})
    data: DataSection = field(default_factory=DataSection, metadata={"help": "The labelled examples."})
    sft: dict[str, Any] = field(
        default_factory=dict,
        metadata={
            "help": "Trainer settings: any field of rest_rl.integrations.trl.sft.ResTSFTConfig (TRL's SFTConfig plus "
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


def prepare_output_dir(output_dir: str | os.PathLike[str], resume: str | None, overwrite: bool) -> str | None:
    """The checkpoint to resume from (``None`` for a fresh run), after checking the output directory.

    ``resume`` is ``None`` (fresh run), ``"auto"`` (the latest ``checkpoint-N`` of ``output_dir``) or a
    checkpoint path. A fresh run refuses a directory that already holds checkpoints or metrics unless
    ``overwrite`` (which deletes only those).
    """
    from transformers.trainer_utils import get_last_checkpoint

    out = Path(output_dir)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if resume is not None:
        if resume == "auto":
            if last is None:
                raise UserError(f"--resume: no checkpoint-* directory in {out}")
            return last
        ckpt = Path(resume)
        if not (ckpt / "trainer_state.json").is_file():
            raise UserError(f"--resume: not a checkpoint directory (no trainer_state.json): {ckpt}")
        return str(ckpt)
    metrics = out / METRICS_FILE
    if last is not None or metrics.exists():
        if not overwrite:
            held = Path(last).name if last is not None else METRICS_FILE
            raise UserError(
                f"{out} already holds a run ({held}); pass --resume to continue it or --overwrite to start over"
            )
        for child in out.glob("checkpoint-*"):
            if child.is_dir():
                shutil.rmtree(child)
        metrics.unlink(missing_ok=True)
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
    if ablations:
        from rest_rl.integrations.trl.grpo import apply_ablation

        for name in ablations:
            try:
                apply_ablation(args, name)
            except ValueError as exc:
                raise ConfigError(one_line(exc)) from None
    return args


def _has_accelerator() -> bool:
    import torch

    if torch.cuda.is_available():
        return True
    xpu = getattr(torch, "xpu", None)
    return bool(xpu is not None and xpu.is_available())


def _default_callbacks(description: str) -> list[Any]:
    # Looked up on the module at call time, so a caller (or a test) can replace it.
    return cb.default_callbacks(description)




def run_sft(
    cfg: SFTRunConfig,
    *,
    resume: str | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Any] | None = None,
    tree: dict[str, Any] | None = None,
) -> Any:
    """Train a supervised baseline per ``cfg``; returns the trainer (its model is saved to ``output_dir``).

    ``resume``: ``None``, ``"auto"`` or a checkpoint path (see :func:`prepare_output_dir`).
    ``callbacks``: replaces the default ones (metrics file, wall clock, progress bar).
    ``tree``: the resolved configuration to record in ``output_dir/run_config.yaml``.
    """
    from rest_rl.integrations.trl.sft import ResTSFTTrainer, sft_dataset

    check_model_path(cfg.model.name_or_path)
    args = build_trainer_args("sft", cfg.sft, cfg.model)
    checkpoint = prepare_output_dir(args.output_dir, resume, overwrite)
    save_yaml(tree if tree is not None else to_plain(cfg), Path(args.output_dir) / RUN_CONFIG_FILE)
    tokenizer = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
    examples = load_examples(cfg.data)
    try:
        dataset = sft_dataset(examples, style=cfg.data.prompt_style, think_placeholder=cfg.data.think_placeholder)
    except ValueError as exc:
        raise ConfigError(one_line(exc)) from None
    trainer = ResTSFTTrainer(model=cfg.model.name_or_path, args=args, train_dataset=dataset, processing_class=tokenizer)
    install_callbacks(trainer, _default_callbacks(f"sft ({args.rest_sft_mode})") if callbacks is None else callbacks)
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    return trainer


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


def run_train(
    cfg: TrainRunConfig,
    *,
    resume: str | None = None,
    overwrite: bool = False,
    callbacks: Sequence[Any] | None = None,
    tree: dict[str, Any] | None = None,
) -> Any:
    """Train with ResT per ``cfg``; returns the trainer (its model is saved to ``output_dir``).

    Same arguments as :func:`run_sft`. Resuming restores the model, optimizer, scheduler, RNG states and the
    data position (Transformers' checkpoint), and with them the training progress that drives the weight
    curriculum and the reward schedule (``global_step / max_steps``).
    """
    from rest_rl.integrations.trl.grpo import ResTGRPOTrainer

    check_model_path(cfg.model.name_or_path)
    args = build_trainer_args("train", cfg.train, cfg.model, cfg.ablations)
    checkpoint = prepare_output_dir(args.output_dir, resume, overwrite)
    save_yaml(tree if tree is not None else to_plain(cfg), Path(args.output_dir) / RUN_CONFIG_FILE)
    tokenizer = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
    dataset = grpo_dataset(load_examples(cfg.data), cfg.data, tokenizer)
    trainer = ResTGRPOTrainer(model=cfg.model.name_or_path, args=args, train_dataset=dataset, processing_class=tokenizer)
    install_callbacks(trainer, _default_callbacks(f"train ({args.rest_scheme})") if callbacks is None else callbacks)
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    return trainer
