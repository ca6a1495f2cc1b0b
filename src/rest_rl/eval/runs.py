"""Run directories for evaluations: one fresh directory per run, append-only predictions, resume.

Every evaluation writes into its own directory, by default ``<out_dir>/<prefix>-<YYYYmmdd-HHMMSS>``
(a ``-2``, ``-3``... suffix when that name exists), so a rerun never overwrites or merges with an
earlier run: scores can never silently become best-of-k. The directory holds:

* ``config.json``: what was run. Its ``identity`` block (model, engine, decoding settings, data
  checksums, protocol version) is what a resume must match exactly; ``invocations`` logs each
  command that wrote into the directory.
* ``predictions.jsonl``: one JSON object per sample with a unique ``"id"``, appended and flushed as
  samples finish, so an interrupted run loses at most the chunk in flight.

Resuming (``--resume DIR``) only generates the samples whose id is not yet in the predictions file;
a sample already there is never generated again, whatever its verdict. A truncated last line (a
crash in the middle of a write) is ignored and regenerated; any other malformed line is an error
naming the file and line.

Every benchmark's run settings derive from :class:`EvalRunConfig` (model, engine, decoding, output,
resume), checked when built; :func:`build_engine` turns one into a generation engine, and
:func:`open_run` (or its two halves :func:`open_run_dir` and :func:`start_or_resume`) opens the run
directory and its ``config.json`` record, fresh or resumed.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from rest_rl.errors import UserError
from rest_rl.eval.engines import GenerationEngine, GenerationRequest, make_engine
from rest_rl.eval.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, BootstrapSettings

__all__ = [
    "CONFIG_FILE",
    "ENGINES",
    "PREDICTIONS_FILE",
    "EvalRunConfig",
    "RunError",
    "append_jsonl",
    "build_engine",
    "check_identity",
    "chunked",
    "generate_checked",
    "log_invocation",
    "new_run_dir",
    "open_run",
    "open_run_dir",
    "option",
    "read_json",
    "read_predictions",
    "slugify",
    "start_or_resume",
    "write_json",
]

_T = TypeVar("_T")

CONFIG_FILE = "config.json"
PREDICTIONS_FILE = "predictions.jsonl"

#: The generation engines a run can use (see :func:`rest_rl.eval.engines.make_engine`).
ENGINES: tuple[str, ...] = ("hf", "vllm", "openai")


class RunError(UserError, RuntimeError):
    """A run directory cannot be created, read or resumed (the message names the file and why)."""


def slugify(text: str, max_len: int = 60) -> str:
    """A file-name-safe form of ``text`` (a model path or hub id): its last two path parts, ``[A-Za-z0-9._-]``."""
    parts = [p for p in re.split(r"[\\/]+", str(text)) if p and p not in (".", "..")]
    tail = "_".join(parts[-2:]) if parts else "model"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", tail).strip("-.") or "model"
    return slug[:max_len]


def new_run_dir(root: str | os.PathLike[str], prefix: str) -> Path:
    """Create and return a fresh directory ``root/<prefix>-<timestamp>[-N]`` (never an existing one)."""
    base = Path(root)
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunError(f"cannot create output directory {base}: {exc.strerror or exc}") from None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1, 1000):
        candidate = base / (f"{prefix}-{stamp}" if n == 1 else f"{prefix}-{stamp}-{n}")
        try:
            candidate.mkdir()
        except FileExistsError:
            continue
        except OSError as exc:
            raise RunError(f"cannot create run directory {candidate}: {exc.strerror or exc}") from None
        return candidate
    raise RunError(f"cannot find a free run directory name under {base}")


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented UTF-8 JSON, atomically (a temporary file, then a rename)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file; a missing or malformed file raises :class:`RunError` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{path}: not readable JSON ({exc})") from None


def append_jsonl(path: str | os.PathLike[str], records: Iterable[Mapping[str, Any]]) -> int:
    """Append ``records`` to a JSONL file (one compact line each), flushed to disk; returns the count.

    A file whose last line lacks its newline (an interrupted write) is first cut back to its last
    complete line, so the new records never glue onto a broken one.
    """
    path = Path(path)
    if path.exists() and path.stat().st_size:
        with path.open("rb+") as fh:
            data = fh.read()
            if not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
    n = 0
    with path.open("a", encoding="utf-8") as fh:
        for rec in records:
            line = json.dumps(rec, ensure_ascii=False, allow_nan=True)
            try:
                line.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (model output can hold one): escape it, as JSON allows
                line = json.dumps(rec, ensure_ascii=True, allow_nan=True)
            fh.write(line + "\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n


def read_predictions(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read a predictions JSONL file into ``{id: record}`` (first record of an id wins).

    A missing file reads as empty. A truncated final line (no newline, not JSON) is ignored; any
    other line that is not a JSON object with a string ``"id"`` raises :class:`RunError` naming the
    file and line number.
    """
    path = Path(path)
    if not path.exists():
        return {}
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read ({exc})") from None
    lines = raw.split("\n")
    out: dict[str, dict[str, Any]] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        is_tail = number == len(lines)  # no newline after it: possibly cut short by a crash
        try:
            rec = json.loads(line)
        except ValueError:
            if is_tail:
                continue
            raise RunError(f"{path}, line {number}: not valid JSON") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), str):
            raise RunError(f"{path}, line {number}: a prediction must be a JSON object with a string 'id'")
        out.setdefault(rec["id"], rec)
    return out


