"""Kill a training run mid-way (SIGKILL), resume it, and compare with an uninterrupted run.

Design: a run with ``save_steps=2`` and ``logging_steps=1`` is started in a subprocess through the real
CLI; a callback added after the metrics writer SIGKILLs the process right after step 5 was logged, so
``metrics.jsonl`` already holds step 5 while the last checkpoint is ``checkpoint-4`` (the worst case: a step
that was logged but must be trained again). ``rest-rl ... --resume`` then continues from ``checkpoint-4``
with the configuration the run saved. Checked against an uninterrupted run with the same configuration:

* no step repeated or lost: the training records of ``metrics.jsonl`` are steps 1..N, once each;
* appended, not overwritten: the records of steps 1..4 are byte-identical before and after the resume;
* model, optimizer, scheduler, RNG and data position restored: every step's loss, grad norm and learning
  rate, and the final weights, equal the uninterrupted run's;
* for ResT RL also the curriculum and reward-schedule progress: ``rest/progress``, the reward, its schedule
  ``p`` and the per-region weights equal the uninterrupted run's at every step.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rest_rl.cli import main
from rest_rl.data.synthetic import SyntheticConfig
from rest_rl.models.tiny import TinyModelConfig, make_embedded_model

WORLD = SyntheticConfig(seed=7, n_train=64, n_validation=0, n_test=4, p_no_call=0.2)
TINY = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, ffn_multiplier=2, seed=0)
MAX_STEPS, SAVE_STEPS, KILL_AT = 6, 2, 5

DRIVER = r"""
import os, signal, sys
from transformers import TrainerCallback
import rest_rl.integrations.trl.callbacks as cb

kill_at = int(os.environ["REST_RL_TEST_KILL_AT"])


