"""The CPU-side parts of ``benchmarks/gpu/`` (the one-call script for an offline GPU machine): its arguments,
its wheel list (does it cover every import the GPU run needs that the device image lacks?), its dry run, and
the per-part time caps that keep one failing part from losing the others' results. No GPU and no timing."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import time
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
GPU = ROOT / "benchmarks" / "gpu"
# The device machine runs Python 3.12 on x86-64 Linux (KINDS.md: 3.12.3): markers are evaluated for it.
DEVICE_MARKERS = {
    "python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux", "platform_system": "Linux",
    "platform_machine": "x86_64", "implementation_name": "cpython", "platform_python_implementation": "CPython",
    "os_name": "posix", "extra": "",
}


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ra():
    return _load(GPU / "run_all.py", "bench_gpu_run_all")


def _requires(dist: str) -> list[str] | None:
    """Canonical names of a distribution's unconditional requirements on the device (None: not installed)."""
    try:
        reqs = metadata.requires(dist) or []
    except metadata.PackageNotFoundError:
        return None
    out = []
    for text in reqs:
        req = Requirement(text)
        if req.marker is None or req.marker.evaluate(DEVICE_MARKERS):
            out.append(re.sub(r"[-_.]+", "-", req.name).lower())
    return out


def _image_closure(ra) -> set[str]:
    """The image's distributions plus, transitively, what their versions installed HERE require: the image
    necessarily holds its own packages' dependencies (e.g. huggingface_hub here needs httpx2, there httpx)."""
    closure: set[str] = set()
    todo = list(ra.read_h200_packages())
    while todo:
        dist = todo.pop()
        if dist not in closure:
            closure.add(dist)
            todo += _requires(dist) or []
    return closure


# ------------------------------------------------------------------------------------------------------------
# Arguments and plan
# ------------------------------------------------------------------------------------------------------------
def test_arguments_defaults_and_refusals(ra):
    args = ra.parse_args(["--out", "/x"])
    assert args.parts == ["step-qwen3-0.6b", "step-qwen3-1.7b", "curve"] and args.device == "cuda" and not args.smoke
    assert args.budget <= 8 * 60, "the issue asks for one command of <= 8 minutes"
    assert max(args.cap_step_06b, args.cap_step_17b, args.cap_curve) < args.budget
    assert ra.parse_args(["--smoke"]).device == "cpu"
    assert ra.parse_args(["--parts", "curve", "step-qwen3-1.7b", "curve"]).parts == ["curve", "step-qwen3-1.7b"]
    for bad in (["--budget", "0"], ["--cap-curve", "-1"], ["--parts", "step-qwen3-8b"], ["--device", "tpu"]):
        with pytest.raises(SystemExit):
            ra.parse_args(bad)


def test_plan_runs_the_repositorys_own_benchmarks_at_the_issues_shapes(ra, tmp_path):
    """The step parts call step_overhead.py's qwen3 presets (Qwen3-0.6B / 1.7B shapes, bf16, 1024 + 1024,
    vocabulary 151,936) on cuda with a JSON under --out; the curve part is learning_curves.py's cell."""
    so = _load(ROOT / "benchmarks" / "step_overhead.py", "bench_step_overhead_gpu")
    parts = {p.name: p for p in ra.plan(ra.parse_args(["--out", str(tmp_path)]))}
    for size, hidden, inter in (("0.6b", 1024, 3072), ("1.7b", 2048, 6144)):
        argv = parts[f"step-qwen3-{size}"].argv
        assert argv[1] == "benchmarks/step_overhead.py" and (ROOT / argv[1]).is_file()
        assert argv[argv.index("--preset") + 1] == f"qwen3-{size}" and argv[argv.index("--device") + 1] == "cuda"
        assert argv[argv.index("--json") + 1] == str(tmp_path / f"step_qwen3-{size}.json")
        p = so.PRESETS[f"qwen3-{size}"]
        assert (p.hidden, p.layers, p.intermediate, p.vocab) == (hidden, 28, inter, 151_936)
        assert (p.prompt, p.completion, p.dtype) == (1024, 1024, "bfloat16")
    curve = parts["curve"].argv
    assert "--curve-cell" in curve and "--smoke" not in curve
    assert {f for p in parts.values() for f in p.outputs} <= set(ra.OUTPUT_FILES)
    assert len(ra.OUTPUT_FILES) <= 7  # the device tool returns 8 files at most; one to spare
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", f) for f in ra.OUTPUT_FILES)


def test_short_curve_preset_is_a_valid_learning_curves_configuration(ra, tmp_path):
    """``gpu-short`` is cut from learning_curves.py's ``gpu`` preset (so it follows that file's changes) and
    must stay a configuration the trainer accepts, with its budgets inside the run."""
    lc = _load(ROOT / "benchmarks" / "learning_curves.py", "bench_learning_curves_gpu")
    for base in ("gpu", "smoke"):
        p = ra.short_curve_preset(lc, base)
        cfg = lc.demo_config(p, tmp_path / base)
        cfg.check_trainer_sections()
        assert cfg.rl["max_steps"] == p.rl_steps and max(p.budgets) <= p.rl_steps and p.seeds == (0,)
        assert int(cfg.rl["per_device_train_batch_size"]) % p.probe_chunks == 0
    gpu = ra.short_curve_preset(lc)
    assert gpu.device == "cuda" and gpu.rl_steps < lc.PRESETS["gpu"].rl_steps and gpu.eval_examples <= 200
    assert set(ra.CURVE_ARMS) <= set(lc.ARMS)


