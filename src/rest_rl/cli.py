"""The ``rest-rl`` command.

Sub-commands:

* ``rest-rl demo`` — the end-to-end demo on the embedded default (no downloads): synthetic world → tokenizer
  and tiny model → SFT warm start → ResT RL → held-out evaluation → ``runs/demo/report.md``.
* ``rest-rl sft`` — supervised baselines (SFT, TSFT, RSFT) on TRL's ``SFTTrainer``.
* ``rest-rl train`` — ResT (GRPO with reshaped token-level policy gradients) on TRL's ``GRPOTrainer``.
* ``rest-rl eval`` — benchmarks (API-Bank, BFCL v3).
* ``rest-rl tiny-model`` — build the embedded tiny model directory (usable as ``--model`` anywhere).
* ``rest-rl tag`` — show how a completion is split into ResT regions, token by token.

``sft`` and ``train`` read a YAML file (``--config``) whose sections are ``model``, ``data`` and ``sft`` /
``train``; ``--set SECTION.KEY=VALUE`` overrides any key, and ``--help`` lists every key. They save a
checkpoint every ``save_steps`` steps; ``--resume`` continues the latest one (model, optimizer, scheduler,
RNG, data position, curriculum and reward-schedule progress) and appends to ``metrics.jsonl``.

Errors a user can fix (bad arguments, unknown keys, missing files) are reported in one line, without a
traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rest_rl.config import (
    ConfigError,
    DataSection,
    ModelSection,
    SFTRunConfig,
    TrainRunConfig,
    build_dataclass,
    format_fields,
    resolve_tree,
    save_yaml,
    to_plain,
)

__all__ = ["CliError", "build_parser", "main", "run_sft", "run_train"]

RUN_CONFIG_FILE = "run_config.yaml"
"""The resolved configuration a run writes into its output directory (``--resume`` reads it back)."""


class CliError(Exception):
    """An error caused by the user's input, printed as one line."""


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# ------------------------------------------------------------------------------------------------------------
# Shared helpers of the training commands
# ------------------------------------------------------------------------------------------------------------


def _quiet_libraries() -> None:
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


