"""ResT's cost per training step: the same step with ``ResTGRPOTrainer`` and with plain ``trl.GRPOTrainer``.

Both trainers are built on copies of one randomly initialised Qwen3-architecture model and run in ONE
process, alternating step by step (A B, B A, A B, ... so that warm-up, allocator state and thermal drift hit
both arms alike). A step is TRL's own ``training_step`` (generation batch -> rewards -> advantages ->
[ResT: region labels] -> forward with entropies -> [ResT: token weights] -> clipped loss -> backward) plus the
optimizer step. Generation is replaced by fixed rollouts of exactly ``completion`` tokens (TRL's
``rollout_func`` hook): sampling is identical work in both arms, would only dilute the ratio, and would make
the completion lengths -- hence the work -- differ between arms. The rollouts are tool-use texts (think text,
JSON tool calls) from the synthetic world, tokenized with a local BPE tokenizer, so that the region labelling
has real work to do; the model's vocabulary is Qwen3's 151,936 whatever the tokenizer (its entropy and LM
head cost are what matter).

Memory: on GPU, ``torch.cuda.max_memory_allocated`` reset before each step. On CPU, the process's peak
resident set (``VmHWM``) reset before each step through ``/proc/self/clear_refs`` (Linux); freed memory the
allocator keeps is shared by both arms, so the number is the step's high-water mark in this process.

Goal (issue 6): ResT <= 1.05x the time and <= 1.02x the peak memory of plain GRPO.

Presets (``--preset``):
  cpu          a small Qwen3 (hidden 256, 4 layers) with the real vocabulary, fp32, prompt 256 + completion
               256 tokens, 8 sequences per step; about 11 minutes on 2 CPU cores.
  qwen3-0.6b   Qwen3-0.6B's configuration, random init, bf16, prompt 1024 + completion 1024, 8 sequences (GPU).
  qwen3-1.7b   Qwen3-1.7B's configuration, random init, bf16, prompt 1024 + completion 1024, 8 sequences (GPU).
  smoke        tiny shapes, 2 steps per arm (a test that the script runs).

Run:  .venv/bin/python benchmarks/step_overhead.py --preset cpu
      python benchmarks/step_overhead.py --preset qwen3-0.6b --device cuda --json out.json
      (on an offline GPU machine, both qwen3 presets run from ``benchmarks/gpu/run.sh``: see benchmarks/gpu/README.md)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

QWEN3_VOCAB = 151_936


@dataclass(frozen=True)
class Preset:
    hidden: int
    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    prompt: int
    completion: int
    sequences: int  # per step (= per_device_train_batch_size)
    generations: int  # per prompt
    steps: int  # measured steps per arm
    warmup: int  # unmeasured steps per arm
    dtype: str
    tie_embeddings: bool = True


PRESETS: dict[str, Preset] = {
    "cpu": Preset(256, 4, 4, 2, 64, 768, QWEN3_VOCAB, 256, 256, 8, 4, 10, 2, "float32"),
    # Qwen3-0.6B / 1.7B config.json values (hidden, layers, heads, kv heads, head_dim, intermediate, tied).
    "qwen3-0.6b": Preset(1024, 28, 16, 8, 128, 3072, QWEN3_VOCAB, 1024, 1024, 8, 8, 10, 2, "bfloat16"),
    "qwen3-1.7b": Preset(2048, 28, 16, 8, 128, 6144, QWEN3_VOCAB, 1024, 1024, 8, 8, 10, 2, "bfloat16"),
    "smoke": Preset(32, 1, 2, 1, 16, 64, 4096, 32, 32, 4, 2, 2, 1, "float32"),
}


# ------------------------------------------------------------------------------------------------------------
# Memory probes
# ------------------------------------------------------------------------------------------------------------
class CpuPeak:
    """Per-step peak RSS via /proc/self/clear_refs (value 5 resets VmHWM) and /proc/self/status."""

    name = "peak RSS (MiB)"

    def __init__(self) -> None:
        self.ok = os.path.exists("/proc/self/clear_refs")

    def reset(self) -> None:
        if self.ok:
            try:
                with open("/proc/self/clear_refs", "w") as fh:
                    fh.write("5")
            except OSError:
                self.ok = False

    def peak_mib(self) -> float:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")


class CudaPeak:
    name = "peak GPU memory allocated (MiB)"

    def __init__(self, torch: Any) -> None:
        self.torch = torch

    def reset(self) -> None:
        self.torch.cuda.synchronize()
        self.torch.cuda.reset_peak_memory_stats()

    def peak_mib(self) -> float:
        self.torch.cuda.synchronize()
        return self.torch.cuda.max_memory_allocated() / 2**20


# ------------------------------------------------------------------------------------------------------------
# Fixed rollouts
# ------------------------------------------------------------------------------------------------------------
def rollout_texts(n: int, seed: int = 0) -> tuple[list[Any], list[str]]:
    """Synthetic-world examples and long tool-use completions (think text, then a block of calls)."""
    from rest_rl.data import SyntheticConfig, SyntheticWorld

    world = SyntheticWorld(SyntheticConfig(seed=seed, p_no_call=0.0))
    examples = world.sample(max(n, 64), "train", seed=seed)
    rng = random.Random(seed)
    texts = []
    for i in range(n):
        picked = [examples[(i + k) % len(examples)] for k in range(24)]
        rng.shuffle(picked)
        think = " ".join(ex.gold_think or "" for ex in picked[:12])
        calls = "\n".join(ex.gold_text("toolrl").split("<tool_call>", 1)[-1].split("</tool_call>", 1)[0].strip() for ex in picked[12:])
        texts.append(f"<think> {think} </think>\n<tool_call>\n{calls}\n</tool_call>")
    return examples, texts


def fixed_length_ids(tokenizer: Any, texts: list[str], length: int) -> list[list[int]]:
    """Token ids of each text, cut or cyclically extended to exactly ``length`` (no EOS: full-length rows)."""
    out = []
    for text in texts:
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        while len(ids) < length:
            ids = ids + ids
        out.append(ids[:length])
    return out


class FixedRollouts:
    """A ``rollout_func``: every prompt gets ``prompt`` prompt ids and one of the fixed completions."""

    def __init__(self, prompt_ids: list[int], completions: list[list[int]], seed: int) -> None:
        self.prompt_ids = prompt_ids
        self.completions = completions
        self.rng = random.Random(seed)

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        picks = [self.completions[self.rng.randrange(len(self.completions))] for _ in prompts]
        return {"prompt_ids": [list(self.prompt_ids) for _ in prompts], "completion_ids": picks, "logprobs": None}


# ------------------------------------------------------------------------------------------------------------
# The benchmark
# ------------------------------------------------------------------------------------------------------------
def _init_model(torch: Any, cls: Any, config: Any, dtype: Any, device: str) -> Any:
    """The randomly initialised model. On a GPU the initialisation runs there (at 1.7B parameters the CPU takes
    minutes of a short device lease); should that fail, it falls back to the CPU (same shapes, other random draws)."""
    if device.startswith("cuda"):
        try:
            with torch.device(device):
                return cls(config).to(dtype)
        except Exception as exc:  # noqa: BLE001 -- any failure: the CPU path below is the reference
            print(f"note: initialisation on {device} failed ({exc!r}); initialising on the CPU", file=sys.stderr)
    return cls(config).to(dtype)


def build(preset: Preset, device: str, out_dir: str, seed: int) -> dict[str, Any]:
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    from rest_rl.data import corpus_texts, to_trl_dataset
    from rest_rl.data.synthetic import SyntheticConfig
    from rest_rl.models import build_bpe_tokenizer
    from rest_rl.integrations.trl import ResTGRPOConfig, ResTGRPOTrainer, make_reward_funcs

    world = SyntheticConfig(seed=seed, p_no_call=0.0)
    tokenizer = build_bpe_tokenizer(corpus_texts(world, n=400), vocab_size=min(2048, preset.vocab))
    if len(tokenizer) > preset.vocab:
        raise SystemExit(f"tokenizer ({len(tokenizer)} ids) larger than the model vocabulary ({preset.vocab})")
    dtype = getattr(torch, preset.dtype)
    config = Qwen3Config(
        vocab_size=preset.vocab,
        hidden_size=preset.hidden,
        num_hidden_layers=preset.layers,
        num_attention_heads=preset.heads,
        num_key_value_heads=preset.kv_heads,
        head_dim=preset.head_dim,
        intermediate_size=preset.intermediate,
        max_position_embeddings=max(4096, preset.prompt + preset.completion),
        tie_word_embeddings=preset.tie_embeddings,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.bos_token_id,
    )
    torch.manual_seed(seed)
    base = _init_model(torch, Qwen3ForCausalLM, config, dtype, device)

    examples, texts = rollout_texts(64, seed)
    completions = fixed_length_ids(tokenizer, texts, preset.completion)
    prompt_ids = fixed_length_ids(tokenizer, [" ".join(texts[:4])], preset.prompt)[0]
    dataset = to_trl_dataset(examples, style="compact")

    common = dict(
        use_cpu=device == "cpu",
        bf16=preset.dtype == "bfloat16",
        gradient_checkpointing=False,
        learning_rate=1e-5,
        save_strategy="no",
        report_to=[],
        logging_steps=10**6,
        per_device_train_batch_size=preset.sequences,
        num_generations=preset.generations,
        max_completion_length=preset.completion,
        max_steps=preset.warmup + preset.steps,
        seed=seed,
        disable_tqdm=True,
    )
    trainers = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
        for arm in ("grpo", "rest"):
            model = copy.deepcopy(base)  # the same weights in both arms
            if arm == "grpo":
                args = GRPOConfig(output_dir=f"{out_dir}/{arm}", **common)
                cls = GRPOTrainer
            else:
                args = ResTGRPOConfig(output_dir=f"{out_dir}/{arm}", rest_scheme="entropy", **common)
                cls = ResTGRPOTrainer
            trainer = cls(
                model=model,
                reward_funcs=make_reward_funcs(),
                args=args,
                train_dataset=dataset,
                processing_class=tokenizer,
                rollout_func=FixedRollouts(prompt_ids, completions, seed),
            )
            trainer.model.train()
            trainer.create_optimizer()
            trainer.state.max_steps = preset.warmup + preset.steps
            trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(), which we bypass
            trainers[arm] = trainer
    del base
    if device.startswith("cuda"):
        torch.cuda.empty_cache()
    return {"trainers": trainers, "dataset": dataset, "tokens_per_step": preset.sequences * (preset.prompt + preset.completion)}


def one_step(trainer: Any, rows: list[dict[str, Any]], probe: Any, device: str) -> tuple[float, float]:
    import torch

    probe.reset()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    trainer.training_step(trainer.model, rows, None)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    trainer.state.global_step += 1
    return seconds, probe.peak_mib()


def run(preset: Preset, device: str, seed: int = 0, log: Any = print) -> dict[str, Any]:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        built = build(preset, device, tmp, seed)
        trainers, dataset = built["trainers"], built["dataset"]
        probe: Any = CudaPeak(torch) if device.startswith("cuda") else CpuPeak()
        n_prompts = preset.sequences // preset.generations
        times: dict[str, list[float]] = {arm: [] for arm in trainers}
        peaks: dict[str, list[float]] = {arm: [] for arm in trainers}
        total = preset.warmup + preset.steps
        for i in range(total):
            start = (i * n_prompts) % max(1, len(dataset) - n_prompts)
            rows = [dict(dataset[start + p]) for p in range(n_prompts) for _ in range(preset.generations)]
            order = ("grpo", "rest") if i % 2 == 0 else ("rest", "grpo")
            for arm in order:
                seconds, peak = one_step(trainers[arm], rows, probe, device)
                if i >= preset.warmup:
                    times[arm].append(seconds)
                    peaks[arm].append(peak)
            if i >= preset.warmup:
                log(
                    f"step {i + 1 - preset.warmup}/{preset.steps}: grpo {times['grpo'][-1]:.3f} s, "
                    f"rest {times['rest'][-1]:.3f} s"
                )
            else:
                log(f"warm-up {i + 1}/{preset.warmup}")
        rest_metrics = {
            k: v[-1] for k, v in trainers["rest"]._metrics["train"].items() if k.startswith("rest/") and v
        }
    summary: dict[str, Any] = {"arms": {}}
    for arm in trainers:
        med = statistics.median(times[arm])
        summary["arms"][arm] = {
            "median_s": med,
            "min_s": min(times[arm]),
            "tokens_per_s": built["tokens_per_step"] / med,
            "peak_mib": max(peaks[arm]),
            "median_peak_mib": statistics.median(peaks[arm]),
            "times_s": times[arm],
        }
    g, r = summary["arms"]["grpo"], summary["arms"]["rest"]
    # Paired ratios: step i of ResT over step i of GRPO (same batch, adjacent in time).
    paired = [b / a for a, b in zip(times["grpo"], times["rest"])]
    summary["time_ratio_median_paired"] = statistics.median(paired)
    summary["time_ratio_of_medians"] = r["median_s"] / g["median_s"]
    summary["peak_ratio"] = r["peak_mib"] / g["peak_mib"]
    summary["memory_probe"] = probe.name
    summary["rest_region_metrics_last_step"] = {k: round(float(v), 4) for k, v in sorted(rest_metrics.items())[:12]}
    return summary


def environment(device: str) -> dict[str, Any]:
    import torch
    import transformers
    import trl

    env = {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "trl": trl.__version__,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": device,
    }
    if device.startswith("cuda"):
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def markdown(preset_name: str, preset: Preset, summary: dict[str, Any], env: dict[str, Any]) -> str:
    g, r = summary["arms"]["grpo"], summary["arms"]["rest"]
    where = env.get("gpu") or f"CPU, {env['torch_threads']} threads"
    lines = [
        f"`--preset {preset_name}` on {where} ({preset.dtype}; hidden {preset.hidden}, {preset.layers} layers, vocabulary "
        f"{preset.vocab:,}; {preset.sequences} sequences x (prompt {preset.prompt} + completion {preset.completion}) per "
        f"step; {preset.steps} measured steps per arm after {preset.warmup} warm-up, alternating)",
        "",
        f"| arm | median s/step | min s/step | tokens/s | {summary['memory_probe']} |",
        "|---|---:|---:|---:|---:|",
        f"| TRL GRPO | {g['median_s']:.3f} | {g['min_s']:.3f} | {g['tokens_per_s']:,.0f} | {g['peak_mib']:,.0f} |",
        f"| ResT (entropy scheme) | {r['median_s']:.3f} | {r['min_s']:.3f} | {r['tokens_per_s']:,.0f} | {r['peak_mib']:,.0f} |",
        "",
        f"ResT / GRPO: time {summary['time_ratio_median_paired']:.3f}x (median of paired steps; ratio of medians "
        f"{summary['time_ratio_of_medians']:.3f}x), peak memory {summary['peak_ratio']:.3f}x. Goals: <= 1.05x, <= 1.02x.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu", help="shapes (see the module docstring)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available, else cpu)")
    parser.add_argument("--steps", type=int, default=None, help="measured steps per arm (default: the preset's)")
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured steps per arm (default: the preset's)")
    parser.add_argument("--sequences", type=int, default=None, help="sequences per step (default: the preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write the full result here")
    args = parser.parse_args(argv)

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers

    transformers.logging.set_verbosity_error()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda but no CUDA device is available")
    preset = PRESETS[args.preset]
    for name in ("steps", "warmup", "sequences"):
        value = getattr(args, name)
        if value is not None:
            if value < (0 if name == "warmup" else 1):
                parser.error(f"--{name} must be positive")
            preset = replace(preset, **{name: value})
    if preset.sequences % preset.generations:
        parser.error(f"--sequences must be a multiple of the preset's generations per prompt ({preset.generations})")
    if device == "cpu" and preset.dtype == "bfloat16":
        print("note: bf16 preset on CPU (slow; CPU numbers are not GPU numbers)", file=sys.stderr)

    summary = run(preset, device, seed=args.seed, log=lambda m: print(m, file=sys.stderr, flush=True))
    env = environment(device)
    table = markdown(args.preset, preset, summary, env)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"preset": args.preset, "shapes": preset.__dict__, "env": env, **summary}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
