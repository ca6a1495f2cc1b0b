"""How long scoring the whole of BFCL v3 (4,441 entries) from result files takes.

Oracle results (the ground truth written as model output, see ``rest_rl.eval.bfcl.oracle``) are
written in bfcl-eval's result-file layout for every entry; then the timed part scores them exactly
as ``rest-rl eval bfcl`` does after generation: load the v3 data from the bfcl-eval wheel, read the
result files, decode every completion in the prompt style, run bfcl-eval's AST checker, its
(ir)relevance rule and its multi-turn state/result checker (on fresh simulators, no ``eval``), write
the score files and aggregate. Goal: <= 30 s for all 4,441 entries on the reference machine (2 cores).

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bfcl_scoring.py            (style toolrl)
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bfcl_scoring.py --style fc
Needs bfcl-eval: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && pip install --no-deps bfcl-eval==2025.7.17
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

GOAL_SECONDS = 30.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--style", choices=["toolrl", "fc"], default="toolrl", help="prompt style of the oracle results")
    parser.add_argument("--root", help="project root to write into (default: a temporary directory)")
    args = parser.parse_args(argv)
    root = Path(args.root) if args.root else Path(tempfile.mkdtemp(prefix="bfcl-bench-"))

    started = time.perf_counter()
    from rest_rl.eval.bfcl.official import load_bfcl

    api = load_bfcl(root)
    t_import = time.perf_counter() - started

    from rest_rl.eval.bfcl.data import ALL_CATEGORIES, LIVE, MULTI_TURN, NON_LIVE, load_entries
    from rest_rl.eval.bfcl.oracle import oracle_result
    from rest_rl.eval.bfcl.score import result_file, score_result_files, scores_table
    from rest_rl.eval.report import markdown_table
    from rest_rl.eval.runs import append_jsonl

    model_dir = f"oracle-{args.style}"
    started = time.perf_counter()
    entries = load_entries(ALL_CATEGORIES, api=api)
    by_category: dict[str, list[dict]] = {}
    for e in entries:
        by_category.setdefault(e.category, []).append({"id": e.id, "result": oracle_result(e, args.style, api)})
    for category, records in by_category.items():
        path = result_file(root, model_dir, category)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        append_jsonl(path, records)
    t_write = time.perf_counter() - started

    # The timed part: everything `eval bfcl` does after generation.
    started = time.perf_counter()
    scores, verdicts = score_result_files(root, model_dir, args.style, ALL_CATEGORIES, api=api)
    t_score = time.perf_counter() - started

    # Where the time goes (each group scored again on its own).
    group_rows = []
    for name, cats in (("non-live (AST, irrelevance)", NON_LIVE), ("live (AST, (ir)relevance)", LIVE), ("multi-turn", MULTI_TURN)):
        t0 = time.perf_counter()
        group_scores, _ = score_result_files(root, model_dir, args.style, cats, write_scores=False, api=api)
        n = sum(s.total for s in group_scores.categories.values())
        dt = time.perf_counter() - t0
        group_rows.append([name, n, f"{dt:.2f}", f"{1000 * dt / n:.2f}"])

    print(f"## BFCL v3 scoring benchmark ({args.style} style oracle results)\n")
    print(f"Command: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '')} {Path(sys.executable).name} benchmarks/bfcl_scoring.py --style {args.style}")
    print(f"Machine: {platform.platform()}, Python {platform.python_version()}, {os.cpu_count()} CPUs; bfcl-eval {api.version}\n")
    print(
        markdown_table(
            ["Phase", "Entries", "Seconds", "ms / entry"],
            [
                ["import bfcl-eval (once per process, not counted)", "", f"{t_import:.2f}", ""],
                ["write oracle result files (setup, not counted)", len(entries), f"{t_write:.2f}", ""],
                ["**score all result files** (load data, read, decode, check, write scores, aggregate)", len(verdicts), f"**{t_score:.2f}**", f"{1000 * t_score / len(verdicts):.2f}"],
                *group_rows,
            ],
        )
    )
    verdict = "PASS" if t_score <= GOAL_SECONDS and len(verdicts) == 4441 else "FAIL"
    print(f"\nGoal: all 4,441 entries in <= {GOAL_SECONDS:.0f} s -> {verdict} ({t_score:.2f} s)\n")
    print(scores_table(scores))
    print(f"\nResult and score files: {root}")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    raise SystemExit(main())
