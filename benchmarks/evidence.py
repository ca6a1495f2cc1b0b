"""Does ResT beat GRPO where its theory says it should? A paired, powered comparison on the synthetic tool world.

ResT's Theorem 2 predicts a lower-variance policy gradient when many reasoning tokens are noisy and carry little
reward signal, and when structure is still being learnt. ``learning_curves.py`` tested today's world (short,
low-entropy ``<think>`` text, a strong SFT start) and found no difference beyond noise. This benchmark builds the
regimes the theory is about and compares the arms with paired statistics.

Conditions (each builds and caches its own SFT start under ``<out>/<condition>/start``):

  today_normal   today's world (the demo's), the demo's SFT start (400 labels, 400 steps)
  today_weak     today's world, a weak start (few labels and steps: format and tool names still uncertain)
  long_normal    long reasoning: ``think_filler`` adds 2-4 sentences of free, reward-irrelevant reasoning from a
                 ~10^5-sentence grammar before every gold thought (THINK ~65% of the gold completion tokens)
  long_weak      long reasoning and the weak start
  agent          multi-turn tool use: the world, tokenizer, model and SFT start of ``rest-rl demo agent`` (300 gold
                 trajectories), RL in TRL's tool loop on fresh tasks with the outcome reward only, every held-out
                 test task (held-out compositions) run to its end; "exact" = task success

Presets: ``cpu_evidence`` (the default: today_normal, long_normal, agent; 3 seeds; 128 single-step RL steps, 50 agent
steps; <= 90 min on 2 cores), ``cpu_matrix`` (all five conditions, 8 seeds, 32 steps; ~2 h, not run to completion),
``smoke`` (tiny sizes: a pipeline check).

Before RL, the regime of every start is measured and reported: per-region token share and mean token entropy
of completions *sampled* from the SFT start (temperature 1, the RL sampler's settings) on RL prompts, and the
sampled exact-call rate (agent: the same figures from the first RL step's rollouts, which are sampled from the start).

Arms (``learning_curves.ARMS``; all on ``ResTGRPOTrainer``, the same rollout budget):

  grpo              uniform weights (= TRL's GRPO loss)
  rest_entropy      the paper's entropy-informed weights with the step curriculum (the default scheme)
  rest_official     the ResT authors' constant weights and aggregation (``ablations: [official]``)
  top_entropy       TRL's ``top_entropy_quantile=0.2`` with uniform weights: only the top-20% entropy tokens of
                    each micro-batch are trained (the opposite philosophy); the kept share per region is logged
                    to ``entropy_mask.jsonl``, which shows that the mask takes effect
  rest_closed_loop  rest_entropy with the closed-loop curriculum (``ablations: [closed_loop]``)

Paired design: within a condition every arm starts from the same SFT checkpoint, and seed k gives every arm the
same prompt order (and the same first rollout batch); every run is evaluated greedily on the same held-out
examples at the same step budgets, with per-example correctness saved. Differences arm - GRPO are reported
with two-level bootstrap 95% intervals (seeds and examples resampled together, the same draw for both arms:
``rest_rl.eval.stats.paired_seed_sample_bootstrap``), the number of seeds on which the arm is ahead,
steps-to-threshold (training rollouts), the scale-free gradient variance (micro-batch gradient covariance
trace / squared norm of the mean gradient, ratio to GRPO per seed, geometric mean with a bootstrap interval over
seeds) and a power estimate: from the measured seed-to-seed spread of the paired differences, how many seeds a
two-sided 5% test needs for 80% power against a 2-point difference.

Outputs: ``<out>/<condition>/runs/<arm>/seed<k>/`` (the worker of ``learning_curves.py``), ``<out>/<condition>/start/
regime.json``, ``<out>/results.json``, ``<out>/report.md`` and PNG plots.

Run:  .venv/bin/python benchmarks/evidence.py --preset cpu_evidence        (<= 90 min on 2 cores; = make bench-evidence)
      .venv/bin/python benchmarks/evidence.py --preset smoke               (~2 minutes; checks the pipeline)
      .venv/bin/python benchmarks/evidence.py --report-only                (rebuild report and plots from <out>)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _load_learning_curves() -> Any:
    name = "bench_learning_curves"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, HERE / "learning_curves.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


lc = _load_learning_curves()

EVIDENCE_ARMS: tuple[str, ...] = ("grpo", "rest_entropy", "rest_official", "top_entropy", "rest_closed_loop")
BASELINE = "grpo"
REGIONS = ("THINK", "FORMAT", "TOOL_NAME", "ARG_KEY", "ARG_VALUE", "SCAFFOLD", "RESPONSE", "OTHER")
STRUCTURE = ("FORMAT", "TOOL_NAME", "ARG_KEY", "SCAFFOLD")
DETECT = 0.02  # the difference the power estimate is for (2 points of held-out exact-call accuracy)


@dataclass(frozen=True)
class Condition:
    """One regime: changes to the world, the SFT start and the RL section, on top of the preset's."""

    label: str
    world: dict[str, Any] = field(default_factory=dict)
    sft_labels: int | None = None  # None = the preset's
    sft: dict[str, Any] = field(default_factory=dict)
    rl: dict[str, Any] = field(default_factory=dict)
    agent: bool = False  # the multi-turn tool world of `rest-rl demo agent`, trained in TRL's tool loop


LONG = {"think_filler": 4, "think_filler_entropy": "high"}
WEAK_SFT = {"max_steps": 100}
CONDITIONS: dict[str, Condition] = {
    "today_normal": Condition("today's world, normal start"),
    "today_weak": Condition("today's world, weak start", sft_labels=100, sft=WEAK_SFT),
    "long_normal": Condition("long high-entropy reasoning, normal start", world=LONG, rl={"max_completion_length": 160}),
    "long_weak": Condition("long high-entropy reasoning, weak start", world=LONG, sft_labels=100, sft=WEAK_SFT, rl={"max_completion_length": 160}),
    "agent": Condition("multi-turn tool use (the agentic demo's world and SFT start), outcome reward", agent=True),
}
# Rollout metric of the training curves (steps to threshold): single-step = ToolRL exact match of the sampled call;
# agent = the outcome reward (1 = the episode ends in the right state with the right answer).
ROLLOUT_KEY = {False: "rewards/toolrl/exact_match", True: "rewards/outcome_reward/mean"}


