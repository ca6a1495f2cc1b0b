"""The rest-rl command: help for every knob, one-line errors, the shipped configs build without running."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

from rest_rl.cli import main
from rest_rl.config import load_yaml, resolve_tree, to_plain

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "configs"
QWEN = CONFIGS / "qwen3_4b_instruct_rlla4k.yaml"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # --help, argparse usage errors
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def tiny_model(cli_tiny_model):
    return cli_tiny_model


# ----------------------------------------------------------------------------------------------------------
# Help
# ----------------------------------------------------------------------------------------------------------


def test_top_level_help_lists_the_commands(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for command in ("demo", "sft", "train", "eval", "tiny-model", "tag"):
        assert command in out


def test_train_help_documents_every_knob(capsys):
    from rest_rl.integrations.trl.grpo import ABLATIONS, ResTGRPOConfig

    code, out, _ = _run(capsys, "train", "--help")
    assert code == 0
    for f in dataclasses.fields(ResTGRPOConfig):
        if f.init and not f.name.startswith("_"):
            assert f"train.{f.name} (" in out, f.name
    for key in ("model.name_or_path", "model.dtype", "data.source", "data.prompt_style", "data.synthetic.n_train"):
        assert f"{key} (" in out
    for name in ABLATIONS:
        assert f"  {name}: " in out
    for flag in ("--config", "--set", "--resume", "--model", "--output-dir", "--ablation", "--dry-run"):
        assert flag in out
    # the ResT knobs come first, with their help
    assert out.index("train.rest_scheme (") < out.index("train.learning_rate (")
    assert "entropy" in out[out.index("train.rest_scheme (") :][:400]


def test_sft_and_demo_help_document_every_knob(capsys):
    from rest_rl.demo import DemoConfig
    from rest_rl.integrations.trl.sft import ResTSFTConfig

    code, out, _ = _run(capsys, "sft", "--help")
    assert code == 0
    for f in dataclasses.fields(ResTSFTConfig):
        if f.init and not f.name.startswith("_"):
            assert f"sft.{f.name} (" in out, f.name
    assert "--mode" in out
    code, out, _ = _run(capsys, "demo", "--help")
    assert code == 0
    for f in dataclasses.fields(DemoConfig):
        assert f.name in out


def test_eval_is_wired_in(capsys):
    code, out, _ = _run(capsys, "eval", "--help")
    assert code == 0 and "apibank" in out


# ----------------------------------------------------------------------------------------------------------
# One-line errors
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "--config", "nope.yaml"], "rest-rl: error: no such config file: nope.yaml"),
        (["train", "--model", "no/such/dir", "--dry-run"], "rest-rl: error: no such model directory: no/such/dir"),
        (["sft", "--dry-run"], "rest-rl: error: no model: pass --model"),
        (["train", "--set", "train.learnng_rate=1", "--dry-run"], "(did you mean 'learning_rate'?)"),
        (["train", "--set", "data.limit=lots", "--dry-run"], "data.limit: expected"),
        (["train", "--set", "nonsense", "--dry-run"], "must look like key=value"),
        (["train", "--set", "bogus.key=1", "--dry-run"], "unknown key 'bogus'"),
        (["demo", "--set", "sft_labels=0"], "sft_labels must be >= 1"),
        (["demo", "--set", "rl.max_stepz=3"], "unknown key 'max_stepz' in section 'rl' (did you mean 'max_steps'?)"),
    ],
)
def test_user_errors_are_one_line(capsys, argv, message):
    code, out, err = _run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rest-rl: error: ")
    assert message in lines[0]
    assert "Traceback" not in err


def test_run_errors_are_one_line(capsys, tiny_model, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, "sft", "--model", str(tiny_model), "--output-dir", str(out_dir), "--resume")
    assert code == 2 and err.strip() == f"rest-rl: error: --resume: no checkpoint-* directory in {out_dir}"
    code, _, err = _run(capsys, "train", "--model", str(tiny_model), "--ablation", "nope", "--dry-run", "--set", "train.use_cpu=true",
                        "--set", "train.bf16=false")
    assert code == 2 and "unknown ablation 'nope'" in err and len(err.strip().splitlines()) == 1
    code, _, err = _run(capsys, "sft", "--model", str(tiny_model), "--dry-run", "--set", "sft.rest_sft_mode=xsft",
                        "--set", "sft.use_cpu=true", "--set", "sft.bf16=false")
    assert code == 2 and "rest_sft_mode must be one of" in err


def test_fresh_run_refuses_a_used_output_dir(capsys, tiny_model, tmp_path):
    out_dir = tmp_path / "used"
    (out_dir / "checkpoint-2").mkdir(parents=True)
    (out_dir / "checkpoint-2" / "trainer_state.json").write_text("{}", encoding="utf-8")
    argv = ["sft", "--config", str(CONFIGS / "sft_tiny.yaml"), "--model", str(tiny_model), "--output-dir", str(out_dir)]
    code, _, err = _run(capsys, *argv)
    assert code == 2 and "already holds a run (checkpoint-2); pass --resume" in err


# ----------------------------------------------------------------------------------------------------------
# The shipped configurations
# ----------------------------------------------------------------------------------------------------------


def test_qwen_config_builds_with_its_accelerate_launch_line(capsys):
    """configs/qwen3_4b_instruct_rlla4k.yaml resolves into a valid ResTGRPOConfig (bf16 off: no GPU here)."""
    from accelerate.commands.config.config_args import ClusterConfig

    from rest_rl.config import build_dataclass
    from rest_rl.integrations.trl.runners import TrainRunConfig, build_trainer_args

    code, out, err = _run(capsys, "train", "--config", str(QWEN), "--dry-run", "--set", "train.bf16=false")
    assert code == 0, err
    assert "# launch: accelerate launch" in out and "nothing trained" in out

    tree = load_yaml(QWEN)
    cfg = build_dataclass(TrainRunConfig, resolve_tree({}, QWEN, ["train.bf16=false"]))
    args = build_trainer_args("train", cfg.train, cfg.model, cfg.ablations)
    assert cfg.model.name_or_path == "Qwen/Qwen3-4B-Instruct-2507" and cfg.model.dtype == "bfloat16"
    assert args.model_init_kwargs["dtype"] == "bfloat16"
    assert cfg.data.source == "mix" and (ROOT / cfg.data.path).is_file()
    assert args.use_vllm and args.vllm_mode == "colocate" and args.rest_scheme == "entropy"
    assert tree["train"]["bf16"] is True and args.gradient_checkpointing

    # the launch line: accelerate with the ZeRO-3 file, 8 processes, this very config
    launch = shlex.split(cfg.launch)
    assert launch[:2] == ["accelerate", "launch"]
    accel_file = ROOT / launch[launch.index("--config_file") + 1]
    accel = ClusterConfig.from_yaml_file(str(accel_file))
    assert accel.distributed_type.value == "DEEPSPEED" and accel.deepspeed_config["zero_stage"] == 3
    assert accel.num_processes == 8 and accel.mixed_precision == "bf16"
    assert launch[launch.index("-m") + 1 : launch.index("-m") + 3] == ["rest_rl", "train"]
    assert ROOT / launch[launch.index("--config") + 1] == QWEN

    # ResT's batch geometry: 512 prompts x 4 samples per rollout batch, 64-prompt optimizer steps
    per_rollout = args.per_device_train_batch_size * args.steps_per_generation * accel.num_processes
    per_step = args.per_device_train_batch_size * args.gradient_accumulation_steps * accel.num_processes
    assert per_rollout == 512 * args.num_generations and per_step == 64 * args.num_generations
    assert args.save_steps % (args.steps_per_generation // args.gradient_accumulation_steps) == 0


@pytest.mark.parametrize("name, command", [("sft_tiny.yaml", "sft"), ("train_tiny.yaml", "train")])
def test_tiny_configs_build(capsys, tiny_model, name, command):
    code, out, err = _run(capsys, command, "--config", str(CONFIGS / name), "--model", str(tiny_model), "--dry-run")
    assert code == 0, err
    assert "nothing trained" in out


def test_demo_yaml_holds_exactly_the_built_in_defaults():
    from rest_rl.demo import DemoConfig

    assert load_yaml(CONFIGS / "demo.yaml") == to_plain(DemoConfig())


def test_tiny_model_command_writes_a_loadable_directory(capsys, tmp_path):
    from transformers import AutoConfig, AutoTokenizer

    out_dir = tmp_path / "tiny"
    code, out, err = _run(
        capsys, "tiny-model", "--out-dir", str(out_dir), "--set", "model.hidden_size=32", "--set", "model.num_layers=1",
        "--set", "model.num_heads=2", "--set", "model.num_kv_heads=1", "--set", "world.n_train=30", "--set", "vocab_size=400",
    )
    assert code == 0, err
    tok = AutoTokenizer.from_pretrained(out_dir)
    assert AutoConfig.from_pretrained(out_dir).model_type == "qwen3"
    assert tok.eos_token == "<|im_end|>" and "<tools>" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}], tokenize=False
    )
    code, _, err = _run(capsys, "tiny-model", "--out-dir", str(out_dir), "--set", "model.hidden_size=30")
    assert code == 2 and "hidden_size must divide" in err