class KillAfterLog(TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.global_step >= kill_at and logs and "loss" in logs:
            os.kill(os.getpid(), signal.SIGKILL)


_default = cb.default_callbacks
cb.default_callbacks = lambda *a, **k: _default(*a, **k) + [KillAfterLog()]
from rest_rl.cli import main

sys.exit(main(sys.argv[1:]))
"""

CPU = {"use_cpu": True, "bf16": False, "gradient_checkpointing": False, "report_to": "none", "disable_tqdm": True, "seed": 0}


def _yaml(path: Path, section: str, data: dict, trainer: dict) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"data": data, section: trainer}, sort_keys=False), encoding="utf-8")
    return path


def _data(**extra) -> dict:
    return {
        "source": "synthetic",
        "prompt_style": "compact",
        "synthetic": {k: getattr(WORLD, k) for k in ("seed", "n_train", "n_validation", "n_test", "p_no_call")},
        **extra,
    }


def _records(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _train_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if '"loss"' in line]


def _kill_then_resume(tmp_path: Path, command: str, base_args: list[str]) -> tuple[Path, Path]:
    """Run ``command`` uninterrupted into ``ref/``, and killed-then-resumed into ``run/``."""
    ref, run = tmp_path / "ref", tmp_path / "run"
    assert main([command, *base_args, "--output-dir", str(ref)]) == 0

    env = {**os.environ, "REST_RL_TEST_KILL_AT": str(KILL_AT), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, command, *base_args, "--output-dir", str(run)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert sorted(p.name for p in run.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-4"]
    before = _train_lines(run / "metrics.jsonl")
    assert [json.loads(line)["step"] for line in before] == list(range(1, KILL_AT + 1))
    assert not (run / "model.safetensors").exists()  # the final model was never written

    # resume with nothing but the output dir: the run's own configuration is reused
    assert main([command, "--output-dir", str(run), "--resume"]) == 0
    after = _train_lines(run / "metrics.jsonl")
    assert [json.loads(line)["step"] for line in after] == list(range(1, MAX_STEPS + 1))  # none repeated or lost
    assert after[:4] == before[:4]  # appended: what was logged up to the checkpoint is untouched
    return ref, run


def _same_steps(ref: Path, run: Path, keys: list[str]) -> None:
    a = [r for r in _records(ref / "metrics.jsonl") if "loss" in r]
    b = [r for r in _records(run / "metrics.jsonl") if "loss" in r]
    assert len(a) == len(b) == MAX_STEPS
    for ra, rb in zip(a, b):
        for key in keys:
            assert key in ra, key
            assert rb[key] == pytest.approx(ra[key], rel=1e-5, abs=1e-6), (ra["step"], key)


def _same_weights(ref: Path, run: Path) -> None:
    from safetensors.torch import load_file

    wa, wb = load_file(ref / "model.safetensors"), load_file(run / "model.safetensors")
    assert wa.keys() == wb.keys()
    for name in wa:
        torch.testing.assert_close(wa[name], wb[name], rtol=1e-5, atol=1e-6, msg=name)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return make_embedded_model(tmp_path_factory.mktemp("resume-model"), WORLD, config=TINY, vocab_size=400)


def test_sft_killed_mid_run_resumes_exactly(tmp_path, model_dir):
    config = _yaml(
        tmp_path / "sft.yaml",
        "sft",
        _data(limit=24),
        {"max_steps": MAX_STEPS, "save_steps": SAVE_STEPS, "logging_steps": 1, "per_device_train_batch_size": 8,
         "learning_rate": 1e-2, "rest_sft_mode": "tsft", **CPU},
    )
    ref, run = _kill_then_resume(tmp_path, "sft", ["--config", str(config), "--model", str(model_dir)])
    _same_steps(ref, run, ["loss", "grad_norm", "learning_rate", "rest/weight/TOOL_NAME"])
    _same_weights(ref, run)


@pytest.fixture(scope="module")
def warm_model(tmp_path_factory, model_dir):
    """The tiny model after a short SFT, so that sampled completions earn different rewards."""
    out = tmp_path_factory.mktemp("resume-warm")
    argv = ["sft", "--model", str(model_dir), "--output-dir", str(out), "--max-steps", "60"]
    for kv in ["data.prompt_style=compact", "data.limit=48", f"data.synthetic.seed={WORLD.seed}",
               f"data.synthetic.n_train={WORLD.n_train}", "sft.learning_rate=1e-2", "sft.per_device_train_batch_size=16",
               "sft.logging_steps=30", "sft.save_strategy=no", *[f"sft.{k}={json.dumps(v)}" for k, v in CPU.items()]]:
        argv += ["--set", kv]
    assert main(argv) == 0
    return out


def test_rest_rl_killed_mid_run_resumes_exactly(tmp_path, warm_model):
    config = _yaml(
        tmp_path / "train.yaml",
        "train",
        _data(offset=0, limit=32),
        {"max_steps": MAX_STEPS, "save_steps": SAVE_STEPS, "logging_steps": 1, "per_device_train_batch_size": 8,
         "num_generations": 4, "max_completion_length": 48, "learning_rate": 1e-3, "beta": 0.0,
         "rest_scheme": "entropy", **CPU},
    )
    ref, run = _kill_then_resume(tmp_path, "train", ["--config", str(config), "--model", str(warm_model)])
    keys = ["loss", "grad_norm", "learning_rate", "reward", "rest/progress", "rewards/toolrl/schedule_p",
            "completions/mean_length", "rest/weight/FORMAT", "rest/entropy/FORMAT"]
    _same_steps(ref, run, keys)
    progress = [r["rest/progress"] for r in _records(run / "metrics.jsonl") if "loss" in r]
    assert progress == pytest.approx([s / MAX_STEPS for s in range(MAX_STEPS)])  # the curriculum did not restart
    rewards = [r["reward_std"] for r in _records(run / "metrics.jsonl") if "loss" in r]
    assert any(r > 0 for r in rewards)  # a real learning signal, so the optimizer state mattered
    _same_weights(ref, run)
