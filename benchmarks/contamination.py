"""Speed of the contamination check (``rest-rl data check``) at the size of the full rlla_4k mix.

The training side is the shared ToolRL / Hammer files (``../shared/data/toolrl/rlla_sft.json``,
``rlla_4k_test.parquet``, ``../shared/data/hammer/masking_sft_data_example.json``: 490 examples through
the training loaders), repeated ``--repeat`` times (default 10: 4,900 examples, more than rlla_4k's
4,000), with 50 planted copies of benchmark prompts (25 exact after normalisation, 25 embedded in a
longer request) so that matches are found and reported too. The benchmark side is all 597 API-Bank
samples and all 4,441 BFCL v3 entries. Timed: building the index once (reading the benchmark data
included, bfcl-eval's import excluded), then :func:`rest_rl.eval.contamination.find_overlaps` over the
examples with that index, best and median of ``--rounds`` rounds.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/contamination.py [--repeat 10] [--rounds 5]

Result on the reference machine (2 CPU cores shared with other work, x86_64, Python 3.11.7), printed
by that command::

    index: 597 apibank + 4441 bfcl prompts, 89,424 distinct 8-grams, built in 1.25 s
    examples: 4,900 (490 shared x 10, 50 planted)
    find_overlaps: best 0.102 s, median 0.108 s -> 48,038 examples/s (best), 45,299 examples/s (median)
    flagged: 50 (25 exact, 25 near-duplicate); planted found: 50/50

So checking the full rlla_4k mix costs about 0.1 s once the index is built (about 1 s, once per process).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

from rest_rl.data.schema import ToolExample
from rest_rl.data.selection import DataSection, load_examples
from rest_rl.eval.bfcl.official import load_bfcl
from rest_rl.eval.contamination import BenchmarkIndex, apibank_prompts, bfcl_prompts, find_overlaps

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def shared_examples() -> list[ToolExample]:
    """The shared ToolRL and Hammer files, through the training loaders."""
    sources = [
        ("toolrl_sft", SHARED / "toolrl" / "rlla_sft.json"),
        ("toolrl_rl", SHARED / "toolrl" / "rlla_4k_test.parquet"),
        ("hammer", SHARED / "hammer" / "masking_sft_data_example.json"),
    ]
    out: list[ToolExample] = []
    for source, path in sources:
        if not path.is_file():
            sys.exit(f"missing {path}: this benchmark reads the shared data folder")
        out += load_examples(DataSection(source=source, path=str(path)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=10, help="copies of the shared examples (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    args = parser.parse_args()

    load_bfcl()  # import bfcl-eval before timing (a one-off 2 s, not part of the check)
    t0 = time.perf_counter()
    prompts = apibank_prompts(SHARED / "api_bank") + bfcl_prompts()
    index = BenchmarkIndex(prompts)
    build = time.perf_counter() - t0
    counts = index.counts()

    base = shared_examples()
    examples = [ToolExample(id=f"{e.id}#{k}", source=e.source, tools=e.tools, messages=e.messages,
                            gold_calls=e.gold_calls, gold_response=e.gold_response)  # fmt: skip
                for k in range(args.repeat) for e in base]  # fmt: skip
    long_prompts = [p for p in prompts if len(p.text.split()) >= 12]
    step = max(1, len(long_prompts) // 50)
    for n, prompt in enumerate(long_prompts[::step][:50]):
        text = prompt.text.upper() if n % 2 == 0 else "Hello, quick question. " + prompt.text + " Thanks in advance!"
        examples[n * (len(examples) // 50)] = ToolExample(id=f"planted-{n}", source="planted", tools=[], messages=[{"role": "user", "content": text}])

    times = []
    report = None
    for _ in range(args.rounds):
        t = time.perf_counter()
        report = find_overlaps(examples, index=index)
        times.append(time.perf_counter() - t)
    assert report is not None
    best, median = min(times), statistics.median(times)
    c = report.counts()
    print(f"machine: {platform.platform()}, Python {platform.python_version()}")
    print(f"index: {counts.get('apibank', 0)} apibank + {counts.get('bfcl', 0)} bfcl prompts, "
          f"{len(index.postings):,} distinct {index.n}-grams, built in {build:.2f} s")  # fmt: skip
    print(f"examples: {len(examples):,} ({len(base)} shared x {args.repeat}, 50 planted)")
    print(f"find_overlaps: best {best:.3f} s, median {median:.3f} s -> {len(examples) / best:,.0f} examples/s (best), "
          f"{len(examples) / median:,.0f} examples/s (median)")  # fmt: skip
    planted = sum(1 for o in report.overlaps if o.example_source == "planted")
    print(f"flagged: {report.flagged} ({c['exact']} exact, {c['near']} near-duplicate); planted found: {planted}/50")


if __name__ == "__main__":
    main()