def check_identity(saved: Mapping[str, Any], current: Mapping[str, Any], where: str) -> None:
    """Raise :class:`RunError` when two identity blocks differ, listing every differing key."""
    diffs = [
        f"{k}: run has {saved.get(k)!r}, now {current.get(k)!r}"
        for k in sorted(set(saved) | set(current))
        if saved.get(k) != current.get(k)
    ]
    if diffs:
        raise RunError(f"cannot resume {where}: the configuration differs ({'; '.join(diffs)}); start a new run instead")


# ------------------------------------------------------------------------------------------------
# Run settings shared by every benchmark, and the engine they build
# ------------------------------------------------------------------------------------------------


def option(default: Any, help: str, metavar: str | None = None) -> Any:
    """A run-config field: its default, and in its metadata the help text (``--help`` and the config
    listings show it) and, optionally, the metavar of its generated ``--flag``."""
    metadata = {"help": help} if metavar is None else {"help": help, "metavar": metavar}
    return field(default=default, metadata=metadata)


@dataclass
class EvalRunConfig:
    """Settings every evaluation run shares: the model and engine, decoding, output and resume.

    Each benchmark's config subclasses it, adding its own fields (and may redeclare one to change its
    default). The fields are the keys of ``rest-rl eval <benchmark> --config`` files and ``--set``
    overrides, and each is also a ``--flag`` (dashes for underscores). Bad values raise ``ValueError``
    when the config is built (the config engine reports them as one-line errors).
    """

    model: str = field(
        metadata={"help": "Model directory or hub id (hf, vllm engines), or the served model name (openai).", "metavar": "DIR_OR_ID"}
    )
    engine: str = option("hf", "Generation engine: hf, vllm or openai.")
    base_url: str | None = option(None, "OpenAI-compatible server URL, e.g. http://localhost:8000/v1 (openai engine).", "URL")
    limit: int | None = option(None, "Evaluate only the first N items of each level / category (the report says it is a subset).", "N")
    batch_size: int = option(8, "Prompts per batch (hf) / requests in flight (openai).", "N")
    max_new_tokens: int = option(1024, "Most tokens generated per sample.", "N")
    device: str = option("auto", "hf engine device: auto, cpu, cuda, cuda:1, ...")
    dtype: str = option("auto", "Model dtype: auto, float32, bfloat16 or float16.")
    out_dir: str = option("runs/eval", "Parent of the fresh run directory.", "DIR")
    resume: str | None = option(
        None,
        "Complete an earlier run directory: generate only what it is missing (refused if the model, decoding or "
        "protocol settings differ).",
        "DIR",
    )
    chunk_size: int = option(64, "Items generated between two saves.", "N")
    bootstrap_resamples: int = option(
        DEFAULT_RESAMPLES, "Bootstrap resamples behind each score's 95% interval (reporting only; not part of the identity).", "N"
    )
    bootstrap_seed: int = option(DEFAULT_SEED, "Seed of the bootstrap resampling (reporting only).", "N")

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError("model must be a model directory, hub id or served model name, got an empty value")
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if self.engine == "openai" and not self.base_url:
            raise ValueError("engine openai needs base_url (--base-url), e.g. http://localhost:8000/v1")
        for name in ("limit", "batch_size", "max_new_tokens", "chunk_size", "bootstrap_resamples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, got {value}")

    def bootstrap_settings(self) -> BootstrapSettings:
        """The interval settings of the report."""
        return BootstrapSettings(resamples=self.bootstrap_resamples, seed=self.bootstrap_seed)

    def benchmark_identity(self) -> dict[str, Any]:
        """The benchmark's own identity entries (name, protocol version, ...); subclasses provide them."""
        return {}

    def identity(self, data_sha256: Mapping[str, str]) -> dict[str, Any]:
        """What a resumed run must share with the original: the benchmark's entries, the model (a local
        directory by its absolute path), engine, server (openai), dtype, decoding and data checksums."""
        model = self.model
        if self.engine != "openai" and Path(model).exists():
            model = str(Path(model).resolve())
        return {
            **self.benchmark_identity(),
            "model": model,
            "engine": self.engine,
            "base_url": self.base_url if self.engine == "openai" else None,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "data_sha256": dict(sorted(data_sha256.items())),
        }


