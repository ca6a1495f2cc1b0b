"""The run lifecycle of ``rest-rl sft`` / ``rest-rl train``: bad budgets, model and output checks before any
work, resume that means the same run, a checkpoint cut mid-write, failed fresh runs that leave nothing
behind, and rows skipped as invalid that are counted instead of lost.

Every test drives the real CLI on the tiny local model (a few seconds of SFT each)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from rest_rl.cli import main

CPU = ["sft.use_cpu=true", "sft.bf16=false", "sft.report_to=none", "sft.disable_tqdm=true", "sft.logging_steps=1",
       "sft.per_device_train_batch_size=4", "sft.learning_rate=1e-2", "data.prompt_style=compact", "data.limit=16",
       "data.synthetic.n_train=32"]  # fmt: skip


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _sft(out: Path, model: Path, *extra: str, steps: int = 4, save: int = 2) -> list[str]:
    argv = ["sft", "--model", str(model), "--output-dir", str(out), "--max-steps", str(steps)]
    for kv in [*CPU, f"sft.save_steps={save}"]:
        argv += ["--set", kv]
    return argv + list(extra)


@pytest.fixture(scope="module")
def tiny_model(cli_tiny_model):
    return cli_tiny_model


def _one_line_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert lines and lines[-1].startswith("rest-rl: error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[-1], (needle, lines[-1])


# ----------------------------------------------------------------------------------------------------------
# Validate before work starts
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--max-steps=-3"], "train.max_steps must be -1"),
        (["train", "--max-steps", "0"], "train.max_steps must be -1"),
        (["sft", "--max-steps", "-5"], "sft.max_steps must be -1"),
        (["train", "--set", "train.learning_rate=-1e-6"], "train.learning_rate must be > 0"),
        (["sft", "--set", "sft.per_device_train_batch_size=0"], "sft.per_device_train_batch_size must be >= 1"),
        (["train", "--set", "train.max_completion_length=0"], "train.max_completion_length must be >= 1"),
        (["train", "--set", "train.temperature=0"], "train.temperature must be > 0"),
    ],
)
def test_nonsense_budgets_are_refused_before_any_work(capsys, tmp_path, tiny_model, argv, needle):
    out = tmp_path / "run"
    code, _, err = _run(capsys, *argv, "--model", str(tiny_model), "--output-dir", str(out))
    _one_line_error(code, err, needle)
    assert not out.exists()


def test_model_without_chat_template_fails_at_once_and_leaves_nothing(capsys, tmp_path, tiny_model):
    broken = tmp_path / "no-template"
    shutil.copytree(tiny_model, broken)
    config = json.loads((broken / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (broken / "tokenizer_config.json").write_text(json.dumps(config))
    (broken / "chat_template.jinja").unlink(missing_ok=True)
    out = tmp_path / "run"
    code, _, err = _run(capsys, *_sft(out, broken))
    _one_line_error(code, err, "no chat template")
    assert not out.exists()  # a plain rerun (with a fixed model) is not refused
    assert _run(capsys, *_sft(out, tiny_model))[0] == 0


def test_model_without_tokenizer_files_is_one_line(capsys, tmp_path, tiny_model):
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in tiny_model.iterdir():
        if f.name in ("config.json", "model.safetensors", "generation_config.json"):
            shutil.copy(f, bare / f.name)
    code, _, err = _run(capsys, *_sft(tmp_path / "run", bare))
    _one_line_error(code, err, "has no tokenizer files")
    assert not (tmp_path / "run").exists()


def test_local_looking_model_path_fails_at_once(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    code, _, err = _run(capsys, "sft", "--model", "runs/missing", "--output-dir", "out", "--dry-run")
    _one_line_error(code, err, "no such model directory: runs/missing")


def test_output_path_in_the_way_or_read_only_is_one_line(capsys, tmp_path, tiny_model):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, *_sft(blocker / "run", tiny_model))
    _one_line_error(code, err, "is not a directory")
    if os.geteuid() != 0:  # root writes anywhere: the read-only case is only checkable as another user
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            code, _, err = _run(capsys, *_sft(ro / "run", tiny_model))
            _one_line_error(code, err, "not writable")
        finally:
            ro.chmod(0o700)


def test_fresh_run_failing_before_its_first_checkpoint_leaves_a_clean_directory(tmp_path, tiny_model):
    from transformers import TrainerCallback

    from rest_rl.config import build_dataclass, resolve_tree
    from rest_rl.integrations.trl.runners import SFTRunConfig, run_sft

    class Boom(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            raise RuntimeError("boom at step 1")

    out = tmp_path / "run"
    tree = resolve_tree({}, None, [f"model.name_or_path={tiny_model}", f"sft.output_dir={out}", "sft.max_steps=4", *CPU])
    cfg = build_dataclass(SFTRunConfig, tree)
    with pytest.raises(RuntimeError, match="boom"):
        run_sft(cfg, callbacks=[Boom()], tree=tree)
    assert not out.exists()  # nothing left: a plain rerun is not refused
    assert run_sft(cfg, tree=tree) is not None


# ----------------------------------------------------------------------------------------------------------
# Resume means the same run
# ----------------------------------------------------------------------------------------------------------


@pytest.fixture()
def finished_run(capsys, tmp_path, tiny_model):
    out = tmp_path / "run"
    assert _run(capsys, *_sft(out, tiny_model))[0] == 0
    return out


def test_resuming_a_finished_run_reports_it_and_changes_nothing(capsys, finished_run):
    before = (finished_run / "model.safetensors").read_bytes()
    metrics = (finished_run / "metrics.jsonl").read_text()
    code, out, _ = _run(capsys, "sft", "--output-dir", str(finished_run), "--resume")
    assert code == 0
    assert "already finished (step 4 of max_steps 4)" in out
    assert (finished_run / "model.safetensors").read_bytes() == before
    assert (finished_run / "metrics.jsonl").read_text() == metrics


def test_resume_with_a_changed_value_is_refused_with_the_differences(capsys, finished_run, tiny_model):
    code, _, err = _run(capsys, "sft", "--output-dir", str(finished_run), "--resume", "--set", "sft.learning_rate=0.5",
                        "--set", "sft.save_steps=3")  # fmt: skip
    _one_line_error(code, err, "sft.learning_rate: 0.01 -> 0.5", "sft.save_steps: 2 -> 3", "another --output-dir")
    code, _, err = _run(capsys, "sft", "--output-dir", str(finished_run), "--resume", "--mode", "tsft")
    _one_line_error(code, err, "sft.rest_sft_mode: 'sft' -> 'tsft'")
    other = finished_run.parent / "other-model"
    shutil.copytree(tiny_model, other)
    code, _, err = _run(capsys, "sft", "--output-dir", str(finished_run), "--resume", "--model", str(other))
    _one_line_error(code, err, "model.name_or_path")


def test_resume_may_extend_max_steps_and_records_it(capsys, finished_run):
    code, _, _ = _run(capsys, "sft", "--output-dir", str(finished_run), "--resume", "--max-steps", "6")
    assert code == 0
    steps = [json.loads(line)["step"] for line in (finished_run / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert steps == [1, 2, 3, 4, 5, 6]
    from rest_rl.config import load_yaml

    assert load_yaml(finished_run / "run_config.yaml")["sft"]["max_steps"] == 6
    status = json.loads((finished_run / "run_status.json").read_text())
    assert status["status"] == "finished" and status["global_step"] == 6
    resume = [e for e in status["history"] if e["event"] == "resume"][-1]
    assert resume["changes"] == {"sft.max_steps": {"from": 4, "to": 6}}


def test_resume_from_another_runs_checkpoint_is_refused(capsys, finished_run, tmp_path, tiny_model):
    other = tmp_path / "other"
    assert _run(capsys, *_sft(other, tiny_model))[0] == 0
    history = (other / "metrics.jsonl").read_text()
    code, _, err = _run(capsys, "sft", "--output-dir", str(other), "--resume", str(finished_run / "checkpoint-2"))
    _one_line_error(code, err, "belongs to the run in", str(finished_run.resolve()))
    assert (other / "metrics.jsonl").read_text() == history


KILL_IN_CHECKPOINT = r"""
import os, signal, sys
from transformers import Trainer

