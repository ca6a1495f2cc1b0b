"""``benchmarks/evidence.py``: the condition x arm x seed matrix, the paired statistics wiring and the report,
from a fake results directory (no training), plus the check that TRL's ``top_entropy_quantile`` takes effect
through ``ResTGRPOTrainer`` with uniform weights."""

from __future__ import annotations

import importlib.util
import json
import random
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


@pytest.fixture(scope="module")
def ev():
    return _load("evidence")


def test_matrix_is_paired_conditions_x_arms_x_seeds(ev, tmp_path):
    p = ev.PRESETS["cpu_matrix"]
    assert set(p.conditions) == {"today_normal", "today_weak", "long_normal", "long_weak", "agent"}
    assert p.arms == ("grpo", "rest_entropy", "rest_official", "top_entropy", "rest_closed_loop")
    assert len(p.base.seeds) >= 8 and p.base.eval_examples >= 1000
    tasks = ev.run_matrix(p, tmp_path)
    assert len(tasks) == 5 * 5 * len(p.base.seeds)
    assert len({str(d) for _, _, d in tasks}) == len(tasks)
    # seed-major: every run of seed k comes before any run of seed k+1
    seeds = [spec["seed"] for _, spec, _ in tasks]
    assert seeds == sorted(seeds)
    by_cond: dict[str, set] = {}
    for _, spec, run_dir in tasks:
        cond = Path(spec["out"]).name
        by_cond.setdefault(cond, set()).add(spec["start"])
        assert run_dir.parts[-3:] == ("runs", spec["arm"], f"seed{spec['seed']}") and run_dir.parts[-4] == cond
        assert spec["ablations"] == ev.lc.ARMS[spec["arm"]]
    assert all(len(starts) == 1 for starts in by_cond.values())  # one SFT start per condition, shared by the arms
    agent = [spec for _, spec, _ in tasks if spec.get("kind") == "agent"]
    assert len(agent) == 5 * len(p.base.seeds) and {s["arm"] for s in agent} == set(p.arms)
    assert all(s["budgets"] == [s["agent"]["rl"]["max_steps"]] for s in agent)
    top = next(spec for _, spec, _ in tasks if spec["arm"] == "top_entropy")
    assert top["ablations"] == ["uniform"] and top["rl_overrides"] == {"top_entropy_quantile": 0.2}
    closed = next(spec for _, spec, _ in tasks if spec["arm"] == "rest_closed_loop")
    assert closed["ablations"] == ["closed_loop"]
    # the conditions differ only where they should
    normal, weak = ev.condition_preset(p, "today_normal"), ev.condition_preset(p, "today_weak")
    long_ = ev.condition_preset(p, "long_normal")
    assert weak.sft_labels < normal.sft_labels and weak.sft["max_steps"] < ev.lc.demo_config(normal, tmp_path).sft["max_steps"]
    assert long_.world["think_filler"] > 0 and "think_filler" not in normal.world
    for name in p.conditions:
        if name == "agent":
            continue
        cfg = ev.demo_config(p, name, tmp_path)
        cfg.check_trainer_sections()
        assert cfg.eval_examples == p.base.eval_examples and max(p.base.budgets) == cfg.rl["max_steps"]


