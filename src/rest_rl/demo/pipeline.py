"""The end-to-end demo on the embedded default: everything built locally, nothing downloaded.

``rest-rl demo`` (``make demo``) runs, on CPU:

1. the synthetic tool world (:mod:`rest_rl.data.synthetic`), restricted by default to three domains (weather,
   finance, shopping: 11 tools, two listed per prompt) so that a model trained from scratch in minutes learns it;
2. the embedded model (:func:`rest_rl.models.tiny.make_embedded_model`): a byte-level BPE tokenizer trained
   on the world's train split and a tiny Qwen3-architecture model, saved as a Hugging Face directory;
3. an SFT warm start on a small labelled set (``sft_labels`` examples) with
   :class:`~rest_rl.integrations.trl.sft.ResTSFTTrainer` (the code path of ``rest-rl sft``);
4. ResT RL from that start with :class:`~rest_rl.integrations.trl.grpo.ResTGRPOTrainer` (the code path of ``rest-rl
   train``) on *fresh* prompts of the train split, scored by the ToolRL reward against their gold calls (a
   verifier; no answer is imitated);
5. a control arm: the same SFT continued on the same labelled set for a fixed number of steps chosen to take
   about as long as the RL stage, so "RL beats SFT" is not just "more training beats less";
6. greedy evaluation of the three models on two held-out sets: ``test`` (requests and tool lists never
   seen in training; the headline) and ``novel`` (slot values never seen in training: cities, names,
   numbers; an out-of-distribution copying probe, much harder for a model this small);
7. ``<out_dir>/report.md`` with the tables and PNG plots (reward over steps, per-region entropy and weight over
   steps) and ``summary.json``; the numbers are printed at the end.

The stages run through the same runners as the CLI (:func:`~rest_rl.integrations.trl.runners.run_sft` / :func:`~rest_rl.integrations.trl.runners.run_train`)
with configurations built from :class:`DemoConfig` (``configs/demo.yaml`` holds the same defaults). Step
counts are fixed, not seconds: the result does not depend on the machine's speed, only the wall time does.
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rest_rl.data.synthetic import SyntheticConfig, SyntheticWorld
from rest_rl.models.tiny import TinyModelConfig

__all__ = ["DEMO_RL", "DEMO_SFT", "DemoConfig", "HeldOutScores", "data_section", "exact_call_match", "run_demo", "score_held_out"]

DEMO_SFT: dict[str, Any] = {
    "max_steps": 400,
    "per_device_train_batch_size": 32,
    "learning_rate": 3.0e-3,
    "lr_scheduler_type": "constant",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "logging_steps": 10,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "gradient_checkpointing": False,
    "use_cpu": True,
    "dataset_num_proc": None,
    "rest_sft_mode": "sft",
    "seed": 0,
}
"""Settings of the SFT warm start (any :class:`~rest_rl.integrations.trl.sft.ResTSFTConfig` field)."""

DEMO_RL: dict[str, Any] = {
    "max_steps": 200,
    "per_device_train_batch_size": 32,
    "num_generations": 8,
    "learning_rate": 3.0e-4,
    "lr_scheduler_type": "linear",
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "beta": 0.0,
    "temperature": 1.0,
    "max_completion_length": 128,
    "logging_steps": 5,
    "save_strategy": "no",
    "report_to": "none",
    "bf16": False,
    "gradient_checkpointing": False,
    "use_cpu": True,
    "rest_scheme": "entropy",
    "seed": 0,
}
"""Settings of the ResT RL stage (any :class:`~rest_rl.integrations.trl.grpo.ResTGRPOConfig` field): 32 completions per
step = 4 prompts x 8 samples."""


SPLIT_LABELS = {
    "validation": "held-out requests (unseen prompts, slot values from training; validation split)",
    "test": "held-out requests (unseen prompts, slot values from training)",
    "novel": "held-out slot values (cities, names, numbers never seen in training)",
}

DEMO_DOMAINS: tuple[str, ...] = ("weather", "finance", "shopping")
"""The demo world's domains: 11 tools whose arguments mix cities, currencies, tickers, products, numbers."""


