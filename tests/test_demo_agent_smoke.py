"""The agentic demo end to end at tiny sizes (``rest-rl demo agent --quick``): every stage runs through the same code
as ``make demo-agent`` -- tokenizer on the world's conversations, SFT on gold trajectories, ResT RL in TRL's
multi-turn tool loop, the control arm, held-out episodes -- and leaves the report, the plots and the summary. Also:
``configs/demo_agent.yaml`` holds exactly the built-in defaults, and the pieces the demo builds its data from."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rest_rl.cli import main
from rest_rl.config import load_yaml, to_plain
from rest_rl.demo import DemoAgentConfig, agent_chat_template, agent_sft_rows, agent_splits, conversation_corpus

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo_agent.yaml"


def test_quick_agent_demo_writes_report_and_summary_with_three_arms(tmp_path, capsys):
    out = tmp_path / "demo-agent"
    assert main(["demo", "agent", "--quick", "--out-dir", str(out), "--set", "threads=1"]) == 0
    printed = capsys.readouterr().out
    assert "Task success on" in printed and "+ ResT RL" in printed and "RL - SFT start" in printed

    quick = DemoAgentConfig().quick()
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["headline_split"] == "test" and set(summary["held_out"]) == {"test", "indist"}
    assert summary["arms"] == ["sft", "rl", "control"]
    for split, by_arm in summary["held_out"].items():
        assert set(by_arm) == {"sft", "rl", "control"}
        for scores in by_arm.values():
            overall = scores["overall"]
            assert overall["n"] == quick.eval_tasks and 0.0 <= overall["success"] <= 1.0
            low, high = overall["success_ci95"]
            assert low <= overall["success"] <= high
            assert set(scores["domains"]) <= {"bank", "orders", "calendar", "files"}
        assert set(summary["comparisons"][split]) == {"rl_vs_sft", "control_vs_sft", "rl_vs_control"}
    assert summary["steps"] == {"sft": quick.sft["max_steps"], "rl": quick.rl["max_steps"], "control": quick.control_sft["max_steps"]}
    assert summary["world"]["test_compositions"] and not set(summary["world"]["test_compositions"]) & set(
        summary["world"]["train_compositions"]
    )

    report = (out / "report.md").read_text(encoding="utf-8")
    for label in ("| SFT start |", "| SFT start + ResT RL |", "| SFT start + more SFT (control) |", "RL − SFT start"):
        assert label in report
    assert "![Outcome reward" in report and (out / "reward.png").stat().st_size > 1000
    records = [json.loads(line) for line in (out / "rl" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()]
    assert any("reward" in r for r in records) and any("tools/call_frequency" in r for r in records)
    for arm in ("sft", "rl", "control"):
        assert (out / arm / "config.json").is_file()  # every stage leaves a loadable model directory
        for split in ("test", "indist"):
            lines = (out / "eval" / f"{arm}-{split}.jsonl").read_text(encoding="utf-8").splitlines()
            assert len(lines) == quick.eval_tasks
            assert all("transcript" in json.loads(line) for line in lines)


def test_demo_agent_yaml_holds_exactly_the_built_in_defaults():
    assert load_yaml(CONFIG) == to_plain(DemoAgentConfig())


def test_agent_config_checks_its_sizes():
    with pytest.raises(ValueError, match="n_train"):
        DemoAgentConfig(sft_labels=10_000)
    with pytest.raises(ValueError, match="sft_format"):
        DemoAgentConfig(sft_format="pairs")
    with pytest.raises(ValueError, match="eval_splits"):
        DemoAgentConfig(eval_splits=["novel"])


def test_splits_are_disjoint_and_test_compositions_held_out():
    cfg = DemoAgentConfig().quick()
    splits = agent_splits(cfg)
    ids = [t.id for name in ("labelled", "rl", "indist") for t in splits[name]]
    assert len(ids) == len(set(ids)) == cfg.sft_labels + cfg.n_rl_tasks + cfg.eval_tasks
    trained = {t.composition for t in splits["labelled"] + splits["rl"]}
    assert splits["test"] and not {t.composition for t in splits["test"]} & trained
    from rest_rl.envs import heldout_compositions

    assert {t.composition for t in splits["indist"]} <= set(heldout_compositions(cfg.tasks)["train"])


def test_sft_rows_and_template_render_the_gold_conversation(tmp_path):
    from transformers.utils.chat_template_utils import render_jinja_template

    task = agent_splits(DemoAgentConfig().quick())["labelled"][0]
    template = agent_chat_template()
    conversation = agent_sft_rows([task], "conversation")
    turns = agent_sft_rows([task], "turns")
    assert len(conversation) == 1 and len(turns) == len(task.gold) + 1
    # the last turn's prompt + completion is the whole conversation: both formats train the same text
    last = turns[-1]
    tools = json.loads(last["tools"])
    whole = render_jinja_template([last["prompt"] + last["completion"]], tools=tools, chat_template=template)[0][0]
    assert whole == render_jinja_template([conversation[0]["messages"]], tools=tools, chat_template=template)[0][0]
    assert task.answer in whole and "<tool_call>" in whole and "{\"name\": \"" in whole
    # compact tool lines, no JSON schema; the generation markers change no text
    assert "(" in whole.split("</tools>")[0] and '"parameters"' not in whole
    plain = render_jinja_template([conversation[0]["messages"]], tools=tools, chat_template=agent_chat_template(compact_tools=False))[0][0]
    assert '"parameters"' in plain and plain.endswith(whole.split("<|im_start|>user\n", 1)[1])
    # split_words: no space glued to a word in the tokenizer corpus
    corpus = conversation_corpus([task], template, split_words=True)
    assert corpus[0].replace("\n", " ") == whole.replace("\n", " ")
    assert re.search(r" [A-Za-z]", whole) and not re.search(r" [A-Za-z]", corpus[0])
