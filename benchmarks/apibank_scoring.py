"""Time to score all 597 API-Bank samples from a predictions file (goal: <= 2 s on one core).

What is timed is everything ``rest-rl eval apibank`` does after generation: read the three level
files, read ``predictions.jsonl``, re-parse every raw output by ToolRL's rule and score it strictly
and leniently, aggregate per level. Without ``--predictions`` a file is synthesised from the real
gold answers: a mix of exact answers, wrong values, retyped values (``"1"`` -> ``1``), extra calls,
malformed JSON lines, truncated blocks and answers behind a 2 KB thought.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/apibank_scoring.py [--data-dir DIR] [--predictions FILE] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

from rest_rl.eval.apibank import (
    ApiBankSample,
    load_apibank,
    prediction_record,
    score_predictions,
    scores_table,
)
from rest_rl.eval.runs import append_jsonl, read_predictions
from rest_rl.toolcall import ToolCall, render_toolrl

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "api_bank"


def synthetic_output(sample: ApiBankSample, i: int) -> str:
    """A deterministic completion for ``sample``; the kind rotates with ``i``."""
    gold = sample.gold
    kind = i % 7
    think = "The user wants this done; I should pick the right tool and fill every parameter. " * (25 if kind == 6 else 1)
    if kind in (0, 6):
        return render_toolrl([gold], think=think.strip(), response="Done.")
    if kind == 1 and gold.arguments:
        key = next(iter(gold.arguments))
        return render_toolrl([ToolCall(gold.name, dict(gold.arguments, **{key: "WRONG"}))], think=think)
    if kind == 2:
        retyped = {k: (int(v) if v.isdigit() and len(v) < 10 else v) for k, v in gold.arguments.items()}
        return render_toolrl([ToolCall(gold.name, retyped)], think=think)
    if kind == 3:
        return render_toolrl([ToolCall("OtherTool", {"x": "1"}), gold], think=think)
    if kind == 4:
        return render_toolrl([gold], think=think).replace("<tool_call>\n", '<tool_call>\n{"name": "broken", \n')
    rendered = render_toolrl([gold], think=think)
    return rendered[: len(rendered) - 15]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help="folder with level-{1,2,3}-api_processed.json")
    parser.add_argument("--predictions", type=Path, help="a predictions.jsonl to score (default: synthesised)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repetitions (default: 5)")
    args = parser.parse_args(argv)
    if not args.data_dir.is_dir():
        print(f"API-Bank files not found in {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory() as tmp:
        path = args.predictions
        if path is None:
            samples = load_apibank(args.data_dir)
            path = Path(tmp) / "predictions.jsonl"
            append_jsonl(path, [prediction_record(s, synthetic_output(s, i)) for i, s in enumerate(samples)])
        size_kb = path.stat().st_size / 1024

        times: list[float] = []
        scores = None
        for _ in range(max(1, args.repeats)):
            t0 = time.perf_counter()
            samples = load_apibank(args.data_dir)
            records = read_predictions(path)
            scores = score_predictions(records.values(), samples)
            times.append(time.perf_counter() - t0)

    extra = " ".join(argv if argv is not None else sys.argv[1:])
    print(f"command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} {os.path.relpath(sys.executable)} "
          f"benchmarks/apibank_scoring.py {extra}".rstrip())
    print(f"python {platform.python_version()} on {platform.machine()}; predictions: "
          f"{'synthesised' if args.predictions is None else args.predictions} ({size_kb:.0f} KB)")
    print()
    assert scores is not None
    print(scores_table(scores))
    print()
    print("| step                                   | samples | best (s) | median (s) | samples/s | goal  |")
    print("| -------------------------------------- | ------: | -------: | ---------: | --------: | :---- |")
    best, median = min(times), statistics.median(times)
    n = scores.overall.n
    print(f"| load data + read predictions + score   | {n:>7} | {best:>8.3f} | {median:>10.3f} | {n / best:>9,.0f} | "
          f"{'met' if median <= 2.0 else 'MISSED'} (<= 2 s) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
