"""``rest-rl train`` / ``rest-rl sft`` in a tool environment (the ``env`` section): configuration and its one-line
errors, the plan (rows, environment classes, reward), a real multi-turn GRPO run through TRL's tool loop on the tiny
model, resume of that run from its checkpoint, SFT on gold trajectories, and the BFCL environment's rows, reward and
contamination guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rest_rl.cli import main
from rest_rl.config import build_dataclass
from rest_rl.errors import ConfigError

CPU = ["train.use_cpu=true", "train.bf16=false", "train.report_to=none", "train.disable_tqdm=true",
       "train.logging_steps=1", "train.per_device_train_batch_size=4", "train.num_generations=2",
       "train.max_completion_length=24", "train.max_tool_calling_iterations=2", "train.learning_rate=1e-2",
       "train.beta=0.0", "env.tasks.n_train=16", "env.tasks.n_validation=4", "env.tasks.n_test=4"]  # fmt: skip


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("rest-rl: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])


def _train(out: Path, model: Path, *extra: str, steps: int = 2, save: int = 1) -> list[str]:
    argv = ["train", "--env", "world", "--model", str(model), "--output-dir", str(out), "--max-steps", str(steps)]
    for kv in [*CPU, "train.save_strategy=steps", f"train.save_steps={save}"]:
        argv += ["--set", kv]
    return argv + list(extra)


@pytest.fixture(scope="module")
def tiny_model(cli_tiny_model):
    return cli_tiny_model


# ----------------------------------------------------------------------------------------------------------
# Configuration
# ----------------------------------------------------------------------------------------------------------


def test_env_section_parses_and_defaults_to_off():
    from rest_rl.integrations.trl.runners import TrainRunConfig

    assert not build_dataclass(TrainRunConfig, {}).env.enabled
    cfg = build_dataclass(
        TrainRunConfig,
        {"env": {"name": "world", "split": "validation", "limit": 5, "tasks": {"n_train": 8, "domains": ["bank"]}}},
    )
    assert cfg.env.enabled and cfg.env.split == "validation" and cfg.env.tasks.domains == ("bank",)


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"name": "wrld"}, "env.name must be one of ['none', 'world', 'bfcl'], got 'wrld' (did you mean 'world'?)"),
        ({"name": "world", "split": "test"}, "env.split=test is the held-out evaluation split"),
        ({"name": "world", "split": "dev"}, "env.split must be one of ['train', 'validation']"),
        ({"name": "world", "factory": "all"}, "env.factory must be one of ['domain', 'world']"),
        ({"name": "world", "calls_weight": -1}, "env.calls_weight must be >= 0"),
        ({"name": "world", "limit": 0}, "env.limit >= 1"),
        ({"name": "bfcl"}, "env.name=bfcl needs env.path"),
        ({"name": "world", "tasks": {"domains": ["bank", "shop"]}}, "unknown domains ['shop']"),
        ({"name": "world", "shuffle": True}, "unknown key 'shuffle' in section 'env'"),
    ],
)
def test_bad_env_sections_are_one_line_config_errors(env, needle):
    from rest_rl.integrations.trl.runners import TrainRunConfig

    with pytest.raises(ConfigError) as info:
        build_dataclass(TrainRunConfig, {"env": env})
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_world_plan_rows_environments_and_rewards():
    from rest_rl.envs import ENVIRONMENTS, WorldEnv, outcome_reward
    from rest_rl.envs.tasks import calls_reward, tool_error_penalty
    from rest_rl.integrations.trl.environments import EnvSection, build_env_plan

    section = EnvSection(name="world", offset=2, limit=5)
    section.tasks.n_train, section.tasks.n_validation, section.tasks.n_test = 12, 4, 4
    plan = build_env_plan(section, "train")
    assert len(plan.rows) == 5 and plan.rows[0]["prompt"][-1]["role"] == "user"
    assert plan.environment_factory == dict(ENVIRONMENTS)
    assert {row["environment"] for row in plan.rows} <= set(ENVIRONMENTS)
    assert plan.reward_funcs == [outcome_reward] and plan.reward_weights == [1.0]  # outcome only by default
    assert json.loads(plan.rows[0]["task"])["id"] == "envs-train-2"  # offset applied

    section = EnvSection(name="world", factory="world", calls_weight=0.2, error_weight=0.1, limit=3)
    plan = build_env_plan(section, "train")
    assert plan.environment_factory is WorldEnv
    assert plan.reward_funcs == [outcome_reward, calls_reward, tool_error_penalty]
    assert plan.reward_weights == [1.0, 0.2, 0.1]

    sft = build_env_plan(section, "sft")  # gold trajectories; factory=world lists all sixteen tools
    assert [m["role"] for m in sft.rows[0]["messages"]][:2] == ["user", "assistant"]
    assert len(json.loads(sft.rows[0]["tools"])) == 16

    with pytest.raises(ConfigError, match="no env.tasks train tasks selected"):
        build_env_plan(EnvSection(name="world", offset=10_000), "train")


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--env", "wrld"], "did you mean 'world'"),
        (["--env", "world", "--set", "env.split=test"], "env.split=test is the held-out evaluation split"),
        (["--env", "world", "--set", "data.limit=4"], "does not read the data section"),
        (["--env", "bfcl"], "env.name=bfcl needs env.path"),
    ],
)
def test_cli_refuses_bad_env_configs_before_any_work(capsys, tmp_path, tiny_model, extra, needle):
    out = tmp_path / "run"
    code, _, err = _run(capsys, "train", "--model", str(tiny_model), "--output-dir", str(out), *extra)
    _one_line_error(code, err, needle)
    assert not out.exists()


def test_dry_run_builds_the_plan(capsys, tmp_path, tiny_model):
    argv = _train(tmp_path / "run", tiny_model) + ["--dry-run"]
    code, out, err = _run(capsys, *argv)
    assert code == 0, err
    assert "# env: world (train split, 16 tasks, factory=domain); 16 rows" in out
    assert not (tmp_path / "run").exists()


# ----------------------------------------------------------------------------------------------------------
# A real run in the tool world, and its resume
# ----------------------------------------------------------------------------------------------------------


def _records(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if line.strip()]


def test_env_train_runs_tool_loop_and_resumes_from_checkpoint(capsys, tmp_path, tiny_model):
    out = tmp_path / "run"
    code, stdout, err = _run(capsys, *_train(out, tiny_model, steps=2, save=1))
    assert code == 0, err
    assert "model saved to" in stdout
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-1", "checkpoint-2"]
    records = [r for r in _records(out) if "step" in r]
    keys = set().union(*records)
    # the environment's reward ran (not the single-step ToolRL reward), and TRL's tool loop was set up
    assert any(k.startswith("rewards/outcome_reward") for k in keys), sorted(keys)
    assert not any(k.startswith("rewards/toolrl") for k in keys), sorted(keys)
    assert any(k.startswith("tools/") for k in keys), sorted(keys)
    saved = (out / "run_config.yaml").read_text()
    assert "name: world" in saved

    # resume: continue from checkpoint-2 up to step 3, with the run's own configuration (no --config, no --env)
    code, stdout, err = _run(capsys, "train", "--output-dir", str(out), "--resume", "--max-steps", "3")
    assert code == 0, err
    status = json.loads((out / "run_status.json").read_text())
    assert status["status"] == "finished" and status["global_step"] == 3
    resumes = [e for e in status["history"] if e.get("event") == "resume"]
    assert resumes and resumes[-1]["from_checkpoint"] == "checkpoint-2"
    assert resumes[-1]["changes"] == {"train.max_steps": {"from": 2, "to": 3}}
    state = json.loads((out / "checkpoint-3" / "trainer_state.json").read_text())
    assert state["global_step"] == 3
    steps = [r["step"] for r in _records(out) if "step" in r and any(k.startswith("rewards/") for k in r)]
    assert steps[-1] == 3 and steps.count(3) == 1  # step 3 trained once, after the restored 1-2

    # the environment cannot change on resume: the stored configuration wins, a difference is refused
    code, _, err = _run(capsys, "train", "--output-dir", str(out), "--resume", "--max-steps", "4",
                        "--set", "env.tasks.seed=1")  # fmt: skip
    _one_line_error(code, err, "env.tasks.seed")


def test_env_sft_trains_on_gold_trajectories(capsys, tmp_path, tiny_model):
    out = tmp_path / "sft"
    argv = ["sft", "--env", "world", "--model", str(tiny_model), "--output-dir", str(out), "--max-steps", "2"]
    for kv in ["sft.use_cpu=true", "sft.bf16=false", "sft.report_to=none", "sft.disable_tqdm=true",
               "sft.logging_steps=1", "sft.per_device_train_batch_size=2", "sft.dataset_num_proc=null",
               "env.limit=4", "env.tasks.n_train=8", "env.tasks.n_validation=2", "env.tasks.n_test=2"]:  # fmt: skip
        argv += ["--set", kv]
    code, stdout, err = _run(capsys, *argv)
    assert code == 0, err
    losses = [r["loss"] for r in _records(out) if "loss" in r]
    assert len(losses) == 2 and all(loss > 0 for loss in losses)
    assert (out / "model.safetensors").is_file()


# ----------------------------------------------------------------------------------------------------------
# BFCL: your own tasks on BFCL's simulators
# ----------------------------------------------------------------------------------------------------------


_FS = {"GorillaFileSystem": {"root": {"workspace": {"type": "directory", "contents": {
    "notes.txt": {"type": "file", "content": "hello"}}}}}}  # fmt: skip


def _bfcl_rows(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_bfcl_rows_reward_and_contamination_guard(capsys, tmp_path, tiny_model):
    pytest.importorskip("bfcl_eval", reason="needs bfcl-eval (make install-bfcl)")
    from rest_rl.cli.train import env_builder
    from rest_rl.eval.bfcl.environment import bfcl_state_reward
    from rest_rl.eval.contamination import bfcl_prompts
    from rest_rl.integrations.trl.environments import EnvSection

    mine = {"prompt": "Make a folder called drafts in my workspace, please.", "initial_config": _FS,
            "involved_classes": ["GorillaFileSystem"], "ground_truth": ["cd(folder='workspace')", "mkdir(dir_name='drafts')"]}  # fmt: skip
    path = _bfcl_rows(tmp_path / "mine.jsonl", [mine, {**mine, "prompt": "Create the drafts folder inside workspace."}])
    plan = env_builder(EnvSection(name="bfcl", path=str(path)), "train")
    assert len(plan.rows) == 2 and list(plan.environment_factory) == ["GorillaFileSystem"]
    env_cls = plan.environment_factory["GorillaFileSystem"]

    def score(calls):
        env = env_cls()
        row = plan.rows[0]
        env.reset(**row)
        for name, kwargs in calls:
            getattr(env, name)(**kwargs)
        columns = {k: [row[k]] for k in ("ground_truth", "initial_config", "involved_classes", "long_context")}
        return bfcl_state_reward(["done"], environments=[env], **columns)[0]

    assert score([("cd", {"folder": "workspace"}), ("mkdir", {"dir_name": "drafts"})]) == 1.0
    assert score([("cd", {"folder": "workspace"}), ("mkdir", {"dir_name": "draft"})]) == 0.0
    assert score([]) == 0.0

    # BFCL's own test entries are refused with one line, before any work
    entry = next(p for p in bfcl_prompts() if p.id.startswith("multi_turn_base"))
    leaked = _bfcl_rows(tmp_path / "leaked.jsonl", [mine, {**mine, "prompt": entry.text}])
    out = tmp_path / "run"
    code, _, err = _run(capsys, "train", "--env", "bfcl", "--model", str(tiny_model), "--output-dir", str(out),
                        "--set", f"env.path={leaked}", "--no-overlap-check")  # fmt: skip
    _one_line_error(code, err, "refusing to train on BFCL's test data: row 1", "multi_turn_base")
    assert not out.exists()

    bad = _bfcl_rows(tmp_path / "bad.jsonl", [{**mine, "ground_truth": "mkdir('x')"}])
    with pytest.raises(ConfigError, match=r"bad.jsonl:1: ground_truth must be a list"):
        env_builder(EnvSection(name="bfcl", path=str(bad)), "train")
    with pytest.raises(ConfigError, match="rest-rl train only"):
        env_builder(EnvSection(name="bfcl", path=str(path)), "sft")