def _world_default() -> SyntheticConfig:
    return SyntheticConfig(
        seed=0,
        domains=DEMO_DOMAINS,
        tools_per_prompt=2,
        p_parallel=0.05,
        n_train=2400,
        n_validation=0,
        n_test=1000,
        n_novel=1000,
    )


@dataclass
class DemoConfig:
    """Everything the demo does, with defaults that finish in a few minutes on 2 CPU cores."""

    out_dir: str = field(default="runs/demo", metadata={"help": "Where the model, runs, report and plots go."})
    seed: int = field(default=0, metadata={"help": "Seed of the model initialisation (the trainers' seeds are in sft/rl)."})
    threads: int = field(default=2, metadata={"help": "torch CPU threads (0 = leave torch's default)."})
    world: SyntheticConfig = field(
        default_factory=_world_default,
        metadata={"help": "The synthetic tool world: n_train examples (labelled set + RL prompts); n_test / n_novel held out."},
    )
    model: TinyModelConfig = field(default_factory=TinyModelConfig, metadata={"help": "Sizes of the tiny model."})
    vocab_size: int = field(
        default=2048,
        metadata={"help": "Target vocabulary of the BPE tokenizer (2048: most training slot values are one token)."},
    )
    prompt_style: str = field(default="compact", metadata={"help": "Prompt layout (compact: one line per tool)."})
    sft_labels: int = field(
        default=400,
        metadata={"help": "Labelled examples of the SFT warm start (the first ones of the train split)."},
    )
    rl_prompts: int | None = field(
        default=None,
        metadata={"help": "RL prompts, taken after the labelled ones (None = the rest of the train split)."},
    )
    eval_splits: list[str] = field(
        default_factory=lambda: ["test", "novel"],
        metadata={
            "help": "Held-out sets evaluated, the first one being the headline: test (or validation) = requests and "
            "tool lists never seen in training, slot values from the training pools; novel = slot values never seen "
            "in training (cities, names, numbers, ...), an out-of-distribution probe."
        },
    )
    eval_examples: int = field(default=1000, metadata={"help": "Examples evaluated per held-out set and model."})
    eval_batch_size: int = field(default=50, metadata={"help": "Prompts per greedy generation batch."})
    eval_max_new_tokens: int = field(default=128, metadata={"help": "Generation limit of the evaluation."})
    control: bool = field(default=True, metadata={"help": "Run the control arm (SFT continued on the same labels)."})
    sft: dict[str, Any] = field(
        default_factory=lambda: dict(DEMO_SFT),
        metadata={"help": "SFT warm start: any ResTSFTConfig field (output_dir is set by the demo)."},
    )
    control_sft: dict[str, Any] = field(
        default_factory=lambda: {"max_steps": 350, "lr_scheduler_type": "linear"},
        metadata={
            "help": "Control arm: ResTSFTConfig fields laid over `sft`. max_steps is fixed so that the arm takes about "
            "as long as the RL stage on the reference machine (SFT steps are ~1.7x faster than RL steps); the "
            "learning rate decays linearly, as in the RL stage."
        },
    )
    rl: dict[str, Any] = field(
        default_factory=lambda: dict(DEMO_RL),
        metadata={"help": "ResT RL stage: any ResTGRPOConfig field (output_dir is set by the demo)."},
    )

    def __post_init__(self) -> None:
        if self.sft_labels < 1:
            raise ValueError(f"sft_labels must be >= 1, got {self.sft_labels}")
        if self.sft_labels >= self.world.n_train:
            raise ValueError(
                f"world.n_train ({self.world.n_train}) must exceed sft_labels ({self.sft_labels}): the RL prompts "
                "come after the labelled examples"
            )
        if not self.eval_splits or any(s not in SPLIT_LABELS for s in self.eval_splits):
            raise ValueError(f"eval_splits must be a non-empty list of {sorted(SPLIT_LABELS)}, got {self.eval_splits}")
        for split in self.eval_splits:
            available = getattr(self.world, f"n_{split}")
            if not 1 <= self.eval_examples <= available:
                raise ValueError(f"eval_examples must be in [1, world.n_{split}={available}], got {self.eval_examples}")
        if self.eval_batch_size < 1 or self.eval_max_new_tokens < 1:
            raise ValueError("eval_batch_size and eval_max_new_tokens must be >= 1")

    def check_trainer_sections(self) -> None:
        """Build the trainer configs of the three stages once, so a bad key fails before anything runs
        (``ConfigError`` naming the section and key)."""
        check_stage_sections(self.out_dir, sft=self.sft, control_sft=self.control_sft, rl=self.rl)

    def quick(self) -> DemoConfig:
        """A tiny version of this configuration that runs in well under a minute (smoke tests only)."""
        world = replace(self.world, n_train=96, n_validation=16, n_test=16, n_novel=16)
        sft = {**self.sft, "max_steps": 4, "per_device_train_batch_size": 8, "logging_steps": 2}
        rl = {
            **self.rl,
            "max_steps": 3,
            "per_device_train_batch_size": 8,
            "num_generations": 4,
            "max_completion_length": 24,
            "logging_steps": 1,
        }
        return replace(
            self,
            world=world,
            model=TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, seed=self.model.seed),
            vocab_size=400,
            sft_labels=32,
            rl_prompts=None,
            eval_examples=8,
            eval_batch_size=8,
            eval_max_new_tokens=24,
            sft=sft,
            control_sft={**self.control_sft, "max_steps": 3},
            rl=rl,
        )


