"""``rest-rl eval compare``: paired comparison of two run directories (rest_rl.eval.compare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rest_rl.cli import main
from rest_rl.eval.compare import VERDICTS_FILE, CompareError, compare_runs, load_run, read_verdicts, write_verdicts
from rest_rl.eval.stats import BootstrapSettings, mcnemar_exact

IDENTITY = {
    "benchmark": "api-bank",
    "protocol": "apibank-toolrl-2",
    "model": "/models/a",
    "engine": "hf",
    "base_url": None,
    "dtype": "auto",
    "max_new_tokens": 1024,
    "data_sha256": {"level-1-api_processed.json": "aa", "level-2-api_processed.json": "bb", "level-3-api_processed.json": "cc"},
}


def make_run(root: Path, name: str, outcomes: dict[str, bool], identity: dict | None = None, extra: dict | None = None) -> Path:
    """A scored API-Bank run directory: ids ``L{level}-{i}`` with one outcome for all three scores
    (``extra`` overrides single scores)."""
    run = root / name
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"identity": identity or IDENTITY, "invocations": []}))
    rows = []
    for sample_id, ok in outcomes.items():
        scores = {"toolrl": ok, "strict": ok, "lenient": ok, **(extra or {}).get(sample_id, {})}
        rows.append({"id": sample_id, "group": sample_id.split("-")[0], "scores": scores})
    write_verdicts(run, rows)
    return run


def _outcomes(level: int, pattern: str) -> dict[str, bool]:
    return {f"L{level}-{i}": c == "1" for i, c in enumerate(pattern)}


def test_paired_comparison_numbers(tmp_path):
    a = {**_outcomes(1, "1100110011"), **_outcomes(2, "0000")}
    b = {**_outcomes(1, "1111110011"), **_outcomes(2, "0010")}
    b["L1-0"] = False  # B loses one of A's right answers
    run_a, run_b = make_run(tmp_path, "a", a), make_run(tmp_path, "b", b, {**IDENTITY, "model": "/models/b"})
    cmp = compare_runs(run_a, run_b, bootstrap=BootstrapSettings(resamples=500))
    assert cmp.common == 14 and cmp.only_a == cmp.only_b == 0
    assert cmp.differing_settings() == {"model": ("/models/a", "/models/b")}
    toolrl = cmp.scores[0]
    assert toolrl.score == "toolrl" and [s.score for s in cmp.scores] == ["toolrl", "strict", "lenient"]
    rows = {r.key: r for r in toolrl.rows}
    assert list(rows) == ["L1", "L2", "overall"]
    l1 = rows["L1"]
    assert (l1.n, l1.a, l1.b, l1.gained, l1.lost) == (10, 0.6, 0.7, 2, 1)
    assert l1.diff == pytest.approx(0.1) and l1.p_value == mcnemar_exact(2, 1) == 1.0
    overall = rows["overall"]
    assert (overall.n, overall.gained, overall.lost) == (14, 3, 1)
    assert overall.a == pytest.approx(6 / 14) and overall.b == pytest.approx(8 / 14)
    assert overall.ci.low <= overall.diff <= overall.ci.high
    assert toolrl.gained == ["L1-2", "L1-3", "L2-2"] and toolrl.lost == ["L1-0"]
    data = cmp.to_dict()
    assert data["scores"]["toolrl"]["flipped"] == {"gained": ["L1-2", "L1-3", "L2-2"], "lost": ["L1-0"]}
    assert data["scores"]["toolrl"]["rows"][0]["diff"] == pytest.approx(10.0)
    text = cmp.markdown()
    assert "| L1      |      10 |" in text and "+10.00 [" in text and "Gained (wrong in A, right in B): L1-2, L1-3, L2-2" in text


def test_scores_are_compared_separately(tmp_path):
    a = _outcomes(1, "0000")
    run_a = make_run(tmp_path, "a", a)
    # B: strict-right everywhere, but the ToolRL decision unchanged
    run_b = make_run(tmp_path, "b", a, extra={k: {"strict": True, "lenient": True} for k in a})
    cmp = compare_runs(run_a, run_b, bootstrap=BootstrapSettings(resamples=200))
    by = {s.score: s for s in cmp.scores}
    assert by["toolrl"].gained == [] and by["strict"].gained == list(a) and by["lenient"].lost == []
    assert by["strict"].rows[-1].p_value == pytest.approx(2 / 16)


def test_only_samples_in_both_runs_are_compared(tmp_path):
    run_a = make_run(tmp_path, "a", _outcomes(1, "101010"))
    run_b = make_run(tmp_path, "b", {k: v for k, v in _outcomes(1, "111").items()})
    cmp = compare_runs(run_a, run_b, bootstrap=BootstrapSettings(resamples=100))
    assert (cmp.common, cmp.only_a, cmp.only_b) == (3, 3, 0)
    assert cmp.scores[0].rows[0].n == 3 and cmp.scores[0].gained == ["L1-1"]
    assert "only in A: 3" in cmp.markdown()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"benchmark": "bfcl-v3"}, "different benchmarks (api-bank vs bfcl-v3)"),
        ({"protocol": "apibank-toolrl-1"}, "different scoring protocols (apibank-toolrl-2 vs apibank-toolrl-1)"),
        (
            {"data_sha256": {**IDENTITY["data_sha256"], "level-2-api_processed.json": "zz"}},
            "different data (checksums differ: level-2-api_processed.json)",
        ),
    ],
)
def test_runs_that_cannot_be_compared_are_refused_in_one_line(tmp_path, capsys, change, message):
    run_a = make_run(tmp_path, "a", _outcomes(1, "10"))
    run_b = make_run(tmp_path, "b", _outcomes(1, "11"), {**IDENTITY, **change})
    with pytest.raises(CompareError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compare_runs(run_a, run_b)
    assert main(["eval", "compare", str(run_a), str(run_b)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rest-rl: error: cannot compare") and message in err and "\n" not in err


def test_missing_or_broken_run_directories_are_one_line_errors(tmp_path, capsys):
    good = make_run(tmp_path, "good", _outcomes(1, "1"))
    no_verdicts = make_run(tmp_path, "old", _outcomes(1, "1"))
    (no_verdicts / VERDICTS_FILE).unlink()
    disjoint = make_run(tmp_path, "other", _outcomes(2, "1"))
    bad_line = make_run(tmp_path, "bad", _outcomes(1, "1"))
    (bad_line / VERDICTS_FILE).write_text('{"id": "L1-0", "group": "L1", "scores": {"toolrl": 1}}\n')
    cases = [
        (tmp_path / "nope", "no such run directory"),
        (no_verdicts, "no verdicts.jsonl"),
        (disjoint, "share no scored sample"),
        (bad_line, "verdicts.jsonl, line 1: expected"),
        (tmp_path, "not an evaluation run directory"),
    ]
    for other, message in cases:
        assert main(["eval", "compare", str(good), str(other)]) == 2, message
        err = capsys.readouterr().err.strip()
        assert message in err and "\n" not in err, err
    assert main(["eval", "compare", str(good), str(good), "--resamples", "0"]) == 2
    assert "resamples" in capsys.readouterr().err


def test_verdict_file_round_trip_and_duplicates(tmp_path):
    rows = [{"id": "L1-0", "group": "L1", "scores": {"toolrl": True}}, {"id": "L1-1", "group": "L1", "scores": {"toolrl": False}}]
    path = write_verdicts(tmp_path, rows)
    assert read_verdicts(path) == {"L1-0": ("L1", {"toolrl": True}), "L1-1": ("L1", {"toolrl": False})}
    path.write_text(path.read_text() + json.dumps(rows[0]) + "\n")
    with pytest.raises(CompareError, match="appears twice"):
        read_verdicts(path)


# --------------------------------------------------------------------------------------------
# End to end: two real runs through the CLI
# --------------------------------------------------------------------------------------------


class _Engine:
    """Answers with the gold call, except for the sample ids in ``wrong`` (a wrong value)."""

    def __init__(self, samples, wrong=()):
        self.by_prompt = {(s.system, s.user): s for s in samples}
        self.wrong = set(wrong)

    def generate(self, requests, *, max_new_tokens=512, stop=(), progress=True):
        from rest_rl.toolcall import ToolCall, render_toolrl

        out = []
        for r in requests:
            s = self.by_prompt[(r.messages[0]["content"], r.messages[1]["content"])]
            gold = s.gold if s.id not in self.wrong else ToolCall(s.gold.name, {k: "WRONG" for k in s.gold.arguments} or {"x": 1})
            out.append(render_toolrl([gold], think="t"))
        return out


def test_two_apibank_runs_compare_through_the_cli(api_bank_dir, api_bank_samples, tmp_path, capsys):
    from rest_rl.eval.apibank import ApiBankConfig, run_apibank

    config = dict(data_dir=str(api_bank_dir), limit=4, out_dir=str(tmp_path / "runs"), bootstrap_resamples=200)
    a = run_apibank(ApiBankConfig(model="base", **config), engine=_Engine(api_bank_samples, {"L1-0", "L1-1", "L3-2"}),
                    progress=False, log=lambda m: None)  # fmt: skip
    b = run_apibank(ApiBankConfig(model="tuned", **config), engine=_Engine(api_bank_samples, {"L1-1", "L2-3"}),
                    progress=False, log=lambda m: None)  # fmt: skip
    out = tmp_path / "cmp.json"
    assert main(["eval", "compare", str(a.run_dir), str(b.run_dir), "--out", str(out), "--resamples", "300"]) == 0
    printed = capsys.readouterr().out
    assert "# Paired comparison: api-bank (protocol `apibank-toolrl-2`)" in printed
    assert "Gained (wrong in A, right in B): L1-0, L3-2" in printed and "Lost (right in A, wrong in B): L2-3" in printed
    assert "model: 'base' -> 'tuned'" in printed
    data = json.loads(out.read_text())
    assert data["common_samples"] == 12 and data["bootstrap"]["resamples"] == 300
    overall = data["scores"]["toolrl"]["rows"][-1]
    assert (overall["a"], overall["b"], overall["gained"], overall["lost"]) == (75.0, pytest.approx(83.3333), 2, 1)
    assert overall["diff_ci"][0] <= overall["diff"] <= overall["diff_ci"][1]
    assert load_run(a.run_dir).protocol == "apibank-toolrl-2"


# --------------------------------------------------------------------------------------------
# BFCL: categories and the v3 summary rows
# --------------------------------------------------------------------------------------------


def test_bfcl_runs_compare_per_category_and_summary_row(tmp_path):
    pytest.importorskip("bfcl_eval", exc_type=ImportError)
    from rest_rl.eval.bfcl.score import SCORE_NAME

    ident = {"benchmark": "bfcl-v3", "protocol": "bfcl-v3/rest-rl-2", "bfcl_eval": "2025.7.17", "style": "toolrl",
             "model": "m", "data_sha256": {"simple": "1"}}  # fmt: skip

    def run(name: str, simple: str, base: str, style: str) -> Path:
        d = tmp_path / name
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"identity": {**ident, "style": style}}))
        rows = [{"id": f"simple_{i}", "group": "simple", "scores": {SCORE_NAME: c == "1"}} for i, c in enumerate(simple)]
        rows += [{"id": f"multi_turn_base_{i}", "group": "multi_turn_base", "scores": {SCORE_NAME: c == "1"}} for i, c in enumerate(base)]
        write_verdicts(d, rows)
        return d

    cmp = compare_runs(run("a", "1100", "10", "toolrl"), run("b", "1110", "11", "fc"), bootstrap=BootstrapSettings(resamples=200))
    assert cmp.differing_settings() == {"style": ("toolrl", "fc")}
    rows = {r.key: r for r in cmp.scores[0].rows}
    assert rows["category:simple"].diff == pytest.approx(0.25)
    assert rows["category:multi_turn_base"].diff == pytest.approx(0.5)
    # multi-turn row = unweighted mean of four categories, three not run (0): (0.5 + 0 + 0 + 0) / 4 -> (1.0) / 4
    assert rows["summary:multi_turn"].a == pytest.approx(0.5 / 4) and rows["summary:multi_turn"].b == pytest.approx(1.0 / 4)
    assert rows["summary:multi_turn"].ci.low <= rows["summary:multi_turn"].diff <= rows["summary:multi_turn"].ci.high
    assert rows["summary:overall"].n == 6 and (rows["summary:overall"].gained, rows["summary:overall"].lost) == (2, 0)
    assert "summary:live" not in rows  # no live category in either run
    # the bfcl-eval release is part of what must match
    other = run("c", "1", "1", "toolrl")
    record = json.loads((other / "config.json").read_text())
    record["identity"]["bfcl_eval"] = "2025.6.16"
    (other / "config.json").write_text(json.dumps(record))
    with pytest.raises(CompareError, match="different bfcl-eval releases"):
        compare_runs(tmp_path / "a", other)