@dataclass(frozen=True)
class EvidencePreset:
    """Sizes shared by every condition (a ``learning_curves.Preset``), plus the matrix and the runtime shape."""

    base: Any  # learning_curves.Preset
    conditions: tuple[str, ...] = tuple(CONDITIONS)
    arms: tuple[str, ...] = EVIDENCE_ARMS
    regime_prompts: int = 256
    runs_per_process: int = 4
    tiny: bool = False  # a pipeline check: the preset's (tiny) sizes cap the conditions' SFT steps, labels and lengths
    max_minutes: float | None = None  # wall-clock budget of the whole command (no new worker starts past it)
    note: str = ""
    # the agent condition: fields of rest_rl.demo.DemoAgentConfig laid over its defaults (over .quick() in a tiny
    # preset); "sft" and "rl" are merged key by key. Evaluated once, after the last RL step, on the test tasks.
    agent: dict[str, Any] = field(default_factory=dict)
    agent_probe_every: int = 5  # gradient-variance probe interval of the agent runs (RL steps)


# pinned to the demo's values when the benchmark was built, so a later change of the demo's defaults does not move it
TODAY_WORLD = {"seed": 0, "domains": ("weather", "finance", "shopping"), "tools_per_prompt": 2, "p_parallel": 0.05, "n_train": 2400, "n_test": 1000}
DEMO_SFT = {"max_steps": 400, "per_device_train_batch_size": 32, "learning_rate": 3.0e-3}
DEMO_RL = {"per_device_train_batch_size": 32, "num_generations": 8, "learning_rate": 3.0e-4, "max_completion_length": 128}
# the agent condition: the agentic demo's defaults, with the RL task pool fixed (500 tasks: the tokenizer's corpus,
# and so the start, does not depend on the step count) and the 300 held-out test tasks of its headline
# sizes shared by the CPU presets: today's world, the demo's SFT start and RL batch, 1,000 held-out examples
CPU_SIZES: dict[str, Any] = {"eval_examples": 1000, "world": TODAY_WORLD, "sft": DEMO_SFT, "rl": DEMO_RL, "sft_labels": 400, "vocab_size": 2048}
AGENT = {"rl_tasks": 500, "eval_splits": ["test"], "eval_tasks": 300, "control": False, "rl": {"max_steps": 50}}


