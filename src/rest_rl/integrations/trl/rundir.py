"""The life of a training run directory: fresh start, resume, finish, failure.

A run directory (``output_dir``) holds, besides Transformers' ``checkpoint-N/`` folders:

* ``run_config.yaml`` — the configuration the run *continues with* (``--resume`` reads it back);
* ``run_status.json`` — ``status`` (``running`` / ``finished`` / ``failed``), the last known step, the
  step budget, and a history of starts and resumes (with any change a resume made);
* ``metrics.jsonl`` — one record per logged step (appended across resumes);
* ``data_report.json`` — what the data loaders read and skipped (only when a row was skipped).

The rules (``docs/training.md`` states them for users):

* A fresh run refuses a directory that already holds a run, unless ``--overwrite``.
* ``--resume`` continues the *stored* configuration. A value that differs from it is refused with the list
  of differences, except the documented :data:`RESUMABLE_KEYS` (``max_steps``: extend a finished or
  running run), which are recorded in ``run_config.yaml`` and in the status history.
* A checkpoint is *complete* when its ``trainer_state.json`` (written last by Transformers) reads back
  and its weights are there; automatic resume takes the newest complete one and names the ones it skipped.
* A checkpoint of another run directory is refused.
* A run whose newest checkpoint (or status) is already at ``max_steps`` is reported as finished, not stepped.
* A fresh run that fails before its first checkpoint removes what it wrote, so a plain rerun works.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rest_rl.errors import UserError

__all__ = [
    "RESUMABLE_KEYS",
    "RUN_CONFIG_FILE",
    "RUN_STATUS_FILE",
    "CheckpointChoice",
    "check_writable_dir",
    "checkpoint_problem",
    "choose_checkpoint",
    "config_differences",
    "read_status",
    "write_status",
]

RUN_CONFIG_FILE = "run_config.yaml"
"""The resolved configuration a run writes into its output directory (``--resume`` reads it back)."""

RUN_STATUS_FILE = "run_status.json"
"""Status and start/resume history of a run directory."""

RESUMABLE_KEYS: tuple[str, ...] = ("max_steps",)
"""Keys of the trainer section that ``--resume`` may change (to extend a run); any other change is refused."""

_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
_WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.safetensors",
    "adapter_model.bin",
)


def check_writable_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and its parents) if needed and prove it writable with a probe file; a one-line
    :class:`~rest_rl.errors.UserError` names the problem (a file in the way, no permission, read-only disk)."""
    out = Path(path)
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"output directory {out}: {parent} exists and is not a directory")
            break
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".rest-rl-write-probe-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"output directory {out} is not writable: {exc.strerror or exc}") from None
    return out


def checkpoint_problem(path: str | os.PathLike[str]) -> str | None:
    """Why ``path`` is not a complete Transformers checkpoint, or ``None`` when it is one."""
    ckpt = Path(path)
    if not ckpt.is_dir():
        return "not a directory"
    state = ckpt / "trainer_state.json"
    if not state.is_file():
        return "no trainer_state.json (the checkpoint was cut while being written)"
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "trainer_state.json does not read back (cut while being written)"
    if not isinstance(data, dict) or not isinstance(data.get("global_step"), int):
        return "trainer_state.json has no global_step"
    if not any((ckpt / name).is_file() for name in _WEIGHT_FILES):
        return "no model weights"
    return None


def checkpoint_step(path: str | os.PathLike[str]) -> int:
    """The ``global_step`` recorded in a complete checkpoint's ``trainer_state.json``."""
    return int(json.loads((Path(path) / "trainer_state.json").read_text(encoding="utf-8"))["global_step"])


def _checkpoints(out: Path) -> list[Path]:
    found = [p for p in out.iterdir() if p.is_dir() and _CHECKPOINT_RE.match(p.name)] if out.is_dir() else []
    return sorted(found, key=lambda p: int(_CHECKPOINT_RE.match(p.name).group(1)))  # type: ignore[union-attr]


@dataclass
class CheckpointChoice:
    """The checkpoint a resume starts from, and the newer ones skipped as incomplete (with why)."""

    path: Path
    step: int
    skipped: list[tuple[Path, str]]


def choose_checkpoint(output_dir: str | os.PathLike[str], resume: str) -> CheckpointChoice:
    """The checkpoint ``--resume`` continues: ``resume == "auto"`` takes the newest *complete* checkpoint of
    ``output_dir``; otherwise ``resume`` is a checkpoint path, which must be complete and belong to
    ``output_dir``. One-line :class:`~rest_rl.errors.UserError` otherwise."""
    out = Path(output_dir)
    if resume == "auto":
        skipped: list[tuple[Path, str]] = []
        for ckpt in reversed(_checkpoints(out)):
            problem = checkpoint_problem(ckpt)
            if problem is None:
                return CheckpointChoice(ckpt, checkpoint_step(ckpt), skipped)
            skipped.append((ckpt, problem))
        if skipped:
            names = ", ".join(f"{p.name} ({why})" for p, why in skipped)
            raise UserError(f"--resume: no complete checkpoint in {out}; incomplete: {names}")
        raise UserError(f"--resume: no checkpoint-* directory in {out}")
    ckpt = Path(resume)
    problem = checkpoint_problem(ckpt)
    if problem is not None:
        raise UserError(f"--resume: {ckpt} is not a usable checkpoint: {problem}")
    if ckpt.resolve().parent != out.resolve():
        raise UserError(
            f"--resume: {ckpt} belongs to the run in {ckpt.resolve().parent}, not to the output directory {out}; "
            f"resume that run with --output-dir {ckpt.resolve().parent} --resume"
        )
    return CheckpointChoice(ckpt, checkpoint_step(ckpt), [])


def _flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(tree, Mapping):
        out: dict[str, Any] = {}
        for key, value in tree.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: tree}


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """``(dotted key, stored value, current value)`` for every leaf that differs between two resolved
    configuration trees (a key missing on one side counts as ``None``), sorted by key."""
    a, b = _flatten(stored), _flatten(current)
    return [(key, a.get(key), b.get(key)) for key in sorted(set(a) | set(b)) if a.get(key) != b.get(key)]


def read_status(output_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """``run_status.json`` of a run directory (an empty dict when absent or unreadable)."""
    try:
        data = json.loads((Path(output_dir) / RUN_STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def write_status(output_dir: str | os.PathLike[str], status: str, *, event: Mapping[str, Any] | None = None, **fields: Any) -> None:
    """Update ``run_status.json``: set ``status`` and ``fields``; append ``event`` (timestamped) to the history."""
    path = Path(output_dir) / RUN_STATUS_FILE
    data = read_status(output_dir)
    data.update(fields)
    data["status"] = status
    data["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    if event is not None:
        data.setdefault("history", []).append({"time": data["updated"], **event})
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1, sort_keys=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # never half-written


def remove_fresh_run_files(output_dir: str | os.PathLike[str], created_dir: bool, names: tuple[str, ...]) -> None:
    """Undo a fresh run that failed before its first checkpoint: delete the files it wrote (and the
    directory itself when the run created it and nothing else is left)."""
    out = Path(output_dir)
    for name in names:
        (out / name).unlink(missing_ok=True)
    if created_dir:
        try:
            out.rmdir()
        except OSError:
            pass