# ------------------------------------------------------------------------------------------------------------
# Held-out scoring
# ------------------------------------------------------------------------------------------------------------


def exact_call_match(completion: str, example: Any) -> bool:
    """Whether ``completion`` (ToolRL format) does exactly what the gold step does.

    Gold with calls: a closed ``<tool_call>`` block whose every line parses, holding the gold calls as a
    multiset (names and argument values equal; ``1 != "1"``). Gold without calls: no call block and a
    ``<response>``.
    """
    from rest_rl.rewards.matching import call_multisets_equal
    from rest_rl.toolcall.toolrl import scan_toolrl

    scan = scan_toolrl(completion)
    gold = list(example.gold_calls or [])
    if not gold:
        return not scan.has_block and scan.response is not None
    return scan.block_ok and call_multisets_equal(scan.calls, gold)


@dataclass
class HeldOutScores:
    """Greedy held-out results of one model.

    ``exact_ci`` is the 95% percentile-bootstrap interval of ``exact`` (2000 resamples of the
    examples, seed 0; :mod:`rest_rl.eval.stats`, which draws from its own generator, so computing it
    changes no other random stream).
    """

    n: int
    exact: float
    exact_calls: float
    tool_names: float
    format_ok: float
    exact_ci: tuple[float, float] | None = None

    def row(self) -> dict[str, Any]:
        """As a plain dict (for JSON)."""
        return {
            "n": self.n,
            "exact": self.exact,
            "exact_ci": list(self.exact_ci) if self.exact_ci is not None else None,
            "exact_calls": self.exact_calls,
            "tool_names": self.tool_names,
            "format_ok": self.format_ok,
        }


def score_held_out(completions: Sequence[str], examples: Sequence[Any]) -> HeldOutScores:
    """Exact-call accuracy (all examples; with its 95% bootstrap interval), on the examples with calls,
    tool-name accuracy (the multiset of called names) and the relaxed format check, for
    ``completions[i]`` answering ``examples[i]``."""
    from rest_rl.eval.stats import bootstrap_mean
    from rest_rl.rewards import format_ok
    from rest_rl.toolcall.toolrl import scan_toolrl

    n = len(examples)
    exact = names = fmt = with_calls = exact_with_calls = 0
    hits: list[float] = []
    for text, ex in zip(completions, examples):
        hit = exact_call_match(text, ex)
        hits.append(float(hit))
        exact += hit
        gold = list(ex.gold_calls or [])
        if gold:
            with_calls += 1
            exact_with_calls += hit
            scan = scan_toolrl(text)
            names += sorted(c.name for c in scan.calls) == sorted(c.name for c in gold)
        else:
            names += hit
        fmt += bool(format_ok(text, has_calls=bool(gold), has_response=ex.gold_response is not None))
    interval = bootstrap_mean(hits) if hits else None
    return HeldOutScores(
        n=n,
        exact=exact / max(1, n),
        exact_calls=exact_with_calls / max(1, with_calls),
        tool_names=names / max(1, n),
        format_ok=fmt / max(1, n),
        exact_ci=(interval.low, interval.high) if interval is not None else None,
    )