def test_dry_run_prints_the_plan_and_imports_no_torch(tmp_path):
    code = (
        "import runpy, sys; sys.argv = ['run_all.py', '--dry-run', '--out', sys.argv[1], '--wheels', sys.argv[2]]\n"
        "try:\n    runpy.run_path(%r, run_name='__main__')\n"
        "except SystemExit as e:\n    assert not e.code, e.code\n"
        "assert 'torch' not in sys.modules, 'the dry run imported torch'\n" % str(GPU / "run_all.py")
    )
    (tmp_path / "whl").mkdir()
    (tmp_path / "whl" / "trl-1.16.0-py3-none-any.whl").write_bytes(b"")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "out"), str(tmp_path / "whl")], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "--no-index --no-deps" in out and "--target /tmp/site" in out and "trl-1.16.0-py3-none-any.whl" in out
    assert "wheel: datasets==5.2.0: NOT IN" in out  # missing wheels are named, not silently skipped
    assert "--preset qwen3-0.6b --device cuda" in out and "--preset qwen3-1.7b --device cuda" in out
    assert "part curve" in out and "preflight: import" in out
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


# ------------------------------------------------------------------------------------------------------------
# The wheel list
# ------------------------------------------------------------------------------------------------------------
def test_wheel_list_pins_the_versions_this_suite_runs_and_the_projects_constraints(ra):
    wheels = ra.read_wheels()
    names = {ra.canonical(w.name): w for w in wheels}
    assert {"trl", "datasets"} <= set(names)
    deps = {ra.canonical(Requirement(d).name): Requirement(d) for d in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]}
    for key, w in names.items():
        if key in deps:
            assert w.version in deps[key].specifier, f"{w.name}=={w.version} outside pyproject's {deps[key]}"
        if not w.optional:
            assert metadata.version(w.name) == w.version, f"carry the {w.name} this suite tests ({metadata.version(w.name)})"
    # requirements that carried wheels put on each other (datasets: dill<0.4.2, multiprocess<0.70.20)
    for w in wheels:
        for text in metadata.requires(w.name) or []:
            req = Requirement(text)
            other = names.get(ra.canonical(req.name))
            if other and (req.marker is None or req.marker.evaluate(DEVICE_MARKERS)):
                assert req.specifier.contains(other.version, prereleases=True), f"{w.name} needs {req}, carried {other.version}"
    assert ra.PYARROW_MIN == (24, 0) and any("pyarrow>=24" in r.replace(" ", "") for r in metadata.requires("datasets") or [])


def test_wheel_list_covers_what_the_carried_packages_require(ra):
    """Every unconditional requirement of a carried wheel is in the image or carried too (pip installs them
    there with --no-deps, so nothing else arrives)."""
    available = _image_closure(ra) | {ra.canonical(w.name) for w in ra.read_wheels()}
    for w in ra.read_wheels():
        missing = set(_requires(w.name) or []) - available
        assert not missing, f"{w.name} requires {sorted(missing)}: neither in the device image nor in wheels.txt"
    assert "trl" not in ra.read_h200_packages() and "datasets" not in ra.read_h200_packages()


_BLOCKER = r"""
import importlib, importlib.abc, importlib.util, json, re, sys
from importlib import metadata
allowed, modules, names = set(json.loads(sys.argv[1])), json.loads(sys.argv[2]), json.loads(sys.argv[3])
canon = lambda n: re.sub(r"[-_.]+", "-", n).lower()
hidden = {top for top, dists in metadata.packages_distributions().items()
          if top not in sys.stdlib_module_names and not any(canon(d) in allowed for d in dists)}
class Hide(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if "." not in name and name in hidden:
            raise ModuleNotFoundError(f"No module named {name!r} (absent from the device image, not carried)", name=name)
sys.meta_path.insert(0, Hide())
_find_spec = importlib.util.find_spec
def find_spec(name, package=None):  # availability probes (transformers, accelerate) see them as absent too
    return None if name.split(".")[0] in hidden else _find_spec(name, package)
importlib.util.find_spec = find_spec
for m in modules:
    importlib.import_module(m)
for spec in names:
    mod, _, attr = spec.partition(":")
    getattr(importlib.import_module(mod), attr)
print("ok")
"""


def _import_with_only(allowed: set[str], modules: list[str], names: list[str] = ()) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1", "TRL_EXPERIMENTAL_SILENCE": "1", "MPLBACKEND": "Agg"}
    return subprocess.run(
        [sys.executable, "-c", _BLOCKER, json.dumps(sorted(allowed)), json.dumps(modules), json.dumps(list(names))],
        capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
    )


