"""Tool-loop rollout throughput on the tiny model: episodes/s of TRL's multi-turn tool loop with ResT labelling.

One rollout batch is what ``ResTGRPOTrainer._generate_and_score_completions`` does before the loss: TRL's tool
loop (generate a turn, parse its tool calls, run them in the environment, append the results, generate the next
turn, ...), the rewards (:func:`rest_rl.envs.outcome_reward`), TRL's own bookkeeping, and ResT's region labels of
every model turn (``label_regions`` -> :func:`rest_rl.core.segments.label_segments`). The world is the project's
multi-turn tool world (:mod:`rest_rl.envs`: ``make_tasks``, ``to_grpo_row``, ``environment_factory=ENVIRONMENTS``).

Two ways to generate:

* ``real`` (default): the tiny Qwen3-architecture model (``make_embedded_model``, tokenizer trained on the world's
  rendered gold conversations) samples every turn with TRL's transformers generation path. An untrained model
  writes no tool calls, so it first gets a short SFT warm start on gold conversations (plain torch, assistant
  tokens only; not timed) -- enough to write ``<tool_call>`` blocks, not to solve tasks;
* ``scripted``: a gold agent replaces ``_generate_single_turn`` (as in ``tests/envs/test_trl_contract.py``): every
  episode runs its full 2-4 turns, so tool execution and labelling are measured without the cost of generation.

Each part is timed inside the run by wrapping it: generation (``_generate_single_turn``), tool execution
(``Episode._direct_call``, the guard every tool call passes), rewards (``outcome_reward``) and labelling
(``label_regions``); "TRL other" is the rest (parsing, chat-template re-tokenisation, padding, old log-probs).
Shares are of the wall time; episodes/s is given by wall clock and by the main thread's CPU time (everything
runs in it with one torch thread), which other jobs on a shared machine disturb less. Torch runs on
``--threads`` threads (default 1: the machine is shared).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tool_loop_throughput.py              (~1-2 minutes)
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/tool_loop_throughput.py --generation scripted
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

_PROMPT_TURN = re.compile(r"<\|im_start\|>assistant\n(.*?)(?:<\|im_end\|>|$)", flags=re.S)


class Timers:
    """Seconds spent in each wrapped part, accumulated."""

    def __init__(self) -> None:
        self.total: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, fn: Any) -> Any:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.total[name] += time.perf_counter() - t0

        timed.__name__ = getattr(fn, "__name__", name)
        timed.__doc__ = getattr(fn, "__doc__", None)
        return timed


def render_corpus(tasks: list[Any]) -> list[str]:
    """The gold conversations rendered with the tool-aware chat template (the tiny tokenizer's corpus)."""
    from rest_rl.envs import gold_messages, tool_schemas
    from rest_rl.models.tokenizer import TOOLS_CHAT_TEMPLATE, build_bpe_tokenizer

    renderer = build_bpe_tokenizer(chat_template=TOOLS_CHAT_TEMPLATE)
    return [renderer.apply_chat_template(gold_messages(t), tools=tool_schemas(t), tokenize=False) for t in tasks]


def build_model(out: Path, corpus: list[str], config: Any) -> Path:
    """The embedded tiny model directory with a tokenizer trained on ``corpus`` (``make_embedded_model(corpus=...)``;
    built from the same public pieces where that keyword is not there yet)."""
    import inspect

    from rest_rl.models.tiny import build_tiny_model, make_embedded_model
    from rest_rl.models.tokenizer import IM_END, TOOLS_CHAT_TEMPLATE, TOOLS_RESPONSE_TEMPLATE, build_bpe_tokenizer

    if "corpus" in inspect.signature(make_embedded_model).parameters:
        return make_embedded_model(out, corpus=corpus, config=config)
    tok = build_bpe_tokenizer(
        corpus, vocab_size=1024, chat_template=TOOLS_CHAT_TEMPLATE, eos_token=IM_END, response_template=TOOLS_RESPONSE_TEMPLATE
    )
    out.mkdir(parents=True, exist_ok=True)
    tok.save_pretrained(out)
    build_tiny_model(tok, config).save_pretrained(out)
    return out


def warm_start(model: Any, tok: Any, texts: list[str], steps: int, batch: int, lr: float, seed: int) -> dict:
    """Short SFT on gold conversations: next-token loss on the assistant turns only (plain torch)."""
    import random

    import torch

    rng = random.Random(seed)
    examples = []
    for text in texts:
        enc = tok(text, add_special_tokens=False, return_offsets_mapping=True)
        spans = [(m.start(1), m.end()) for m in _PROMPT_TURN.finditer(text)]
        labels = [
            tid if any(s <= a < e for s, e in spans) else -100
            for tid, (a, _) in zip(enc["input_ids"], enc["offset_mapping"])
        ]
        examples.append((enc["input_ids"], labels))
    pad = tok.pad_token_id
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    t0 = time.perf_counter()
    for _ in range(steps):
        chunk = rng.sample(examples, batch)
        width = max(len(x) for x, _ in chunk)
        ids = torch.full((batch, width), pad, dtype=torch.long)
        lab = torch.full((batch, width), -100, dtype=torch.long)
        att = torch.zeros((batch, width), dtype=torch.long)
        for b, (x, y) in enumerate(chunk):
            ids[b, : len(x)] = torch.tensor(x)
            lab[b, : len(y)] = torch.tensor(y)
            att[b, : len(x)] = 1
        loss = model(input_ids=ids, attention_mask=att, labels=lab).loss
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return {"steps": steps, "seconds": time.perf_counter() - t0, "loss_first": losses[0], "loss_last": losses[-1]}


class GoldAgent:
    """Stands in for ``GRPOTrainer._generate_single_turn``: reads the conversation so far and writes the next gold
    turn of the task whose request it finds (the pattern of ``tests/envs/test_trl_contract.py``)."""

    def __init__(self, tokenizer: Any, tasks: list[Any]) -> None:
        self.tokenizer = tokenizer
        self.tasks = {t.request: t for t in tasks}

    def __call__(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        return [self.turn(ids) for ids in prompt_ids], None

    def turn(self, ids: list[int]) -> list[int]:
        text = self.tokenizer.decode(ids)
        task = next(t for request, t in self.tasks.items() if f"user\n{request}<|im_end|>" in text)
        done = text.count("<|im_start|>assistant") - 1  # the last header opens the turn to write
        if done < len(task.gold):
            out = "\n".join(
                "<tool_call>\n" + json.dumps({"name": c["name"], "arguments": c["arguments"]}) + "\n</tool_call>"
                for c in task.gold[done]
            )
        else:
            out = task.answer
        return self.tokenizer(out, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--generation", choices=["real", "scripted"], default="real")
    p.add_argument("--steps", type=int, default=6, help="timed rollout batches (after one warm-up batch)")
    p.add_argument("--prompts", type=int, default=4, help="prompts per batch")
    p.add_argument("--num-generations", type=int, default=4, help="episodes per prompt (GRPO group size)")
    p.add_argument("--max-completion-length", type=int, default=512)
    p.add_argument("--max-tool-iterations", type=int, default=4)
    p.add_argument("--sft-steps", type=int, default=200, help="warm-start steps before real generation")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="also write the numbers here")
    args = p.parse_args()

    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from rest_rl.envs import ENVIRONMENTS, TaskConfig, make_tasks, outcome_reward, to_grpo_row
    from rest_rl.envs import episode as episode_module
    from rest_rl.integrations.trl import ResTGRPOConfig, ResTGRPOTrainer
    from rest_rl.models.tiny import TinyModelConfig

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    load_before = os.getloadavg()
    setup0 = time.perf_counter()
    batch = args.prompts * args.num_generations
    n_rollout_tasks = args.prompts * (args.steps + 1)
    tasks = make_tasks(TaskConfig(n_train=600 + n_rollout_tasks, n_validation=0, n_test=0, seed=args.seed))["train"]
    sft_tasks, rollout_tasks = tasks[:600], tasks[600:]

    work = Path(tempfile.mkdtemp(prefix="tool_loop_bench_"))
    model_dir = build_model(work / "model", render_corpus(sft_tasks), TinyModelConfig(max_positions=2048))
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    sft = None
    if args.generation == "real" and args.sft_steps > 0:
        sft = warm_start(model, tok, render_corpus(sft_tasks), args.sft_steps, 8, 3e-3, args.seed)

    timers = Timers()
    reward = timers.wrap("rewards", outcome_reward)
    rows = [to_grpo_row(t) for t in rollout_tasks]
    config = ResTGRPOConfig(
        output_dir=str(work / "out"), use_cpu=True, bf16=False, gradient_checkpointing=False, report_to=[],
        save_strategy="no", max_steps=1, per_device_train_batch_size=batch, num_generations=args.num_generations,
        max_completion_length=args.max_completion_length, max_tool_calling_iterations=args.max_tool_iterations,
        seed=args.seed, disable_tqdm=True, logging_steps=1, temperature=1.0,
    )  # fmt: skip
    trainer = ResTGRPOTrainer(
        model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tok,
        reward_funcs=[reward], environment_factory=ENVIRONMENTS,
    )  # fmt: skip
    if args.generation == "scripted":
        trainer._generate_single_turn = GoldAgent(tok, rollout_tasks)
    trainer._generate_single_turn = timers.wrap("generation", trainer._generate_single_turn)
    trainer.label_regions = timers.wrap("labelling", trainer.label_regions)
    episode_module.Episode._direct_call = timers.wrap("tool execution", episode_module.Episode._direct_call)
    setup_s = time.perf_counter() - setup0

    per_step = []
    turns: list[int] = []
    calls: list[int] = []
    model_tokens = 0
    for step in range(args.steps + 1):
        chunk = [dict(r) for r in rows[step * args.prompts : (step + 1) * args.prompts] for _ in range(args.num_generations)]
        timers.total.clear()
        t0, c0 = time.perf_counter(), time.thread_time()
        with torch.no_grad():
            out = trainer._generate_and_score_completions(chunk)
        wall, cpu = time.perf_counter() - t0, time.thread_time() - c0
        if step == 0:
            continue  # warm-up: first calls, caches, the tokenizer's byte table
        parts = dict(timers.total)
        parts["TRL other"] = wall - sum(parts.values())
        per_step.append({"wall": wall, "cpu": cpu, **parts})
        model_mask = out["completion_mask"] * out.get("tool_mask", torch.ones_like(out["completion_mask"]))
        model_tokens += int(model_mask.sum())
        for env in trainer.environments:
            calls.append(len(env.episode.history))
        for row in model_mask.tolist():
            runs, prev = 0, 0
            for v in row:
                runs += int(v and not prev)
                prev = v
            turns.append(runs)

    load_after = os.getloadavg()
    total = sum(s["wall"] for s in per_step)
    episodes = batch * len(per_step)
    names = ["generation", "tool execution", "labelling", "rewards", "TRL other"]
    share = {k: sum(s.get(k, 0.0) for s in per_step) / total for k in names}
    result = {
        "generation": args.generation, "threads": args.threads, "batch": batch, "steps": len(per_step),
        "episodes": episodes, "seconds": total, "episodes_per_s": episodes / total,
        "episodes_per_cpu_s": episodes / sum(s["cpu"] for s in per_step),
        "median_step_s": statistics.median(s["wall"] for s in per_step), "share": share,
        "labelling_ms_per_episode": 1e3 * share["labelling"] * total / episodes,
        "mean_turns": statistics.mean(turns), "mean_tool_calls": statistics.mean(calls),
        "model_tokens_per_episode": model_tokens / episodes, "setup_s": setup_s, "sft": sft,
        "load_before": load_before[0], "load_after": load_after[0],
    }  # fmt: skip
    print(f"# tool_loop_throughput -- {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"torch threads {args.threads}, load average (1 min) {load_before[0]:.2f} before / {load_after[0]:.2f} after\n")
    if sft:
        print(f"warm start: {sft['steps']} SFT steps in {sft['seconds']:.1f} s (loss {sft['loss_first']:.2f} -> "
              f"{sft['loss_last']:.2f}), not timed below\n")
    print(f"| generation | episodes/step | steps | episodes/s (wall) | episodes/s (CPU time) | median s/step | turns/episode | "
          f"tool calls/episode | model tokens/episode | generation | tool execution | labelling | rewards | TRL other |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    print(f"| {args.generation} | {batch} | {len(per_step)} | {result['episodes_per_s']:.2f} | "
          f"{result['episodes_per_cpu_s']:.2f} | {result['median_step_s']:.2f} | "
          f"{result['mean_turns']:.2f} | {result['mean_tool_calls']:.2f} | {result['model_tokens_per_episode']:.0f} | "
          + " | ".join(f"{100 * share[k]:.1f}%" for k in names) + " |")
    print(f"\nResT labelling: {result['labelling_ms_per_episode']:.2f} ms per episode "
          f"({100 * share['labelling']:.2f}% of the rollout time).")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
