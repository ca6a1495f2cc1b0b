"""Fuzz the untrusted-input surface at scale: parsers, rewards and the region labeller; then adversarial
classes with the worst time of one call.

Run:  .venv/bin/python benchmarks/fuzz_untrusted.py [--n 100000] [--seed 0]
Prints how many strings ran, how long it took, and stops at the first failure with the string. Then:

* parser scaling: each parser on inputs built to hit quadratic behaviour (thousands of unclosed
  ``<tool_call>`` tags, unbalanced brackets, repeated ``<think>``), at sizes n, 2n, 4n, 8n: the time ratio
  per doubling is about 2 for a linear parser (4 for a quadratic one);
* hostile tool calls, worst time of one call: the multi-turn world's tools (rest_rl.envs) and, when
  bfcl-eval is installed, the BFCL simulators (huge integers in decimal/hex/binary, huge exponents and
  precisions, deep nesting, megabyte strings, sets) — every one must come back as an error string.
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
    parser_scaling()
    return hostile_calls()


def _best_of(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def parser_scaling(base: int = 4000) -> None:
    from rest_rl.core.regions import label_chars
    from rest_rl.toolcall import parse_hermes, parse_python_calls, parse_toolrl

    cases = {
        "unclosed <tool_call>": lambda n: "<tool_call>{" * n,
        "unclosed <tool_call> + JSON": lambda n: '<tool_call>\n{"name": "f", "arguments": {"a": [' * n,
        "repeated <think>": lambda n: "<think> a " * n,
        "open brackets": lambda n: "[f(a=" * n,
    }
    parsers = {"toolrl": parse_toolrl, "hermes": parse_hermes, "pycall": parse_python_calls, "labeller": label_chars}
    print("\nparser scaling (best of 3; ratio = time(8n) / time(n), ~8 linear, ~64 quadratic):")
    print(f"  {'input':<30} {'parser':<9} {'n=' + str(base):>10} {'8n':>10} {'ratio':>6}")
    for name, make in cases.items():
        small, large = make(base), make(8 * base)
        for pname, fn in parsers.items():
            t1 = _best_of(lambda: fn(small))
            t8 = _best_of(lambda: fn(large))
            print(f"  {name:<30} {pname:<9} {1e3 * t1:>8.2f}ms {1e3 * t8:>8.2f}ms {t8 / max(t1, 1e-9):>6.1f}")


def hostile_calls() -> int:
    worst: list[tuple[str, str, float]] = []
    failures = 0

    def run(where: str, label: str, fn) -> None:
        nonlocal failures
        t = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t
        if not isinstance(out, str) or "rror" not in out[:80]:
            failures += 1
            print(f"NOT REFUSED ({where}, {label}): {str(out)[:120]!r}")
        worst.append((where, label, dt))

    from rest_rl.envs.tasks import TaskConfig, make_tasks
    from rest_rl.envs.world import environment_for

    task = make_tasks(TaskConfig(n_train=0, n_validation=0, n_test=4))["test"][0]
    env = environment_for(task)
    tool = sorted(task.tools)[0]
    world_cases = {
        "10,000-digit integer": {"x": 10**10_000},
        "hex integer, 16,000 bits": {"x": int("f" * 4000, 16)},
        "1 MB string": {"x": "y" * 1_000_000},
        "nesting 100,000 deep": {"x": _nested(100_000)},
        "100,000-item list": {"x": list(range(100_000))},
        "unknown tool": None,
    }
    for label, arguments in world_cases.items():
        if arguments is None:
            run("envs world", label, lambda: env.episode.call("no_such_tool", {}))
        else:
            run("envs world", label, lambda a=arguments: env.episode.call(tool, a))

    try:
        from rest_rl.eval.bfcl.multiturn import SimulatorSession
        from rest_rl.eval.bfcl.official import bfcl_available

        available = bfcl_available()
    except ImportError:
        available = False
    if available:
        session = SimulatorSession(["MathAPI", "GorillaFileSystem"], {}, api=None)
        bfcl_cases = {
            "power, base of 4,300 digits": "power(base=" + "9" * 4300 + ", exponent=10000)",
            "power, hex base of 16,000 bits": "power(base=0x" + "f" * 4000 + ", exponent=3)",
            "power, exponent 10^9": "power(base=7, exponent=1000000000)",
            "square_root, precision 10^8": "square_root(number=2, precision=100000000)",
            "logarithm, precision 10^8": "logarithm(value=3, base=2, precision=100000000)",
            "mean of a set": "mean(numbers={1, 2, 3})",
            "deep list": "mean(numbers=" + "[" * 500 + "1" + "]" * 500 + ")",
            "call text over 100k chars": "mean(numbers=[" + "1," * 60_000 + "1])",
        }
        for label, call in bfcl_cases.items():
            run("BFCL simulators", label, lambda c=call: session.execute_one(c))
        allowed = {
            "power at the bounds (256-bit base, exponent 10,000)": "power(base=" + str(2**255) + ", exponent=10000)",
            "square_root at precision 10,000": "square_root(number=2, precision=10000)",
            "logarithm at precision 10,000": "logarithm(value=3, base=2, precision=10000)",
        }
        for label, call in allowed.items():
            t = time.perf_counter()
            session.execute_one(call)
            worst.append(("BFCL simulators (allowed, at the bounds)", label, time.perf_counter() - t))
    else:
        print("\n(bfcl-eval not installed: BFCL simulator cases skipped)")
    print("\nhostile tool calls (each must come back as an error string), time of one call:")
    for where, label, dt in worst:
        print(f"  {where:<42} {label:<52} {1e3 * dt:>9.2f} ms")
    slowest = max(worst, key=lambda w: w[2])
    print(f"worst: {1e3 * slowest[2]:.1f} ms ({slowest[0]}: {slowest[1]}); refused as errors: "
          f"{'all' if not failures else f'{failures} NOT'}")
    return 1 if failures else 0


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


if __name__ == "__main__":
    sys.exit(main())
