"""The measuring instruments of ``benchmarks/``: the gradient-variance probe of ``learning_curves.py`` and the
step of ``step_overhead.py``. A wrong instrument makes an honest-looking table wrong, so they are tested."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from rest_rl.integrations.trl import ResTGRPOConfig

ROOT = Path(__file__).resolve().parents[3]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("scheme", ["uniform", "entropy"])
def test_gradient_probe_chunks_average_to_the_batch_gradient(
    scheme, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, make_batch, off_policy, tmp_path
):
    """With loss_type grpo (a mean over rows) and equal chunks, the mean of the per-chunk gradients is the
    gradient of the whole batch (exactly for uniform weights; for entropy weights the region statistics are
    per chunk, so only approximately) -- and the probe neither changes the step's loss nor leaves metrics."""
    lc = _load("learning_curves")
    cls = lc._probed_trainer_class()
    args = ResTGRPOConfig(**cpu_kwargs(loss_type="grpo", rest_scheme=scheme))
    trainer = cls(model=make_model(sharp=False), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer)
    trainer.model.train()
    trainer.state.global_step, trainer.state.max_steps = 0, 10
    trainer.current_gradient_accumulation_steps = 1
    trainer.probe_every, trainer.probe_chunks, trainer.probe_log = 1, 2, tmp_path / "gv.jsonl"
    scripted(trainer, seed=2)
    inputs = trainer._generate_and_score_completions(make_batch(2, 4))
    off_policy(trainer, inputs)
    assert inputs["advantages"].abs().sum() > 0

    params = [p for p in trainer.model.parameters() if p.requires_grad]
    before = {k: len(v) for k, v in trainer._metrics["train"].items()}
    loss = trainer._compute_loss(trainer.model, inputs)  # probes first (step 0), then the real loss
    after_probe = {k: len(v) for k, v in trainer._metrics["train"].items()}
    full = torch.cat([g.reshape(-1) for g in torch.autograd.grad(loss, params)]).double()

    trainer.probe_every = 0  # same loss without the probe
    plain = trainer._compute_loss(trainer.model, inputs)
    torch.testing.assert_close(loss.detach(), plain.detach())
    assert all(after_probe[k] - before.get(k, 0) <= 1 for k in after_probe)  # only the real step's entries

    record = json.loads((tmp_path / "gv.jsonl").read_text().splitlines()[0])
    assert record["step"] == 0 and record["trace_cov"] > 0 and record["mean_grad_sq_norm"] > 0
    mean_sq = float((full**2).sum())
    if scheme == "uniform":
        assert record["mean_grad_sq_norm"] == pytest.approx(mean_sq, rel=1e-4)
    else:
        assert record["mean_grad_sq_norm"] == pytest.approx(mean_sq, rel=0.5)
    assert record["relative_variance"] == pytest.approx(record["trace_cov"] / record["mean_grad_sq_norm"])


def test_step_overhead_smoke_run_prints_both_arms(capsys):
    so = _load("step_overhead")
    assert so.main(["--preset", "smoke", "--steps", "2", "--warmup", "0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "| TRL GRPO |" in out and "| ResT (entropy scheme) |" in out and "ResT / GRPO: time" in out


def test_fixed_rollouts_are_exact_length_tool_use_texts(tiny_tokenizer):
    so = _load("step_overhead")
    _, texts = so.rollout_texts(4)
    assert all("<tool_call>" in t and "<think>" in t for t in texts)
    ids = so.fixed_length_ids(tiny_tokenizer, texts, 300)
    assert all(len(row) == 300 for row in ids)
    assert tiny_tokenizer.eos_token_id not in {i for row in ids for i in row}


@pytest.mark.parametrize("preset", ["cpu", "gpu", "smoke"])
def test_learning_curve_presets_build_valid_configurations(preset, tmp_path):
    """Every preset (the GPU one included, which CI cannot run) yields a valid demo-style configuration whose
    trainer sections TRL accepts, with step budgets inside the run."""
    lc = _load("learning_curves")
    p = lc.PRESETS[preset]
    cfg = lc.demo_config(p, tmp_path)
    cfg.check_trainer_sections()
    assert cfg.rl["max_steps"] == p.rl_steps and max(p.budgets) <= p.rl_steps
    assert cfg.eval_examples <= cfg.world.n_test and len(p.seeds) >= (3 if preset != "smoke" else 1)
    assert int(cfg.rl["per_device_train_batch_size"]) % (p.probe_chunks * 1) == 0