def test_default_preset_and_the_agent_condition(ev, tmp_path):
    """The default preset: the two conditions with a start between floor and converged, plus the agent condition,
    3 seeds; the agent runs use the agentic demo's configuration with a fixed RL task pool and no control arm."""
    from rest_rl.config import build_dataclass, to_plain
    from rest_rl.demo import DemoAgentConfig

    p = ev.PRESETS["cpu_evidence"]
    assert p.conditions == ("today_normal", "long_normal", "agent") and len(p.base.seeds) >= 3
    assert p.base.rl_steps >= 128 and p.base.eval_examples >= 1000 and p.max_minutes <= 90
    cfg = ev.agent_config(p, tmp_path / "agent")
    demo = DemoAgentConfig()
    assert cfg.out_dir == str(tmp_path / "agent" / "start") and cfg.eval_splits == ["test"] and not cfg.control
    assert cfg.rl_tasks == 500 and cfg.rl["max_steps"] == demo.rl["max_steps"] and cfg.rl["logging_steps"] == 1
    assert cfg.sft == demo.sft and cfg.tasks == demo.tasks and cfg.eval_tasks == 300
    assert ev.condition_budgets(p, "agent") == (cfg.rl["max_steps"],) and ev.condition_budgets(p, "long_normal") == (128,)
    cfg.check_trainer_sections()
    # the worker rebuilds the same configuration from the spec's plain values
    spec = next(s for _, s, _ in ev.run_matrix(p, tmp_path) if s.get("kind") == "agent")
    assert build_dataclass(DemoAgentConfig, spec["agent"], where="agent") == cfg
    assert to_plain(cfg) == spec["agent"]
    # --agent-steps reaches the agent runs only
    q = ev.replace(p, agent={**p.agent, "rl": {"max_steps": 7}})
    assert ev.condition_budgets(q, "agent") == (7,) and ev.condition_budgets(q, "today_normal") == (128,)
    # the smoke preset's agent condition is the demo's quick() one
    assert ev.agent_config(ev.PRESETS["smoke"], tmp_path).tasks.n_train == demo.quick().tasks.n_train


def test_agent_scores_and_first_step_regime(ev):
    records = [{"success": True, "state_ok": True}, {"success": False, "state_ok": True}, {"success": False, "state_ok": False}]
    scores = ev._agent_scores(records)
    assert scores == {"exact": pytest.approx(1 / 3), "reward": pytest.approx(2 / 3), "n": 3, "per_example": "100"}
    first = {"step": 1, "completions/mean_length": 60.0, "rewards/outcome_reward/mean": 0.25, "rest/share/THINK": 0.5, "rest/entropy/THINK": 1.0}
    runs = {
        "grpo": {0: {"metrics": [first, {**first, "step": 2, "rest/share/THINK": 0.9}]}},
        "rest_entropy": {0: {"metrics": [{**first, "rest/entropy/THINK": 3.0, "rewards/outcome_reward/mean": 0.75}]}},
        "top_entropy": {0: {"metrics": [{**first, "step": 5}]}},  # no step-1 record: not the start's rollouts
    }
    regime = ev.first_step_regime(runs)
    assert regime["n"] == 2 and regime["share"]["THINK"] == pytest.approx(0.5) and regime["entropy"]["THINK"] == pytest.approx(2.0)
    assert regime["sampled_exact"] == pytest.approx(0.5) and regime["entropy"]["FORMAT"] is None and regime["share"]["FORMAT"] == 0.0
    assert ev.first_step_regime({}) is None


def test_arm_configs_build_with_the_intended_fields(ev, tmp_path):
    from rest_rl.integrations.trl.runners import build_trainer_args
    from rest_rl.models.loading import ModelSection

    section = {"output_dir": str(tmp_path), "use_cpu": True, "bf16": False, "report_to": "none", "max_steps": 2}
    built = {}
    for arm in ev.EVIDENCE_ARMS:
        args = build_trainer_args("train", {**section, **ev.lc.ARM_RL.get(arm, {})}, ModelSection(name_or_path="x"), ev.lc.ARMS[arm])
        built[arm] = args
    assert built["top_entropy"].top_entropy_quantile == 0.2 and built["top_entropy"].rest_scheme == "uniform"
    assert built["grpo"].top_entropy_quantile == 1.0 and built["grpo"].rest_scheme == "uniform"
    assert built["rest_closed_loop"].rest_curriculum_driver == "structure_entropy"
    assert built["rest_entropy"].rest_scheme == "entropy" and built["rest_entropy"].rest_curriculum_driver == "steps"
    assert built["rest_official"].rest_scheme == "official"


def test_seeds_needed_follows_the_normal_power_formula(ev):
    # ((1.96 + 0.8416) * sd / 0.02)^2: sd = 2 points -> 7.85 -> 8 seeds; sd = 4 points -> 31.4 -> 32
    assert ev.seeds_needed(0.02) == 8
    assert ev.seeds_needed(0.04) == 32
    assert ev.seeds_needed(float("nan")) is None