_save = Trainer._save_rng_state


def save_then_die(self, output_dir):
    _save(self, output_dir)
    if self.state.global_step >= int(os.environ["KILL_AT"]):
        os.kill(os.getpid(), signal.SIGKILL)  # weights and optimizer written, trainer_state.json not yet


Trainer._save_rng_state = save_then_die
from rest_rl.cli import main

sys.exit(main(sys.argv[1:]))
"""


def test_sigkill_during_a_checkpoint_write_then_auto_resume_skips_it(capsys, tmp_path, tiny_model):
    out = tmp_path / "run"
    env = {**os.environ, "KILL_AT": "4", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", KILL_IN_CHECKPOINT, *_sft(out, tiny_model, steps=6)], env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert (out / "checkpoint-4").is_dir() and not (out / "checkpoint-4" / "trainer_state.json").exists()
    code, _, err = _run(capsys, "sft", "--output-dir", str(out), "--resume")
    assert code == 0, err
    assert "skipping incomplete checkpoint-4" in err
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in line]
    assert steps[-1] == 6 and sorted(set(steps)) == [1, 2, 3, 4, 5, 6]
    status = json.loads((out / "run_status.json").read_text())
    assert [e["event"] for e in status["history"]] == ["start", "resume", "finish"]
    assert status["history"][1]["from_checkpoint"] == "checkpoint-2"


def test_resume_with_only_incomplete_checkpoints_says_so(capsys, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoint-2").mkdir(parents=True)
    from rest_rl.integrations.trl.rundir import choose_checkpoint
    from rest_rl.errors import UserError

    with pytest.raises(UserError, match=r"no complete checkpoint .* checkpoint-2 \(no trainer_state.json"):
        choose_checkpoint(out, "auto")


# ----------------------------------------------------------------------------------------------------------
# Counted, visible data loss
# ----------------------------------------------------------------------------------------------------------


def _examples_file(tmp_path: Path, n_good: int, bad: list) -> Path:
    from rest_rl.data.synthetic import SyntheticConfig, make_splits

    good = [ex.to_dict() for ex in make_splits(SyntheticConfig(n_train=n_good, n_validation=0, n_test=0))["train"]]
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in good + bad) + "\n")
    return path


def test_skipped_rows_are_counted_printed_and_written(capsys, tmp_path, tiny_model):
    data = _examples_file(tmp_path, 12, [{"id": "x"}, [1, 2], {"tools": "not json", "messages": []}])
    out = tmp_path / "run"
    code, _, err = _run(capsys, *_sft(out, tiny_model, steps=2), "--set", "data.source=examples", "--set", f"data.path={data}")
    assert code == 0, err
    assert "skipped 3 of 15 rows as invalid" in err
    report = json.loads((out / "data_report.json").read_text())
    assert report["skipped"] == 3 and sum(report["sources"][0]["skipped_by_reason"].values()) == 3


def test_every_row_invalid_names_the_first_reason(capsys, tmp_path, tiny_model):
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps([{"instruction": "x", "output": "y"}] * 4))
    code, _, err = _run(capsys, *_sft(tmp_path / "run", tiny_model), "--set", "data.source=xlam", "--set", f"data.path={path}")
    _one_line_error(code, err, "every one of the 4 rows was invalid", "row 0", "right loader")


def test_sft_max_length_that_drops_every_example_is_one_line(capsys, tmp_path, tiny_model):
    out = tmp_path / "run"
    code, _, err = _run(capsys, *_sft(out, tiny_model), "--set", "sft.max_length=4")
    _one_line_error(code, err, "no training example is left", "sft.max_length=4")
    assert not out.exists()


def test_training_warns_when_its_examples_copy_benchmark_prompts(capsys, tmp_path, tiny_model):
    pytest.importorskip("bfcl_eval", reason="the overlap check against BFCL needs bfcl-eval (make install-bfcl)")
    from rest_rl.data.synthetic import SyntheticConfig, make_splits
    from rest_rl.eval.contamination import bfcl_prompts

    leaked = bfcl_prompts()[0].text
    rows = [ex.to_dict() for ex in make_splits(SyntheticConfig(n_train=12, n_validation=0, n_test=0))["train"]]
    rows[0]["messages"] = [{"role": "user", "content": leaked}]
    data = tmp_path / "rows.jsonl"
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "run"
    argv = [*_sft(out, tiny_model, steps=1), "--set", "data.source=examples", "--set", f"data.path={data}"]
    code, _, err = _run(capsys, *argv)
    assert code == 0, err
    assert "WARNING: 1 of 12 training examples match benchmark prompts (1 exact" in err
    assert any("WARNING" in line for line in json.loads((out / "data_report.json").read_text())["checks"])
    code, _, err = _run(capsys, *_sft(tmp_path / "run2", tiny_model, steps=1), "--set", "data.source=examples",
                        "--set", f"data.path={data}", "--no-overlap-check")  # fmt: skip
    assert code == 0 and "WARNING" not in err
