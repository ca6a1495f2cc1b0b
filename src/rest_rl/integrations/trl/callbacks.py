"""Trainer callbacks shared by the SFT and GRPO runs: a resumable ``metrics.jsonl``, wall-clock timing
and a compact progress bar.

* :class:`MetricsJsonlCallback` writes one JSON line per log event (``step``, ``epoch``, wall-clock
  ``elapsed_s`` and every logged value). On a resumed run it first drops the lines logged *after* the
  checkpoint it resumes from (those steps are about to be trained again), keeps everything before, and
  appends: no step is repeated or lost, and nothing logged up to the checkpoint is overwritten.
* :class:`WallClockCallback` adds ``time/step_s`` (mean wall seconds per optimizer step since the last
  log) measured by the callback itself: TRL's own ``step_time`` did not match wall time on CPU.
* :class:`ProgressBarCallback` replaces Transformers' progress callback (which prints every log dict in
  full) with one ``tqdm`` bar whose postfix shows a few key numbers; it starts at the resumed step.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

__all__ = [
    "METRICS_FILE",
    "MetricsJsonlCallback",
    "ProgressBarCallback",
    "WallClockCallback",
    "default_callbacks",
    "install_callbacks",
    "read_metrics",
]

METRICS_FILE = "metrics.jsonl"
"""Name of the metrics file written in a run's output directory."""

_POSTFIX_KEYS: tuple[tuple[str, str], ...] = (
    ("loss", "loss"),
    ("reward", "reward"),
    ("rewards/toolrl/exact_match", "exact"),
    ("tools/call_frequency", "calls/ep"),
    ("mean_token_accuracy", "acc"),
    ("learning_rate", "lr"),
    ("time/step_s", "s/step"),
)


def _jsonable(value: Any) -> Any:
    """Floats that JSON can hold (NaN/inf become None), tensors and numpy scalars as Python numbers."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def read_metrics(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl`` (a truncated last line, from a killed run, is ignored)."""
    records = []
    p = Path(path)
    if not p.is_file():
        return records
    for line in p.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


class MetricsJsonlCallback(TrainerCallback):
    """Append every log event to ``<output_dir>/metrics.jsonl`` (or ``path``), resume-safe.

    Args:
        path: the file; default ``<args.output_dir>/metrics.jsonl``.
        extra: constant fields added to every record (e.g. ``{"stage": "rl"}``).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, extra: Mapping[str, Any] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.extra = dict(extra or {})
        self._t0 = time.perf_counter()
        self._elapsed_before = 0.0

    def _file(self, args: Any) -> Path:
        if self.path is None:
            self.path = Path(args.output_dir) / METRICS_FILE
        return self.path

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        if not state.is_world_process_zero:
            return
        path = self._file(args)
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in read_metrics(path) if isinstance(r.get("step"), int) and r["step"] <= state.global_step]
        # Rewrite atomically: the lines of steps after the resumed checkpoint go, the rest stays.
        tmp = path.with_suffix(path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for record in kept:
                fh.write(json.dumps(record) + "\n")
        os.replace(tmp, path)
        elapsed = [r.get("elapsed_s") for r in kept if isinstance(r.get("elapsed_s"), (int, float))]
        self._elapsed_before = float(elapsed[-1]) if elapsed else 0.0
        self._t0 = time.perf_counter()

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if not state.is_world_process_zero or not logs:
            return
        record: dict[str, Any] = {"step": int(state.global_step), "epoch": _jsonable(state.epoch)}
        record["elapsed_s"] = round(self._elapsed_before + time.perf_counter() - self._t0, 3)
        record.update(self.extra)
        for key, value in logs.items():
            record[str(key)] = _jsonable(value)
        with open(self._file(args), "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()


class WallClockCallback(TrainerCallback):
    """Adds ``time/step_s``: wall seconds per optimizer step, averaged since the previous log event."""

    def __init__(self) -> None:
        self._last_time: float | None = None
        self._last_step = 0

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        self._last_time = time.perf_counter()
        self._last_step = state.global_step

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if logs is None or self._last_time is None:
            return
        now = time.perf_counter()
        steps = state.global_step - self._last_step
        if steps > 0 and "train_runtime" not in logs:
            logs["time/step_s"] = (now - self._last_time) / steps
            self._last_time, self._last_step = now, state.global_step


class ProgressBarCallback(TrainerCallback):
    """One ``tqdm`` bar per training run, starting at the resumed step, with a short metrics postfix."""

    def __init__(
        self, description: str = "train", keys: Sequence[tuple[str, str]] = _POSTFIX_KEYS, enabled: bool = True
    ) -> None:
        self.description = description
        self.keys = tuple(keys)
        self.enabled = enabled
        self._bar: Any = None

    def on_train_begin(self, args, state, control, **kwargs):  # noqa: D102
        # Not tied to args.disable_tqdm: Transformers turns that on whenever its log level is above WARNING.
        if not state.is_world_process_zero or not self.enabled:
            return
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=state.max_steps, initial=state.global_step, desc=self.description, dynamic_ncols=True, leave=True
        )

    def on_step_end(self, args, state, control, **kwargs):  # noqa: D102
        if self._bar is not None:
            self._bar.update(state.global_step - self._bar.n)

    def on_log(self, args, state, control, logs=None, **kwargs):  # noqa: D102
        if self._bar is None or not logs:
            return
        post = {}
        for key, short in self.keys:
            value = logs.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                post[short] = f"{value:.3g}"
        if post:
            self._bar.set_postfix(post, refresh=False)

    def on_train_end(self, args, state, control, **kwargs):  # noqa: D102
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def default_callbacks(description: str = "train", extra: Mapping[str, Any] | None = None) -> list[TrainerCallback]:
    """Wall clock (first, so the others see its value), metrics file, progress bar."""
    return [WallClockCallback(), MetricsJsonlCallback(extra=extra), ProgressBarCallback(description)]


def install_callbacks(trainer: Any, callbacks: Iterable[TrainerCallback]) -> None:
    """Add ``callbacks`` to ``trainer``, replacing Transformers' own progress printer when a bar is given."""
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    callbacks = list(callbacks)
    if any(isinstance(cb, ProgressBarCallback) for cb in callbacks):
        trainer.remove_callback(ProgressCallback)
        trainer.remove_callback(PrinterCallback)
    for cb in callbacks:
        trainer.add_callback(cb)