def _presets() -> dict[str, EvidencePreset]:
    P = lc.Preset
    return {
        # The default, shaped by what the two earlier runs measured (benchmarks/README.md): 32 or 96 RL steps did not
        # move GRPO from its start, the weak starts sit at the floor (0.02, 0.005) where no arm moves, and the seed
        # spread of a paired difference (0.9-1.4 points) says 2-5 seeds detect 2 points. So: the two conditions
        # with a start between floor and converged (today's world; long reasoning) at 4x the steps, the multi-turn
        # agent condition, 3 seeds. 3 conditions x 5 arms x 3 seeds = 45 runs; measured 2 workers x 1 thread.
        "cpu_evidence": EvidencePreset(
            base=P(
                rl_steps=128,
                budgets=(128,),
                seeds=(0, 1, 2),
                probe_every=8,
                **CPU_SIZES,
            ),
            conditions=("today_normal", "long_normal", "agent"),
            max_minutes=88,
            agent=AGENT,
            note="Trade-off: 3 conditions (the weak starts are left to `cpu_matrix`: at the floor, nothing moved there) x 5 arms "
            "x 3 seeds; 128 RL steps per single-step run and 50 per agent run (the agentic demo's), one held-out evaluation "
            "at the end (1,000 examples; 300 agent tasks).",
        ),
        # The full 2 x 2 matrix plus the agent condition, 8 seeds, short runs: 5 conditions x 5 arms x 8 seeds = 200
        # runs. Not run to completion on 2 cores (~2 h estimated); its single-step part was cut short twice (32 steps,
        # 3-4 seeds; 96 steps, 2-3 seeds): benchmarks/results/evidence_32steps, evidence_96steps.
        "cpu_matrix": EvidencePreset(
            base=P(
                rl_steps=32,
                budgets=(32,),
                seeds=tuple(range(8)),
                probe_every=4,
                **CPU_SIZES,
            ),
            conditions=("today_normal", "today_weak", "long_normal", "long_weak", "agent"),
            agent=AGENT,
            note="The full matrix: every condition, 8 seeds, 32 RL steps per single-step run (one held-out evaluation at the end).",
        ),
        "smoke": EvidencePreset(
            base=P(
                rl_steps=4,
                budgets=(2, 4),
                eval_examples=16,
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
            conditions=("today_normal", "today_weak", "long_normal", "long_weak", "agent"),
            regime_prompts=16,
            runs_per_process=10,
            tiny=True,
            agent={"eval_splits": ["test"], "control": False, "rl": {"max_steps": 2}},
            agent_probe_every=1,
            note="smoke: a pipeline check, not evidence.",
        ),
    }


PRESETS = _presets()


def condition_preset(preset: EvidencePreset, name: str) -> Any:
    """The ``learning_curves.Preset`` of one condition: the preset's sizes with the condition's changes laid over
    (in a ``tiny`` preset the preset's own SFT steps, labels and completion length are upper bounds)."""
    cond = CONDITIONS[name]
    base = preset.base
    sft = {**base.sft, **cond.sft}
    rl = {**base.rl, **cond.rl}
    labels = base.sft_labels if cond.sft_labels is None else cond.sft_labels
    if preset.tiny:
        if "max_steps" in base.sft and "max_steps" in cond.sft:
            sft["max_steps"] = min(base.sft["max_steps"], cond.sft["max_steps"])
        if "max_completion_length" in base.rl and "max_completion_length" in cond.rl:
            rl["max_completion_length"] = min(base.rl["max_completion_length"], cond.rl["max_completion_length"])
        labels = min(labels, base.sft_labels)
    return replace(base, world={**base.world, **cond.world}, sft=sft, rl=rl, sft_labels=labels)


def demo_config(preset: EvidencePreset, name: str, out: Path) -> Any:
    """The condition's demo-style configuration; held-out generation is as long as the RL completions."""
    cfg = lc.demo_config(condition_preset(preset, name), out / name)
    return replace(cfg, eval_max_new_tokens=int(cfg.rl.get("max_completion_length", cfg.eval_max_new_tokens)))


def agent_config(preset: EvidencePreset, out: Path) -> Any:
    """The agent condition's ``DemoAgentConfig`` (its start lives in ``out/start``): the agentic demo's defaults
    (``.quick()`` ones in a tiny preset) with the preset's ``agent`` fields laid over, ``sft``/``rl`` key by key."""
    from rest_rl.demo import DemoAgentConfig

    base = DemoAgentConfig()
    if preset.tiny:
        base = base.quick()
    over = dict(preset.agent)
    sft = {**base.sft, **over.pop("sft", {})}
    rl = {**base.rl, **over.pop("rl", {}), "logging_steps": 1, "save_strategy": "no"}
    return replace(base, out_dir=str(out / "start"), sft=sft, rl=rl, **over)


def condition_budgets(preset: EvidencePreset, name: str) -> tuple[int, ...]:
    """Held-out evaluation steps of a condition: the preset's budgets; the agent condition's last RL step."""
    if CONDITIONS[name].agent:
        return (int(agent_config(preset, Path(".")).rl["max_steps"]),)
    return tuple(preset.base.budgets)


def run_matrix(preset: EvidencePreset, out: Path) -> list[tuple[str, dict[str, Any], Path]]:
    """Every (condition, arm, seed) run as a worker task, seed-major (a cut-short run keeps balanced cells)."""
    from rest_rl.config import to_plain

    tasks = []
    for seed in preset.base.seeds:
        for name in preset.conditions:
            if CONDITIONS[name].agent:
                cfg = agent_config(preset, out / name)
                extra = {
                    "kind": "agent",
                    "agent": to_plain(cfg),
                    "budgets": list(condition_budgets(preset, name)),
                    "probe_every": preset.agent_probe_every,
                    "probe_chunks": preset.base.probe_chunks,
                }
            else:
                extra = {
                    "preset": asdict(condition_preset(preset, name)),
                    "eval_max_new_tokens": demo_config(preset, name, out).eval_max_new_tokens,
                }
            for arm in preset.arms:
                spec = {
                    **extra,
                    "arm": arm,
                    "seed": seed,
                    "out": str(out / name),
                    "start": str(out / name / "start" / "sft"),
                    "ablations": lc.ARMS[arm],
                    "rl_overrides": lc.ARM_RL.get(arm, {}),
                }
                tasks.append((f"{name}/{arm}/seed{seed}", spec, out / name / "runs" / arm / f"seed{seed}"))
    return tasks


# ------------------------------------------------------------------------------------------------------------
# The regime of an SFT start, before RL
# ------------------------------------------------------------------------------------------------------------
def measure_regime(start: Path, cfg: Any, n_prompts: int, max_new_tokens: int, seed: int = 0) -> dict[str, Any]:
    """Per-region token share and mean entropy of completions sampled from ``start`` at temperature 1 on RL prompts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from rest_rl.core.regions import Region
    from rest_rl.core.segments import label_segments
    from rest_rl.data.prompting import to_prompt_messages
    from rest_rl.data.selection import load_examples
    from rest_rl.demo import data_section, exact_call_match

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(start).eval()
    tok = AutoTokenizer.from_pretrained(start)
    examples = load_examples(data_section(cfg, split="train", offset=cfg.sft_labels, limit=n_prompts))
    pad = tok.pad_token_id
    eos = model.generation_config.eos_token_id
    gen = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens, eos_token_id=eos, pad_token_id=pad)
    sums = {r.name: 0.0 for r in Region}
    counts = {r.name: 0 for r in Region}
    exact = 0
    lengths = []
    batch = 32
    for lo in range(0, len(examples), batch):
        exs = examples[lo : lo + batch]
        prompts = [tok.apply_chat_template(to_prompt_messages(ex, style=cfg.prompt_style), add_generation_prompt=True, tokenize=False) for ex in exs]
        enc = [tok(p, add_special_tokens=False)["input_ids"] for p in prompts]
        width = max(len(e) for e in enc)
        ids = torch.full((len(enc), width), pad, dtype=torch.long)
        att = torch.zeros_like(ids)
        for i, e in enumerate(enc):
            ids[i, width - len(e) :] = torch.tensor(e)
            att[i, width - len(e) :] = 1
        with torch.inference_mode():
            seq = model.generate(input_ids=ids, attention_mask=att, generation_config=gen)
            comp = seq[:, width:]
            # completion mask as TRL builds it: up to and including the first EOS
            eos_ids = set(eos if isinstance(eos, list) else [eos])
            is_eos = torch.zeros_like(comp, dtype=torch.bool)
            for e in eos_ids:
                is_eos |= comp == e
            first = torch.where(is_eos.any(1), is_eos.int().argmax(1), torch.full((comp.size(0),), comp.size(1)))
            mask = (torch.arange(comp.size(1))[None, :] <= first[:, None]).long() & (torch.arange(comp.size(1))[None, :] < comp.size(1)).long()
            full_att = torch.cat([att, mask], 1)
            logits = model(input_ids=seq, attention_mask=full_att).logits[:, width - 1 : -1].float()
            logp = torch.log_softmax(logits, -1)
            ent = -(logp.exp() * logp).sum(-1)
        labels = label_segments(tok, torch.where(mask.bool(), comp, torch.full_like(comp, pad)), mask, fill=Region.OTHER)
        for r in Region:
            sel = mask.bool() & (labels == int(r))
            sums[r.name] += float(ent[sel].sum())
            counts[r.name] += int(sel.sum())
        texts = tok.batch_decode(torch.where(mask.bool(), comp, torch.full_like(comp, pad)), skip_special_tokens=True)
        exact += sum(exact_call_match(t, ex) for t, ex in zip(texts, exs))
        lengths += mask.sum(1).tolist()
    total = sum(counts.values())
    return {
        "n": len(examples),
        "mean_completion_tokens": statistics.mean(lengths) if lengths else 0.0,
        "sampled_exact": exact / max(1, len(examples)),
        "share": {r: counts[r] / total if total else 0.0 for r in counts},
        "entropy": {r: (sums[r] / counts[r] if counts[r] else None) for r in counts},
        "tokens": counts,
    }


def prepare(preset: EvidencePreset, out: Path, log: Any) -> None:
    """Every condition's SFT start, its held-out evaluation and its regime (each cached)."""
    import torch

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in preset.conditions:
        log(f"== {name}: {CONDITIONS[name].label}")
        if CONDITIONS[name].agent:
            prepare_agent(preset, out / name, log)
            continue
        cp = condition_preset(preset, name)
        cfg = demo_config(preset, name, out)
        lc.prepare_start(cp, out / name, log, eval_max_new_tokens=cfg.eval_max_new_tokens)
        regime_path = out / name / "start" / "regime.json"
        stamp = (out / name / "start" / "start_config.json").read_text() + f"|{preset.regime_prompts}"
        if not regime_path.is_file() or json.loads(regime_path.read_text()).get("stamp") != stamp:
            t0 = time.perf_counter()
            max_new = int(cfg.rl.get("max_completion_length", 128))
            regime = measure_regime(out / name / "start" / "sft", cfg, preset.regime_prompts, max_new)
            regime_path.write_text(json.dumps({**regime, "stamp": stamp}, indent=1) + "\n")
            log(f"regime measured in {time.perf_counter() - t0:.0f} s")
        regime = json.loads(regime_path.read_text())
        log("regime: " + ", ".join(f"{r} {regime['share'][r]:.2f}/{regime['entropy'][r] or 0:.2f}" for r in REGIONS if regime["share"][r] > 0))


def _agent_scores(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Held-out scores of agent episodes in the single-step runs' format: ``exact`` = task success (right final
    state and right answer), ``reward`` = right final state, per-task success as a 0/1 string."""
    n = max(1, len(records))
    return {
        "exact": sum(bool(r["success"]) for r in records) / n,
        "reward": sum(bool(r.get("state_ok")) for r in records) / n,
        "n": len(records),
        "per_example": "".join("1" if r["success"] else "0" for r in records),
    }


def prepare_agent(preset: EvidencePreset, out: Path, log: Any) -> Path:
    """The agent condition's start (cached): the agentic demo's tokenizer + tiny model and SFT on its gold
    trajectories, then held-out episodes of the start (``start/evals.json``). The regime before RL is read from
    the first RL step's rollouts instead (sampled from this start, in the tool loop)."""
    from rest_rl.config import to_plain
    from rest_rl.demo.agent import agent_sft_rows, agent_splits, build_agent_model, evaluate_agent, train_agent_sft

    cfg = agent_config(preset, out)
    start = Path(cfg.out_dir)
    plain = to_plain(cfg)
    key = json.dumps({k: plain[k] for k in ("seed", "tasks", "model", "vocab_size", "compact_tools", "split_words", "sft_format", "sft_labels", "rl_tasks", "sft")} | {"rl_pool": cfg.n_rl_tasks}, sort_keys=True, default=str)
    stamp, sft_dir = start / "start_config.json", start / "sft"
    splits = agent_splits(cfg)
    if stamp.is_file() and stamp.read_text() == key and (sft_dir / "model.safetensors").is_file():
        log(f"agent SFT start: reusing {sft_dir}")
    else:
        t0 = time.perf_counter()
        log(f"agent SFT start: tokenizer + tiny model + SFT on {cfg.sft_labels} gold trajectories ({cfg.sft.get('max_steps')} steps)")
        stamp.unlink(missing_ok=True)
        model_dir, _ = build_agent_model(cfg, splits, start / "model")
        train_agent_sft(model_dir, sft_dir, agent_sft_rows(splits["labelled"], cfg.sft_format), {**cfg.sft, "disable_tqdm": True}, "sft")
        stamp.write_text(key)
        log(f"agent SFT start ready in {time.perf_counter() - t0:.0f} s")
    start_eval = start / "evals.json"
    if not start_eval.is_file() or json.loads(start_eval.read_text()).get("stamp") != key:
        scores = _agent_scores(evaluate_agent(sft_dir, splits["test"], cfg))
        start_eval.write_text(json.dumps({**scores, "step": 0, "stamp": key}) + "\n")
    shown = {k: v for k, v in json.loads(start_eval.read_text()).items() if k not in ("per_example", "stamp")}
    log(f"agent SFT start on {len(splits['test'])} held-out test tasks (success = exact): {shown}")
    return sft_dir


def run_agent_one(spec: dict[str, Any]) -> None:
    """Worker: one agent-condition run (RL in TRL's tool loop from the shared start, with the benchmark's gradient
    probe and top-entropy mask log), evaluated on the held-out test tasks at its budgets."""
    import torch
    from transformers import AutoTokenizer

    from rest_rl.config import build_dataclass
    from rest_rl.demo import DemoAgentConfig
    from rest_rl.demo.agent import agent_rl_trainer, agent_splits, evaluate_agent
    from rest_rl.integrations.trl.runners import build_trainer_args
    from rest_rl.models.loading import ModelSection

    torch.set_num_threads(spec["threads"])
    out = Path(spec["run_dir"])
    out.mkdir(parents=True, exist_ok=True)
    for name in ("metrics.jsonl", "evals.jsonl", "gradvar.jsonl", "entropy_mask.jsonl"):
        (out / name).unlink(missing_ok=True)
    cfg = build_dataclass(DemoAgentConfig, spec["agent"], where="agent")
    splits = agent_splits(cfg)
    section = {**cfg.rl, "seed": spec["seed"], "output_dir": str(out), "report_to": "none", "disable_tqdm": True}
    section.update(spec.get("rl_overrides", {}))
    args = build_trainer_args("train", section, ModelSection(name_or_path=spec["start"]), spec.get("ablations", []))
    trainer = agent_rl_trainer(spec["start"], args, splits["rl"], trainer_cls=lc._probed_trainer_class())
    tokenizer = AutoTokenizer.from_pretrained(spec["start"])
    lc.train_probed(
        trainer, out, spec["probe_every"], spec["probe_chunks"], spec["budgets"],
        lambda model: _agent_scores(evaluate_agent(model, splits["test"], cfg, tokenizer=tokenizer)),
    )


def run_worker(path: Path) -> None:
    """``--worker specs.json``: the runs of one worker process, agent runs here, single-step ones in ``learning_curves``."""
    specs = json.loads(path.read_text())
    for one in specs["runs"] if "runs" in specs else [specs]:
        if (Path(one["run_dir"]) / "done.json").is_file():
            continue
        if one.get("kind") == "agent":
            run_agent_one(one)
        else:
            lc.run_one(one)


# ------------------------------------------------------------------------------------------------------------
# Analysis (pure: reads files, no torch)
# ------------------------------------------------------------------------------------------------------------
def seeds_needed(sd: float, delta: float = DETECT, alpha: float = 0.05, power: float = 0.8) -> int | None:
    """Seeds for a two-sided level-``alpha`` paired test to detect ``delta`` with ``power``, given the seed-to-seed
    standard deviation ``sd`` of the paired differences (normal approximation: n = ((z_a/2 + z_b) sd / delta)^2)."""
    if sd is None or math.isnan(sd):
        return None
    z = statistics.NormalDist()
    n = ((z.inv_cdf(1 - alpha / 2) + z.inv_cdf(power)) * sd / delta) ** 2
    return max(2, math.ceil(n))


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def load_runs(out: Path, name: str, arms: tuple[str, ...], seeds: tuple[int, ...]) -> dict[str, dict[int, dict[str, Any]]]:
    runs: dict[str, dict[int, dict[str, Any]]] = {}
    for arm in arms:
        for seed in seeds:
            d = out / name / "runs" / arm / f"seed{seed}"
            if not (d / "done.json").is_file():
                continue
            runs.setdefault(arm, {})[seed] = {
                "metrics": [m for m in _read_jsonl(d / "metrics.jsonl") if "reward" in m],
                "evals": {e["step"]: e for e in _read_jsonl(d / "evals.jsonl")},
                "gradvar": _read_jsonl(d / "gradvar.jsonl"),
                "mask": _read_jsonl(d / "entropy_mask.jsonl"),
                "done": json.loads((d / "done.json").read_text()),
            }
    return runs


def _vec(e: dict[str, Any]) -> list[int]:
    return [1 if c == "1" else 0 for c in e["per_example"]]


def _window_mean(metrics: list[dict[str, Any]], key: str, sl: slice) -> float | None:
    vals = [m[key] for m in metrics[sl] if key in m and m[key] is not None and not math.isnan(m[key])]
    return statistics.mean(vals) if vals else None


def _mean_or_none(vals: list[float | None]) -> float | None:
    vals = [v for v in vals if v is not None and not math.isnan(v)]
    return statistics.mean(vals) if vals else None


def analyse_condition(out: Path, name: str, preset: EvidencePreset, resamples: int = 2000) -> dict[str, Any]:
    from rest_rl.eval.stats import bootstrap_mean, paired_seed_sample_bootstrap

    base = preset.base
    budgets = condition_budgets(preset, name)
    key = ROLLOUT_KEY[CONDITIONS[name].agent]
    start_path = out / name / "start" / "evals.json"
    start = json.loads(start_path.read_text()) if start_path.is_file() else None
    regime_path = out / name / "start" / "regime.json"
    regime = json.loads(regime_path.read_text()) if regime_path.is_file() else None
    runs = load_runs(out, name, preset.arms, base.seeds)
    if CONDITIONS[name].agent:
        regime = first_step_regime(runs)
    window = max(3, max(budgets) // 8)
    result: dict[str, Any] = {"label": CONDITIONS[name].label, "regime": regime, "window": window, "budgets": list(budgets), "rollout_key": key, "arms": {}}
    if start:
        result["start"] = {"exact": start["exact"], "reward": start["reward"], "n": start["n"]}
        if "per_example" in start:
            ci = bootstrap_mean(_vec(start), resamples=resamples)
            result["start"]["ci"] = [ci.low, ci.high]

    def final_rollout(arm: str) -> list[float]:
        return [lc._smooth([m.get(key, float("nan")) for m in r["metrics"]], window)[-1] for r in runs.get(arm, {}).values() if r["metrics"]]

    thr_vals = final_rollout(BASELINE)
    threshold = statistics.mean(thr_vals) if thr_vals else None
    result["threshold"] = threshold
    grpo = runs.get(BASELINE, {})
    for arm, by_seed in runs.items():
        row: dict[str, Any] = {"seeds": sorted(by_seed), "budgets": {}}
        for b in budgets:
            seeds_b = [s for s in sorted(by_seed) if b in by_seed[s]["evals"] and "per_example" in by_seed[s]["evals"][b]]
            cell: dict[str, Any] = {"exact": [by_seed[s]["evals"][b]["exact"] for s in seeds_b], "reward": [by_seed[s]["evals"][b]["reward"] for s in seeds_b]}
            if start and "per_example" in start and seeds_b:
                sv = _vec(start)
                ci = paired_seed_sample_bootstrap([sv] * len(seeds_b), [_vec(by_seed[s]["evals"][b]) for s in seeds_b], resamples=resamples)
                cell["vs_start"] = {"diff": statistics.mean(cell["exact"]) - start["exact"], "ci": [ci.low, ci.high]}
            paired = [s for s in seeds_b if s in grpo and b in grpo[s]["evals"] and "per_example" in grpo[s]["evals"][b]]
            if arm != BASELINE and paired:
                a = [_vec(grpo[s]["evals"][b]) for s in paired]
                bb = [_vec(by_seed[s]["evals"][b]) for s in paired]
                diffs = [by_seed[s]["evals"][b]["exact"] - grpo[s]["evals"][b]["exact"] for s in paired]
                ci = paired_seed_sample_bootstrap(a, bb, resamples=resamples)
                sd = statistics.stdev(diffs) if len(diffs) > 1 else float("nan")
                cell["vs_grpo"] = {
                    "seeds": paired,
                    "diff": statistics.mean(diffs),
                    "ci": [ci.low, ci.high],
                    "per_seed": diffs,
                    "ahead": sum(d > 0 for d in diffs),
                    "behind": sum(d < 0 for d in diffs),
                    "sd_seed": sd,
                    "seeds_needed_2pt": seeds_needed(sd),
                }
            row["budgets"][b] = cell
        # steps to threshold (training rollouts, smoothed)
        reach = []
        for r in by_seed.values():
            curve = lc._smooth([m.get(key, float("nan")) for m in r["metrics"]], window)
            reach.append(next((m["step"] for m, v in zip(r["metrics"], curve) if threshold is not None and v >= threshold), None))
        row["steps_to_threshold"] = reach
        # scale-free gradient variance, per seed (median over probes), paired ratio to GRPO
        rel = {s: statistics.median([g["relative_variance"] for g in r["gradvar"] if g["relative_variance"] == g["relative_variance"]] or [float("nan")]) for s, r in by_seed.items() if r["gradvar"]}
        trace = {s: statistics.median([g["trace_cov"] for g in r["gradvar"]]) for s, r in by_seed.items() if r["gradvar"]}
        row["relative_variance"] = rel
        row["trace_cov"] = trace
        if arm != BASELINE:
            base_rel = {s: statistics.median([g["relative_variance"] for g in grpo[s]["gradvar"] if g["relative_variance"] == g["relative_variance"]] or [float("nan")]) for s in grpo if grpo[s]["gradvar"]}
            logs = [math.log(rel[s] / base_rel[s]) for s in rel if s in base_rel and rel[s] > 0 and base_rel[s] > 0 and not math.isnan(rel[s] / base_rel[s])]
            if logs:
                ci = bootstrap_mean(logs, resamples=resamples) if len(logs) > 1 else None
                row["relvar_ratio"] = {"geomean": math.exp(statistics.mean(logs)), "ci": [math.exp(ci.low), math.exp(ci.high)] if ci else None, "n": len(logs)}
        # per-region entropy and weight, first -> last window of training (mean over seeds)
        row["entropy"] = {
            g: [_mean_or_none([_window_mean(r["metrics"], f"rest/entropy/{g}", sl) for r in by_seed.values()]) for sl in (slice(0, window), slice(-window, None))]
            for g in REGIONS
        }
        row["weight"] = {
            g: [_mean_or_none([_window_mean(r["metrics"], f"rest/weight/{g}", sl) for r in by_seed.values()]) for sl in (slice(0, window), slice(-window, None))]
            for g in REGIONS
        }
        masks = [m for r in by_seed.values() for m in r["mask"]]
        if masks:
            row["top_entropy_mask"] = {
                "records": len(masks),
                "kept": statistics.mean(m["kept"] for m in masks),
                "kept_by_region": {g: _mean_or_none([m.get(f"kept/{g}") for m in masks]) for g in REGIONS},
                "share_of_kept": {g: _mean_or_none([m.get(f"share_of_kept/{g}") for m in masks]) for g in REGIONS},
            }
        row["args"] = [r["done"].get("args") for r in by_seed.values()]
        row["seconds"] = [r["done"]["seconds"] for r in by_seed.values()]
        result["arms"][arm] = row
    return result


def first_step_regime(runs: dict[str, dict[int, dict[str, Any]]]) -> dict[str, Any] | None:
    """The regime of an agent start, from the first RL step's rollouts (sampled from the start in the tool loop, the
    same prompts for every arm of a seed): per-region token share and mean entropy, the outcome reward and the mean
    completion length, averaged over the runs."""
    firsts = [r["metrics"][0] for by_seed in runs.values() for r in by_seed.values() if r["metrics"] and r["metrics"][0].get("step") == 1]
    if not firsts:
        return None
    return {
        "n": len(firsts),
        "source": "first RL step",
        "mean_completion_tokens": statistics.mean(m.get("completions/mean_length", 0.0) for m in firsts),
        "sampled_exact": statistics.mean(m.get(ROLLOUT_KEY[True], 0.0) for m in firsts),
        "share": {g: _mean_or_none([m.get(f"rest/share/{g}") for m in firsts]) or 0.0 for g in REGIONS},
        "entropy": {g: _mean_or_none([m.get(f"rest/entropy/{g}") for m in firsts]) for g in REGIONS},
    }


def analyse(out: Path, preset: EvidencePreset, resamples: int = 2000) -> dict[str, Any]:
    conds = {name: analyse_condition(out, name, preset, resamples) for name in preset.conditions if (out / name).is_dir()}
    power: dict[str, Any] = {}
    sds = []
    for c in conds.values():
        last = max(c["budgets"])
        sds += [c["arms"][a]["budgets"][last]["vs_grpo"]["sd_seed"] for a in c["arms"] if a != BASELINE and last in c["arms"][a]["budgets"] and "vs_grpo" in c["arms"][a]["budgets"][last]]
    sds = [s for s in sds if s == s]
    if sds:
        pooled = math.sqrt(statistics.mean(s * s for s in sds))
        power = {"budget": "last", "pooled_sd_seed": pooled, "seeds_needed_2pt": seeds_needed(pooled), "comparisons": len(sds)}
    return {"conditions": conds, "power": power}


# ------------------------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------------------------
def _pt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:+.{digits}f}"


def _ci(ci: list[float] | None) -> str:
    return "" if not ci else f" [{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]"


def _ms(values: list[float]) -> str:
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "n/a"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def _f(x: float | None, digits: int = 2) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def report(preset_name: str, preset: EvidencePreset, result: dict[str, Any], command: str = "") -> str:
    base = preset.base
    single = [n for n in preset.conditions if not CONDITIONS[n].agent]
    agent = [n for n in preset.conditions if CONDITIONS[n].agent]
    head = f"Preset `{preset_name}`: {len(preset.conditions)} conditions x {len(preset.arms)} arms x {len(base.seeds)} seeds (seeds {list(base.seeds)})"
    if single:
        head += f"; single-step conditions: {base.rl_steps} RL steps per run, held-out test split {base.eval_examples} examples (greedy) at steps {list(base.budgets)}"
    if agent:
        acfg = agent_config(preset, Path("."))
        head += (
            f"; agent condition: {acfg.rl['max_steps']} RL steps of {acfg.rl_tasks_per_step} tasks x {acfg.rl.get('num_generations')} episodes, "
            f"{acfg.eval_tasks} held-out test tasks (tasks of held-out compositions) run to their end (greedy, at most {acfg.eval_max_turns} turns) "
            "after the last step; 'exact' = task success there"
        )
    lines = [head + f". {preset.note}"]
    if command:
        lines += ["", f"Command: `{command}`"]
    lines += [
        "",
        "Differences are arm - GRPO in points of held-out exact-call accuracy, paired by seed and example, with "
        "two-level bootstrap 95% intervals (seeds and examples resampled; `rest_rl.eval.stats.paired_seed_sample_bootstrap`). "
        "'ahead' = seeds on which the arm beats GRPO / seeds compared. 'seeds for 2 pt' = seeds a two-sided 5% paired "
        "test needs for 80% power against a 2-point difference, from the measured seed-to-seed SD of the paired differences.",
        "",
        "### Regime of each SFT start (before RL)",
        "",
        "Completions sampled from the start at temperature 1 on RL prompts: token share / mean token entropy (nats) per region"
        + (" (agent: the first RL step's rollouts, sampled from the start in the tool loop, mean over runs; 'sampled exact' = outcome reward)" if agent else "")
        + ".",
        "",
        "| condition | start exact (held-out, 95% CI) | sampled exact | tokens/completion | " + " | ".join(REGIONS[:6]) + " |",
        "|---|---:|---:|---:|" + "---:|" * 6,
    ]
    conds = result["conditions"]
    for name, c in conds.items():
        rg = c.get("regime")
        st = c.get("start") or {}
        head = f"| {name} | {_f(st.get('exact'), 3)}{(' [' + _f(st['ci'][0], 3) + ', ' + _f(st['ci'][1], 3) + ']') if st.get('ci') else ''} | "
        if rg:
            cells = [f"{rg['share'][g]:.2f} / {_f(rg['entropy'][g])}" for g in REGIONS[:6]]
            lines.append(head + f"{rg['sampled_exact']:.3f} | {rg['mean_completion_tokens']:.0f} | " + " | ".join(cells) + " |")
        else:
            lines.append(head + "n/a | n/a | " + " | ".join("n/a" for _ in REGIONS[:6]) + " |")
    for name, c in conds.items():
        arms = [a for a in preset.arms if a in c["arms"]]
        if not arms:
            continue
        budgets = c["budgets"]
        last = max(budgets)
        st = c.get("start") or {}
        lines += [
            "",
            f"### {name}: {c['label']}",
            "",
            (f"SFT start: held-out task success **{_f(st.get('exact'), 3)}**. Held-out task success ('exact'; mean ± SD over seeds) and the paired difference to GRPO:"
             if CONDITIONS[name].agent else
             f"SFT start: held-out exact **{_f(st.get('exact'), 3)}**. Held-out exact-call accuracy (mean ± SD over seeds) and the paired difference to GRPO:"),
            "",
            "| arm | seeds | " + " | ".join(f"exact @{b}" for b in budgets) + " | " + " | ".join(f"- GRPO @{b} (pt, 95% CI)" for b in budgets) + f" | ahead @{last} | seeds for 2 pt | vs start @{last} (pt) |",
            "|---|---:|" + "---:|" * (2 * len(budgets)) + "---:|---:|---:|",
        ]
        for arm in arms:
            r = c["arms"][arm]
            cells = [_ms(r["budgets"].get(b, {}).get("exact", [])) for b in budgets]
            diffs = []
            for b in budgets:
                v = r["budgets"].get(b, {}).get("vs_grpo")
                diffs.append("—" if arm == BASELINE else ("n/a" if not v else f"{_pt(v['diff'])}{_ci(v['ci'])}"))
            v = r["budgets"].get(last, {}).get("vs_grpo")
            ahead = "—" if arm == BASELINE else (f"{v['ahead']}/{len(v['seeds'])}" if v else "n/a")
            need = "—" if arm == BASELINE else (str(v["seeds_needed_2pt"]) if v and v["seeds_needed_2pt"] else "n/a")
            vs = r["budgets"].get(last, {}).get("vs_start")
            vs_s = f"{_pt(vs['diff'])}{_ci(vs['ci'])}" if vs else "n/a"
            lines.append(f"| {lc.ARM_LABELS[arm]} | {len(r['seeds'])} | " + " | ".join(cells) + " | " + " | ".join(diffs) + f" | {ahead} | {need} | {vs_s} |")
        thr = c.get("threshold")
        lines += [
            "",
            f"Training side: steps to reach GRPO's final smoothed rollout {'outcome reward' if CONDITIONS[name].agent else 'exact-match rate'} ({_f(thr, 3)}; window {c['window']} steps; "
            "— = not reached), and the scale-free gradient variance (median over probes of trace(Cov) / ||mean g||², "
            "per seed; ratio to GRPO = geometric mean over seeds of the per-seed ratio, bootstrap 95% CI over seeds).",
            "",
            "| arm | steps to threshold (per seed) | reached | relative variance (median of seeds) | ratio to GRPO [95% CI] | s/run |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for arm in arms:
            r = c["arms"][arm]
            steps = ", ".join("—" if s is None else str(s) for s in r["steps_to_threshold"])
            reached = sum(s is not None for s in r["steps_to_threshold"])
            relv = [v for v in r["relative_variance"].values() if v == v]
            ratio = r.get("relvar_ratio")
            ratio_s = "1.00" if arm == BASELINE else (f"{ratio['geomean']:.2f}" + (f" [{ratio['ci'][0]:.2f}, {ratio['ci'][1]:.2f}]" if ratio and ratio["ci"] else "") if ratio else "n/a")
            lines.append(f"| {lc.ARM_LABELS[arm]} | {steps} | {reached}/{len(r['steps_to_threshold'])} | {_f(statistics.median(relv) if relv else None, 3)} | {ratio_s} | {_f(statistics.mean(r['seconds']) if r['seconds'] else None, 0)} |")
        lines += [
            "",
            f"Per-region mean token entropy (nats) and ResT weight of the sampled completions, first → last {c['window']} steps (mean over seeds):",
            "",
            "| arm | " + " | ".join(f"H {g}" for g in REGIONS[:6]) + " | " + " | ".join(f"w {g}" for g in REGIONS[:5]) + " |",
            "|---|" + "---|" * 11,
        ]
        for arm in arms:
            r = c["arms"][arm]
            ent = [f"{_f(r['entropy'][g][0])} → {_f(r['entropy'][g][1])}" for g in REGIONS[:6]]
            wts = [f"{_f(r['weight'][g][0])} → {_f(r['weight'][g][1])}" for g in REGIONS[:5]]
            lines.append(f"| {lc.ARM_LABELS[arm]} | " + " | ".join(ent) + " | " + " | ".join(wts) + " |")
        te = c["arms"].get("top_entropy", {}).get("top_entropy_mask")
        if te:
            lines += [
                "",
                f"TRL `top_entropy_quantile=0.2` took effect: {te['records']} loss calls logged, {100 * te['kept']:.1f}% of loss tokens kept; "
                "kept share per region / region's share of the kept tokens: "
                + ", ".join(f"{g} {100 * (te['kept_by_region'][g] or 0):.0f}% / {100 * (te['share_of_kept'][g] or 0):.0f}%" for g in REGIONS if te["kept_by_region"].get(g) is not None)
                + ".",
            ]
        elif "top_entropy" in c["arms"]:
            lines += ["", "TRL `top_entropy_quantile`: **no mask records** — the mask did not take effect in these runs."]
    pw = result.get("power") or {}
    if pw:
        lines += [
            "",
            f"**Power.** Pooled over the {pw['comparisons']} arm-vs-GRPO comparisons at each condition's last step, the seed-to-seed SD of a "
            f"paired difference is {100 * pw['pooled_sd_seed']:.1f} points; detecting a 2-point difference with 80% power at the 5% "
            f"level needs about **{pw['seeds_needed_2pt']} seeds** per cell (this run has {len(base.seeds)}).",
        ]
    return "\n".join(lines) + "\n"


def plots(out: Path, preset: EvidencePreset, result: dict[str, Any]) -> list[Path]:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plots", file=sys.stderr)
        return []
    conds = result["conditions"]
    if not conds:
        return []
    paths = []
    colors = {a: plt.get_cmap("tab10")(i) for i, a in enumerate(preset.arms)}
    # 1. arm - GRPO at the last budget, with CIs, per condition
    fig, ax = plt.subplots(figsize=(8, 0.5 + 0.45 * len(conds) * (len(preset.arms) - 1)))
    y, ticks, labels = 0, [], []
    for name, c in conds.items():
        last = max(c["budgets"])
        for arm in preset.arms:
            v = c["arms"].get(arm, {}).get("budgets", {}).get(last, {}).get("vs_grpo")
            if arm == BASELINE or not v:
                continue
            ax.errorbar([100 * v["diff"]], [y], xerr=[[100 * (v["diff"] - v["ci"][0])], [100 * (v["ci"][1] - v["diff"])]], fmt="o", color=colors[arm], capsize=3)
            ticks.append(y)
            labels.append(f"{name}: {lc.ARM_LABELS[arm]}")
            y -= 1
        y -= 0.5
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("held-out exact-call accuracy (agent: task success), arm - GRPO at the last step (points, 95% CI)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    paths.append(out / "diff_vs_grpo.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    # 2. held-out accuracy over budgets per condition
    n = len(conds)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 3.8), squeeze=False)
    for ax, (name, c) in zip(axes[0], conds.items()):
        st = (c.get("start") or {}).get("exact")
        for arm in preset.arms:
            r = c["arms"].get(arm)
            if not r:
                continue
            xs, ys = [0], [st if st is not None else float("nan")]
            for b in c["budgets"]:
                vals = r["budgets"].get(b, {}).get("exact", [])
                xs.append(b)
                ys.append(statistics.mean(vals) if vals else float("nan"))
            ax.plot(xs, ys, marker="o", color=colors[arm], label=lc.ARM_LABELS[arm])
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("RL step")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("held-out exact-call accuracy (mean over seeds)")
    axes[0][0].legend(fontsize=7)
    fig.tight_layout()
    paths.append(out / "heldout_by_condition.png")
    fig.savefig(paths[-1], dpi=110)
    plt.close(fig)
    return paths


# ------------------------------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu_evidence")
    parser.add_argument("--out-dir", type=Path, default=None, help="default: runs/evidence/<preset>")
    parser.add_argument("--conditions", nargs="+", choices=list(CONDITIONS), default=None)
    parser.add_argument("--arms", nargs="+", choices=list(lc.ARMS), default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None, help="RL steps per single-step run (budgets become steps/2 and steps, or steps)")
    parser.add_argument("--agent-steps", type=int, default=None, help="RL steps per agent run (default: the preset's)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes in parallel (default 2)")
    parser.add_argument("--max-minutes", type=float, default=None, help="wall-clock budget (default: the preset's; 0 = none)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per worker (default: cores // jobs)")
    parser.add_argument("--resamples", type=int, default=2000, help="bootstrap replicates (default 2000)")
    parser.add_argument("--report-only", action="store_true", help="only rebuild report.md, results.json and plots")
    parser.add_argument("--worker", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker is not None:
        run_worker(args.worker)
        return 0

    preset = PRESETS[args.preset]
    if args.conditions:
        preset = replace(preset, conditions=tuple(args.conditions))
    if args.arms:
        if BASELINE not in args.arms:
            parser.error(f"--arms must include the baseline {BASELINE!r}")
        preset = replace(preset, arms=tuple(args.arms))
    if args.seeds:
        preset = replace(preset, base=replace(preset.base, seeds=tuple(args.seeds)))
    if args.steps is not None:
        if args.steps < 2:
            parser.error("--steps must be >= 2")
        budgets = (args.steps,) if len(preset.base.budgets) == 1 else (args.steps // 2, args.steps)
        preset = replace(preset, base=replace(preset.base, rl_steps=args.steps, budgets=budgets))
    if args.agent_steps is not None:
        if args.agent_steps < 1:
            parser.error("--agent-steps must be >= 1")
        preset = replace(preset, agent={**preset.agent, "rl": {**preset.agent.get("rl", {}), "max_steps": args.agent_steps}})
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    threads = args.threads or max(1, (os.cpu_count() or 2) // args.jobs)
    out = args.out_dir or ROOT / "runs" / "evidence" / args.preset
    out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    command = "python benchmarks/evidence.py " + " ".join(argv if argv is not None else sys.argv[1:])

    def log(message: str) -> None:
        print(message, flush=True)

    if not args.report_only:
        t0 = time.perf_counter()
        prepare(preset, out, log)
        log(f"starts ready in {time.perf_counter() - t0:.0f} s")
        t1 = time.perf_counter()
        minutes = args.max_minutes if args.max_minutes is not None else preset.max_minutes
        deadline = t0 + 60 * minutes if minutes else None
        left = lc.run_specs(run_matrix(preset, out), args.jobs, threads, log, per_process=preset.runs_per_process, deadline=deadline, script=Path(__file__))
        if left:
            log(f"{left} runs not started within the {minutes}-minute budget; the report covers the finished seeds")
        log(f"all runs done in {time.perf_counter() - t1:.0f} s (total {time.perf_counter() - t0:.0f} s)")
        (out / "timing.json").write_text(json.dumps({"prepare_s": t1 - t0, "runs_s": time.perf_counter() - t1, "jobs": args.jobs, "threads": threads, "runs_not_started": left}) + "\n")
    result = analyse(out, preset, args.resamples)
    if not any(c["arms"] for c in result["conditions"].values()):
        parser.error(f"no finished runs under {out}")
    text = report(args.preset, preset, result, command)
    timing = out / "timing.json"
    if timing.is_file():
        t = json.loads(timing.read_text())
        text += f"\nWall time: SFT starts + regimes {t['prepare_s']:.0f} s, runs {t['runs_s']:.0f} s ({t['jobs']} workers x {t['threads']} threads)."
        if t.get("runs_not_started"):
            text += f" **{t['runs_not_started']} runs were not started within the time budget**: cells have fewer seeds (see 'seeds')."
        text += "\n"
    (out / "report.md").write_text(text)
    (out / "results.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    for p in plots(out, preset, result):
        log(f"plot: {p}")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