def generate_held_out(model_dir: str | Path, examples: Sequence[Any], cfg: DemoConfig) -> list[str]:
    """Greedy completions of the model in ``model_dir`` for ``examples`` (prompts as in training)."""
    from rest_rl.data.prompting import to_prompt_messages
    from rest_rl.eval.engines import GenerationRequest, HFEngine

    engine = HFEngine(str(model_dir), batch_size=cfg.eval_batch_size, device="cpu", dtype="float32")
    requests = [GenerationRequest(messages=to_prompt_messages(ex, style=cfg.prompt_style)) for ex in examples]
    return engine.generate(requests, max_new_tokens=cfg.eval_max_new_tokens, progress=True)


# ------------------------------------------------------------------------------------------------------------
# Orchestration
# ------------------------------------------------------------------------------------------------------------


def say(message: str) -> None:
    print(message, flush=True)


class Stage:
    """Times a demo stage (into ``timings[key]``) and prints its header and duration through ``log``."""

    def __init__(self, timings: dict[str, float], key: str, header: str, log: Callable[[str], None] = say) -> None:
        self.timings, self.key, self.header, self.log = timings, key, header, log

    def __enter__(self) -> Stage:
        self.log(self.header)
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.timings[self.key] = time.perf_counter() - self.t0
        if exc[0] is None:
            self.log(f"      done in {self.timings[self.key]:.0f} s")


def machine_info() -> dict[str, Any]:
    """Where a demo ran: platform, CPUs, torch version and threads, and the load average (a loaded machine explains
    a slow run)."""
    import torch

    return {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None,
    }


def check_stage_sections(out_dir: str, *, sft: Mapping[str, Any], control_sft: Mapping[str, Any], rl: Mapping[str, Any]) -> None:
    """Build a demo's three trainer configs (SFT start, control arm = ``control_sft`` over ``sft``, RL) once, so a
    bad key fails before anything runs (``ConfigError`` naming the section and key)."""
    from rest_rl.config import build_dataclass
    from rest_rl.integrations.trl.grpo import ResTGRPOConfig
    from rest_rl.integrations.trl.sft import ResTSFTConfig

    build_dataclass(ResTSFTConfig, {**sft, "output_dir": out_dir}, where="sft")
    build_dataclass(ResTSFTConfig, {**sft, **control_sft, "output_dir": out_dir}, where="control_sft")
    build_dataclass(ResTGRPOConfig, {**rl, "output_dir": out_dir}, where="rl")


def data_section(cfg: DemoConfig, *, split: str, offset: int = 0, limit: int | None = None) -> Any:
    from rest_rl.data.selection import DataSection

    return DataSection(
        source="synthetic", split=split, offset=offset, limit=limit, prompt_style=cfg.prompt_style, synthetic=cfg.world
    )




