"""Every GPU benchmark of this repository in one command, for an offline one-GPU machine (an H200 lease).

The machine has torch, transformers, accelerate and peft but no ``trl``, no ``datasets`` and no network. This
script (through ``run.sh``)

1. installs the wheels carried in ``.whl/`` (``benchmarks/gpu/prepare.sh`` downloads them here; the list is
   ``benchmarks/gpu/wheels.txt``) into ``/tmp/site`` without touching the network, and checks that every
   module the benchmarks import loads (``GPU_IMPORTS``); ``rest_rl`` itself comes from ``src/`` (PYTHONPATH);
2. runs the parts, each in its own process group with its own time cap, so that one part that fails, runs
   out of memory or hangs still leaves the others' results:

   step-qwen3-0.6b   ``benchmarks/step_overhead.py --preset qwen3-0.6b``: ResT vs TRL GRPO training step at
                     Qwen3-0.6B's shapes (random init), bf16, 8 x (1024 prompt + 1024 completion) tokens,
                     vocabulary 151,936: tokens/s and peak GPU memory per arm
   step-qwen3-1.7b   the same at Qwen3-1.7B's shapes
   curve             one shortened learning-curve cell: ``benchmarks/learning_curves.py`` with ``gpu-short``,
                     a preset derived here from its ``gpu`` preset (fewer SFT/RL steps, 1 seed, 200 held-out
                     examples), arms GRPO and ResT entropy-informed, run side by side on the one GPU;

3. writes, flat under ``--out`` (``$OUT`` on the device machine; at most 8 files come back from there):
   ``results.json`` (machine, versions, every part's status, seconds, command and parsed result; rewritten
   after each part), ``run.log`` (every part's output), ``step_qwen3-0.6b.json``, ``step_qwen3-1.7b.json``,
   ``curve_report.md``, ``curve_results.json`` and ``curve_runs.tar.gz`` (the cell's metrics, evaluations,
   worker logs and plots, also when it was stopped at its cap).

``--dry-run`` prints the plan (wheels, commands, caps) and exits without importing torch. ``--smoke`` runs the
same parts at toy sizes on the CPU (a check of the plumbing; its numbers are CPU numbers and say nothing about
a GPU). Nothing here invents a number: a part that did not finish is reported as ``timeout``/``failed``.

Run on the device machine (see benchmarks/gpu/README.md for the exact tool call):
    bash benchmarks/gpu/run.sh                  # = python3 benchmarks/gpu/run_all.py --out "$OUT"
Here:
    .venv/bin/python benchmarks/gpu/run_all.py --dry-run
    .venv/bin/python benchmarks/gpu/run_all.py --smoke --no-install --out /tmp/gpu_smoke
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WHEELS_TXT = HERE / "wheels.txt"
H200_PACKAGES = HERE / "h200_packages.txt"

# Every module the parts import (their lazy imports included). The preflight imports exactly these on the
# device machine; tests/benchmarks/test_gpu_script.py imports them with every distribution that is neither in
# the device image (h200_packages.txt) nor carried (wheels.txt) hidden, so a missing wheel fails here first.
GPU_IMPORTS: tuple[str, ...] = (
    "torch",
    "transformers",
    "accelerate",
    "datasets",
    "trl",
    "rest_rl",
    "rest_rl.data",
    "rest_rl.data.selection",
    "rest_rl.data.synthetic",
    "rest_rl.demo",
    "rest_rl.eval.engines",
    "rest_rl.integrations.trl",
    "rest_rl.integrations.trl.callbacks",
    "rest_rl.integrations.trl.grpo",
    "rest_rl.integrations.trl.runners",
    "rest_rl.models",
    "rest_rl.models.loading",
    "rest_rl.models.tiny",
    "rest_rl.rewards",
    "matplotlib",
)
# Names imported from those modules (``module:name``): a version of trl / transformers without them fails the
# preflight instead of a part.
GPU_NAMES: tuple[str, ...] = (
    "trl:GRPOTrainer",
    "trl:GRPOConfig",
    "transformers:Qwen3Config",
    "transformers:Qwen3ForCausalLM",
    "transformers:TrainerCallback",
    "rest_rl.integrations.trl:ResTGRPOTrainer",
    "rest_rl.integrations.trl:ResTGRPOConfig",
)
# Output files (flat: the device tool returns at most 8 files, at most 2 folders down).
OUTPUT_FILES = (
    "results.json",
    "run.log",
    "step_qwen3-0.6b.json",
    "step_qwen3-1.7b.json",
    "curve_report.md",
    "curve_results.json",
    "curve_runs.tar.gz",
)
CURVE_ARMS = ("grpo", "rest_entropy")
PYARROW_MIN = (24, 0)  # datasets 5.2 declares pyarrow>=24; the image's own pyarrow is used when it is new enough


# ------------------------------------------------------------------------------------------------------------
# Wheels
# ------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Wheel:
    name: str
    version: str
    optional: bool = False  # downloaded only on request; installed there only when the image's copy is too old
    note: str = ""


def read_wheels(path: Path = WHEELS_TXT) -> list[Wheel]:
    """``name==version [optional] [# note]`` lines of ``wheels.txt``."""
    out = []
    for raw in path.read_text().splitlines():
        line, _, note = raw.partition("#")
        parts = line.split()
        if not parts:
            continue
        m = re.fullmatch(r"([A-Za-z0-9][A-Za-z0-9._-]*)==([A-Za-z0-9.+!-]+)", parts[0])
        if not m or any(p != "optional" for p in parts[1:]):
            raise ValueError(f"{path.name}: bad line {raw!r} (want 'name==version [optional] [# note]')")
        out.append(Wheel(m.group(1), m.group(2), "optional" in parts[1:], note.strip()))
    names = [canonical(w.name) for w in out]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: a distribution is listed twice (two versions stop pip's install there)")
    return out


def read_h200_packages(path: Path = H200_PACKAGES) -> set[str]:
    return {canonical(line.strip()) for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")}


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def wheel_files(wheel_dir: Path, wheels: list[Wheel]) -> dict[str, Path | None]:
    """The carried file of each listed wheel (None when absent); wheel file names use ``_`` for ``-``."""
    found: dict[str, Path | None] = {}
    files = sorted(wheel_dir.glob("*.whl")) if wheel_dir.is_dir() else []
    for w in wheels:
        hits = [f for f in files if canonical(f.name.split("-")[0]) == canonical(w.name) and f.name.split("-")[1] == w.version]
        found[w.name] = hits[0] if hits else None
    return found


def install_command(site: Path, files: list[Path]) -> list[str]:
    """pip, offline, no dependency resolution (the list is complete by construction), into ``site``."""
    return [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir", "--upgrade", "--target", str(site), *map(str, files)]


def image_version(dist: str) -> tuple[int, ...] | None:
    from importlib import metadata

    try:
        return tuple(int(x) for x in re.findall(r"\d+", metadata.version(dist))[:2])
    except metadata.PackageNotFoundError:
        return None


# ------------------------------------------------------------------------------------------------------------
# Parts
# ------------------------------------------------------------------------------------------------------------
@dataclass
class Part:
    name: str
    argv: list[str]
    cap_s: float
    outputs: list[str] = field(default_factory=list)  # files under --out it writes (parsed into results.json)
    what: str = ""


def short_curve_preset(lc: Any, base: str = "gpu") -> Any:
    """``gpu-short``: the learning-curve ``gpu`` preset cut to one cell that fits a few minutes of an H200 (SFT
    300 steps, RL 50 steps of 64 sequences, evaluations at 25 and 50 on 200 held-out examples, seed 0). With
    ``base="smoke"`` the same cut of the toy preset (the CPU check)."""
    p = lc.PRESETS[base]
    if base == "smoke":
        return replace(p, rl_steps=2, budgets=(2,), eval_examples=8, seeds=(0,), probe_every=1)
    return replace(p, rl_steps=50, budgets=(25, 50), eval_examples=200, seeds=(0,), probe_every=20, sft={**p.sft, "max_steps": 300})


def curve_cell(out_dir: Path, smoke: bool, jobs: int) -> int:
    """Run the cell through learning_curves.py's own ``main`` (its code, reports and plots), with the short
    preset registered under ``gpu-short`` in its PRESETS for this process only (the file is not changed)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("learning_curves", ROOT / "benchmarks" / "learning_curves.py")
    lc = importlib.util.module_from_spec(spec)
    sys.modules["learning_curves"] = lc
    spec.loader.exec_module(lc)
    lc.PRESETS["gpu-short"] = short_curve_preset(lc, "smoke" if smoke else "gpu")
    argv = ["--preset", "gpu-short", "--out-dir", str(out_dir), "--arms", *CURVE_ARMS, "--jobs", str(jobs)]
    print("learning_curves.main", " ".join(argv), flush=True)
    return int(lc.main(argv) or 0)


def plan(args: argparse.Namespace) -> list[Part]:
    py = sys.executable
    out = Path(args.out)
    steps = []
    for size in ("0.6b", "1.7b"):
        preset = "smoke" if args.smoke else f"qwen3-{size}"
        argv = [py, "benchmarks/step_overhead.py", "--preset", preset, "--device", args.device, "--json", str(out / f"step_qwen3-{size}.json")]
        if args.smoke:
            argv += ["--steps", "2", "--warmup", "0", "--threads", "1"]
        steps.append(
            Part(
                f"step-qwen3-{size}",
                argv,
                args.cap_step_06b if size == "0.6b" else args.cap_step_17b,
                [f"step_qwen3-{size}.json"],
                f"ResT vs GRPO training step at Qwen3-{size.upper()} shapes (random init), bf16, 8 x (1024 + 1024) tokens"
                if not args.smoke
                else "step_overhead smoke preset on the CPU (plumbing check, not a GPU number)",
            )
        )
    curve = Part(
        "curve",
        [py, str(Path(__file__).resolve().relative_to(ROOT)), "--curve-cell", str(Path(args.work) / "curve"), "--device", args.device]
        + (["--smoke"] if args.smoke else []),
        args.cap_curve,
        ["curve_report.md", "curve_results.json", "curve_runs.tar.gz"],
        "learning_curves.py gpu-short cell: GRPO vs ResT (entropy), 1 seed, SFT 300 + RL 50 steps, 200 held-out"
        if not args.smoke
        else "learning_curves.py smoke cell on the CPU (plumbing check)",
    )
    parts = {p.name: p for p in (*steps, curve)}
    return [parts[n] for n in args.parts]


def child_env(site: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(site)] if site else []
    paths.append(str(ROOT / "src"))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        PYTHONUNBUFFERED="1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        TRL_EXPERIMENTAL_SILENCE="1",
        MPLBACKEND="Agg",
    )
    return env


def run_part(part: Part, cap_s: float, env: dict[str, str], log_path: Path) -> dict[str, Any]:
    """Run one part in its own process group; at ``cap_s`` the whole group is killed (its workers too)."""
    t0 = time.perf_counter()
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"\n===== {part.name} (cap {cap_s:.0f} s): {shlex.join(part.argv)}\n")
        log.flush()
        proc = subprocess.Popen(part.argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        status = "ok"
        try:
            rc = proc.wait(timeout=max(1.0, cap_s))
            if rc != 0:
                status = "failed"
        except subprocess.TimeoutExpired:
            status = "timeout"
            _kill_group(proc)
            rc = proc.wait()
        _kill_group(proc)  # workers a finished part may have left behind
        seconds = time.perf_counter() - t0
        log.write(f"===== {part.name}: {status} (exit {rc}) after {seconds:.1f} s\n")
    return {"status": status, "exit_code": rc, "seconds": round(seconds, 1), "cap_s": round(cap_s, 1), "command": shlex.join(part.argv), "what": part.what}


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this script started for the part (pgid = its pid)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(log_path: Path, part: str, lines: int = 30) -> str:
    text = log_path.read_text(errors="replace") if log_path.is_file() else ""
    start = text.rfind(f"===== {part} (cap")
    return "\n".join(text[start:].splitlines()[-lines:]) if start >= 0 else ""


def collect_curve(work: Path, out: Path) -> list[str]:
    """Copy the cell's report and results to ``out`` and pack its small files (no model weights)."""
    cell = work / "curve"
    written = []
    for src, dst in (("report.md", "curve_report.md"), ("results.json", "curve_results.json")):
        if (cell / src).is_file():
            (out / dst).write_bytes((cell / src).read_bytes())
            written.append(dst)
    if cell.is_dir():
        heavy = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
        with tarfile.open(out / "curve_runs.tar.gz", "w:gz") as tar:
            for f in sorted(cell.rglob("*")):
                if f.is_file() and not f.name.endswith(heavy) and f.stat().st_size <= 4 * 2**20:
                    tar.add(f, arcname=str(f.relative_to(cell)))
        written.append("curve_runs.tar.gz")
    return written


def machine_info() -> dict[str, Any]:
    """Versions and the GPU, without importing torch into this process (nvidia-smi and package metadata)."""
    from importlib import metadata

    info: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count()}
    for dist in ("torch", "transformers", "accelerate", "trl", "datasets", "pyarrow", "tokenizers", "huggingface_hub", "numpy", "peft"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = None
    try:
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30,
        )
        info["nvidia_smi"] = smi.stdout.strip() or smi.stderr.strip()
    except (OSError, subprocess.TimeoutExpired) as exc:
        info["nvidia_smi"] = f"unavailable: {exc!r}"
    return info


def preflight_code() -> str:
    mods = ", ".join(repr(m) for m in GPU_IMPORTS)
    names = ", ".join(repr(n) for n in GPU_NAMES)
    return (
        "import importlib, json\n"
        f"mods = [importlib.import_module(m) for m in ({mods},)]\n"
        f"for spec in ({names},):\n"
        "    mod, _, name = spec.partition(':'); getattr(importlib.import_module(mod), name)\n"
        "import torch, transformers, trl, datasets, pyarrow\n"
        "print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, 'cuda_available': torch.cuda.is_available(),"
        " 'gpu': torch.cuda.get_device_name(0) if torch.cuda.is_available() else None, 'transformers': transformers.__version__,"
        " 'trl': trl.__version__, 'trl_from': trl.__file__, 'datasets': datasets.__version__, 'pyarrow': pyarrow.__version__}))\n"
    )


# ------------------------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=os.environ.get("OUT") or str(ROOT / "runs" / "gpu"), help="results folder (default: $OUT, else runs/gpu)")
    parser.add_argument("--work", default="/tmp/rest_rl_gpu", help="scratch folder (learning-curve runs, checkpoints)")
    parser.add_argument("--parts", nargs="+", choices=("step-qwen3-0.6b", "step-qwen3-1.7b", "curve"), default=["step-qwen3-0.6b", "step-qwen3-1.7b", "curve"])
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for everything, install included (default 450 = 7.5 min)")
    parser.add_argument("--cap-step-06b", type=float, default=120.0, help="seconds for step-qwen3-0.6b (default 120)")
    parser.add_argument("--cap-step-17b", type=float, default=150.0, help="seconds for step-qwen3-1.7b (default 150)")
    parser.add_argument("--cap-curve", type=float, default=240.0, help="seconds for the learning-curve cell (default 240; less if --budget runs short)")
    parser.add_argument("--wheels", default=str(ROOT / ".whl"), help="folder of carried wheels (default .whl)")
    parser.add_argument("--site", default="/tmp/site", help="where the wheels are installed (default /tmp/site)")
    parser.add_argument("--no-install", action="store_true", help="use the packages already importable (a machine with trl)")
    parser.add_argument("--device", default=None, help="cuda (default) or cpu (default with --smoke)")
    parser.add_argument("--smoke", action="store_true", help="toy sizes on the CPU: checks the plumbing; its numbers are not GPU numbers")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and exit (no install, no torch)")
    parser.add_argument("--curve-cell", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.device = args.device or ("cpu" if args.smoke else "cuda")
    if args.device not in ("cpu", "cuda") and not args.device.startswith("cuda:"):
        parser.error("--device must be cpu or cuda[:N]")
    for name in ("budget", "cap_step_06b", "cap_step_17b", "cap_curve"):
        if getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be > 0")
    args.parts = list(dict.fromkeys(args.parts))  # keep the order given, once each
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.curve_cell is not None:  # the curve part's own process
        return curve_cell(Path(args.curve_cell), args.smoke, jobs=1 if args.smoke else 2)

    t_start = time.perf_counter()
    out, work = Path(args.out), Path(args.work)
    wheels = read_wheels()
    files = wheel_files(Path(args.wheels), wheels)
    parts = plan(args)
    if args.dry_run:
        print(f"out: {out}  (files: {', '.join(OUTPUT_FILES)})")
        print(f"budget: {args.budget:.0f} s in all; device {args.device}{'  [smoke: CPU toy sizes]' if args.smoke else ''}")
        if args.no_install:
            print("install: skipped (--no-install)")
        else:
            for w in wheels:
                f = files[w.name]
                tag = " (optional: installed only if the image's pyarrow is older than %d.%d)" % PYARROW_MIN if w.optional else ""
                print(f"wheel: {w.name}=={w.version}{tag}: {f.name if f else 'NOT IN ' + args.wheels}")
            needed = [f for w, f in ((w, files[w.name]) for w in wheels) if f is not None and not w.optional]
            print("install:", shlex.join(install_command(Path(args.site), needed)))
        print(f"env: PYTHONPATH={os.pathsep.join(([] if args.no_install else [args.site]) + [str(ROOT / 'src')])} HF_HUB_OFFLINE=1")
        print("preflight: import " + ", ".join(GPU_IMPORTS))
        for p in parts:
            print(f"part {p.name} (cap {p.cap_s:.0f} s): {shlex.join(p.argv)}")
            print(f"    {p.what}; writes {', '.join(p.outputs)}")
        return 0

    out.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    log_path = out / "run.log"
    log_path.write_text("")
    results: dict[str, Any] = {
        "kind": "smoke (CPU toy sizes: not GPU numbers)" if args.smoke else "gpu",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "budget_s": args.budget,
        "machine": machine_info(),  # the image's own packages (before the carried wheels)
        "install": {},
        "parts": {},
    }

    def save() -> None:
        results["elapsed_s"] = round(time.perf_counter() - t_start, 1)
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")

    def say(msg: str) -> None:
        print(msg, flush=True)
        with open(log_path, "a", encoding="utf-8") as fh:
            fh.write(msg + "\n")

    # 1. wheels
    site: Path | None = None
    if not args.no_install:
        missing = [w.name for w in wheels if files[w.name] is None and not w.optional]
        if missing:
            say(f"carried wheels missing from {args.wheels}: {', '.join(missing)} (run benchmarks/gpu/prepare.sh here and carry .whl)")
            results["install"] = {"status": "failed", "missing": missing}
            save()
            return 2
        to_install = [files[w.name] for w in wheels if not w.optional]
        for w in wheels:
            if w.optional and canonical(w.name) == "pyarrow":
                have = image_version("pyarrow")
                results["install"]["image_pyarrow"] = ".".join(map(str, have)) if have else None
                if have is None or have < PYARROW_MIN:
                    if files[w.name] is not None:
                        to_install.append(files[w.name])
                    else:
                        say(f"warning: the image's pyarrow is {have} (< {PYARROW_MIN}) and none is carried; datasets may misbehave")
        site = Path(args.site)
        cmd = install_command(site, [f for f in to_install if f is not None])
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        results["install"].update(
            status="ok" if proc.returncode == 0 else "failed",
            wheels=[f.name for f in to_install if f is not None],
            seconds=round(time.perf_counter() - t0, 1),
        )
        say(f"install: {results['install']['status']} ({', '.join(results['install']['wheels'])}) in {results['install']['seconds']} s")
        if proc.returncode != 0:
            say(proc.stdout[-3000:] + proc.stderr[-3000:])
            save()
            return 2
    env = child_env(site)

    # 2. preflight: every import the parts need, in a child with the parts' environment
    try:
        pre = subprocess.run([sys.executable, "-c", preflight_code()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pre = subprocess.CompletedProcess([], 124, "", "preflight imports took more than 180 s")
    if pre.returncode != 0:
        say("preflight failed: an import the benchmarks need does not load\n" + pre.stderr[-4000:])
        results["preflight"] = {"status": "failed", "stderr_tail": pre.stderr[-4000:]}
        save()
        return 2
    results["preflight"] = {"status": "ok", **json.loads(pre.stdout.strip().splitlines()[-1])}
    say(f"preflight: {json.dumps(results['preflight'])}")
    if args.device.startswith("cuda") and not results["preflight"].get("cuda_available"):
        say("no CUDA device visible: nothing to measure (use --smoke for the CPU plumbing check)")
        save()
        return 2
    save()

    # 3. parts, each capped; the deadline keeps the whole inside --budget
    deadline = t_start + args.budget
    for part in parts:
        left = deadline - time.perf_counter() - 5.0
        if left < 20.0:
            results["parts"][part.name] = {"status": "skipped", "reason": "no time left in --budget", "what": part.what}
            say(f"{part.name}: skipped (budget spent)")
            save()
            continue
        cap = min(part.cap_s, left)
        say(f"{part.name}: start (cap {cap:.0f} s)")
        rec = run_part(part, cap, env, log_path)
        if part.name == "curve":
            collect_curve(work, out)
        parsed = {}
        for name in part.outputs:
            f = out / name
            if f.is_file() and f.suffix == ".json":
                try:
                    parsed[name] = json.loads(f.read_text())
                except ValueError:
                    parsed[name] = "unreadable"
        rec["files"] = [n for n in part.outputs if (out / n).is_file()]
        rec["result"] = parsed
        results["parts"][part.name] = rec
        say(f"{part.name}: {rec['status']} in {rec['seconds']} s")
        if rec["status"] != "ok":
            say(log_tail(log_path, part.name))
        save()

    # 4. summary
    lines = [f"== summary ({results['kind']}; {results['machine'].get('nvidia_smi') or 'no GPU'})"]
    for name, rec in results["parts"].items():
        summary = rec["status"]
        res = rec.get("result", {}).get(f"step_{name[5:]}.json") if name.startswith("step-") else None
        if isinstance(res, dict) and {"grpo", "rest"} <= set(res.get("arms", {})):
            g, r = res["arms"]["grpo"], res["arms"]["rest"]
            summary += (
                f": GRPO {g['tokens_per_s']:,.0f} tok/s {g['peak_mib']:,.0f} MiB | ResT {r['tokens_per_s']:,.0f} tok/s "
                f"{r['peak_mib']:,.0f} MiB | time x{res['time_ratio_median_paired']:.3f} memory x{res['peak_ratio']:.3f}"
            )
        lines.append(f"{name}: {summary} ({rec.get('seconds', 0)} s)")
    if (out / "curve_report.md").is_file():
        lines.append((out / "curve_report.md").read_text())
    say("\n".join(lines))
    save()
    return 0 if all(r["status"] == "ok" for r in results["parts"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
