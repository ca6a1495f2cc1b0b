"""``rest-rl sft`` and ``rest-rl train``: a run file (``--config``), dedicated flags and ``--set`` overrides,
resolved into a :class:`~rest_rl.integrations.trl.runners.SFTRunConfig` / ``TrainRunConfig`` and handed to
the TRL runners. ``--help`` lists every configuration key (it imports TRL, so only when asked for)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rest_rl.cli.common import format_subset, run_parser
from rest_rl.config import build_dataclass, format_fields, resolve_tree, to_plain
from rest_rl.data.selection import DataSection
from rest_rl.errors import one_line
from rest_rl.models.loading import ModelSection, check_model_path

__all__ = ["add_sft_parser", "add_train_parser", "env_builder"]

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
    if getattr(args, "env", None):
        out.append(f"env.name={args.env}")
    return out


def env_builder(section: Any, kind: str) -> Any:
    """The ``env`` section as an :class:`~rest_rl.integrations.trl.environments.EnvPlan`: ``world`` from
    :mod:`rest_rl.envs`, ``bfcl`` from :mod:`rest_rl.eval.bfcl.environment` (rows checked by the BFCL
    contamination guard, which no flag turns off). Errors are one-line ``ConfigError``\ s."""
    from rest_rl.errors import ConfigError
    from rest_rl.integrations.trl.environments import EnvPlan, build_env_plan

    if section.name != "bfcl":
        return build_env_plan(section, kind)
    if kind != "train":
        raise ConfigError("env.name=bfcl trains with rest-rl train only (its rows have gold calls, not gold trajectories)")
    try:
        from rest_rl.eval.bfcl.environment import BfclContaminationError, bfcl_state_reward, load_training_rows
    except ImportError as exc:
        raise ConfigError(f"env.name=bfcl needs bfcl-eval (make install-bfcl): {one_line(exc)}") from None
    try:
        rows, factories = load_training_rows(
            section.path, section.involved_classes, offset=section.offset, limit=section.limit
        )
    except BfclContaminationError as exc:
        raise ConfigError(one_line(exc)) from None
    except (ValueError, OSError) as exc:
        raise ConfigError(f"env.path: {one_line(exc)}") from None
    if section.calls_weight or section.error_weight:
        raise ConfigError("env.calls_weight / env.error_weight are process terms of env.name=world; bfcl has the state reward only")
    return EnvPlan(
        rows=rows,
        environment_factory=factories,
        reward_funcs=[bfcl_state_reward],
        reward_weights=[1.0],
        description=f"bfcl ({len(rows)} rows of {section.path}, simulators {', '.join(sorted(factories))})",
    )


def _resolve_run_tree(args: argparse.Namespace, section: str) -> dict[str, Any]:
    """The configuration tree of a command: ``--config`` (on ``--resume`` without one: the run's own
    ``run_config.yaml``), then the dedicated flags, then ``--set``, then ``--ablation`` presets."""
    if args.resume not in (None, "auto") and not args.output_dir:
        args.output_dir = str(Path(args.resume).parent)  # --resume DIR/checkpoint-N continues the run in DIR
    config = args.config
    if config is None and args.resume is not None and args.output_dir:
        from rest_rl.integrations.trl.rundir import RUN_CONFIG_FILE

        saved = Path(args.output_dir) / RUN_CONFIG_FILE
        if saved.is_file():
            config = str(saved)  # --resume --output-dir DIR reuses the run's own configuration
    overrides = _shortcut_overrides(args, section) + list(args.set or [])
    tree = resolve_tree({}, config, overrides)
    if getattr(args, "ablation", None):
        ablations = list(tree.get("ablations") or [])
        tree["ablations"] = ablations + [name for name in args.ablation if name not in ablations]
    return tree


def _print_resolved(tree: dict[str, Any], trainer_args: Any, section: str) -> None:
    import yaml

    shown = dict(tree)
    shown[section] = dict(tree.get(section) or {})
    shown[section]["output_dir"] = trainer_args.output_dir
    print(yaml.safe_dump(to_plain(shown), sort_keys=False, allow_unicode=True).rstrip())


def _cmd_sft(args: argparse.Namespace) -> int:
    from rest_rl.integrations.trl.runners import SFTRunConfig, build_trainer_args, quiet_libraries, run_sft

    quiet_libraries()
    tree = _resolve_run_tree(args, "sft")
    cfg = build_dataclass(SFTRunConfig, tree)
    if args.dry_run:
        trainer_args = build_trainer_args("sft", cfg.sft, cfg.model)
        check_model_path(cfg.model.name_or_path)
        _check_inputs(cfg, "sft")
        _print_resolved(tree, trainer_args, "sft")
        print(f"# dry run: configuration valid (rest_sft_mode={trainer_args.rest_sft_mode}); nothing trained")
        return 0
    trainer = run_sft(
        cfg, resume=args.resume, overwrite=args.overwrite, tree=tree, data_check=_data_check(args), env_builder=env_builder
    )
    if trainer is not None:
        print(f"model saved to {trainer.args.output_dir}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from rest_rl.integrations.trl.runners import TrainRunConfig, build_trainer_args, quiet_libraries, run_train

    quiet_libraries()
    tree = _resolve_run_tree(args, "train")
    cfg = build_dataclass(TrainRunConfig, tree)
    if args.dry_run:
        trainer_args = build_trainer_args("train", cfg.train, cfg.model, cfg.ablations)
        check_model_path(cfg.model.name_or_path)
        _check_inputs(cfg, "train")
        _print_resolved(tree, trainer_args, "train")
        if cfg.launch:
            print(f"# launch: {' '.join(cfg.launch.split())}")
        print(
            f"# dry run: configuration valid (rest_scheme={trainer_args.rest_scheme}, "
            f"ablations={cfg.ablations or 'none'}); nothing trained"
        )
        return 0
    trainer = run_train(
        cfg, resume=args.resume, overwrite=args.overwrite, tree=tree, data_check=_data_check(args), env_builder=env_builder
    )
    if trainer is not None:
        print(f"model saved to {trainer.args.output_dir}")
    return 0


def _check_inputs(cfg: Any, kind: str) -> None:
    """What a dry run checks of the run's inputs: the data paths, or the environment's rows (built, then dropped)."""
    from rest_rl.integrations.trl.runners import check_env_section

    check_env_section(cfg)
    if cfg.env.enabled:
        plan = env_builder(cfg.env, kind)
        print(f"# env: {plan.description}; {len(plan.rows)} rows")
    else:
        cfg.data.check_paths()


def _data_check(args: argparse.Namespace) -> Any:
    """The benchmark-overlap check a fresh run makes of its examples (``--no-overlap-check`` turns it off)."""
    if args.no_overlap_check:
        return None
    from rest_rl.eval.contamination import training_check

    return training_check


def _knobs(section: str, cls: type, rest: list[str], rest_title: str, extra: list[str]) -> str:
    """The configuration keys of a training command: model and data sections, then the trainer's own
    ResT knobs (``rest``), then every other field of its TRL / Transformers config."""
    from rest_rl.integrations.trl.environments import EnvSection

    sections = "model / data / env / " + section + (" (+ ablations, launch)" if section == "train" else "")
    return "\n\n".join(
        [
            f"Configuration keys: YAML sections {sections}, or --set SECTION.KEY=VALUE.",
            format_fields(ModelSection, "model.", title="[model]"),
            format_fields(DataSection, "data.", title="[data]"),
            format_fields(EnvSection, "env.", title="[env] multi-turn training in a tool environment (replaces [data])"),
            format_subset(cls, f"{section}.", rest, rest_title),
            format_subset(cls, f"{section}.", None, f"[{section}] TRL {cls.__mro__[1].__name__} / Transformers TrainingArguments", exclude=rest),
            *extra,
        ]
    )


def _knobs_sft() -> str:
    from rest_rl.integrations.trl.sft import ResTSFTConfig

    rest = [k for k in ResTSFTConfig.__dataclass_fields__ if k.startswith("rest_")]
    return _knobs("sft", ResTSFTConfig, rest, "[sft] supervised baselines (rest_*)", [])


def _knobs_train() -> str:
    try:
        from rest_rl.integrations.trl.grpo import ABLATIONS, ResTGRPOConfig
    except ImportError as exc:
        return f"(the ResT GRPO trainer is not available: {one_line(exc)})"
    rest = [k for k in ResTGRPOConfig.__dataclass_fields__ if k.startswith(("rest_", "reward_")) or k == "loss_type"]
    ablations = "\n".join(f"  {name}: {text}" for name, text in ABLATIONS.items())
    presets = "[ablations] presets applied after the train section (--ablation NAME, repeatable):\n" + ablations
    return _knobs("train", ResTGRPOConfig, rest, "[train] ResT: token weights (rest_*), reward (reward_*), loss", [presets])


def _add_run_options(p: argparse.ArgumentParser, section: str) -> None:
    p.add_argument("--config", metavar="YAML", help="run configuration file (sections model, data, " + section + ")")
    p.add_argument("--model", metavar="DIR_OR_ID", help="model directory or hub id (sets model.name_or_path)")
    p.add_argument("--output-dir", metavar="DIR", help=f"where checkpoints, metrics.jsonl and the final model go ({section}.output_dir)")
    p.add_argument("--max-steps", type=int, metavar="N", help=f"optimizer steps ({section}.max_steps)")
    p.add_argument("--seed", type=int, metavar="N", help=f"random seed ({section}.seed)")
    p.add_argument(
        "--env",
        metavar="NAME",
        help="train in a tool environment: world (synthetic multi-turn tool world) or bfcl (your tasks on BFCL's "
        "simulators, env.path); sets env.name, replaces the data section",
    )
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
    p.add_argument(
        "--no-overlap-check",
        action="store_true",
        help="skip the check of the examples against benchmark prompts (API-Bank, BFCL) made before a fresh run",
    )


def add_sft_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``sft`` to the ``rest-rl`` sub-parsers; returns its parser."""
    sft = run_parser(
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
    return sft


def add_train_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``train`` to the ``rest-rl`` sub-parsers; returns its parser."""
    train = run_parser(
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
        "  rest-rl train --config configs/train_agent_tiny.yaml --model runs/tiny --output-dir runs/agent-rl\n"
        "  accelerate launch --config_file configs/accelerate/deepspeed_zero3_8gpu.yaml -m rest_rl train \\\n"
        "      --config configs/qwen3_4b_instruct_rlla4k.yaml",
        knobs=_knobs_train,
    )
    _add_run_options(train, "train")
    train.add_argument("--ablation", action="append", metavar="NAME", help="ablation preset (repeatable; listed below)")
    train.set_defaults(func=_cmd_train)
    return train
