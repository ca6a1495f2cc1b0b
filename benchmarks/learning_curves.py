"""Does ResT beat GRPO? Learning curves on the synthetic tool world, from one shared SFT start.

Arms (all on ``ResTGRPOTrainer``, the same rollout budget: steps x prompts x samples; the uniform arms are
parity-tested equal to TRL's own ``GRPOTrainer``):

  grpo               uniform token weights (= GRPO, loss_type grpo)
  dr_grpo            uniform weights, Dr.GRPO's loss (sum / (rows x max length)) and unscaled advantages
  rest_official      the ResT authors' constant region weights and aggregation (``ablations: [official]``)
  rest_entropy       the paper's entropy-informed weights with the curriculum (the default scheme)
  no_curriculum      rest_entropy with static weights (no curriculum over progress)
  no_reasoning_grad  rest_entropy with think-token weight 0
  no_dynamic_reward  rest_entropy with ToolRL's static reward schedule

Two more arms, not in the default set (``benchmarks/evidence.py`` runs them):

  top_entropy        uniform weights + TRL's ``top_entropy_quantile=0.2`` (train only the top-20% entropy tokens)
  rest_closed_loop   rest_entropy with the closed-loop curriculum (``ablations: [closed_loop]``)

Every arm x seed starts from the same SFT checkpoint (built once and cached under ``<out>/start``); the seed
changes the prompt order and the sampling. Measured per run:

* held-out exact-call accuracy and held-out mean ToolRL reward (greedy, static reward scale, so arms with
  and without the dynamic schedule are comparable) at fixed step budgets;
* the training curves from ``metrics.jsonl`` (reward, rollout exact-match rate, per-region entropy / weight);
* the gradient-variance probe: every ``probe_every`` steps, the policy-gradient of the current batch is
  computed separately on ``probe_chunks`` disjoint micro-batches (same weights, same loss as the step
  itself, no update); reported are the trace of their covariance ``mean_i ||g_i - mean g||^2`` and the same
  divided by ``||mean g||^2`` (scale-free: ResT's weights also rescale the gradient).

Outputs: ``<out>/runs/<arm>/seed<k>/`` (metrics.jsonl, evals.jsonl, gradvar.jsonl), ``<out>/results.json``,
``<out>/report.md`` (the tables that go into ``benchmarks/README.md``) and PNG plots.

Run:  .venv/bin/python benchmarks/learning_curves.py                  (preset cpu: <= 60 min on 2 cores)
      .venv/bin/python benchmarks/learning_curves.py --preset smoke    (a minute; checks the pipeline)
      python benchmarks/learning_curves.py --preset gpu --jobs 4        (larger world/model/budget, one GPU)
      .venv/bin/python benchmarks/learning_curves.py --report-only      (rebuild tables/plots from <out>)
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ARMS: dict[str, list[str]] = {
    "grpo": ["uniform"],
    "dr_grpo": ["dr_grpo"],
    "rest_official": ["official"],
    "rest_entropy": [],
    "no_curriculum": ["no_curriculum"],
    "no_reasoning_grad": ["no_reasoning_gradient"],
    "no_dynamic_reward": ["no_dynamic_reward"],
    "top_entropy": ["uniform"],
    "rest_closed_loop": ["closed_loop"],
}
ARM_RL: dict[str, dict[str, Any]] = {"top_entropy": {"top_entropy_quantile": 0.2}}
"""Trainer fields an arm sets on top of its ablations (any ``ResTGRPOConfig`` / ``GRPOConfig`` field)."""
DEFAULT_ARMS: tuple[str, ...] = (
    "grpo", "dr_grpo", "rest_official", "rest_entropy", "no_curriculum", "no_reasoning_grad", "no_dynamic_reward",
)
ARM_LABELS = {
    "grpo": "GRPO (uniform)",
    "dr_grpo": "Dr.GRPO",
    "rest_official": "ResT, authors' constants",
    "rest_entropy": "ResT, entropy-informed",
    "no_curriculum": "ResT - curriculum",
    "no_reasoning_grad": "ResT - reasoning gradient",
    "no_dynamic_reward": "ResT - dynamic reward",
    "top_entropy": "TRL top-entropy 20%",
    "rest_closed_loop": "ResT, closed-loop curriculum",
}
REGIONS_SHOWN = ("THINK", "TOOL_NAME", "ARG_KEY", "ARG_VALUE", "FORMAT", "SCAFFOLD")


@dataclass
class Preset:
    """Sizes of one benchmark configuration (world / model / SFT start are the demo's unless changed)."""

    rl_steps: int
    budgets: tuple[int, ...]
    eval_examples: int
    seeds: tuple[int, ...]
    probe_every: int
    probe_chunks: int = 4
    world: dict[str, Any] = field(default_factory=dict)
    model: dict[str, Any] = field(default_factory=dict)
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    sft_labels: int = 400
    vocab_size: int = 2048
    device: str = "cpu"


PRESETS: dict[str, Preset] = {
    # The demo's world, model and SFT start; 150 RL steps of 4 prompts x 8 samples per arm and seed.
    "cpu": Preset(rl_steps=150, budgets=(50, 100, 150), eval_examples=300, seeds=(0, 1, 2), probe_every=10),
    # All seven domains (30 tools, 3 per prompt), a 4x wider model, 1,000 labels, 600 steps of 8 x 8; for one GPU.
    "gpu": Preset(
        rl_steps=600,
        budgets=(100, 200, 400, 600),
        eval_examples=1000,
        seeds=(0, 1, 2, 3, 4),
        probe_every=20,
        world={"domains": None, "tools_per_prompt": 3, "n_train": 9000, "n_test": 1000, "n_novel": 1000},
        model={"hidden_size": 512, "num_layers": 4, "num_heads": 8, "num_kv_heads": 4},
        sft={"max_steps": 1500, "per_device_train_batch_size": 64, "learning_rate": 1e-3, "use_cpu": False},
        rl={"per_device_train_batch_size": 64, "num_generations": 8, "use_cpu": False, "learning_rate": 1e-4},
        sft_labels=1000,
        vocab_size=4096,
        device="cuda",
    ),
    "smoke": Preset(
        rl_steps=4,
        budgets=(2, 4),
        eval_examples=8,
        seeds=(0, 1),
        probe_every=2,
        probe_chunks=2,
        world={"n_train": 96, "n_test": 16, "n_novel": 16},
        model={"hidden_size": 32, "num_layers": 1, "num_heads": 2, "num_kv_heads": 1},
        sft={"max_steps": 4, "per_device_train_batch_size": 8},
        rl={"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 32},
        sft_labels=32,
        vocab_size=512,
    ),
}


# ------------------------------------------------------------------------------------------------------------
# Configuration helpers (built from the demo's configuration so the two stay in step)
# ------------------------------------------------------------------------------------------------------------
def demo_config(preset: Preset, out: Path) -> Any:
    from rest_rl.demo import DemoConfig
    from rest_rl.models.tiny import TinyModelConfig

    base = DemoConfig()
    world = replace(base.world, **preset.world)
    model = replace(base.model, **preset.model) if preset.model else base.model
    assert isinstance(model, TinyModelConfig)
    return replace(
        base,
        out_dir=str(out / "start"),
        world=world,
        model=model,
        sft={**base.sft, **preset.sft},
        rl={**base.rl, **preset.rl, "max_steps": preset.rl_steps, "logging_steps": 1, "save_strategy": "no"},
        sft_labels=preset.sft_labels,
        vocab_size=preset.vocab_size,
        eval_splits=["test"],
        eval_examples=min(preset.eval_examples, world.n_test),
    )


def build_start(cfg: Any, log: Any) -> Path:
    """The shared SFT start (cached: reused when ``start/sft`` holds a model built from the same config)."""
    from rest_rl.config import to_plain
    from rest_rl.integrations.trl.runners import SFTRunConfig, run_sft
    from rest_rl.models.loading import ModelSection
    from rest_rl.demo import data_section
    from rest_rl.models.tiny import make_embedded_model

    start = Path(cfg.out_dir)
    key = json.dumps({"world": to_plain(cfg.world), "model": to_plain(cfg.model), "sft": cfg.sft, "labels": cfg.sft_labels, "vocab": cfg.vocab_size, "seed": cfg.seed}, sort_keys=True, default=str)
    stamp = start / "start_config.json"
    sft_dir = start / "sft"
    if stamp.is_file() and stamp.read_text() == key and (sft_dir / "model.safetensors").is_file():
        log(f"shared SFT start: reusing {sft_dir}")
        return sft_dir
    t0 = time.perf_counter()
    log(f"shared SFT start: tokenizer + tiny model + SFT on {cfg.sft_labels} labels ({cfg.sft.get('max_steps')} steps)")
    model_dir = make_embedded_model(start / "model", cfg.world, config=replace(cfg.model, seed=cfg.seed), vocab_size=cfg.vocab_size)
    run_sft(
        SFTRunConfig(
            model=ModelSection(name_or_path=str(model_dir)),
            data=data_section(cfg, split="train", offset=0, limit=cfg.sft_labels),
            sft={**cfg.sft, "output_dir": str(sft_dir)},
        ),
        overwrite=True,
    )
    stamp.write_text(key)
    log(f"shared SFT start ready in {time.perf_counter() - t0:.0f} s")
    return sft_dir


# ------------------------------------------------------------------------------------------------------------
# Held-out evaluation (greedy; exact-call accuracy and ToolRL reward at a fixed, static scale)
# ------------------------------------------------------------------------------------------------------------
def evaluate(model: Any, tokenizer: Any, examples: list[Any], cfg: Any) -> dict[str, float]:
    from rest_rl.data.prompting import to_prompt_messages
    from rest_rl.demo import exact_call_match
    from rest_rl.eval.engines import GenerationRequest, HFEngine
    from rest_rl.rewards import RewardConfig, toolrl_reward

    was_training = model.training
    engine = HFEngine(model, tokenizer, batch_size=cfg.eval_batch_size)
    requests = [GenerationRequest(messages=to_prompt_messages(ex, style=cfg.prompt_style)) for ex in examples]
    texts = engine.generate(requests, max_new_tokens=cfg.eval_max_new_tokens, progress=False)
    if was_training:
        model.train()
    static = RewardConfig(schedule="static")
    rewards = [
        toolrl_reward(t, ex.gold_calls, gold_has_response=ex.gold_response is not None, progress=1.0, config=static).total
        for t, ex in zip(texts, examples)
    ]
    exact = [exact_call_match(t, ex) for t, ex in zip(texts, examples)]
    return {
        "exact": sum(exact) / len(exact),
        "reward": sum(rewards) / len(rewards),
        "n": len(exact),
        # per-example correctness in held-out order ("1" = exact call), for paired comparisons
        "per_example": "".join("1" if e else "0" for e in exact),
    }


# ------------------------------------------------------------------------------------------------------------
# One run (a subprocess): RL from the shared start with the eval callback and the gradient-variance probe
# ------------------------------------------------------------------------------------------------------------
def _probed_trainer_class() -> type:
    import torch

    from rest_rl.integrations.trl.grpo import ResTGRPOTrainer

    class ProbedTrainer(ResTGRPOTrainer):
        """ResTGRPOTrainer that, every ``probe_every`` steps, measures the spread of the policy gradient of the
        current batch across ``probe_chunks`` disjoint micro-batches before taking the step as usual."""

        probe_every = 10
        probe_chunks = 4
        probe_log: Path | None = None
        mask_log: Path | None = None
        _probed_step = -1
        _mask_inputs: dict[str, Any] | None = None

        def get_high_entropy_mask(self, entropies: torch.Tensor, mask: torch.Tensor, threshold: float) -> torch.Tensor:
            """TRL's top-entropy mask, unchanged; with ``mask_log`` set, the share of the loss tokens it keeps,
            overall and per region, is appended there (evidence that ``top_entropy_quantile`` takes effect)."""
            kept = super().get_high_entropy_mask(entropies, mask, threshold)
            if self.mask_log is not None and self.model.training and self._mask_inputs is not None:
                from rest_rl.core.regions import Region
                from rest_rl.integrations.trl.grpo import REGIONS_KEY

                valid = mask.bool()
                record: dict[str, Any] = {"step": int(self.state.global_step), "kept": float(kept[valid].float().mean()) if valid.any() else float("nan")}
                regions = self._mask_inputs.get(REGIONS_KEY)
                if regions is not None and regions.shape == kept.shape:
                    for region in Region:
                        sel = valid & (regions.to(kept.device) == int(region))
                        if sel.any():
                            record[f"kept/{region.name}"] = float(kept[sel].float().mean())
                            record[f"share_of_kept/{region.name}"] = float((kept & sel).sum() / kept.sum().clamp(min=1))
                with open(self.mask_log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            return kept

        def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
            step = int(self.state.global_step)
            if model.training and self.probe_every and step % self.probe_every == 0 and step != self._probed_step:
                self._probed_step = step
                self._probe(model, inputs, step)
            self._mask_inputs = inputs
            try:
                return super()._compute_loss(model, inputs)
            finally:
                self._mask_inputs = None

        def _probe(self, model: Any, inputs: dict[str, Any], step: int) -> None:
            n = inputs["completion_ids"].size(0)
            k = self.probe_chunks
            if n < k or n % k:
                return
            size = n // k
            params = [p for p in model.parameters() if p.requires_grad]
            saved = {key: len(values) for key, values in self._metrics["train"].items()}
            grads = []
            for c in range(k):
                sl = slice(c * size, (c + 1) * size)
                sub = {
                    key: (value[sl] if isinstance(value, torch.Tensor) and value.dim() > 0 and value.size(0) == n else value)
                    for key, value in inputs.items()
                }
                loss = super()._compute_loss(model, sub)
                g = torch.autograd.grad(loss, params, allow_unused=True)
                grads.append(torch.cat([(x if x is not None else torch.zeros_like(p)).reshape(-1).double() for x, p in zip(g, params)]))
            for key in list(self._metrics["train"]):  # the probe's own metric entries are not the step's
                del self._metrics["train"][key][saved.get(key, 0) :]
            stacked = torch.stack(grads)
            mean = stacked.mean(0)
            trace = float(((stacked - mean) ** 2).sum(1).mean())
            mean_sq = float((mean**2).sum())
            record = {
                "step": step,
                "trace_cov": trace,
                "mean_grad_sq_norm": mean_sq,
                "relative_variance": trace / mean_sq if mean_sq > 0 else float("nan"),
                "mean_chunk_sq_norm": float((stacked**2).sum(1).mean()),
            }
            if self.probe_log is not None:
                with open(self.probe_log, "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")

    return ProbedTrainer


def run_one(spec: dict[str, Any]) -> None:
    """Worker entry point (``--worker spec.json``)."""
    import torch
    from rest_rl.data.selection import load_examples
    from rest_rl.integrations.trl.runners import build_trainer_args, grpo_dataset
    from rest_rl.models.loading import ModelSection, load_tokenizer
    from rest_rl.demo import data_section

    preset = Preset(**{**spec["preset"], "budgets": tuple(spec["preset"]["budgets"]), "seeds": tuple(spec["preset"]["seeds"])})
    torch.set_num_threads(spec["threads"])
    out = Path(spec["run_dir"])
    out.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.jsonl", "evals.jsonl", "gradvar.jsonl", "entropy_mask.jsonl"):
        (out / name).unlink(missing_ok=True)
    cfg = demo_config(preset, Path(spec["out"]))
    if spec.get("eval_max_new_tokens"):
        cfg = replace(cfg, eval_max_new_tokens=int(spec["eval_max_new_tokens"]))
    start = spec["start"]
    n_rl = cfg.world.n_train - cfg.sft_labels
    section = {**cfg.rl, "seed": spec["seed"], "output_dir": str(out), "report_to": "none", "disable_tqdm": True}
    section.update(spec.get("rl_overrides", ARM_RL.get(spec["arm"], {})))
    args = build_trainer_args("train", section, ModelSection(name_or_path=start), spec.get("ablations", ARMS[spec["arm"]]))
    tokenizer = load_tokenizer(start)
    dataset = grpo_dataset(load_examples(data_section(cfg, split="train", offset=cfg.sft_labels, limit=n_rl)), data_section(cfg, split="train"), tokenizer)
    held_out = load_examples(data_section(cfg, split="test", limit=cfg.eval_examples))
    trainer = _probed_trainer_class()(model=start, args=args, train_dataset=dataset, processing_class=tokenizer)
    train_probed(trainer, out, preset.probe_every, preset.probe_chunks, preset.budgets, lambda model: evaluate(model, tokenizer, held_out, cfg))


def train_probed(trainer: Any, out: Path, probe_every: int, probe_chunks: int, budgets: Any, score: Any) -> None:
    """Train a ``_probed_trainer_class()`` trainer with its logs in ``out``: gradient probes every ``probe_every``
    steps (``gradvar.jsonl``), the top-entropy mask log when the arm uses one, held-out ``score(model)`` (a dict)
    at every step in ``budgets`` (``evals.jsonl``), metrics, and ``done.json`` with the run's times and arm."""
    from transformers import TrainerCallback

    from rest_rl.integrations.trl.callbacks import MetricsJsonlCallback, WallClockCallback, install_callbacks

    args = trainer.args
    trainer.probe_every, trainer.probe_chunks, trainer.probe_log = probe_every, probe_chunks, out / "gradvar.jsonl"
    if float(getattr(args, "top_entropy_quantile", 1.0)) < 1.0:
        trainer.mask_log = out / "entropy_mask.jsonl"
    steps = set(budgets)

    class EvalAtBudgets(TrainerCallback):
        def on_step_end(self, a: Any, state: Any, control: Any, **kw: Any) -> None:
            if state.global_step in steps:
                t0, c0 = time.perf_counter(), time.process_time()
                scores = score(trainer.model)
                scores.update(step=state.global_step, seconds=round(time.perf_counter() - t0, 2), cpu_seconds=round(time.process_time() - c0, 2))
                with open(out / "evals.jsonl", "a", encoding="utf-8") as fh:
                    fh.write(json.dumps(scores) + "\n")

    install_callbacks(trainer, [WallClockCallback(), MetricsJsonlCallback(), EvalAtBudgets()])
    t0, c0 = time.perf_counter(), time.process_time()
    trainer.train()
    trained = {"top_entropy_quantile": float(args.top_entropy_quantile), "rest_scheme": args.rest_scheme, "curriculum_driver": args.rest_curriculum_driver}
    (out / "done.json").write_text(json.dumps({"seconds": time.perf_counter() - t0, "cpu_seconds": time.process_time() - c0, "args": trained}) + "\n")


# ------------------------------------------------------------------------------------------------------------
# Orchestration: the start, then arm x seed runs in parallel worker processes
# ------------------------------------------------------------------------------------------------------------
def prepare_start(preset: Preset, out: Path, log: Any, eval_max_new_tokens: int | None = None) -> Path:
    """The shared SFT start of ``out`` (built or reused) and its held-out evaluation (``start/evals.json``)."""
    cfg = demo_config(preset, out)
    if eval_max_new_tokens:
        cfg = replace(cfg, eval_max_new_tokens=eval_max_new_tokens)
    start = build_start(cfg, log)
    from rest_rl.data.selection import load_examples
    from rest_rl.demo import data_section

    start_eval = out / "start" / "evals.json"
    if not start_eval.is_file() or json.loads(start_eval.read_text()).get("stamp") != (out / "start" / "start_config.json").read_text():
        from transformers import AutoModelForCausalLM, AutoTokenizer

        held_out = load_examples(data_section(cfg, split="test", limit=cfg.eval_examples))
        scores = evaluate(AutoModelForCausalLM.from_pretrained(start), AutoTokenizer.from_pretrained(start), held_out, cfg)
        stamp = (out / "start" / "start_config.json").read_text()
        start_eval.write_text(json.dumps({**scores, "step": 0, "stamp": stamp}) + "\n")
    shown = {k: v for k, v in json.loads(start_eval.read_text()).items() if k not in ("per_example", "stamp")}
    log(f"SFT start on {cfg.eval_examples} held-out test examples: {shown}")
    return start


def run_specs(
    tasks: list[tuple[str, dict[str, Any], Path]],
    jobs: int,
    threads: int,
    log: Any,
    per_process: int = 1,
    deadline: float | None = None,
    script: Path | None = None,
) -> int:
    """Run worker specs (``(label, spec, run_dir)``; runs with a ``done.json`` are skipped), ``jobs`` worker
    processes at a time, each running ``per_process`` consecutive runs one after the other (spares the
    ~7 s of imports per run; every run still writes its own directory and ``done.json``). With ``deadline``
    (a ``time.perf_counter()`` value), no new worker starts once the mean worker time so far would overrun it.
    ``script``: the worker's script (``--worker specs.json``; default this file). Returns the number of runs left
    undone."""
    todo = [t for t in tasks if not (t[2] / "done.json").is_file()]
    log(f"{len(todo)} runs to do ({len(tasks) - len(todo)} already done), {jobs} at a time")
    chunks = [todo[i : i + max(1, per_process)] for i in range(0, len(todo), max(1, per_process))]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    running: list[tuple[subprocess.Popen, list[tuple[str, dict[str, Any], Path]], float, Path]] = []
    t_all = time.perf_counter()
    finished = 0
    total = len(todo)
    durations: list[float] = []
    while chunks or running:
        while chunks and len(running) < jobs:
            if deadline is not None and durations and time.perf_counter() + statistics.mean(durations) > deadline:
                left = sum(len(c) for c in chunks)
                log(f"time budget: not starting the remaining {left} runs")
                chunks = []
                break
            chunk = chunks.pop(0)
            specs = []
            for label, spec, run_dir in chunk:
                run_dir.mkdir(parents=True, exist_ok=True)
                specs.append({**spec, "run_dir": str(run_dir), "threads": threads})
                (run_dir / "spec.json").write_text(json.dumps(specs[-1], indent=1))
            log_path = chunk[0][2] / "worker.log"
            spec_path = chunk[0][2] / "specs.json"
            spec_path.write_text(json.dumps({"runs": specs}, indent=1))
            logf = open(log_path, "w")
            proc = subprocess.Popen([sys.executable, str(script or __file__), "--worker", str(spec_path)], stdout=logf, stderr=subprocess.STDOUT, env=env)
            running.append((proc, chunk, time.perf_counter(), log_path))
        time.sleep(1.0)
        for item in list(running):
            proc, chunk, t0, log_path = item
            if proc.poll() is None:
                continue
            running.remove(item)
            finished += len(chunk)
            durations.append(time.perf_counter() - t0)
            labels = ", ".join(label for label, _, _ in chunk)
            if proc.returncode != 0:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise SystemExit(f"runs {labels} failed (exit {proc.returncode}); log tail:\n{tail}")
            log(f"[{finished}/{total}] {labels}: {time.perf_counter() - t0:.0f} s (total {time.perf_counter() - t_all:.0f} s)")
    return total - finished


def run_all(preset_name: str, preset: Preset, out: Path, arms: list[str], jobs: int, threads: int, log: Any) -> None:
    import torch

    torch.set_num_threads(max(1, threads * jobs))
    start = prepare_start(preset, out, log)
    tasks = []
    for seed in preset.seeds:  # seed-major, so a partial run still has every arm at the first seeds
        for arm in arms:
            spec = {"preset": asdict(preset), "arm": arm, "seed": seed, "out": str(out), "start": str(start)}
            tasks.append((f"{arm} seed {seed}", spec, out / "runs" / arm / f"seed{seed}"))
    log(f"{len(arms)} arms x {len(preset.seeds)} seeds, {preset.rl_steps} steps each")
    run_specs(tasks, jobs, threads, log)


# ------------------------------------------------------------------------------------------------------------
# Analysis
# ------------------------------------------------------------------------------------------------------------
def _ms(values: list[float]) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _smooth(values: list[float], window: int) -> list[float]:
    out, acc = [], []
    for v in values:
        acc.append(v)
        if len(acc) > window:
            acc.pop(0)
        out.append(sum(acc) / len(acc))
    return out


def analyse(out: Path, preset: Preset, arms: list[str]) -> dict[str, Any]:
    from rest_rl.integrations.trl.callbacks import read_metrics  # any JSON-lines file; a torn last line is skipped

    start = {k: v for k, v in json.loads((out / "start" / "evals.json").read_text()).items() if k not in ("per_example", "stamp")}
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for arm in arms:
        for seed in preset.seeds:
            run_dir = out / "runs" / arm / f"seed{seed}"
            if not (run_dir / "done.json").is_file():
                continue
            metrics = [m for m in read_metrics(run_dir / "metrics.jsonl") if "reward" in m]
            runs.setdefault(arm, {})[seed] = {
                "metrics": metrics,
                "evals": {e["step"]: e for e in read_metrics(run_dir / "evals.jsonl")},
                "gradvar": read_metrics(run_dir / "gradvar.jsonl"),
                "seconds": json.loads((run_dir / "done.json").read_text())["seconds"],
            }
    window = max(5, preset.rl_steps // 15)
    # Threshold: GRPO's final smoothed rollout exact-match rate (mean over seeds).
    def final_smoothed(arm: str, key: str) -> list[float]:
        return [_smooth([m.get(key, float("nan")) for m in r["metrics"]], window)[-1] for r in runs.get(arm, {}).values() if r["metrics"]]

    threshold = statistics.mean(final_smoothed("grpo", "rewards/toolrl/exact_match")) if runs.get("grpo") else None
    table: dict[str, Any] = {}
    for arm, by_seed in runs.items():
        row: dict[str, Any] = {"seeds": sorted(by_seed), "budgets": {}}
        for b in preset.budgets:
            row["budgets"][b] = {
                "exact": [r["evals"][b]["exact"] for r in by_seed.values() if b in r["evals"]],
                "reward": [r["evals"][b]["reward"] for r in by_seed.values() if b in r["evals"]],
            }
        reach = []
        for r in by_seed.values():
            curve = _smooth([m.get("rewards/toolrl/exact_match", float("nan")) for m in r["metrics"]], window)
            hit = next((m["step"] for m, v in zip(r["metrics"], curve) if threshold is not None and v >= threshold), None)
            reach.append(hit)
        row["steps_to_threshold"] = reach
        gv = [g for r in by_seed.values() for g in r["gradvar"]]
        row["gradvar"] = {
            "relative_variance_median": statistics.median([g["relative_variance"] for g in gv]) if gv else None,
            "trace_cov_median": statistics.median([g["trace_cov"] for g in gv]) if gv else None,
            "mean_grad_sq_norm_median": statistics.median([g["mean_grad_sq_norm"] for g in gv]) if gv else None,
            "per_seed_relative": [statistics.median([g["relative_variance"] for g in r["gradvar"]]) for r in by_seed.values() if r["gradvar"]],
            "per_seed_trace": [statistics.median([g["trace_cov"] for g in r["gradvar"]]) for r in by_seed.values() if r["gradvar"]],
        }
        first, last = {}, {}
        for region in REGIONS_SHOWN:
            for target, sl in ((first, slice(0, window)), (last, slice(-window, None))):
                vals = [statistics.mean([m[f"rest/entropy/{region}"] for m in r["metrics"][sl] if f"rest/entropy/{region}" in m] or [float("nan")]) for r in by_seed.values()]
                target[region] = statistics.mean(vals) if vals else float("nan")
        row["entropy_first"], row["entropy_last"] = first, last
        row["final_rollout_exact"] = final_smoothed(arm, "rewards/toolrl/exact_match")
        row["seconds"] = [r["seconds"] for r in by_seed.values()]
        table[arm] = row
    return {"start": start, "threshold": threshold, "window": window, "arms": table, "runs": runs}


def report(out: Path, preset_name: str, preset: Preset, result: dict[str, Any], arms: list[str]) -> str:
    arms = [a for a in arms if a in result["arms"]]
    t = result["arms"]
    start = result["start"]
    lines = [
        f"Preset `{preset_name}`: {preset.rl_steps} RL steps per run, seeds {list(preset.seeds)}, held-out test split "
        f"{start['n']} examples (greedy). SFT start: exact-call **{start['exact']:.3f}**, reward {start['reward']:.3f}. "
        "Values are mean ± standard deviation across seeds.",
        "",
        "| arm | " + " | ".join(f"exact @{b}" for b in preset.budgets) + " | " + " | ".join(f"reward @{b}" for b in preset.budgets) + " |",
        "|---|" + "---:|" * (2 * len(preset.budgets)),
    ]
    for arm in arms:
        r = t[arm]
        lines.append(
            f"| {ARM_LABELS[arm]} | "
            + " | ".join(_ms(r["budgets"][b]["exact"]) for b in preset.budgets)
            + " | "
            + " | ".join(_ms(r["budgets"][b]["reward"]) for b in preset.budgets)
            + " |"
        )
    thr = result["threshold"]
    lines += [
        "",
        f"Training side (rollouts, smoothed over {result['window']} steps). Threshold = GRPO's final rollout exact-match "
        f"rate ({thr:.3f}); gradient variance = median over probes of the micro-batch covariance trace, absolute and "
        "relative to the squared norm of the mean gradient; ratios are to GRPO."
        if thr is not None
        else "",
        "",
        "| arm | final rollout exact | steps to threshold (per seed) | grad. variance (trace) | ratio | relative variance | ratio | s/run |",
        "|---|---:|---|---:|---:|---:|---:|---:|",
    ]
    base = t.get("grpo", {}).get("gradvar", {})
    for arm in arms:
        r = t[arm]
        gv = r["gradvar"]
        tr, rel = gv["trace_cov_median"], gv["relative_variance_median"]
        ratio_tr = tr / base["trace_cov_median"] if tr and base.get("trace_cov_median") else float("nan")
        ratio_rel = rel / base["relative_variance_median"] if rel and base.get("relative_variance_median") else float("nan")
        steps = ", ".join("—" if s is None else str(s) for s in r["steps_to_threshold"])
        lines.append(
            f"| {ARM_LABELS[arm]} | {_ms(r['final_rollout_exact'])} | {steps} | {tr:.3g} | {ratio_tr:.2f} | {rel:.3g} | "
            f"{ratio_rel:.2f} | {statistics.mean(r['seconds']):.0f} |"
        )
    lines += ["", "Per-region mean token entropy of the sampled completions, first -> last " f"{result['window']} steps (mean over seeds):", ""]
    lines.append("| arm | " + " | ".join(REGIONS_SHOWN) + " |")
    lines.append("|---|" + "---|" * len(REGIONS_SHOWN))
    for arm in arms:
        r = t[arm]
        lines.append(f"| {ARM_LABELS[arm]} | " + " | ".join(f"{r['entropy_first'][g]:.2f} → {r['entropy_last'][g]:.2f}" for g in REGIONS_SHOWN) + " |")
    return "\n".join(lines) + "\n"


def plots(out: Path, preset: Preset, result: dict[str, Any], arms: list[str]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots (pip install 'rest-rl[plots]')", file=sys.stderr)
        return []
    runs, window = result["runs"], result["window"]
    arms = [a for a in arms if a in runs]
    paths = []
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(ARMS)}

    def mean_curve(arm: str, key: str, series: str = "metrics") -> tuple[list[int], list[float]]:
        curves = []
        steps: list[int] = []
        for r in runs[arm].values():
            rows = [m for m in r[series] if key in m]
            steps = [m["step"] for m in rows] if len(rows) > len(steps) else steps
            curves.append(_smooth([m[key] for m in rows], window) if series == "metrics" else [m[key] for m in rows])
        n = min(len(c) for c in curves)
        return steps[:n], [statistics.mean(c[i] for c in curves) for i in range(n)]

    # 1. held-out accuracy at the budgets
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arm in arms:
        xs = [0, *preset.budgets]
        ys, es = [result["start"]["exact"]], [0.0]
        for b in preset.budgets:
            vals = result["arms"][arm]["budgets"][b]["exact"]
            ys.append(statistics.mean(vals) if vals else float("nan"))
            es.append(statistics.stdev(vals) if len(vals) > 1 else 0.0)
        ax.errorbar(xs, ys, yerr=es, label=ARM_LABELS[arm], color=colors[arm], capsize=3, marker="o")
    ax.set_xlabel("RL step")
    ax.set_ylabel("held-out exact-call accuracy")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "heldout_accuracy.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    # 2. rollout exact-match rate
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for arm in arms:
        xs, ys = mean_curve(arm, "rewards/toolrl/exact_match")
        ax.plot(xs, ys, label=ARM_LABELS[arm], color=colors[arm])
    ax.set_xlabel("RL step")
    ax.set_ylabel(f"rollout exact-match rate (smoothed {window})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    paths.append(out / "rollout_exact.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    # 3. per-region entropy
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.5), sharex=True)
    for ax, region in zip(axes.flat, REGIONS_SHOWN):
        for arm in arms:
            xs, ys = mean_curve(arm, f"rest/entropy/{region}")
            ax.plot(xs, ys, label=ARM_LABELS[arm], color=colors[arm])
        ax.set_title(region)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.supxlabel("RL step")
    fig.supylabel("mean token entropy (nats)")
    fig.tight_layout()
    paths.append(out / "region_entropy.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)

    # 4. gradient variance over steps
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for arm in arms:
        for ax, key in zip(axes, ("trace_cov", "relative_variance")):
            xs, ys = mean_curve(arm, key, series="gradvar")
            ax.plot(xs, ys, label=ARM_LABELS[arm], color=colors[arm], marker=".")
    axes[0].set_ylabel("trace of micro-batch gradient covariance")
    axes[1].set_ylabel("relative to ||mean gradient||^2")
    for ax in axes:
        ax.set_yscale("log")
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "gradient_variance.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


def _jsonable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "runs"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: runs/learning_curves/<preset>")
    parser.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(DEFAULT_ARMS))
    parser.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the preset's")
    parser.add_argument("--steps", type=int, default=None, help="RL steps per run (default: the preset's; budgets are kept <= steps)")
    parser.add_argument("--jobs", type=int, default=2, help="runs in parallel (default 2)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per run (default: cores // jobs)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild report.md, results.json and plots")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        spec = json.loads(args.worker.read_text())
        for one in spec["runs"] if "runs" in spec else [spec]:
            if not (Path(one["run_dir"]) / "done.json").is_file():
                run_one(one)
        return 0

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    preset = PRESETS[args.preset]
    if args.seeds:
        preset = replace(preset, seeds=tuple(args.seeds))
    if args.steps is not None:
        if args.steps < 1:
            parser.error("--steps must be >= 1")
        preset = replace(preset, rl_steps=args.steps, budgets=tuple(b for b in preset.budgets if b < args.steps) + (args.steps,))
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    threads = args.threads or max(1, (os.cpu_count() or 2) // args.jobs)
    out = args.out_dir or ROOT / "runs" / "learning_curves" / args.preset
    out.mkdir(parents=True, exist_ok=True)

    def log(message: str) -> None:
        print(message, flush=True)

    if preset.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            parser.error(f"preset {args.preset!r} needs a CUDA device")
    if not args.report_only:
        t0 = time.perf_counter()
        run_all(args.preset, preset, out, args.arms, args.jobs, threads, log)
        log(f"all runs done in {time.perf_counter() - t0:.0f} s")
    result = analyse(out, preset, args.arms)
    if not result["arms"]:
        parser.error(f"no finished runs under {out}")
    text = report(out, args.preset, preset, result, args.arms)
    (out / "report.md").write_text(text)
    (out / "results.json").write_text(json.dumps(_jsonable(result), indent=1, default=str) + "\n")
    for p in plots(out, preset, result, args.arms):
        log(f"plot: {p}")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
