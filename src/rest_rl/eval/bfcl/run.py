"""A BFCL v3 evaluation run: generate with a :class:`~rest_rl.eval.engines.GenerationEngine`, write
bfcl-eval's result files into a run directory, score them with its checkers, report.

The run directory is also ``BFCL_PROJECT_ROOT`` (when bfcl-eval is first imported by the run)::

    runs/eval/bfcl-<model>-<style>-<time>/
      config.json                                   what was run (identity + invocations)
      result/<model>/BFCL_v3_<category>_result.json one {"id", "result", ...} line per entry
      score/<model>/BFCL_v3_<category>_score.json   accuracy line, then each failed entry
      scores.json                                   per-category counts and the v3 summary, with 95% intervals
      verdicts.jsonl                                every scored entry's verdict (read by `rest-rl eval compare`)
      report.md                                     the table, with settings and caveats

Single-turn entries are generated in chunks, multi-turn conversations in lock-step rounds (every
unfinished conversation's next step goes into one ``generate`` call); each entry's record is
appended as soon as it is complete. ``resume`` completes an earlier run directory: only entries
without a record are generated (an unfinished conversation restarts from its first turn), and the
identity (model, engine, style, decoding, bfcl-eval version, data checksums, protocol version) must
match, so a run made under an earlier protocol version is refused.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from rest_rl.eval.compare import write_verdicts
from rest_rl.eval.engines import GenerationEngine
from rest_rl.eval.runs import (
    EvalRunConfig,
    append_jsonl,
    build_engine,
    chunked,
    generate_checked,
    log_invocation,
    open_run_dir,
    option,
    slugify,
    start_or_resume,
    write_json,
)
from rest_rl.eval.stats import BootstrapSettings

__all__ = ["PROTOCOL_VERSION", "BfclConfig", "BfclRun", "run_bfcl"]

#: Bumped whenever prompts, decoding or scoring change; part of a run's identity.
#: 2: the ``toolrl`` style drops a bad line of a ``<tool_call>`` block and keeps the others (ToolRL's
#: parser rule) instead of failing the whole block; ``fc`` unchanged.
PROTOCOL_VERSION = "bfcl-v3/rest-rl-2"


@dataclass
class BfclConfig(EvalRunConfig):
    """Settings of a BFCL v3 evaluation run (``rest-rl eval bfcl``): the shared run settings of
    :class:`~rest_rl.eval.runs.EvalRunConfig` plus the categories and the prompt style."""

    max_new_tokens: int = option(2048, "Most tokens generated per step.", "N")
    categories: Sequence[str] = option(
        ("all",),
        "Categories or groups: all, non_live, live, multi_turn, single_turn, or any of " + ", ".join(ALL_CATEGORIES) + ".",
        "CAT",
    )
    style: str = option(
        "toolrl",
        "Prompt style: toolrl (ToolRL system prompt, <tool_call> JSON lines) or fc (native chat template with "
        "tools=, Hermes <tool_call> blocks: comparable with the public leaderboard's FC entries).",
    )


    def __post_init__(self) -> None:
        super().__post_init__()
        if self.style not in STYLES:
            raise ValueError(f"unknown prompt style {self.style!r}; choose one of: {', '.join(STYLES)}")
        resolve_categories(self.categories)  # raises ValueError naming an unknown category

    def benchmark_identity(self) -> dict[str, Any]:
        """The benchmark, the protocol version, the bfcl-eval release and the prompt style."""
        return {"benchmark": "bfcl-v3", "protocol": PROTOCOL_VERSION, "bfcl_eval": BFCL_VERSION, "style": self.style}


@dataclass
class BfclRun:
    """Result of :func:`run_bfcl`: where it went, what it scored, how much was generated now."""

    run_dir: Path
    model_dir: str
    scores: BfclScores
    generated: int
    reused: int
    table: str


def _single_turn_record(entry: BfclEntry, style: str, output: str) -> dict[str, Any]:
    return {"id": entry.id, "result": output, "style": style}


@dataclass
class _Generation:
    """Generates entries' results chunk by chunk, handing each finished entry's record to ``write``."""

    engine: GenerationEngine
    config: BfclConfig
    api: BfclApi
    write: Callable[[BfclEntry, dict[str, Any]], None]
    bar: Any

    def _finish(self, entry: BfclEntry, record: dict[str, Any]) -> None:
        self.write(entry, record)
        self.bar.update(1)

    def single_turn(self, entries: Sequence[BfclEntry]) -> None:
        """One prompt per entry (its first and only turn), ``chunk_size`` entries per ``generate`` call."""
        style = self.config.style
        for chunk in chunked(entries, self.config.chunk_size):
            requests = [build_request(style, function_docs(e.functions, e.category, self.api), e.question[0]) for e in chunk]
            for entry, output in zip(chunk, generate_checked(self.engine, requests, self.config.max_new_tokens)):
                self._finish(entry, _single_turn_record(entry, style, output))

    def multi_turn(self, entries: Sequence[BfclEntry]) -> None:
        """``chunk_size`` conversations at a time in lock-step: each round, one ``generate`` call holds the
        next step of every unfinished conversation."""
        for chunk in chunked(entries, self.config.chunk_size):
            active = [Conversation(e, self.config.style, self.api) for e in chunk]
            while True:
                for conversation in active:  # an entry without turns is finished at once
                    if conversation.done:
                        self._finish(conversation.entry, conversation.record())
                active = [c for c in active if not c.done]
                if not active:
                    break
                outputs = generate_checked(self.engine, [c.request() for c in active], self.config.max_new_tokens)
                for conversation, output in zip(active, outputs):
                    conversation.feed(output)


def _report_markdown(scores: BfclScores, config: Mapping[str, Any], run_dir: Path, model_dir: str) -> str:
    ident = config.get("identity", {})
    boot = scores.bootstrap or BootstrapSettings()
    style = ident.get("style")
    style_text = {
        "toolrl": "ToolRL training format (system prompt with the tools, `<tool_call>` JSON lines; a line that "
        "is not a call is dropped and the other lines kept, as ToolRL's parser does)",
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
        f"- Intervals: {boot.confidence:.0%} percentile bootstrap, {boot.resamples} resamples within each category "
        f"(summary rows recomputed with their own weighting), seed {boot.seed}.",
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
    generate; for a fresh run, before its directory is made). Raises
    :class:`~rest_rl.eval.bfcl.official.BfclUnavailable` without bfcl-eval,
    :class:`~rest_rl.eval.runs.RunError` for run-directory problems and
    :class:`~rest_rl.eval.engines.EngineError` for engine problems (bad settings are refused when the
    :class:`BfclConfig` is built).
    """
    say = log or (lambda msg: print(msg, file=sys.stderr))
    categories = resolve_categories(config.categories)
    if not bfcl_available():
        load_bfcl()  # raises BfclUnavailable with the reason and the install command
    if not config.resume and engine is None:
        engine = build_engine(config)  # before the run directory exists: a bad model leaves nothing behind
    run_dir = open_run_dir(config, f"bfcl-{slugify(config.model)}-{config.style}")
    try:
        api = load_bfcl(run_dir)  # the run directory is bfcl-eval's project root
    except BfclUnavailable:
        if not config.resume:
            shutil.rmtree(run_dir, ignore_errors=True)  # nothing was run: leave nothing behind
        raise
    if api.project_root.resolve() != run_dir.resolve():
        say(f"note: bfcl-eval was imported earlier in this process; its own result/score folders are under {api.project_root}")
    identity = config.identity(data_checksums(ALL_CATEGORIES, api))
    run_config = start_or_resume(
        run_dir,
        identity,
        resume=bool(config.resume),
        model_dir=slugify(config.model),
        bfcl_project_root=str(api.project_root),
    )
    model_dir = str(run_config.get("model_dir") or slugify(config.model))

    entries = load_entries(categories, limit=config.limit, api=api)
    existing = read_results(run_dir, model_dir, categories)
    missing = [e for e in entries if e.id not in existing]
    log_invocation(run_dir, run_config, config, categories=list(categories), generated=len(missing))

    def write(entry: BfclEntry, record: dict[str, Any]) -> None:
        path = result_file(run_dir, model_dir, entry.category)
        path.parent.mkdir(parents=True, exist_ok=True)
        append_jsonl(path, [record])

    if missing:
        say(f"BFCL: generating {len(missing)} of {len(entries)} entries ({config.style} style) into {run_dir}")
        engine = engine or build_engine(config)
        from tqdm.auto import tqdm

        with tqdm(total=len(missing), disable=not progress, desc="bfcl", unit="entry", dynamic_ncols=True) as bar:
            generation = _Generation(engine, config, api, write, bar)
            generation.single_turn([e for e in missing if not e.is_multi_turn])
            generation.multi_turn([e for e in missing if e.is_multi_turn])
    else:
        say(f"BFCL: all {len(entries)} selected entries already in {run_dir}; scoring only")

    records = read_results(run_dir, model_dir, categories)
    results = {key: rec.get("result") for key, rec in records.items()}
    verdicts = score_entries(entries, results, config.style, api)
    write_score_files(run_dir, model_dir, verdicts, results, entries)
    scores = BfclScores.from_verdicts(verdicts, api, bootstrap=config.bootstrap_settings())
    write_verdicts(run_dir, scores.verdict_rows())
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

