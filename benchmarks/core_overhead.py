"""What ResT's core adds on top of a plain clipped policy loss.

Two measurements, printed as markdown tables (paste them into benchmarks/README.md):

1. **Tagging throughput** — completions labelled per second on ONE core (``OMP_NUM_THREADS=1``), by wall
   clock and by the thread's CPU time: single-step completions of about 512 tokens, with the offsets given,
   including the offset computation from the token ids (``token_char_offsets``, list and array output), and
   through ``label_segments`` on ``[8, T]`` tensors as the trainer calls it; and multi-turn completions of 4
   model turns (about 512 model tokens) with 3 tool results between them, each turn labelled on its own.
   Goal: offsets + labels >= 5,000 completions/s per core.
2. **Loss-path overhead at Qwen3's vocabulary (151,936)** — forward + backward through the LM head,
   log-probs and the clipped loss, on hidden states of shape [B, T, H]:
   * ``plain``: what TRL's GRPO loss path does — chunked log-probs of the sampled tokens *and* their
     entropies (TRL 1.16 always computes them, for its entropy metric) + the plain clipped loss;
   * ``rest``: the same, plus region labels (from text and offsets), the entropy-informed token weights
     and the weighted loss;
   * ``logp-only``: log-probs without entropies, a lower bound no GRPO host runs (shown for honesty:
     the entropy pass is the biggest part of what an entropy-based method costs where the host does not
     compute entropies already).
   Each variant runs in its own fresh subprocess so that its peak resident memory (ru_maxrss) is its own.
   Goal: ResT adds <= 5% time and <= 2% peak memory. The model trunk is not included: at real scale it
   dominates the step, so the ratio measured here is an upper bound on ResT's share of a training step.

Run:  .venv/bin/python benchmarks/core_overhead.py                    (about two minutes on 2 cores)
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/core_overhead.py --tagging-only   (tagging, ~1 minute)
      .venv/bin/python benchmarks/core_overhead.py --quick            (smaller shapes, a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

QWEN3_VOCAB = 151_936
VARIANTS = ("plain", "rest", "logp-only")


# ----------------------------------------------------------------------------------------------------------------
# Completions that look like real ToolRL-format rollouts (~512 tokens each)
# ----------------------------------------------------------------------------------------------------------------
def make_completions(n: int, seed: int = 0) -> list[str]:
    import random

    rng = random.Random(seed)
    words = (
        "the user wants to know check whether first I need call tool with parameters because city date amount "
        "then compare results before answering maybe also convert units value should be integer string 🙂 é"
    ).split()
    tools = ["get_weather", "convert_currency", "book_flight", "search_hotels", "send_message", "create_event"]
    out = []
    for _ in range(n):
        think = " ".join(rng.choice(words) for _ in range(rng.randint(125, 155)))
        calls = []
        for _ in range(rng.randint(1, 3)):
            args = {
                "city": rng.choice(["Paris", "São Paulo", "Tokyo", "New \"York\""]),
                "days": rng.randint(1, 14),
                "units": rng.choice(["metric", "imperial"]),
                "flags": {"verbose": rng.random() < 0.5, "tags": ["a", "b{c}"]},
            }
            calls.append(json.dumps({"name": rng.choice(tools), "parameters": args}, ensure_ascii=False))
        body = "\n".join(calls)
        resp = " ".join(rng.choice(words) for _ in range(rng.randint(10, 30)))
        out.append(f"<think> {think} </think>\n<tool_call>\n{body}\n</tool_call>\n<response> {resp} </response>")
    return out


def make_multiturn(n: int, seed: int = 0) -> list[tuple[str, ...]]:
    """Multi-turn completions: 4 model turns (3 with a call, the last one answering) and the tool results
    between them, as TRL's tool loop lays them out; each item alternates model text and tool text."""
    import random

    rng = random.Random(seed)
    words = (
        "the user wants to know check whether first I need call tool with parameters because city date amount "
        "then compare results before answering maybe also convert units value should be integer string 🙂 é"
    ).split()
    tools = ["get_weather", "convert_currency", "book_flight", "search_hotels", "send_message", "create_event"]
    out = []
    for _ in range(n):
        parts: list[str] = []
        for turn in range(4):
            think = " ".join(rng.choice(words) for _ in range(rng.randint(28, 40)))
            if turn < 3:
                args = {"city": rng.choice(["Paris", "São Paulo", "Tokyo"]), "days": rng.randint(1, 14),
                        "units": rng.choice(["metric", "imperial"]), "flags": {"verbose": rng.random() < 0.5}}
                call = json.dumps({"name": rng.choice(tools), "arguments": args}, ensure_ascii=False)
                parts.append(f"<think> {think} </think>\n<tool_call>\n{call}\n</tool_call>")
                result = json.dumps({"temp": rng.randint(-5, 35), "note": "<tool_call> {\"x\": 1"})
                parts.append(f"\n<|im_start|>user\n<tool_response>\n{result}\n</tool_response><|im_end|>\n"
                             "<|im_start|>assistant\n")
            else:
                resp = " ".join(rng.choice(words) for _ in range(rng.randint(20, 30)))
                parts.append(f"<think> {think} </think>\n<response> {resp} </response>")
        out.append(tuple(parts))
    return out


