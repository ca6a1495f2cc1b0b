"""Fuzz the untrusted-input surface at scale: parsers, rewards and the region labeller.

Run:  .venv/bin/python benchmarks/fuzz_untrusted.py [--n 100000] [--seed 0]
Prints how many strings ran, how long it took, and stops at the first failure with the string.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rest_rl.testing import check_untrusted_text, random_model_output  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="strings to try (default 100,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    tokens = 0
    for i in range(args.n):
        text = random_model_output(rng)
        try:
            tokens += check_untrusted_text(text, rng).n_tokens
        except Exception as exc:  # noqa: BLE001 - report the input that broke it
            print(f"FAILED on string {i}: {type(exc).__name__}: {exc}\n{text!r}")
            return 1
    dt = time.perf_counter() - t0
    print(f"{args.n:,} hostile strings ({tokens:,} tokens) through 3 parsers, 8 reward variants and the "
          f"labeller: no exception, every reward finite and in range. {dt:.1f} s ({args.n / dt:,.0f} strings/s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
