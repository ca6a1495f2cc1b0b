"""Throughput of the ToolRL reward on one core: rewards per second for typical completions.

Completions are the real ToolRL gold answers (``../shared/data/toolrl``: 400 SFT answers with real
reasoning, 80 RL answers) and perturbed copies of them (a wrong value, an extra call, a bad JSON
line, a missing think, truncation), scored against the gold calls. Without the data folder a
synthetic set of the same shapes is used. Goal: >= 5,000 rewards/s per core.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/reward_throughput.py [--seconds 2] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rest_rl.rewards import RewardConfig, gold_from_text, toolrl_reward
from rest_rl.toolcall import ToolCall, render_toolrl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "toolrl"

Case = tuple[str, list[ToolCall] | None, bool]  # completion, gold calls, gold has response


def _golds(data: Path) -> list[str]:
    texts: list[str] = []
    sft = data / "rlla_sft.json"
    if sft.is_file():
        texts += [r["output"] for r in json.loads(sft.read_text(encoding="utf-8"))]
    parquet = data / "rlla_4k_test.parquet"
    if parquet.is_file():
        try:
            import pandas as pd

            table = pd.read_parquet(parquet)
            texts += [r["ground_truth"] for r in table["reward_model"]]
        except ImportError:
            pass
    if not texts:  # synthetic stand-ins of the same shape
        think = "Let me look at the tools and the user's request carefully. " * 20
        for i in range(100):
            calls = [ToolCall(f"tool_{i}", {"query": f"q{i}", "limit": i, "lang": "en"})]
            if i % 3 == 0:
                calls.append(ToolCall("other", {"id": str(i)}))
            texts.append(render_toolrl(calls if i % 5 else None, think=think, response=None if i % 5 else "Hi."))
    return texts


def _perturb(calls: list[ToolCall]) -> dict[str, list[ToolCall]]:
    first = calls[0]
    wrong = dict(first.arguments)
    for k in wrong:
        wrong[k] = "WRONG"
        break
    return {
        "wrong value": [ToolCall(first.name, wrong)] + calls[1:],
        "extra call": calls + [ToolCall("unrelated_tool", {"x": 1})],
    }


def build_cases(data: Path) -> dict[str, list[Case]]:
    names = ("gold (exact)", "wrong value", "extra call", "bad JSON line", "no think", "truncated", "8 KB think")
    cases: dict[str, list[Case]] = {k: [] for k in names}
    for text in _golds(data):
        calls, has_response = gold_from_text(text)
        cases["gold (exact)"].append((text, calls, has_response))
        if not calls:
            continue
        parsed_think = text.split("</think>")[0].replace("<think>", "").strip()
        for name, pred in _perturb(calls).items():
            cases[name].append((render_toolrl(pred, think=parsed_think), calls, has_response))
        rendered = render_toolrl(calls, think=parsed_think)
        cases["bad JSON line"].append((rendered.replace("</tool_call>", '{"name": "x", \n</tool_call>'), calls, has_response))
        cases["no think"].append((render_toolrl(calls), calls, has_response))
        cases["truncated"].append((rendered[: len(rendered) * 3 // 4], calls, has_response))
        long_think = (parsed_think + " ") * (8000 // max(1, len(parsed_think)) + 1)
        cases["8 KB think"].append((render_toolrl(calls, think=long_think[:8000]), calls, has_response))
    return cases


def measure(fn: Callable[[], Any], n_items: int, seconds: float) -> float:
    """Items per second of ``fn`` (which processes ``n_items``), best of repeated passes."""
    best = float("inf")
    deadline = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best = min(best, dt)
        if time.perf_counter() > deadline:
            return n_items / best


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=1.0, help="time budget per row")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="folder with the ToolRL files")
    args = parser.parse_args(argv)

    cases = build_cases(args.data)
    configs = {
        "relaxed/dynamic": RewardConfig(),
        "strict/static": RewardConfig(format_check="strict", schedule="static"),
        "tool_n1": RewardConfig(variant="tool_n1"),
    }
    extra = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: OMP_NUM_THREADS=1 {os.path.relpath(sys.executable)} benchmarks/reward_throughput.py {extra}")
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.processor() or 'cpu'}; "
          f"data: {'real ToolRL answers' if args.data.is_dir() else 'synthetic'}")
    header = f"| {'completions':<16} | {'config':<16} | {'n':>4} | {'mean chars':>10} | {'us/reward':>9} | {'rewards/s':>9} |"
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    all_cases: list[Case] = [c for group in cases.values() for c in group]
    rows = list(cases.items()) + [("all (mixed)", all_cases)]
    for label, group in rows:
        if not group:
            continue
        mean_chars = sum(len(c[0]) for c in group) / len(group)
        for cname, cfg in configs.items():
            if label != "all (mixed)" and cname != "relaxed/dynamic":
                continue

            def run(group: list[Case] = group, cfg: RewardConfig = cfg) -> None:
                for completion, gold, has_response in group:
                    toolrl_reward(completion, gold, gold_has_response=has_response, progress=0.3, config=cfg)

            rate = measure(run, len(group), args.seconds)
            print(f"| {label:<16} | {cname:<16} | {len(group):>4} | {mean_chars:>10.0f} | {1e6 / rate:>9.1f} | {rate:>9,.0f} |")


if __name__ == "__main__":
    main()