def run_demo(cfg: DemoConfig, *, log: Callable[[str], None] = say) -> dict[str, Any]:
    """Run the whole demo (see the module docstring); returns the summary written to ``summary.json``."""
    import torch

    from rest_rl.data.selection import load_examples
    from rest_rl.integrations.trl.runners import SFTRunConfig, TrainRunConfig, run_sft, run_train
    from rest_rl.models.loading import ModelSection
    from rest_rl.models.tiny import make_embedded_model
    from rest_rl.demo.report import write_report
    from rest_rl.eval.stats import paired_comparison

    try:
        import datasets

        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass
    cfg.check_trainer_sections()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()
    n_rl = cfg.world.n_train - cfg.sft_labels if cfg.rl_prompts is None else cfg.rl_prompts
    rl_steps = int(cfg.rl.get("max_steps", 0))
    control_steps = int({**cfg.sft, **cfg.control_sft}.get("max_steps", 0))

    log("rest-rl demo: synthetic tool world -> tiny model -> SFT warm start -> ResT RL -> held-out evaluation")
    log(f"(CPU, {torch.get_num_threads()} threads, no downloads; output in {out})\n")

    with Stage(timings, "world_model", "[1/6] synthetic world, tokenizer and tiny model"):
        model_dir = make_embedded_model(out / "model", cfg.world, config=replace(cfg.model, seed=cfg.seed), vocab_size=cfg.vocab_size)
        info = json.loads((model_dir / "rest_rl_embedded.json").read_text(encoding="utf-8"))
        held_out = {split: load_examples(data_section(cfg, split=split, limit=cfg.eval_examples)) for split in cfg.eval_splits}
        world = SyntheticWorld(cfg.world)
        log(
            f"      {len(world.tools)} tools in {len(world.domains)} domains; {cfg.sft_labels} labelled examples, "
            f"{n_rl} RL prompts; held out: "
            + ", ".join(f"{len(v)} {k} examples" for k, v in held_out.items())
        )
        log(f"      model: {info['parameters'] / 1e6:.2f}M parameters, vocabulary {info['vocab_size']} ({model_dir})")

    def sft_config(output_dir: Path, base_model: str | Path, section: dict[str, Any]) -> SFTRunConfig:
        return SFTRunConfig(
            model=ModelSection(name_or_path=str(base_model)),
            data=data_section(cfg, split="train", offset=0, limit=cfg.sft_labels),
            sft={**section, "output_dir": str(output_dir)},
        )

    scores: dict[str, dict[str, HeldOutScores]] = {split: {} for split in cfg.eval_splits}
    correct: dict[str, dict[str, list[float]]] = {split: {} for split in cfg.eval_splits}  # per-example exact, for pairing

    def evaluate(arm: str, model: Path) -> None:
        for split, examples in held_out.items():
            scores[split][arm], correct[split][arm] = _evaluate(model, examples, cfg, out / "eval" / f"{arm}-{split}.jsonl")

    sft_dir = out / "sft"
    with Stage(timings, "sft", f"[2/6] SFT warm start on {cfg.sft_labels} labelled examples ({cfg.sft.get('max_steps')} steps)"):
        run_sft(sft_config(sft_dir, model_dir, cfg.sft), overwrite=True)

    with Stage(timings, "eval_sft", "[3/6] held-out evaluation of the SFT start (greedy)"):
        evaluate("sft", sft_dir)
        log("      exact-call accuracy: " + ", ".join(f"{k} {v['sft'].exact:.3f}" for k, v in scores.items()))

    rl_dir = out / "rl"
    rl_cfg = TrainRunConfig(
        model=ModelSection(name_or_path=str(sft_dir)),
        data=data_section(cfg, split="train", offset=cfg.sft_labels, limit=n_rl),
        train={**cfg.rl, "output_dir": str(rl_dir)},
    )
    per_step = int(cfg.rl.get("per_device_train_batch_size", 0)) // max(1, int(cfg.rl.get("num_generations", 1) or 1))
    with Stage(
        timings,
        "rl",
        f"[4/6] ResT RL from the SFT start: {rl_steps} steps x {per_step} fresh prompts x "
        f"{cfg.rl.get('num_generations')} samples, scheme={cfg.rl.get('rest_scheme', 'entropy')}",
    ):
        run_train(rl_cfg, overwrite=True)

    control_dir = out / "control"
    if cfg.control:
        with Stage(
            timings,
            "control",
            f"[5/6] control arm: SFT continued on the same {cfg.sft_labels} labels ({control_steps} steps)",
        ):
            run_sft(sft_config(control_dir, sft_dir, {**cfg.sft, **cfg.control_sft}), overwrite=True)
    else:
        log("[5/6] control arm skipped (control: false)")

    with Stage(timings, "eval_final", "[6/6] held-out evaluation of the RL result" + (" and the control" if cfg.control else "")):
        evaluate("rl", rl_dir)
        if cfg.control:
            evaluate("control", control_dir)

    pairs = {"rl_vs_sft": ("sft", "rl")}
    if cfg.control:
        pairs.update({"control_vs_sft": ("sft", "control"), "rl_vs_control": ("control", "rl")})
    comparisons = {
        split: {name: paired_comparison(by_arm[a], by_arm[b]) for name, (a, b) in pairs.items()} for split, by_arm in correct.items()
    }
    elapsed = time.perf_counter() - t_start
    summary: dict[str, Any] = {
        "headline_split": cfg.eval_splits[0],
        "held_out": {split: {arm: s.row() for arm, s in by_arm.items()} for split, by_arm in scores.items()},
        "comparisons": comparisons,
        "split_labels": {k: SPLIT_LABELS[k] for k in cfg.eval_splits},
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "total_s": round(elapsed, 1),
        "steps": {"sft": int(cfg.sft.get("max_steps", 0)), "rl": rl_steps, "control": control_steps if cfg.control else 0},
        "sft_labels": cfg.sft_labels,
        "rl_prompts": n_rl,
        "model": info,
        "world": {"tools": len(world.tools), "domains": world.domains},
        "machine": machine_info(),
        "config": _plain(cfg),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    report = write_report(out, summary, rl_metrics=rl_dir / "metrics.jsonl")

    log("")
    rows = [("sft", f"SFT start ({cfg.sft_labels} labels, {cfg.sft.get('max_steps')} steps)")]
    rows.append(("rl", f"+ ResT RL ({rl_steps} steps on fresh prompts, {timings['rl']:.0f} s)"))
    if cfg.control:
        rows.append(("control", f"+ more SFT on the same labels ({control_steps} steps, {timings['control']:.0f} s)"))
    width = max(len(label) for _, label in rows) + 2
    for split, by_arm in scores.items():
        n = by_arm["sft"].n
        p = by_arm["sft"].exact
        se = math.sqrt(max(p * (1 - p), 1e-9) / max(1, n))
        log(f"Exact-call accuracy on {n} {SPLIT_LABELS[split]} (greedy; one standard error ~{se:.3f}; 95% bootstrap interval):")
        for arm, label in rows:
            ci = by_arm[arm].exact_ci
            log(f"  {label:<{width}}{by_arm[arm].exact:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""))
        for name, text in (("rl_vs_sft", "RL - SFT start"), ("rl_vs_control", "RL - control  ")):
            if name in comparisons[split]:
                c = comparisons[split][name]
                log(f"  {text}: {c['diff']:+.3f} [{c['diff_ci95'][0]:+.3f}, {c['diff_ci95'][1]:+.3f}] (paired), McNemar p = {c['mcnemar_p']:.2g}")
    log(f"report: {report}   (total {elapsed:.0f} s)")
    return summary


def _evaluate(model_dir: Path, examples: Sequence[Any], cfg: DemoConfig, predictions: Path) -> tuple[HeldOutScores, list[float]]:
    """Greedy completions of ``examples``, written to ``predictions``; returns the scores and the per-example exact
    match (1.0 / 0.0, in order)."""
    completions = generate_held_out(model_dir, examples, cfg)
    exact = [1.0 if exact_call_match(text, ex) else 0.0 for ex, text in zip(examples, completions)]
    predictions.parent.mkdir(parents=True, exist_ok=True)
    with open(predictions, "w", encoding="utf-8") as fh:
        for ex, text, e in zip(examples, completions, exact):
            fh.write(json.dumps({"id": ex.id, "completion": text, "exact": bool(e)}) + "\n")
    return score_held_out(completions, examples), exact


def _plain(cfg: DemoConfig) -> dict[str, Any]:
    from rest_rl.config import to_plain

    return to_plain(cfg)