def _fake_run(d: Path, per_example: str, step: int, rel: float, mask: bool = False) -> None:
    d.mkdir(parents=True)
    exact = per_example.count("1") / len(per_example)
    (d / "evals.jsonl").write_text(json.dumps({"step": step, "exact": exact, "reward": exact, "n": len(per_example), "per_example": per_example}) + "\n")
    metrics = [{"step": s, "reward": 0.1 * s, "rewards/toolrl/exact_match": min(1.0, 0.1 * s), "rest/entropy/THINK": 1.5, "rest/weight/THINK": 0.8} for s in range(1, step + 1)]
    (d / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    (d / "gradvar.jsonl").write_text("".join(json.dumps({"step": s, "trace_cov": rel, "mean_grad_sq_norm": 1.0, "relative_variance": rel}) + "\n" for s in (0, 2)))
    if mask:
        (d / "entropy_mask.jsonl").write_text(json.dumps({"step": 0, "kept": 0.2, "kept/THINK": 0.3, "share_of_kept/THINK": 0.9}) + "\n")
    (d / "done.json").write_text(json.dumps({"seconds": 1.0}) + "\n")


def test_report_from_a_fake_results_dir_pairs_by_seed_and_example(ev, tmp_path):
    from dataclasses import replace

    p = ev.PRESETS["smoke"]
    p = replace(p, conditions=("long_weak",), base=replace(p.base, budgets=(4,), rl_steps=4, seeds=(0, 1, 2)))
    cond = tmp_path / "long_weak"
    rng = random.Random(0)
    n = 200
    (cond / "start").mkdir(parents=True)
    start = "".join("1" if rng.random() < 0.3 else "0" for _ in range(n))
    (cond / "start" / "evals.json").write_text(json.dumps({"exact": start.count("1") / n, "reward": 0.0, "n": n, "per_example": start}))
    regime = {"n": 16, "mean_completion_tokens": 80, "sampled_exact": 0.1, "share": {g: (0.65 if g == "THINK" else 0.05) for g in ev.REGIONS}, "entropy": {g: (1.2 if g == "THINK" else 0.1) for g in ev.REGIONS}}
    (cond / "start" / "regime.json").write_text(json.dumps(regime))
    grpo = {}
    for seed in p.base.seeds:
        g = [rng.random() < 0.4 for _ in range(n)]
        grpo[seed] = g
        _fake_run(cond / "runs" / "grpo" / f"seed{seed}", "".join("1" if x else "0" for x in g), 4, rel=2.0)
        # rest_entropy: GRPO's outcomes with 20 wrong answers made right on every seed: +10 points
        better = list(g)
        flips = [i for i, x in enumerate(g) if not x][:20]
        for i in flips:
            better[i] = True
        _fake_run(cond / "runs" / "rest_entropy" / f"seed{seed}", "".join("1" if x else "0" for x in better), 4, rel=1.0)
        # top_entropy: identical to GRPO
        _fake_run(cond / "runs" / "top_entropy" / f"seed{seed}", "".join("1" if x else "0" for x in g), 4, rel=2.0, mask=True)
    result = ev.analyse(tmp_path, p, resamples=300)
    c = result["conditions"]["long_weak"]
    rest = c["arms"]["rest_entropy"]["budgets"][4]["vs_grpo"]
    # the same 20 examples flip on every seed: the interval reflects the example resampling only, excludes 0
    assert rest["diff"] == pytest.approx(0.10) and 0.03 < rest["ci"][0] < 0.10 < rest["ci"][1] < 0.17
    assert rest["ahead"] == 3 and rest["seeds"] == [0, 1, 2]
    same = c["arms"]["top_entropy"]["budgets"][4]["vs_grpo"]
    assert same["diff"] == 0 and same["ci"] == [0.0, 0.0] and same["ahead"] == 0
    assert c["arms"]["rest_entropy"]["relvar_ratio"]["geomean"] == pytest.approx(0.5)
    assert "vs_grpo" not in c["arms"]["grpo"]["budgets"][4]
    assert c["arms"]["grpo"]["budgets"][4]["vs_start"]["ci"][0] < c["arms"]["grpo"]["budgets"][4]["vs_start"]["diff"]
    assert c["arms"]["top_entropy"]["top_entropy_mask"]["kept"] == pytest.approx(0.2)
    assert all(s is not None for s in c["arms"]["rest_entropy"]["steps_to_threshold"])
    text = ev.report("smoke", p, result, "python benchmarks/evidence.py --preset smoke")
    assert "### long_weak" in text and "| ResT, entropy-informed | 3 |" in text
    assert "+10.0 [+" in text and "3/3" in text
    assert "0.65 / 1.20" in text  # the regime table: THINK share / entropy
    assert "took effect" in text and "**Power.**" in text
    assert "python benchmarks/evidence.py --preset smoke" in text


def test_top_entropy_quantile_takes_effect_through_the_rest_trainer(
    make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, make_batch, off_policy, tmp_path
):
    """Uniform ResT weights + TRL's top_entropy_quantile=0.2: the benchmark's trainer logs a mask keeping about a
    fifth of the loss tokens, and the loss differs from the same batch without the mask."""
    lc = _load("learning_curves")
    cls = lc._probed_trainer_class()
    losses = {}
    for q in (1.0, 0.2):
        args = ResTGRPOConfig(**cpu_kwargs(loss_type="grpo", rest_scheme="uniform", top_entropy_quantile=q))
        torch.manual_seed(0)
        trainer = cls(model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer)
        trainer.model.train()
        trainer.state.global_step, trainer.state.max_steps = 0, 10
        trainer.current_gradient_accumulation_steps = 1
        trainer.probe_every = 0
        trainer.mask_log = tmp_path / f"mask{q}.jsonl"
        scripted(trainer, seed=2)
        inputs = trainer._generate_and_score_completions(make_batch(2, 4))
        off_policy(trainer, inputs)
        losses[q] = float(trainer._compute_loss(trainer.model, inputs).detach())
    assert not (tmp_path / "mask1.0.jsonl").exists()  # TRL builds no mask at quantile 1
    record = json.loads((tmp_path / "mask0.2.jsonl").read_text().splitlines()[0])
    assert 0.1 < record["kept"] < 0.4
    assert any(k.startswith("kept/") for k in record)
    assert losses[0.2] != pytest.approx(losses[1.0])


def test_report_of_a_fake_agent_condition(ev, tmp_path):
    """The agent condition is analysed at its own budget with the outcome reward as the rollout curve, and its
    regime row comes from the first RL step's rollouts."""
    from dataclasses import replace

    p = replace(ev.PRESETS["smoke"], conditions=("agent",), arms=("grpo", "rest_entropy"), base=replace(ev.PRESETS["smoke"].base, seeds=(0, 1)))
    steps = ev.condition_budgets(p, "agent")[-1]
    cond = tmp_path / "agent"
    (cond / "start").mkdir(parents=True)
    (cond / "start" / "evals.json").write_text(json.dumps({"exact": 0.2, "reward": 0.5, "n": 10, "per_example": "1100000000"}))
    for arm, outcome in (("grpo", "1100000000"), ("rest_entropy", "1110000000")):
        for seed in (0, 1):
            d = cond / "runs" / arm / f"seed{seed}"
            _fake_run(d, outcome, steps, rel=1.0)
            metrics = [{"step": s, "reward": 0.3, "rewards/outcome_reward/mean": 0.3, "completions/mean_length": 70.0, "rest/share/SCAFFOLD": 0.5, "rest/entropy/SCAFFOLD": 0.07} for s in range(1, steps + 1)]
            (d / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metrics))
    result = ev.analyse(tmp_path, p, resamples=200)
    c = result["conditions"]["agent"]
    assert c["budgets"] == [steps] and c["rollout_key"] == "rewards/outcome_reward/mean" and c["threshold"] == pytest.approx(0.3)
    assert c["arms"]["rest_entropy"]["budgets"][steps]["vs_grpo"]["diff"] == pytest.approx(0.1)
    assert c["regime"]["source"] == "first RL step" and c["regime"]["share"]["SCAFFOLD"] == pytest.approx(0.5)
    text = ev.report("smoke", p, result)
    assert "held-out task success **0.200**" in text and "rollout outcome reward (0.300" in text
    assert "| agent | 0.200" in text and "0.50 / 0.07" in text and "agent condition:" in text
