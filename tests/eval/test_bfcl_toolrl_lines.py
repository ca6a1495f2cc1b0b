"""BFCL: the ``toolrl`` style keeps the good lines of a block (ToolRL's parser rule), the ``fc`` style
stays bfcl-eval's; the protocol version moved with it; every score carries its bootstrap interval."""

from __future__ import annotations

import copy
import json
from typing import Any, Sequence

import pytest

pytest.importorskip(
    "bfcl_eval",
    reason="bfcl-eval is not installed: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
    "pip install --no-deps bfcl-eval==2025.7.17",
    exc_type=ImportError,
)

from rest_rl.eval.bfcl.data import ALL_CATEGORIES, CATEGORY_SIZES, load_category  # noqa: E402
from rest_rl.eval.bfcl.official import BfclUnavailable, load_bfcl  # noqa: E402
from rest_rl.eval.bfcl.oracle import oracle_calls  # noqa: E402
from rest_rl.eval.bfcl.prompts import render_output  # noqa: E402
from rest_rl.eval.bfcl.run import PROTOCOL_VERSION, BfclConfig, run_bfcl  # noqa: E402
from rest_rl.eval.bfcl.score import BfclScores, CategoryScore, Verdict, aggregate_v3, score_entry  # noqa: E402
from rest_rl.eval.engines import GenerationRequest  # noqa: E402
from rest_rl.eval.runs import RunError  # noqa: E402
from rest_rl.eval.stats import BootstrapSettings, Interval  # noqa: E402
from rest_rl.toolcall.types import ToolCall  # noqa: E402


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    try:
        return load_bfcl(tmp_path_factory.mktemp("bfcl_project_root"))
    except BfclUnavailable as exc:
        pytest.skip(str(exc))


TRUNCATED = '{"name": "other_function", "parameters": {"a": '


def _block(style: str, calls: list[ToolCall], extra_line: str, *, closed: bool = True) -> str:
    """The style's rendering of ``calls`` with ``extra_line`` added inside the (last) block."""
    text = render_output(style, calls)
    close = "</tool_call>"
    at = text.rfind(close)
    text = text[:at] + extra_line + "\n" + text[at:]
    return text if closed else text[: text.rfind(close)].rstrip("\n")


@pytest.mark.parametrize("closed", [True, False])
def test_ast_simple_one_correct_call_plus_a_truncated_line(api, closed):
    entries = load_category("simple", limit=12, api=api)
    for entry in entries:
        calls = oracle_calls(entry)
        good = render_output("toolrl", calls)
        mixed = _block("toolrl", calls, TRUNCATED, closed=closed)
        want = score_entry(entry, good, "toolrl", api)
        got = score_entry(entry, mixed, "toolrl", api)
        assert got.valid == want.valid, (entry.id, got.error_type)
        assert got.decoded == want.decoded  # the truncated line was dropped, the call kept
        # fc keeps bfcl-eval's rule: the same defect fails the whole block
        fc = score_entry(entry, _block("fc", calls, TRUNCATED.replace("parameters", "arguments")), "fc", api)
        assert not fc.valid and fc.error_type == "ast_decoder:decoder_failed"
    assert sum(score_entry(e, render_output("toolrl", oracle_calls(e)), "toolrl", api).valid for e in entries) >= 11


def test_ast_a_bad_line_next_to_a_wrong_call_does_not_help(api):
    entry = load_category("simple", limit=1, api=api)[0]
    calls = oracle_calls(entry)
    wrong = [ToolCall(calls[0].name, {k: "definitely wrong" for k in calls[0].arguments})]
    assert not score_entry(entry, _block("toolrl", wrong, TRUNCATED), "toolrl", api).valid
    only_bad = "<think> t </think>\n<tool_call>\n" + TRUNCATED + "\nnot json\n</tool_call>"
    verdict = score_entry(entry, only_bad, "toolrl", api)
    assert not verdict.valid and verdict.error_type == "ast_decoder:decoder_failed"


@pytest.mark.parametrize("category", ["irrelevance", "live_irrelevance"])
def test_irrelevance_a_kept_call_next_to_a_truncated_line_is_a_call(api, category):
    for entry in load_category(category, limit=6, api=api):
        call = [ToolCall(entry.functions[0]["name"], {"x": 1})]
        mixed = score_entry(entry, _block("toolrl", call, TRUNCATED), "toolrl", api)
        assert not mixed.valid and mixed.error_type == "irrelevance_error:decoder_success"
        # before protocol 2 the bad line hid the call (decode failed -> "no call" -> counted correct)
        only_truncated = "<think> t </think>\n<tool_call>\n" + TRUNCATED + "\n</tool_call>"
        assert score_entry(entry, only_truncated, "toolrl", api).valid
        fc = score_entry(entry, _block("fc", call, TRUNCATED), "fc", api)
        assert fc.valid  # fc: the whole block fails to decode, so no call was made


def test_relevance_one_correct_call_plus_a_truncated_line_counts(api):
    for entry in load_category("live_relevance", limit=6, api=api):
        call = [ToolCall(entry.functions[0]["name"], {})]
        assert score_entry(entry, _block("toolrl", call, TRUNCATED), "toolrl", api).valid
        assert score_entry(entry, _block("toolrl", call, TRUNCATED, closed=False), "toolrl", api).valid
        assert not score_entry(entry, _block("fc", call, TRUNCATED), "fc", api).valid