def test_gpu_imports_load_with_only_the_image_and_the_carried_wheels(ra):
    """Every module the GPU run imports loads when each distribution that is neither in the device image
    (KINDS.md's list, with its packages' own dependencies) nor carried is hidden -- the device machine's
    situation. A control run hides one carried package (dill) and must fail, so the check has teeth."""
    allowed = _image_closure(ra) | {ra.canonical(w.name) for w in ra.read_wheels()} | {"rest-rl"}
    control = _import_with_only(allowed - {"dill"}, ["datasets"])
    assert control.returncode != 0 and "No module named 'dill'" in control.stderr, control.stderr[-2000:]
    proc = _import_with_only(allowed, [*ra.GPU_IMPORTS, "trl.trainer.grpo_trainer"], list(ra.GPU_NAMES))
    assert proc.returncode == 0 and proc.stdout.strip().endswith("ok"), proc.stderr[-3000:]


def test_wheel_files_are_matched_by_name_and_version(ra, tmp_path):
    for f in ("trl-1.16.0-py3-none-any.whl", "trl-1.15.0-py3-none-any.whl", "multiprocess-0.70.19-py312-none-any.whl"):
        (tmp_path / f).write_bytes(b"")
    wheels = [ra.Wheel("trl", "1.16.0"), ra.Wheel("multiprocess", "0.70.19"), ra.Wheel("dill", "0.4.1")]
    found = ra.wheel_files(tmp_path, wheels)
    assert found["trl"].name == "trl-1.16.0-py3-none-any.whl" and found["multiprocess"] and found["dill"] is None
    cmd = ra.install_command(Path("/tmp/site"), [found["trl"]])
    assert cmd[1:4] == ["-m", "pip", "install"] and "--no-index" in cmd and "--no-deps" in cmd and cmd[-1].endswith("trl-1.16.0-py3-none-any.whl")
    bad = tmp_path / "w.txt"
    bad.write_text("trl>=1.16\n")
    with pytest.raises(ValueError):
        ra.read_wheels(bad)
    bad.write_text("trl==1.16.0\ntrl==1.15.0\n")
    with pytest.raises(ValueError, match="twice"):
        ra.read_wheels(bad)


# ------------------------------------------------------------------------------------------------------------
# Caps: a part that fails or hangs does not take the others with it
# ------------------------------------------------------------------------------------------------------------
def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_capped_part_is_killed_with_its_workers(ra, tmp_path):
    pidfile = tmp_path / "worker.pid"
    hang = (
        "import subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(w.pid))\n"
        "time.sleep(300)\n"
    )
    rec = ra.run_part(ra.Part("hang", [sys.executable, "-c", hang], 3.0), 3.0, dict(os.environ), tmp_path / "run.log")
    assert rec["status"] == "timeout"
    worker = int(pidfile.read_text())
    for _ in range(50):
        if not _alive(worker):
            break
        time.sleep(0.1)
    assert not _alive(worker), "the part's worker outlived its cap"
    assert "===== hang: timeout" in (tmp_path / "run.log").read_text()


def test_one_failing_part_still_returns_the_others(ra, tmp_path, monkeypatch):
    out = tmp_path / "out"
    good = [sys.executable, "-c", f"import json; json.dump({{'arms': {{}}, 'x': 1}}, open({str(out / 'step_qwen3-1.7b.json')!r}, 'w'))"]
    bad = [sys.executable, "-c", "import sys; print('boom'); sys.exit(3)"]
    monkeypatch.setattr(ra, "plan", lambda args: [ra.Part("step-qwen3-0.6b", bad, 30, ["step_qwen3-0.6b.json"]), ra.Part("step-qwen3-1.7b", good, 30, ["step_qwen3-1.7b.json"])])
    monkeypatch.setattr(ra, "preflight_code", lambda: "print('{\"cuda_available\": true}')")
    monkeypatch.setattr(ra, "machine_info", lambda: {"nvidia_smi": "test"})
    rc = ra.main(["--out", str(out), "--work", str(tmp_path / "work"), "--no-install"])
    assert rc == 1
    res = json.loads((out / "results.json").read_text())
    assert res["parts"]["step-qwen3-0.6b"]["status"] == "failed" and res["parts"]["step-qwen3-0.6b"]["exit_code"] == 3
    assert res["parts"]["step-qwen3-1.7b"]["status"] == "ok"
    assert res["parts"]["step-qwen3-1.7b"]["result"]["step_qwen3-1.7b.json"]["x"] == 1
    assert "boom" in (out / "run.log").read_text()
    assert {p.name for p in out.iterdir()} <= set(ra.OUTPUT_FILES)


def test_missing_wheels_stop_before_any_part(ra, tmp_path):
    rc = ra.main(["--out", str(tmp_path / "out"), "--wheels", str(tmp_path / "none")])
    res = json.loads((tmp_path / "out" / "results.json").read_text())
    assert rc == 2 and res["install"]["status"] == "failed" and "trl" in res["install"]["missing"] and not res["parts"]
