"""The demo pipeline end to end at tiny sizes (``DemoConfig().quick()``): every stage runs through the same
code as ``make demo`` and leaves the report, the plots and the summary."""

from __future__ import annotations

import json

import pytest

from rest_rl.cli import main
from rest_rl.demo import DemoConfig, exact_call_match, score_held_out


def test_quick_demo_writes_report_plots_and_summary(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out-dir", str(out), "--set", "threads=1"]) == 0
    printed = capsys.readouterr().out
    assert "Exact-call accuracy on" in printed and "+ ResT RL" in printed and "control" in printed

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert set(summary["held_out"]) == {"test", "novel"} and summary["headline_split"] == "test"
    assert all(set(by_arm) == {"sft", "rl", "control"} for by_arm in summary["held_out"].values())
    assert summary["steps"]["rl"] == DemoConfig().quick().rl["max_steps"]
    assert "RL - control" in printed and "(paired), McNemar p" in printed
    for split, comps in summary["comparisons"].items():
        assert set(comps) == {"rl_vs_sft", "control_vs_sft", "rl_vs_control"}
        held = summary["held_out"][split]
        assert comps["rl_vs_control"]["diff"] == pytest.approx(held["rl"]["exact"] - held["control"]["exact"], abs=1e-6)
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| SFT start |" in report and "| SFT start + ResT RL |" in report and "(control)" in report
    assert "| RL − control |" in report and "Paired differences on the same examples" in report
    for png in ("reward.png", "region_entropy.png", "region_weight.png"):
        assert (out / png).stat().st_size > 1000
        assert f"]({png})" in report
    records = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("rest/weight/THINK" in r for r in records) and any("reward" in r for r in records)
    for arm in ("sft", "rl", "control"):
        assert (out / arm / "config.json").is_file()  # every stage leaves a loadable model directory
        for split in ("test", "novel"):
            lines = (out / "eval" / f"{arm}-{split}.jsonl").read_text(encoding="utf-8").splitlines()
            assert len(lines) == summary["held_out"][split][arm]["n"]


def test_held_out_scoring():
    from rest_rl.data.synthetic import SyntheticConfig, SyntheticWorld

    examples = SyntheticWorld(SyntheticConfig(seed=1, p_no_call=0.5)).sample(20, "novel")
    gold = [ex.gold_text() for ex in examples]
    assert all(exact_call_match(text, ex) for text, ex in zip(gold, examples))
    scores = score_held_out(gold, examples)
    assert scores.exact == scores.exact_calls == scores.tool_names == scores.format_ok == 1.0
    wrong = [text.replace('"name": "', '"name": "x') for text in gold]
    scores = score_held_out(wrong, examples)
    no_call = sum(not ex.gold_calls for ex in examples) / len(examples)
    assert scores.exact == scores.tool_names == no_call and scores.exact_calls == 0.0
    assert not exact_call_match("<think> hmm </think>\n<tool_call>\n{bad json\n</tool_call>", examples[0])