# --------------------------------------------------------------------------------------------
# Aggregates and intervals
# --------------------------------------------------------------------------------------------


def test_aggregate_v3_without_rereading_files_equals_bfcl_evals_category_score(api):
    cats = {"simple": CategoryScore(300, 400), "live_multiple": CategoryScore(500, 1053), "multi_turn_base": CategoryScore(90, 200)}
    table = {c: {"accuracy": s.accuracy, "total_count": s.total} for c, s in cats.items()}
    reference = {c: api.get_category_score(copy.deepcopy(table), c) for c in ALL_CATEGORIES}
    assert {c: r["total_count"] for c, r in reference.items()} == CATEGORY_SIZES | {c: s.total for c, s in cats.items()}
    ours = aggregate_v3(cats, api)
    assert ours["live"]["accuracy"] == pytest.approx(
        api.calculate_weighted_accuracy([reference[c] for c in ALL_CATEGORIES if c.startswith("live_")], display_na_if_category_missing=False)["accuracy"]
    )
    assert ours["multi_turn"]["accuracy"] == pytest.approx(0.45 / 4) and ours["multi_turn"]["display"] == 0.45 / 4
    assert ours["non_live_ast"]["display"] == "N/A"


def _verdicts(pattern: dict[str, str]) -> list[Verdict]:
    return [Verdict(f"{c}_{i}", c, ch == "1") for c, p in pattern.items() for i, ch in enumerate(p)]


def test_intervals_resample_within_categories_and_recompute_the_aggregates(api):
    # categories that never vary (all right / all wrong) give degenerate intervals, aggregates included:
    # resampling is within each category, never across them
    fixed = BfclScores.from_verdicts(_verdicts({"simple": "1" * 20, "multiple": "0" * 30}), api, bootstrap=BootstrapSettings(resamples=200))
    assert fixed.category_interval("simple") == Interval(1.0, 1.0)
    assert fixed.summary_interval("non_live_ast") == Interval(fixed.summary["non_live_ast"]["accuracy"], fixed.summary["non_live_ast"]["accuracy"])
    # a varying category: every summary row's interval contains its estimate
    pattern = {"simple": "1101" * 10, "live_simple": "10" * 25, "live_multiple": "1110" * 50, "multi_turn_base": "1000" * 5}
    scores = BfclScores.from_verdicts(_verdicts(pattern), api, bootstrap=BootstrapSettings(resamples=400, seed=3))
    for name, row in scores.summary.items():
        ci = scores.summary_interval(name)
        assert ci is not None and ci.low - 1e-12 <= row["accuracy"] <= ci.high + 1e-12, name
    # live is count-weighted: live_multiple (200 entries) dominates it, so its interval is narrower
    # than the unweighted mean of the same two categories would be
    live = scores.summary_interval("live")
    assert live.high - live.low < 0.2
    data = scores.to_dict()
    assert data["categories"]["simple"]["accuracy_ci"][0] <= 75.0 <= data["categories"]["simple"]["accuracy_ci"][1]
    assert data["bootstrap"]["resamples"] == 400 and data["summary"]["overall"]["accuracy_ci"] is not None
    assert BfclScores.from_verdicts(_verdicts(pattern), api, bootstrap=BootstrapSettings(resamples=400, seed=3)).intervals == scores.intervals


class _Scripted:
    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, requests: Sequence[GenerationRequest], **kwargs: Any) -> list[str]:
        return [self.text for _ in requests]


def test_run_writes_intervals_and_verdicts_and_refuses_an_older_protocol(api, tmp_path):
    assert PROTOCOL_VERSION == "bfcl-v3/rest-rl-2"
    reply = "<think> none fits </think>\n<response> I cannot help. </response>"
    config = BfclConfig(model="scripted", categories=["irrelevance", "simple"], limit=3, out_dir=str(tmp_path), bootstrap_resamples=150)
    run = run_bfcl(config, engine=_Scripted(reply), progress=False, log=lambda _: None)
    scores = json.loads((run.run_dir / "scores.json").read_text())
    assert scores["protocol"] == "bfcl-v3/rest-rl-2" and scores["bootstrap"]["resamples"] == 150
    assert scores["categories"]["irrelevance"]["accuracy_ci"] == [100.0, 100.0]
    assert scores["categories"]["simple"]["accuracy_ci"] == [0.0, 0.0]
    verdicts = [json.loads(x) for x in (run.run_dir / "verdicts.jsonl").read_text().splitlines()]
    assert sorted(v["id"] for v in verdicts) == sorted([f"irrelevance_{i}" for i in range(3)] + [f"simple_{i}" for i in range(3)])
    assert "Accuracy (%) [95% CI]" in run.table and "100.00 [100.00, 100.00]" in run.table
    assert "150 resamples within each category" in (run.run_dir / "report.md").read_text()
    record = json.loads((run.run_dir / "config.json").read_text())
    record["identity"]["protocol"] = "bfcl-v3/rest-rl-1"
    (run.run_dir / "config.json").write_text(json.dumps(record))
    with pytest.raises(RunError, match="protocol: run has 'bfcl-v3/rest-rl-1', now 'bfcl-v3/rest-rl-2'"):
        run_bfcl(BfclConfig(**{**config.__dict__, "resume": str(run.run_dir)}), engine=_Scripted(reply), progress=False, log=lambda _: None)