def build_engine(config: EvalRunConfig) -> GenerationEngine:
    """The generation engine ``config`` asks for (loads the model; raises
    :class:`~rest_rl.eval.engines.EngineError` when it cannot)."""
    if config.engine == "hf":
        return make_engine("hf", config.model, batch_size=config.batch_size, device=config.device, dtype=config.dtype)
    if config.engine == "vllm":
        return make_engine("vllm", config.model, dtype=config.dtype)
    if config.engine == "openai":
        return make_engine("openai", config.model, base_url=config.base_url, concurrency=config.batch_size)
    return make_engine(config.engine, config.model)


def chunked(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    """``items`` in consecutive slices of ``size`` (the last may be shorter): what is generated between two saves."""
    for start in range(0, len(items), max(1, size)):
        yield items[start : start + max(1, size)]


def generate_checked(engine: GenerationEngine, requests: Sequence[GenerationRequest], max_new_tokens: int) -> list[str]:
    """``engine``'s greedy completions of ``requests`` (no progress bar of its own), one per request or
    :class:`RunError`; a completion that is not a string reads as ``""``."""
    outputs = engine.generate(requests, max_new_tokens=max_new_tokens, progress=False)
    if len(outputs) != len(requests):
        raise RunError(f"engine returned {len(outputs)} completions for {len(requests)} prompts")
    return [output if isinstance(output, str) else "" for output in outputs]


# ------------------------------------------------------------------------------------------------
# Opening a run: a fresh directory, or the one to resume
# ------------------------------------------------------------------------------------------------


def open_run_dir(config: EvalRunConfig, prefix: str) -> Path:
    """The run directory: ``config.resume`` (which must exist), else a fresh ``<out_dir>/<prefix>-<time>``."""
    if config.resume:
        run_dir = Path(config.resume)
        if not run_dir.is_dir():
            raise RunError(f"{run_dir}: no such run directory")
        return run_dir
    return new_run_dir(config.out_dir, prefix)


def start_or_resume(run_dir: Path, identity: Mapping[str, Any], *, resume: bool, **fresh: Any) -> dict[str, Any]:
    """The run's ``config.json`` record: when resuming, the saved one (its ``identity`` must equal
    ``identity``, see :func:`check_identity`); else a new ``{"identity", **fresh, "invocations": []}``."""
    if not resume:
        return {"identity": dict(identity), **fresh, "invocations": []}
    saved = read_json(run_dir / CONFIG_FILE)
    if not isinstance(saved, dict) or not isinstance(saved.get("identity"), dict):
        raise RunError(f"{run_dir / CONFIG_FILE}: not an evaluation run config (no 'identity')")
    check_identity(saved["identity"], identity, str(run_dir))
    return saved


def open_run(config: EvalRunConfig, prefix: str, identity: Mapping[str, Any], **fresh: Any) -> tuple[Path, dict[str, Any]]:
    """:func:`open_run_dir` then :func:`start_or_resume`: the run directory and its ``config.json`` record.

    A resume target is checked (exists, same identity) before anything is written; a fresh run gets
    a new directory. For benchmarks that need the directory before they know their identity, call
    the two halves separately.
    """
    run_dir = open_run_dir(config, prefix)
    return run_dir, start_or_resume(run_dir, identity, resume=bool(config.resume), **fresh)


def log_invocation(run_dir: Path, record: dict[str, Any], config: EvalRunConfig, **details: Any) -> None:
    """Append this command to ``record["invocations"]`` (time, ``details``, limit, batch size, device,
    argv) and write ``record`` as the run's ``config.json``."""
    record.setdefault("invocations", []).append(
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **details,
            "limit": config.limit,
            "batch_size": config.batch_size,
            "device": config.device,
            "argv": list(sys.argv),
        }
    )
    write_json(run_dir / CONFIG_FILE, record)