def check_model(name_or_path: str) -> None:
    """``CliError`` when ``name_or_path`` is neither a model directory nor shaped like a hub id."""
    if not name_or_path:
        raise CliError("no model: pass --model DIR_OR_HUB_ID or set model.name_or_path in the config")
    path = Path(name_or_path)
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise CliError(f"not a model directory (no config.json): {path}")
        return
    parts = name_or_path.split("/")
    hub_like = len(parts) == 2 and all(parts) and not name_or_path.startswith((".", "~"))
    if not hub_like:
        raise CliError(f"no such model directory: {path}")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """The model's tokenizer, or a one-line ``CliError``."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id (or the network)
        raise CliError(f"cannot load the tokenizer of {name_or_path!r}: {_one_line(exc)}") from None


def prepare_output_dir(output_dir: str | os.PathLike[str], resume: str | None, overwrite: bool) -> str | None:
    """The checkpoint to resume from (``None`` for a fresh run), after checking the output directory.

    ``resume`` is ``None`` (fresh run), ``"auto"`` (the latest ``checkpoint-N`` of ``output_dir``) or a
    checkpoint path. A fresh run refuses a directory that already holds checkpoints or metrics unless
    ``overwrite`` (which deletes only those).
    """
    from transformers.trainer_utils import get_last_checkpoint

    from rest_rl.train.callbacks import METRICS_FILE

    out = Path(output_dir)
    last = get_last_checkpoint(str(out)) if out.is_dir() else None
    if resume is not None:
        if resume == "auto":
            if last is None:
                raise CliError(f"--resume: no checkpoint-* directory in {out}")
            return last
        ckpt = Path(resume)
        if not (ckpt / "trainer_state.json").is_file():
            raise CliError(f"--resume: not a checkpoint directory (no trainer_state.json): {ckpt}")
        return str(ckpt)
    metrics = out / METRICS_FILE
    if last is not None or metrics.exists():
        if not overwrite:
            held = Path(last).name if last is not None else METRICS_FILE
            raise CliError(
                f"{out} already holds a run ({held}); pass --resume to continue it or --overwrite to start over"
            )
        for child in out.glob("checkpoint-*"):
            if child.is_dir():
                shutil.rmtree(child)
        metrics.unlink(missing_ok=True)
    return None


def _trainer_dataclass(name: str) -> type:
    if name == "sft":
        from rest_rl.train.sft import ResTSFTConfig

        return ResTSFTConfig
    try:
        from rest_rl.train.grpo import ResTGRPOConfig
    except ImportError as exc:
        raise CliError(f"the ResT GRPO trainer is not available: {_one_line(exc)}") from None
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
        from rest_rl.train.grpo import apply_ablation

        for name in ablations:
            try:
                apply_ablation(args, name)
            except ValueError as exc:
                raise CliError(_one_line(exc)) from None
    return args


def _has_accelerator() -> bool:
    import torch

    if torch.cuda.is_available():
        return True
    xpu = getattr(torch, "xpu", None)
    return bool(xpu is not None and xpu.is_available())


def _default_callbacks(description: str) -> list[Any]:
    # Looked up on the module at call time, so a caller (or a test) can add its own.
    from rest_rl.train import callbacks as cb

    return cb.default_callbacks(description)


# ------------------------------------------------------------------------------------------------------------
# Runners (shared by the CLI and the demo)
# ------------------------------------------------------------------------------------------------------------


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
    from rest_rl.config import load_examples
    from rest_rl.train.callbacks import install_callbacks
    from rest_rl.train.sft import ResTSFTTrainer, sft_dataset

    check_model(cfg.model.name_or_path)
    args = build_trainer_args("sft", cfg.sft, cfg.model)
    checkpoint = prepare_output_dir(args.output_dir, resume, overwrite)
    save_yaml(tree if tree is not None else to_plain(cfg), Path(args.output_dir) / RUN_CONFIG_FILE)
    tokenizer = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
    examples = load_examples(cfg.data)
    try:
        dataset = sft_dataset(examples, style=cfg.data.prompt_style, think_placeholder=cfg.data.think_placeholder)
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None
    trainer = ResTSFTTrainer(model=cfg.model.name_or_path, args=args, train_dataset=dataset, processing_class=tokenizer)
    install_callbacks(trainer, _default_callbacks(f"sft ({args.rest_sft_mode})") if callbacks is None else callbacks)
    trainer.train(resume_from_checkpoint=checkpoint)
    trainer.save_model(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    return trainer


def grpo_dataset(examples: Sequence[Any], data: DataSection, tokenizer: Any) -> Any:
    """The RL prompt dataset: :func:`~rest_rl.data.prompting.to_trl_dataset`, with prompts rendered to text by
    the chat template when the style passes tools through it (TRL's GRPO has one tool list per trainer)."""
    from rest_rl.data.prompting import to_trl_dataset

    try:
        return to_trl_dataset(
            examples,
            style=data.prompt_style,
            tokenizer=tokenizer if data.prompt_style == "chat_template" else None,
            think_placeholder=data.think_placeholder,
        )
    except ValueError as exc:
        raise CliError(_one_line(exc)) from None


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
    from rest_rl.config import load_examples
    from rest_rl.train.callbacks import install_callbacks
    from rest_rl.train.grpo import ResTGRPOTrainer

    check_model(cfg.model.name_or_path)
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


# ------------------------------------------------------------------------------------------------------------
# Command handlers
# ------------------------------------------------------------------------------------------------------------


def _shortcut_overrides(args: argparse.Namespace, section: str) -> list[str]:
    """The dedicated flags (--model, --output-dir, ...) as ``key=value`` overrides, before ``--set``."""
    out = []
    if getattr(args, "model", None):
        out.append(f"model.name_or_path={args.model}")
    if getattr(args, "output_dir", None):
        out.append(f"{section}.output_dir={args.output_dir}")
    if getattr(args, "max_steps", None) is not None:
        out.append(f"{section}.max_steps={args.max_steps}")
    if getattr(args, "seed", None) is not None:
        out.append(f"{section}.seed={args.seed}")
    if getattr(args, "mode", None):
        out.append(f"sft.rest_sft_mode={args.mode}")
    return out


def _resolve_run_tree(args: argparse.Namespace, section: str) -> dict[str, Any]:
    config = args.config
    if config is None and args.resume is not None and args.output_dir:
        saved = Path(args.output_dir) / RUN_CONFIG_FILE
        if saved.is_file():
            config = str(saved)  # --resume --output-dir DIR reuses the run's own configuration
    overrides = _shortcut_overrides(args, section) + list(args.set or [])
    tree = resolve_tree({}, config, overrides)
    if getattr(args, "ablation", None):
        tree["ablations"] = list(tree.get("ablations") or []) + list(args.ablation)
    return tree


def _print_resolved(tree: dict[str, Any], trainer_args: Any, section: str) -> None:
    import yaml

    shown = dict(tree)
    shown[section] = dict(tree.get(section) or {})
    shown[section]["output_dir"] = trainer_args.output_dir
    print(yaml.safe_dump(to_plain(shown), sort_keys=False, allow_unicode=True).rstrip())


def _cmd_sft(args: argparse.Namespace) -> int:
    _quiet_libraries()
    tree = _resolve_run_tree(args, "sft")
    cfg = build_dataclass(SFTRunConfig, tree)
    if args.dry_run:
        trainer_args = build_trainer_args("sft", cfg.sft, cfg.model)
        check_model(cfg.model.name_or_path)
        cfg.data.check_paths()
        _print_resolved(tree, trainer_args, "sft")
        print(f"# dry run: configuration valid (rest_sft_mode={trainer_args.rest_sft_mode}); nothing trained")
        return 0
    trainer = run_sft(cfg, resume=args.resume, overwrite=args.overwrite, tree=tree)
    print(f"model saved to {trainer.args.output_dir}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    _quiet_libraries()
    tree = _resolve_run_tree(args, "train")
    cfg = build_dataclass(TrainRunConfig, tree)
    if args.dry_run:
        trainer_args = build_trainer_args("train", cfg.train, cfg.model, cfg.ablations)
        check_model(cfg.model.name_or_path)
        cfg.data.check_paths()
        _print_resolved(tree, trainer_args, "train")
        if cfg.launch:
            print(f"# launch: {' '.join(cfg.launch.split())}")
        print(
            f"# dry run: configuration valid (rest_scheme={trainer_args.rest_scheme}, "
            f"ablations={cfg.ablations or 'none'}); nothing trained"
        )
        return 0
    trainer = run_train(cfg, resume=args.resume, overwrite=args.overwrite, tree=tree)
    print(f"model saved to {trainer.args.output_dir}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    _quiet_libraries()
    from rest_rl.demo import DemoConfig, run_demo

    defaults = to_plain(DemoConfig())
    overrides = list(args.set or [])
    if args.out_dir:
        overrides.insert(0, f"out_dir={args.out_dir}")
    tree = resolve_tree(defaults, args.config, overrides)
    cfg = build_dataclass(DemoConfig, tree)
    if args.quick:
        cfg = cfg.quick()
    run_demo(cfg)
    return 0


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    from rest_rl.data.synthetic import SyntheticConfig
    from rest_rl.models.tiny import TinyModelConfig, make_embedded_model

    tree = resolve_tree({}, args.config, list(args.set or []))
    unknown = set(tree) - {"world", "model", "vocab_size"}
    if unknown:
        raise CliError(f"unknown section(s) {sorted(unknown)}; expected world, model, vocab_size")
    world = build_dataclass(SyntheticConfig, tree.get("world"), where="world")
    model = build_dataclass(TinyModelConfig, tree.get("model"), where="model")
    vocab = tree.get("vocab_size", 1024)
    if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab < 300:
        raise CliError(f"vocab_size must be an integer >= 300, got {vocab!r}")
    out = make_embedded_model(args.out_dir, world, config=model, vocab_size=vocab)
    print(f"tiny model written to {out} (use it as --model {out})")
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    from rest_rl.core.offsets import token_char_offsets
    from rest_rl.core.regions import Region, label_tokens

    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"no such file: {path}")
        text = path.read_text(encoding="utf-8")
    elif args.text is not None:
        text = args.text
    else:
        text = sys.stdin.read()

    if args.tokenizer:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id
            raise CliError(f"cannot load tokenizer {args.tokenizer!r}: {exc}") from None
    else:
        from rest_rl.models.tokenizer import build_bpe_tokenizer

        tokenizer = build_bpe_tokenizer()

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoded, offsets = token_char_offsets(tokenizer, ids, skip_special_tokens=False)
    regions = label_tokens(decoded, offsets)
    counts: dict[str, int] = {}
    for (start, end), code in zip(offsets, regions):
        name = Region(int(code)).name
        counts[name] = counts.get(name, 0) + 1
        if not args.summary:
            print(f"{name:<10} {decoded[start:end]!r}")
    total = max(1, len(offsets))
    print(f"-- {len(offsets)} tokens: " + ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in sorted(counts.items())))
    return 0


# ------------------------------------------------------------------------------------------------------------
# Help that lists every configuration key (built only when asked for: it imports TRL)
# ------------------------------------------------------------------------------------------------------------


def _knobs_sft() -> str:
    from rest_rl.train.sft import ResTSFTConfig

    rest = [k for k in ResTSFTConfig.__dataclass_fields__ if k.startswith("rest_")]
    return "\n\n".join(
        [
            "Configuration keys: YAML sections model / data / sft, or --set SECTION.KEY=VALUE.",
            format_fields(ModelSection, "model.", title="[model]"),
            format_fields(DataSection, "data.", title="[data]"),
            _format_subset(ResTSFTConfig, "sft.", rest, "[sft] supervised baselines (rest_*)"),
            _format_subset(
                ResTSFTConfig, "sft.", None, "[sft] TRL SFTConfig / Transformers TrainingArguments", exclude=rest
            ),
        ]
    )


def _knobs_train() -> str:
    try:
        from rest_rl.train.grpo import ABLATIONS, ResTGRPOConfig
    except ImportError as exc:
        return f"(the ResT GRPO trainer is not available: {_one_line(exc)})"
    rest = [k for k in ResTGRPOConfig.__dataclass_fields__ if k.startswith(("rest_", "reward_")) or k == "loss_type"]
    ablations = "\n".join(f"  {name}: {text}" for name, text in ABLATIONS.items())
    return "\n\n".join(
        [
            "Configuration keys: YAML sections model / data / train (+ ablations, launch), or --set SECTION.KEY=VALUE.",
            format_fields(ModelSection, "model.", title="[model]"),
            format_fields(DataSection, "data.", title="[data]"),
            _format_subset(ResTGRPOConfig, "train.", rest, "[train] ResT: token weights (rest_*), reward (reward_*), loss"),
            _format_subset(
                ResTGRPOConfig,
                "train.",
                None,
                "[train] TRL GRPOConfig / Transformers TrainingArguments",
                exclude=rest,
            ),
            "[ablations] presets applied after the train section (--ablation NAME, repeatable):\n" + ablations,
        ]
    )


def _knobs_demo() -> str:
    from rest_rl.demo import DemoConfig

    return "\n\n".join(
        [
            "Configuration keys (configs/demo.yaml holds the defaults), or --set KEY=VALUE:",
            format_fields(DemoConfig, "", title="[demo]"),
            "The sections sft, control and rl take any field of ResTSFTConfig / ResTGRPOConfig "
            "(see `rest-rl sft --help` and `rest-rl train --help`).",
        ]
    )


def _format_subset(cls: type, prefix: str, keys: Sequence[str] | None, title: str, exclude: Sequence[str] = ()) -> str:
    from rest_rl.config import describe_fields

    import textwrap

    lines = [title]
    wanted = None if keys is None else {prefix + k for k in keys}
    skip = {prefix + k for k in exclude}
    for key, tp, default, help_text in describe_fields(cls, prefix):
        if (wanted is not None and key not in wanted) or key in skip:
            continue
        lines.append(f"  {key} ({tp}, default {default})")
        if help_text:
            lines.extend(textwrap.wrap(help_text, width=100, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


class _HelpWithKnobs(argparse.Action):
    """``-h/--help`` that appends the full list of configuration keys (computed on demand)."""

    def __init__(self, option_strings: Sequence[str], dest: str = argparse.SUPPRESS, knobs: Callable[[], str] | None = None, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)
        self.knobs = knobs

    def __call__(self, parser: argparse.ArgumentParser, namespace: Any, values: Any, option_string: str | None = None) -> None:
        _quiet_libraries()
        if self.knobs is not None:
            parser.epilog = (parser.epilog + "\n\n" if parser.epilog else "") + self.knobs()
        parser.print_help()
        parser.exit()


def _run_parser(sub: Any, name: str, *, help: str, description: str, epilog: str, knobs: Callable[[], str]) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument("-h", "--help", action=_HelpWithKnobs, knobs=knobs, help="show this help, with every configuration key, and exit")
    return p


def _add_run_options(p: argparse.ArgumentParser, section: str) -> None:
    p.add_argument("--config", metavar="YAML", help="run configuration file (sections model, data, " + section + ")")
    p.add_argument("--model", metavar="DIR_OR_ID", help="model directory or hub id (sets model.name_or_path)")
    p.add_argument("--output-dir", metavar="DIR", help=f"where checkpoints, metrics.jsonl and the final model go ({section}.output_dir)")
    p.add_argument("--max-steps", type=int, metavar="N", help=f"optimizer steps ({section}.max_steps)")
    p.add_argument("--seed", type=int, metavar="N", help=f"random seed ({section}.seed)")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any configuration key, e.g. --set " + section + ".learning_rate=1e-6 (repeatable; YAML values)",
    )
    p.add_argument(
        "--resume",
        nargs="?",
        const="auto",
        metavar="CHECKPOINT",
        help="continue from CHECKPOINT, or (no value) from the latest checkpoint-N of the output dir: model, "
        "optimizer, scheduler, RNG, data position and training progress are restored; metrics.jsonl is appended",
    )
    p.add_argument("--overwrite", action="store_true", help="start over in an output dir that already holds a run")
    p.add_argument("--dry-run", action="store_true", help="resolve and validate the configuration, print it, train nothing")


def build_parser() -> argparse.ArgumentParser:
    """The ``rest-rl`` argument parser (sub-commands demo, sft, train, eval, tiny-model, tag)."""
    parser = argparse.ArgumentParser(
        prog="rest-rl",
        description="ResT: reshaped token-level policy gradients for tool-using LLMs.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    demo = _run_parser(
        sub,
        "demo",
        help="run the end-to-end demo on the embedded default (CPU, no downloads)",
        description="The end-to-end demo on the embedded default: synthetic tool world -> tokenizer + tiny model "
        "-> SFT warm start on a small labelled set -> ResT RL on fresh prompts scored by the verifier (and a "
        "control arm: more SFT on the same labels) -> held-out evaluation -> OUT_DIR/report.md with plots.",
        epilog="example:\n  rest-rl demo\n  rest-rl demo --set rl.max_steps=100 --out-dir runs/demo-short",
        knobs=_knobs_demo,
    )
    demo.add_argument("--config", metavar="YAML", help="demo configuration (default: built-in, same as configs/demo.yaml)")
    demo.add_argument("--out-dir", metavar="DIR", help="where the model, runs, report and plots go (default: runs/demo)")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key, e.g. --set rl.max_steps=50")
    demo.add_argument("--quick", action="store_true", help="a tiny, fast version (seconds; for smoke tests, not results)")
    demo.set_defaults(func=_cmd_demo)

    sft = _run_parser(
        sub,
        "sft",
        help="supervised baselines: SFT, TSFT (tool tokens up-weighted), RSFT (reasoning up-weighted)",
        description="Fine-tune a model on labelled tool-use steps with TRL's SFTTrainer. --mode tsft up-weights the "
        "tool-name and parameter tokens, --mode rsft the reasoning tokens, using the same region tagger as ResT.",
        epilog="examples:\n"
        "  rest-rl sft --config configs/sft_tiny.yaml --model runs/demo/model --output-dir runs/sft\n"
        "  rest-rl sft --config configs/sft_tiny.yaml --model runs/demo/model --mode tsft --set sft.rest_upweight=3\n"
        "  rest-rl sft --output-dir runs/sft --resume",
        knobs=_knobs_sft,
    )
    _add_run_options(sft, "sft")
    sft.add_argument("--mode", choices=["sft", "tsft", "rsft", "custom"], help="supervised baseline (sft.rest_sft_mode)")
    sft.set_defaults(func=_cmd_sft)

    train = _run_parser(
        sub,
        "train",
        help="ResT RL training (GRPO with reshaped token-level policy gradients)",
        description="Train a policy with ResT on TRL's GRPOTrainer: completions sampled per prompt, scored by the "
        "ToolRL reward (format + correctness, dynamic schedule), every token weighted by its region's entropy "
        "and the curriculum. Multi-GPU: launch with accelerate (see configs/qwen3_4b_instruct_rlla4k.yaml).",
        epilog="examples:\n"
        "  rest-rl train --config configs/train_tiny.yaml --model runs/demo/sft --output-dir runs/rl\n"
        "  rest-rl train --config configs/train_tiny.yaml --model runs/demo/sft --ablation no_curriculum\n"
        "  rest-rl train --output-dir runs/rl --resume\n"
        "  accelerate launch --config_file configs/accelerate/deepspeed_zero3_8gpu.yaml -m rest_rl train \\\n"
        "      --config configs/qwen3_4b_instruct_rlla4k.yaml",
        knobs=_knobs_train,
    )
    _add_run_options(train, "train")
    train.add_argument("--ablation", action="append", metavar="NAME", help="ablation preset (repeatable; listed below)")
    train.set_defaults(func=_cmd_train)

    _add_eval(sub)

    tiny = sub.add_parser(
        "tiny-model",
        help="build the embedded tiny model directory (tokenizer trained on the synthetic world + tiny Qwen3)",
        description="Train a byte-level BPE tokenizer on the synthetic tool world (tool tags as single added "
        "tokens), build a small Qwen3-architecture model and save both as a Hugging Face directory that every "
        "command accepts as --model.",
    )
    tiny.add_argument("--out-dir", required=True, metavar="DIR", help="where to write the model directory")
    tiny.add_argument("--config", metavar="YAML", help="sections world (SyntheticConfig), model (TinyModelConfig), vocab_size")
    tiny.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. --set model.hidden_size=64")
    tiny.set_defaults(func=_cmd_tiny_model)

    tag = sub.add_parser(
        "tag",
        help="show the ResT region of every token of a completion",
        description="Label every token of a completion with its ResT region (FORMAT, THINK, TOOL_NAME, ARG_KEY, "
        "ARG_VALUE, RESPONSE, SCAFFOLD, OTHER). Reads --text, --file or standard input.",
    )
    tag.add_argument("--text", help="the completion text")
    tag.add_argument("--file", help="a file holding the completion text")
    tag.add_argument(
        "--tokenizer",
        help="a local tokenizer directory or hub id (default: a small BPE tokenizer trained locally)",
    )
    tag.add_argument("--summary", action="store_true", help="print only the per-region token counts")
    tag.set_defaults(func=_cmd_tag)
    return parser


def _add_eval(sub: Any) -> None:
    try:
        from rest_rl.eval.cli import add_eval_parser
    except ImportError as exc:
        reason = _one_line(exc)
        p = sub.add_parser(
            "eval",
            help="evaluate a model (not available in this installation)",
            description="Benchmarks (API-Bank, BFCL v3): not available in this installation.",
            add_help=False,
            prefix_chars="\x00",
        )
        p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)

        def _unavailable(args: argparse.Namespace) -> int:
            raise CliError(f"the evaluation commands are not available in this installation ({reason})")

        p.set_defaults(func=_unavailable)
        return
    add_eval_parser(sub)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rest-rl``; returns the exit status (2 for a user error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (CliError, ConfigError) as exc:
        print(f"rest-rl: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rest-rl: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
