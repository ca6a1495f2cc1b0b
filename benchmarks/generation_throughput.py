"""Generation throughput of the HF engine on the tiny model (CPU): prompts/s and tokens/s.

Builds the tiny Qwen3 model of ``rest_rl.models`` in a temporary directory and times
``HFEngine.generate`` (greedy, chat template, length-sorted left-padded batches) for a few batch
sizes on two workloads: real API-Bank prompts (about 2k tokens each with the tiny vocabulary; skipped
when the data folder is absent) and short chat prompts. The tiny model is random, so it never stops
early: every prompt generates exactly ``--max-new-tokens`` tokens. Numbers measure the engine's
overhead and batching, not a real model's speed.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/generation_throughput.py [--prompts 16] [--max-new-tokens 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
from pathlib import Path

import torch

from rest_rl.eval.engines import GenerationRequest, HFEngine
from rest_rl.models import TinyModelConfig, save_tiny_model

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "api_bank"

SHORT = [
    "What's the weather in Paris tomorrow?",
    "Book a table for four at 7pm, window seat if possible.",
    "Convert 100 USD to EUR.",
    "Send an email to support@techhelp.org with subject report and body hello world.",
    "List the files in /home/user/docs recursively.",
    "hi",
]


def workloads(data_dir: Path, n: int) -> dict[str, list[GenerationRequest]]:
    out: dict[str, list[GenerationRequest]] = {}
    if data_dir.is_dir():
        from rest_rl.eval.apibank import load_apibank

        samples = load_apibank(data_dir)
        out["api-bank prompts"] = [s.request() for s in samples[:: max(1, len(samples) // n)][:n]]
    out["short chat prompts"] = [
        GenerationRequest(messages=[{"role": "user", "content": SHORT[i % len(SHORT)] + f" ({i})"}]) for i in range(n)
    ]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=16, help="prompts per workload (default: 16)")
    parser.add_argument("--max-new-tokens", type=int, default=32, help="tokens generated per prompt (default: 32)")
    parser.add_argument("--batch-sizes", default="1,4,8", help="comma-separated batch sizes (default: 1,4,8)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="API-Bank folder (optional)")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b.strip()]

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = save_tiny_model(Path(tmp) / "tiny", config=TinyModelConfig(max_positions=4096))
        engine = HFEngine(str(model_dir), device="cpu")
        params = sum(p.numel() for p in engine.model.parameters())
        extra = " ".join(argv if argv is not None else sys.argv[1:])
        print(f"command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} {os.path.relpath(sys.executable)} "
              f"benchmarks/generation_throughput.py {extra}".rstrip())
        print(f"python {platform.python_version()}, torch {torch.__version__} ({torch.get_num_threads()} threads) on "
              f"{platform.machine()}; tiny Qwen3 model, {params / 1e6:.2f}M parameters, float32, CPU")
        print()
        print("| workload           | batch | prompts | prompt tok/prompt | new tok | seconds | prompts/s | new tok/s | all tok/s |")
        print("| :----------------- | ----: | ------: | ----------------: | ------: | ------: | --------: | --------: | --------: |")
        for name, requests in workloads(args.data_dir, args.prompts).items():
            engine.generate(requests[:2], max_new_tokens=4, progress=False)  # warm-up
            for bs in batch_sizes:
                engine.batch_size = bs
                engine.generate(requests, max_new_tokens=args.max_new_tokens, progress=False)
                st = engine.last_stats
                secs = st["seconds"]
                print(f"| {name:<18} | {bs:>5} | {int(st['prompts']):>7} | {st['prompt_tokens'] / st['prompts']:>17.0f} | "
                      f"{int(st['generated_tokens']):>7} | {secs:>7.2f} | {st['prompts'] / secs:>9.2f} | "
                      f"{st['generated_tokens'] / secs:>9.1f} | {(st['prompt_tokens'] + st['generated_tokens']) / secs:>9.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
