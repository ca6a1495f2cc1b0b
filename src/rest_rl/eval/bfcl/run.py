"""A BFCL v3 evaluation run: generate with a :class:`~rest_rl.eval.engines.GenerationEngine`, write
bfcl-eval's result files into a run directory, score them with its checkers, report.

The run directory is also ``BFCL_PROJECT_ROOT`` (when bfcl-eval is first imported by the run)::

    runs/eval/bfcl-<model>-<style>-<time>/
      config.json                                   what was run (identity + invocations)
      result/<model>/BFCL_v3_<category>_result.json one {"id", "result", ...} line per entry
      score/<model>/BFCL_v3_<category>_score.json   accuracy line, then each failed entry
      scores.json                                   per-category counts and the v3 summary
      report.md                                     the table, with settings and caveats

Single-turn entries are generated in chunks, multi-turn conversations in lock-step rounds (every
unfinished conversation's next step goes into one ``generate`` call); each entry's record is
appended as soon as it is complete. ``resume`` completes an earlier run directory: only entries
without a record are generated (an unfinished conversation restarts from its first turn), and the
identity (model, engine, style, decoding, bfcl-eval version, data checksums) must match.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.eval.bfcl.data import ALL_CATEGORIES, BfclEntry, data_checksums, load_entries, resolve_categories
from rest_rl.eval.bfcl.multiturn import Conversation
from rest_rl.eval.bfcl.official import BFCL_VERSION, BfclApi, BfclUnavailable, bfcl_available, load_bfcl
from rest_rl.eval.bfcl.prompts import STYLES, build_request, function_docs
from rest_rl.eval.bfcl.score import (
    BfclScores,
    read_results,
    result_file,
    score_entries,
    scores_table,
    write_score_files,
)
from rest_rl.eval.engines import GenerationEngine
from rest_rl.eval.runs import (
    CONFIG_FILE,
    RunError,
    append_jsonl,
    check_identity,
    new_run_dir,
    read_json,
    slugify,
    write_json,
)

__all__ = ["PROTOCOL_VERSION", "BfclConfig", "BfclRun", "run_bfcl"]

#: Bumped whenever prompts, decoding or scoring change; part of a run's identity.
PROTOCOL_VERSION = "bfcl-v3/rest-rl-1"


@dataclass
class BfclConfig:
    """Settings of a BFCL v3 evaluation run (the CLI's ``eval bfcl`` options)."""

    model: str = field(metadata={"help": "Model directory or hub id (hf/vllm), or the served model name (openai)."})
    categories: Sequence[str] = field(default=("all",), metadata={"help": "Categories or groups (all, non_live, live, multi_turn, single_turn)."})
    style: str = field(default="toolrl", metadata={"help": "Prompt style: toolrl (our training format) or fc (native chat template + tools)."})
    engine: str = field(default="hf", metadata={"help": "Generation engine: hf, vllm or openai."})
    base_url: str | None = field(default=None, metadata={"help": "OpenAI-compatible server URL (openai engine)."})
    limit: int | None = field(default=None, metadata={"help": "Evaluate only the first N entries of each category."})
    batch_size: int = field(default=8, metadata={"help": "Prompts per batch (hf) / requests in flight (openai)."})
    max_new_tokens: int = field(default=2048, metadata={"help": "Most tokens generated per step."})
    device: str = field(default="auto", metadata={"help": "hf engine device (auto, cpu, cuda, ...)."})
    dtype: str = field(default="auto", metadata={"help": "Model dtype (auto, float32, bfloat16, float16)."})
    out_dir: str = field(default="runs/eval", metadata={"help": "Parent of the fresh run directory."})
    resume: str | None = field(default=None, metadata={"help": "Existing run directory to complete."})
    chunk_size: int = field(default=64, metadata={"help": "Single-turn entries (or conversations) between two saves."})

    def identity(self, data_sha256: Mapping[str, str]) -> dict[str, Any]:
        """What a resumed run must share with the original."""
        model = self.model
        if self.engine != "openai" and Path(model).exists():
            model = str(Path(model).resolve())
        return {
            "benchmark": "bfcl-v3",
            "protocol": PROTOCOL_VERSION,
            "bfcl_eval": BFCL_VERSION,
            "model": model,
            "style": self.style,
            "engine": self.engine,
            "base_url": self.base_url if self.engine == "openai" else None,
            "dtype": self.dtype,
            "max_new_tokens": self.max_new_tokens,
            "data_sha256": dict(data_sha256),
        }


@dataclass
class BfclRun:
    """Result of :func:`run_bfcl`: where it went, what it scored, how much was generated now."""

    run_dir: Path
    model_dir: str
    scores: BfclScores
    generated: int
    reused: int
    table: str


def _build_engine(config: BfclConfig) -> GenerationEngine:
    from rest_rl.eval.engines import make_engine

    if config.engine == "hf":
        return make_engine("hf", config.model, batch_size=config.batch_size, device=config.device, dtype=config.dtype)
    if config.engine == "vllm":
        return make_engine("vllm", config.model, dtype=config.dtype)
    if config.engine == "openai":
        return make_engine("openai", config.model, base_url=config.base_url, concurrency=config.batch_size)
    return make_engine(config.engine, config.model)


def _single_turn_record(entry: BfclEntry, style: str, output: str) -> dict[str, Any]:
    return {"id": entry.id, "result": output, "style": style}


def _generate_single_turn(
    entries: Sequence[BfclEntry],
    engine: GenerationEngine,
    config: BfclConfig,
    write: Callable[[BfclEntry, dict[str, Any]], None],
    api: BfclApi,
    bar: Any,
) -> None:
    step = max(1, config.chunk_size)
    for start in range(0, len(entries), step):
        chunk = entries[start : start + step]
        requests = [
            build_request(config.style, function_docs(e.functions, e.category, api), e.question[0]) for e in chunk
        ]
        outputs = engine.generate(requests, max_new_tokens=config.max_new_tokens, progress=False)
        if len(outputs) != len(chunk):
            raise RunError(f"engine returned {len(outputs)} completions for {len(chunk)} prompts")
        for entry, output in zip(chunk, outputs):
            write(entry, _single_turn_record(entry, config.style, output if isinstance(output, str) else ""))
        bar.update(len(chunk))


def _generate_multi_turn(
    entries: Sequence[BfclEntry],
    engine: GenerationEngine,
    config: BfclConfig,
    write: Callable[[BfclEntry, dict[str, Any]], None],
    api: BfclApi,
    bar: Any,
) -> None:
    step = max(1, config.chunk_size)
    for start in range(0, len(entries), step):
        conversations = [Conversation(e, config.style, api) for e in entries[start : start + step]]
        for c in conversations:  # an entry without turns is finished at once
            if c.done:
                write(c.entry, c.record())
                bar.update(1)
        active = [c for c in conversations if not c.done]
        while active:
            outputs = engine.generate([c.request() for c in active], max_new_tokens=config.max_new_tokens, progress=False)
            if len(outputs) != len(active):
                raise RunError(f"engine returned {len(outputs)} completions for {len(active)} prompts")
            for conversation, output in zip(active, outputs):
                conversation.feed(output if isinstance(output, str) else "")
                if conversation.done:
                    write(conversation.entry, conversation.record())
                    bar.update(1)
            active = [c for c in active if not c.done]


def _report_markdown(scores: BfclScores, config: Mapping[str, Any], run_dir: Path, model_dir: str) -> str:
    ident = config.get("identity", {})
    style = ident.get("style")
    style_text = {
        "toolrl": "ToolRL training format (system prompt with the tools, `<tool_call>` JSON lines)",
        "fc": "function calling with the model's chat template (`tools=`; Hermes `<tool_call>` blocks)",
    }.get(str(style), str(style))
    lines = [
        "# BFCL v3 evaluation",
        "",
        f"- Model: `{ident.get('model')}` (engine `{ident.get('engine')}`, greedy, max_new_tokens "
        f"{ident.get('max_new_tokens')} per step)",
        f"- Prompt style: `{style}`: {style_text}",
        f"- Scorer: bfcl-eval {ident.get('bfcl_eval')} checkers (AST checker; multi-turn state and result "
        "checker run on fresh simulators, calls parsed with `ast`, never `eval`); protocol "
        f"`{ident.get('protocol')}`",
        f"- Results: `{run_dir / 'result' / model_dir}`; per-entry failures: `{run_dir / 'score' / model_dir}`",
        "",
        scores_table(scores),
        "",
        "Overall (v3) = unweighted mean of non-live, live (count-weighted) and multi-turn; non-live = "
        "unweighted mean of simple-AST (simple, java, javascript), multiple, parallel, parallel_multiple, "
        "irrelevance; multi-turn = unweighted mean of its four categories.",
        "",
    ]
    note = scores.subset_note()
    lines.append(note if note else "Full benchmark (4,441 entries).")
    if style == "toolrl":
        lines.append(
            "ToolRL-format scores are not directly comparable with the public leaderboard, which runs "
            "function-calling models through their native chat template (style `fc`)."
        )
    lines.append("")
    return "\n".join(lines)


def run_bfcl(
    config: BfclConfig,
    *,
    engine: GenerationEngine | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> BfclRun:
    """Evaluate a model on BFCL v3 into a run directory (fresh, or ``config.resume``).

    ``engine`` overrides building one from ``config`` (it is built only when something is left to
    generate). Raises :class:`~rest_rl.eval.bfcl.official.BfclUnavailable` without bfcl-eval,
    :class:`~rest_rl.eval.runs.RunError` for run-directory problems, ``ValueError`` for bad settings
    and :class:`~rest_rl.eval.engines.EngineError` for engine problems.
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    if config.style not in STYLES:
        raise ValueError(f"unknown prompt style {config.style!r}; choose one of: {', '.join(STYLES)}")
    if config.max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be >= 1, got {config.max_new_tokens}")
    if config.limit is not None and config.limit < 1:
        raise ValueError(f"limit must be >= 1, got {config.limit}")
    categories = resolve_categories(config.categories)
    if not bfcl_available():
        load_bfcl()  # raises BfclUnavailable with the reason and the install command
    if config.resume:
        run_dir = Path(config.resume)
        if not run_dir.is_dir():
            raise RunError(f"{run_dir}: no such run directory")
    else:
        if engine is None:
            engine = _build_engine(config)  # before the run directory exists: a bad model leaves nothing behind
        run_dir = new_run_dir(config.out_dir, f"bfcl-{slugify(config.model)}-{config.style}")
    try:
        api = load_bfcl(run_dir)
    except BfclUnavailable:
        if not config.resume:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was run: leave nothing behind
        raise
    if api.project_root.resolve() != run_dir.resolve():
        say(f"note: bfcl-eval was imported earlier in this process; its own result/score folders are under {api.project_root}")
    identity = config.identity(data_checksums(ALL_CATEGORIES, api))
    model_dir = slugify(config.model)
    if config.resume:
        saved = read_json(run_dir / CONFIG_FILE)
        if not isinstance(saved, dict) or not isinstance(saved.get("identity"), dict):
            raise RunError(f"{run_dir / CONFIG_FILE}: not an evaluation run config (no 'identity')")
        check_identity(saved["identity"], identity, str(run_dir))
        run_config = saved
        model_dir = str(saved.get("model_dir") or model_dir)
    else:
        run_config = {"identity": identity, "model_dir": model_dir, "bfcl_project_root": str(api.project_root), "invocations": []}

    entries = load_entries(categories, limit=config.limit, api=api)
    existing = read_results(run_dir, model_dir, categories)
    missing = [e for e in entries if e.id not in existing]
    run_config.setdefault("invocations", []).append(
        {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "categories": list(categories),
            "limit": config.limit,
            "batch_size": config.batch_size,
            "device": config.device,
            "generated": len(missing),
            "argv": list(sys.argv),
        }
    )
    write_json(run_dir / CONFIG_FILE, run_config)

    def write(entry: BfclEntry, record: dict[str, Any]) -> None:
        path = result_file(run_dir, model_dir, entry.category)
        path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(path, [record])

    if missing:
        say(f"BFCL: generating {len(missing)} of {len(entries)} entries ({config.style} style) into {run_dir}")
        engine = engine or _build_engine(config)
        from tqdm.auto import tqdm

        with tqdm(total=len(missing), disable=not progress, desc="bfcl", unit="entry", dynamic_ncols=True) as bar:
            single = [e for e in missing if not e.is_multi_turn]
            multi = [e for e in missing if e.is_multi_turn]
            _generate_single_turn(single, engine, config, write, api, bar)
            _generate_multi_turn(multi, engine, config, write, api, bar)
    else:
        say(f"BFCL: all {len(entries)} selected entries already in {run_dir}; scoring only")

    records = read_results(run_dir, model_dir, categories)
    results = {key: rec.get("result") for key, rec in records.items()}
    verdicts = score_entries(entries, results, config.style, api)
    write_score_files(run_dir, model_dir, verdicts, results, entries)
    scores = BfclScores.from_verdicts(verdicts, api)
    write_json(
        run_dir / "scores.json",
        {
            "benchmark": "bfcl-v3",
            "protocol": PROTOCOL_VERSION,
            "bfcl_eval": BFCL_VERSION,
            "model": identity["model"],
            "style": config.style,
            "categories_evaluated": list(categories),
            "limit": config.limit,
            **scores.to_dict(),
        },
    )
    (run_dir / "report.md").write_text(_report_markdown(scores, run_config, run_dir, model_dir), encoding="utf-8")
    return BfclRun(
        run_dir=run_dir,
        model_dir=model_dir,
        scores=scores,
        generated=len(missing),
        reused=len(entries) - len(missing),
        table=scores_table(scores),
    )