def _rate(fn, n: int, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` completions per second, by wall clock and by this thread's CPU time."""
    best_wall = best_cpu = float("inf")
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.thread_time()
        fn()
        best_cpu = min(best_cpu, time.thread_time() - c0)
        best_wall = min(best_wall, time.perf_counter() - w0)
    return n / best_wall, n / best_cpu


def _padded(rows: list[list[int]], masks: list[list[int]], pad: int, batch: int):
    """Right-padded ``[B, T]`` id and mask tensors, ``batch`` rows at a time (as the trainer hands them over)."""
    import torch

    out = []
    for i in range(0, len(rows), batch):
        chunk, mchunk = rows[i : i + batch], masks[i : i + batch]
        width = max(len(r) for r in chunk)
        ids = torch.full((len(chunk), width), pad, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for b, (r, m) in enumerate(zip(chunk, mchunk)):
            ids[b, : len(r)] = torch.tensor(r)
            mask[b, : len(m)] = torch.tensor(m)
        out.append((ids, mask))
    return out


def bench_tagging(n: int, repeats: int) -> dict:
    """Completions/s on one core for each tagging path (see the README for the table)."""
    import inspect

    import numpy as np
    import torch

    from rest_rl.core import offsets as offsets_module
    from rest_rl.core.offsets import token_char_offsets
    from rest_rl.core.regions import label_tokens
    from rest_rl.core.segments import label_segments
    from rest_rl.models.tokenizer import build_bpe_tokenizer

    torch.set_num_threads(1)
    tok = build_bpe_tokenizer()
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    texts = make_completions(n)
    ids = [tok(t, add_special_tokens=False)["input_ids"] for t in texts]
    decoded = [token_char_offsets(tok, x) for x in ids]
    single_rows = [x + [eos] for x in ids]
    single = _padded(single_rows, [[1] * len(r) for r in single_rows], tok.pad_token_id, 8)

    multi_rows, multi_masks, model_tokens = [], [], []
    for parts in make_multiturn(n, seed=1):
        row: list[int] = []
        mask: list[int] = []
        for k, part in enumerate(parts):
            piece = tok(part, add_special_tokens=False)["input_ids"]
            if k % 2 == 0:  # a model turn, closed by the end-of-turn token
                piece = piece + [eos]
            row += piece
            mask += [1 - k % 2] * len(piece)
        multi_rows.append(row)
        multi_masks.append(mask)
        model_tokens.append(sum(mask))
    multi = _padded(multi_rows, multi_masks, tok.pad_token_id, 8)

    def run_batches(batches):
        for b_ids, b_mask in batches:
            label_segments(tok, b_ids, b_mask)

    np_ids = [np.asarray(x) for x in ids]
    rows = [
        ("single-step", "reference: `tok.decode` alone (numpy ids), the check every path runs",
         statistics.mean(len(x) for x in ids), lambda: [tok.decode(x, skip_special_tokens=True) for x in np_ids]),
        ("single-step", "label_tokens, offsets given (list of pairs)", statistics.mean(len(x) for x in ids),
         lambda: [label_tokens(text, offs) for text, offs in decoded]),
        ("single-step", "label_tokens(*token_char_offsets(tok, ids))", statistics.mean(len(x) for x in ids),
         lambda: [label_tokens(*token_char_offsets(tok, x)) for x in ids]),
    ]
    if "as_array" in inspect.signature(token_char_offsets).parameters:
        rows.append(("single-step", "label_tokens(*token_char_offsets(tok, ids, as_array=True))",
                     statistics.mean(len(x) for x in ids),
                     lambda: [label_tokens(*token_char_offsets(tok, x, as_array=True)) for x in ids]))
    rows += [
        ("single-step", "label_segments, [8, T] tensors (the trainer's call)", statistics.mean(map(len, single_rows)),
         lambda: run_batches(single)),
        ("multi-turn, 4 model turns + 3 tool results", "label_segments, [8, T] tensors",
         statistics.mean(model_tokens), lambda: run_batches(multi)),
    ]
    table_ms = None
    if hasattr(offsets_module, "_VocabBytes"):  # the per-tokenizer table (built on first use, below)
        t0 = time.perf_counter()
        offsets_module._VocabBytes(tok, len(tok))
        table_ms = 1e3 * (time.perf_counter() - t0)
    for _, _, _, fn in rows:
        fn()  # warm up: the tokenizer's per-id bytes are memoised on first use
    results = []
    for workload, path, tokens, fn in rows:
        wall, cpu = _rate(fn, n, repeats)
        results.append({"workload": workload, "path": path, "tokens": tokens, "wall_per_s": wall, "cpu_per_s": cpu})
    return {"completions": n, "rows": results, "table_ms": table_ms, "vocab": len(tok)}


# ----------------------------------------------------------------------------------------------------------------
# Loss path at Qwen3's vocabulary, one variant per subprocess
# ----------------------------------------------------------------------------------------------------------------
def run_variant(variant: str, batch: int, seq: int, hidden: int, vocab: int, iters: int, chunk: int) -> dict:
    import torch

    from rest_rl.core.advantages import grpo_advantages
    from rest_rl.core.entropy import chunked_logprobs_and_entropy
    from rest_rl.core.loss import clipped_policy_loss
    from rest_rl.core.offsets import token_char_offsets
    from rest_rl.core.regions import label_batch
    from rest_rl.core.weights import WeightConfig, token_weights
    from rest_rl.models.tokenizer import build_bpe_tokenizer

    torch.manual_seed(0)
    tok = build_bpe_tokenizer()
    # Real completions give the region labels; their token ids are re-mapped into the big vocabulary.
    texts = make_completions(batch, seed=1)
    id_lists = [tok(t, add_special_tokens=False)["input_ids"][:seq] for t in texts]
    decoded = [token_char_offsets(tok, x) for x in id_lists]
    labels = torch.zeros(batch, seq, dtype=torch.long)
    mask = torch.zeros(batch, seq, dtype=torch.bool)
    for i, x in enumerate(id_lists):
        labels[i, : len(x)] = torch.tensor(x) * 97 % vocab
        mask[i, : len(x)] = True
    head = torch.randn(vocab, hidden) * 0.02
    head.requires_grad_(True)
    h0 = torch.randn(batch, seq, hidden)
    rewards = torch.randn(batch)
    adv = grpo_advantages(rewards, group_size=batch)
    cfg = WeightConfig(scheme="entropy")

    base_rss_kb = _current_rss_kb()
    times = []
    for it in range(iters + 1):
        h = h0.clone().requires_grad_(True)
        t0 = time.perf_counter()
        if variant == "logp-only":
            logp, _ = chunked_logprobs_and_entropy(h, head, labels, chunk_size=chunk, compute_entropy=False)
            out = clipped_policy_loss(logp, logp.detach(), adv, mask, aggregation="seq-mean-token-mean")
        elif variant == "plain":
            logp, ent = chunked_logprobs_and_entropy(h, head, labels, chunk_size=chunk, compute_entropy=True)
            out = clipped_policy_loss(logp, logp.detach(), adv, mask, aggregation="seq-mean-token-mean")
            _ = float((ent * mask).sum() / mask.sum())  # the mean-entropy metric TRL logs
        else:
            logp, ent = chunked_logprobs_and_entropy(h, head, labels, chunk_size=chunk, compute_entropy=True)
            regions = label_batch([d[0] for d in decoded], [d[1] for d in decoded], max_len=seq)
            w = token_weights(regions, mask, cfg, entropy=ent.detach(), progress=it / max(1, iters)).weights
            out = clipped_policy_loss(logp, logp.detach(), adv, mask, w, aggregation="seq-mean-token-mean")
        out.loss.backward()
        dt = time.perf_counter() - t0
        head.grad = None
        if it > 0:  # the first iteration warms up allocators and kernels
            times.append(dt)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "variant": variant,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "peak_rss_mb": peak_kb / 1024,
        "peak_over_start_mb": (peak_kb - base_rss_kb) / 1024,
    }


def _current_rss_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bench_loss(args: argparse.Namespace) -> list[dict]:
    results = []
    # Alternate plain / rest so that machine noise hits both alike.
    for rep in range(args.rounds):
        for variant in VARIANTS:
            cmd = [
                sys.executable, __file__, "--child", variant, "--batch", str(args.batch), "--seq", str(args.seq),
                "--hidden", str(args.hidden), "--vocab", str(args.vocab), "--iters", str(args.iters),
                "--chunk", str(args.chunk),
            ]
            res = subprocess.run(cmd, check=True, capture_output=True, text=True)
            results.append(json.loads(res.stdout.strip().splitlines()[-1]))
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small shapes, for a smoke run")
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--vocab", type=int, default=QWEN3_VOCAB)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--rounds", type=int, default=2, help="alternating plain/rest subprocess pairs")
    p.add_argument("--tag-n", type=int, default=2000, help="completions for the tagging benchmark")
    p.add_argument("--tag-repeats", type=int, default=5, help="timed passes per tagging path (the best is kept)")
    p.add_argument("--tagging-only", action="store_true", help="only the tagging benchmark (about a minute)")
    p.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.child:
        os.environ.setdefault("OMP_NUM_THREADS", "2")
        r = run_variant(args.child, args.batch, args.seq, args.hidden, args.vocab, args.iters, args.chunk)
        print(json.dumps(r))
        return

    if args.quick:
        args.batch, args.seq, args.iters, args.rounds, args.tag_n, args.tag_repeats = 1, 128, 2, 1, 200, 2

    print(f"# core_overhead — {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}")
    load_before = os.getloadavg()
    tag = bench_tagging(args.tag_n, repeats=args.tag_repeats)
    load_after = os.getloadavg()
    print(f"\n## Tagging (one core, {tag['completions']} completions per path, best of {args.tag_repeats})\n")
    print(f"Load average (1 min) {load_before[0]:.2f} before, {load_after[0]:.2f} after, on {os.cpu_count()} cores. "
          "completions/s by wall clock and by this thread's CPU time (other jobs on the machine slow the first).\n")
    print("| workload | path | model tokens | completions/s (wall) | completions/s (CPU time) |")
    print("|---|---|---:|---:|---:|")
    for r in tag["rows"]:
        print(f"| {r['workload']} | {r['path']} | {r['tokens']:.0f} | {r['wall_per_s']:,.0f} | {r['cpu_per_s']:,.0f} |")
    if tag["table_ms"] is not None:
        print(f"\nPer-tokenizer byte table (built once, on first use): {tag['table_ms']:.1f} ms for {tag['vocab']} ids.")
    print("\nGoal: offsets + labels >= 5,000 completions of ~512 tokens per second per core.")
    if args.tagging_only:
        return

    res = bench_loss(args)
    by = {v: [r for r in res if r["variant"] == v] for v in VARIANTS}
    def tmin(v: str) -> float:
        return min(r["min_s"] for r in by[v])

    def tmed(v: str) -> float:
        return statistics.median(r["median_s"] for r in by[v])

    def peak(v: str) -> float:
        return max(r["peak_rss_mb"] for r in by[v])

    print(f"\n## Loss path: B={args.batch}, T={args.seq}, H={args.hidden}, V={args.vocab:,}, chunk={args.chunk}, "
          f"{args.iters} timed iterations x {args.rounds} alternating rounds, torch threads=2\n")
    print("| variant | min time / step (s) | median time / step (s) | peak RSS (MB) | peak over start (MB) |")
    print("|---|---:|---:|---:|---:|")
    for v in VARIANTS:
        d = max(r["peak_over_start_mb"] for r in by[v])
        print(f"| {v} | {tmin(v):.3f} | {tmed(v):.3f} | {peak(v):,.0f} | {d:,.0f} |")
    print(f"| **rest / plain** | **{tmin('rest') / tmin('plain'):.3f}x** (goal <= 1.05x) | "
          f"{tmed('rest') / tmed('plain'):.3f}x | **{peak('rest') / peak('plain'):.3f}x** (goal <= 1.02x) | |")
    print(f"| rest / logp-only | {tmin('rest') / tmin('logp-only'):.3f}x | {tmed('rest') / tmed('logp-only'):.3f}x | "
          f"{peak('rest') / peak('logp-only'):.3f}x | |")
    print("\nRatios of time use the minimum over all timed iterations (other load only adds time).")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    main()
