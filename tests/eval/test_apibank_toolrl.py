"""API-Bank: the ``toolrl`` score reproduces ToolRL's generate.py + evaluate.py decision on every input.

Two kinds of test: hand-made completions, one per rule of ToolRL's scripts (docs/evaluation.md lists
them), and a cross-check against a small reference written here that follows those scripts step by
step: the extraction of ``tool_calls`` from the completion, the results file they are written to and
read back from, and the scoring loop inside one ``try``. The reference and ``score_output`` must agree
on several hundred seeded adversarial completions.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from rest_rl.eval.apibank import (
    PROTOCOL_VERSION,
    ApiBankConfig,
    parse_apibank_output,
    run_apibank,
    score_output,
    toolrl_calls,
    toolrl_decision,
)
from rest_rl.eval.runs import RunError
from rest_rl.toolcall import ToolCall, render_toolrl

GOLD = ToolCall("ModifyRegistration", {"appointment_id": "34567890", "new_appointment_date": "2023-03-26"})
RIGHT = json.dumps({"name": GOLD.name, "parameters": GOLD.arguments})
BARE = json.dumps(GOLD.arguments)  # the parameters object alone


def block(*lines: str) -> str:
    return "<think> I should call the tool. </think>\n<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"


# --------------------------------------------------------------------------------------------
# A literal reference of ToolRL's two scripts (test-only)
# --------------------------------------------------------------------------------------------


def reference_tool_calls(completion: str, workdir: Path) -> list[Any]:
    """generate.py: the values it extracts, written to its results file and read back by evaluate.py."""
    text = completion.strip()
    body = text.split("<tool_call>")[-1]
    body = body.split("</tool_call>")[0].strip()
    extracted: list[Any] = []
    for line in body.strip().split("\n"):
        if line.strip() == "":
            continue
        try:
            extracted.append(json.loads(line))
        except BaseException:  # generate.py's bare except
            pass
    record = {"raw_output": completion, "tool_calls": extracted}
    results = {"Level1_0": record}
    path = workdir / "result.json"
    try:  # generate.py writes the results inside the try around the sample ...
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=4, ensure_ascii=False)
    except Exception:
        # ... and records the sample with no calls on failure (generate.py keeps the raw output in that
        # record too; when the raw output itself cannot be written its later writes fail as well: per
        # sample, the outcome is a record without calls)
        results["Level1_0"] = {"tool_calls": []}
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=4, ensure_ascii=False)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)["Level1_0"]["tool_calls"]


def reference_score(tool_calls: list[Any], answer: dict[str, Any]) -> int:
    """evaluate.py's soft match: one try around the whole loop."""
    score = 0
    try:
        for tool_call in tool_calls:
            if type(tool_call) == str:  # noqa: E721 - as the script tests it
                tool_call = json.loads(tool_call)
            predict = tool_call
            if "name" not in predict or "parameters" not in predict:
                name, parameters = answer["name"], predict
            else:
                name, parameters = predict["name"], predict["parameters"]
            if name == answer["name"] and parameters == answer["parameters"]:
                score += 1
                break
    except Exception:
        pass
    return score


def reference(completion: str, gold: ToolCall, workdir: Path) -> bool:
    return reference_score(reference_tool_calls(completion, workdir), {"name": gold.name, "parameters": dict(gold.arguments)}) == 1


# --------------------------------------------------------------------------------------------
# One test per rule
# --------------------------------------------------------------------------------------------

RULES = {
    # name: (completion, toolrl, strict)
    "exact call": (block(RIGHT), True, True),
    "bare parameters object stands for the gold function": (block(BARE), True, False),
    "object with only parameters key: the whole object is compared": (block(json.dumps({"parameters": GOLD.arguments})), False, False),
    "object with the name but no parameters": (block(json.dumps({"name": GOLD.name})), False, False),
    "bare parameters with extra top-level key": (block(json.dumps({**GOLD.arguments, "id": 1})), False, False),
    "arguments instead of parameters: whole object compared": (block(json.dumps({"name": GOLD.name, "arguments": GOLD.arguments})), False, False),
    "a number before the right call ends the loop": (block("5", RIGHT), False, True),
    "null before the right call ends the loop": (block("null", RIGHT), False, True),
    "true before the right call ends the loop": (block("true", RIGHT), False, True),
    "a float before the right call ends the loop": (block("1.5", RIGHT), False, True),
    "a number after the right call is never reached": (block(RIGHT, "5"), True, True),
    "a list without both keys is skipped": (block("[1, 2]", RIGHT), True, True),
    "a list holding both key names ends the loop": (block('["name", "parameters"]', RIGHT), False, True),
    "a list holding only one key name is skipped": (block('["name"]', RIGHT), True, True),
    "the right call as a JSON string is decoded again": (block(json.dumps(RIGHT)), True, False),
    "the bare parameters as a JSON string": (block(json.dumps(BARE)), True, False),
    "a JSON string that is not JSON ends the loop": (block('"hello"', RIGHT), False, True),
    "a JSON string of a number ends the loop": (block('"5"', RIGHT), False, True),
    "a string holding both key names (substring test) ends the loop": (block(json.dumps(json.dumps("name and parameters")), RIGHT), False, True),
    "a string without the key names is skipped": (block(json.dumps(json.dumps("hi")), RIGHT), True, True),
    "a lone surrogate anywhere makes the record unwritable: no calls": (block(RIGHT, '{"x": "\\ud800"}'), False, True),
    "a lone surrogate in the completion's text: no calls either": ("<think> odd \ud800 char </think>\n" + block(RIGHT), False, True),
    "undecodable line dropped, right line kept": (block('{"name": "ModifyRegistration", "parameters": {', RIGHT), True, True),
    "python equality: True equals 1": (block(json.dumps({"name": "f", "parameters": {"n": True}})), None, None),
    "no tag: the whole completion is read": (RIGHT, True, True),
    "last block wins": (block(RIGHT) + "\n<tool_call>\n" + json.dumps({"name": "Other", "parameters": {}}) + "\n</tool_call>", False, False),
    "unclosed block read to the end": ("<tool_call>\n" + RIGHT, True, True),
    "line with surrounding blanks and a carriage return": (block("   " + RIGHT + " \r"), True, True),
    "non-JSON blank (no-break space) inside the block drops the line": (block("[1]", "\u00a0" + RIGHT, "[2]"), False, False),
    "the same blank at the block's edge is stripped with the block": (block("\u00a0" + RIGHT), True, True),
    "duplicate keys: the last one wins": (block('{"name": "Other", "name": "ModifyRegistration", "parameters": ' + BARE + "}"), True, True),
}


@pytest.mark.parametrize("name", list(RULES))
def test_each_rule_of_toolrls_scripts(name, tmp_path):
    text, toolrl, strict = RULES[name]
    gold = ToolCall("f", {"n": 1}) if toolrl is None else GOLD
    verdict = score_output(text, gold)
    assert verdict.toolrl == reference(text, gold, tmp_path), name
    if toolrl is None:  # Python ==: True == 1, for both scores
        assert verdict.toolrl and verdict.strict
        return
    assert (verdict.toolrl, verdict.strict) == (toolrl, strict), name
    assert verdict.lenient >= verdict.strict


def test_decision_says_how_the_loop_ended():
    assert toolrl_decision(parse_apibank_output(block("5", RIGHT)).calls, GOLD) == (False, "loop ended by value 0")
    assert toolrl_decision(parse_apibank_output(block("[1]", RIGHT)).calls, GOLD) == (True, "match at value 1")
    assert toolrl_decision(parse_apibank_output(block("[1]")).calls, GOLD) == (False, "no match")
    unwritable = parse_apibank_output(block(RIGHT, '"\\udfff"'))
    assert len(unwritable.calls) == 2 and toolrl_calls(unwritable) == []


def test_the_strict_score_is_unchanged_and_lenient_still_contains_it():
    for text, _, strict in RULES.values():
        if strict is None:
            continue
        verdict = score_output(text, GOLD)
        assert verdict.strict == strict and (verdict.lenient or not verdict.strict)


# --------------------------------------------------------------------------------------------
# Cross-check on generated adversarial completions
# --------------------------------------------------------------------------------------------

GOLDS = [
    GOLD,
    ToolCall("AddAgenda", {"name": "Alice", "parameters": "x"}),  # gold parameters that hold both key names
    ToolCall("GetToday", {}),
    ToolCall("Calc", {"n": 1, "flag": True}),
]


def _line_pool(gold: ToolCall) -> list[str]:
    right = {"name": gold.name, "parameters": dict(gold.arguments)}
    wrong = {"name": gold.name, "parameters": {**gold.arguments, "extra": "1"}}
    return [
        json.dumps(right),
        json.dumps(right, ensure_ascii=True, indent=None, separators=(",", ":")),
        json.dumps(dict(gold.arguments)),  # bare parameters
        json.dumps({"parameters": dict(gold.arguments)}),
        json.dumps({"name": gold.name}),
        json.dumps({"name": gold.name, "arguments": dict(gold.arguments)}),
        json.dumps(wrong),
        json.dumps({"name": "Other", "parameters": dict(gold.arguments)}),
        json.dumps(json.dumps(right)),  # a JSON string holding the call
        json.dumps(json.dumps(dict(gold.arguments))),
        json.dumps(json.dumps("name, parameters")),
        json.dumps("hello"),
        json.dumps("5"),
        "5", "-0.0", "1e400", "NaN", "null", "true", "false", "[]", "[1, 2]", '["name", "parameters"]', '["name"]',
        '{"name": ', "not json at all", "", "   ", "\t", "\r",
        "\u00a0" + json.dumps(right),
        "  " + json.dumps(right) + "  ",
        json.dumps(right) + "\r",
        '{"x": "\\ud800"}',  # lone surrogate: unwritable record
        '{"name": "' + gold.name + '", "parameters": {"a": NaN}}',
        "[" * 30 + "]" * 30,
        '{"name": "Other", "name": "' + gold.name + '", "parameters": ' + json.dumps(dict(gold.arguments)) + "}",
        json.dumps({**right, "id": 7}),
        "<think> nested tag </think>",
        "<tool_call>",
        "</tool_call>",
    ]


def _completion(rng: random.Random, gold: ToolCall) -> str:
    pool = _line_pool(gold)
    lines = [rng.choice(pool) for _ in range(rng.randint(0, 5))]
    parts: list[str] = []
    if rng.random() < 0.6:
        think = rng.choice(["I will call it.", "maybe <tool_call> here", "use " + pool[0], ""])
        parts.append(f"<think> {think} </think>")
    if rng.random() < 0.2:  # an earlier block
        parts.append("<tool_call>\n" + rng.choice(pool) + "\n</tool_call>")
    opened = rng.random() < 0.85
    body = "\n".join(lines)
    if opened:
        parts.append("<tool_call>\n" + body + ("\n</tool_call>" if rng.random() < 0.8 else ""))
    else:
        parts.append(body)
    if rng.random() < 0.3:
        parts.append(rng.choice(["<response> done </response>", "trailing words", "\n<tool_call>\n" + rng.choice(pool)]))
    sep = rng.choice(["\n", "", "\r\n", " "])
    text = sep.join(parts)
    return rng.choice(["", "  ", "\n"]) + text + rng.choice(["", "\n", " \t"])


def test_toolrl_score_equals_the_literal_reference_on_adversarial_completions(tmp_path):
    rng = random.Random(20250517)
    outcomes = {"agree": 0, "toolrl_only": 0, "strict_only": 0, "loop_ended": 0, "correct": 0}
    for i in range(600):
        gold = GOLDS[i % len(GOLDS)]
        text = _completion(rng, gold)
        verdict = score_output(text, gold)
        expected = reference(text, gold, tmp_path)
        assert verdict.toolrl == expected, (i, text, gold)
        outcomes["agree"] += 1
        outcomes["correct"] += verdict.toolrl
        outcomes["toolrl_only"] += verdict.toolrl and not verdict.strict
        outcomes["strict_only"] += verdict.strict and not verdict.toolrl
        outcomes["loop_ended"] += verdict.toolrl_how.startswith("loop ended")
    # the generator really exercises the quirks, in both directions
    assert outcomes["correct"] >= 60 and outcomes["toolrl_only"] >= 20 and outcomes["strict_only"] >= 20
    assert outcomes["loop_ended"] >= 60


def test_cross_check_on_the_real_data_golds(api_bank_samples, tmp_path):
    rng = random.Random(7)
    for sample in api_bank_samples[::5]:
        text = _completion(rng, sample.gold)
        assert score_output(text, sample.gold).toolrl == reference(text, sample.gold, tmp_path), sample.id


# --------------------------------------------------------------------------------------------
# Protocol version: old run directories are never mixed with new ones
# --------------------------------------------------------------------------------------------


class _Oracle:
    def __init__(self, samples):
        self.by_prompt = {(s.system, s.user): s for s in samples}

    def generate(self, requests, *, max_new_tokens=512, stop=(), progress=True):
        return [render_toolrl([self.by_prompt[(r.messages[0]["content"], r.messages[1]["content"])].gold], think="t") for r in requests]


def test_protocol_version_is_bumped_and_an_old_run_is_refused(api_bank_dir, api_bank_samples, tmp_path):
    assert PROTOCOL_VERSION == "apibank-toolrl-2"
    config = ApiBankConfig(model="oracle", data_dir=str(api_bank_dir), limit=1, out_dir=str(tmp_path))
    run = run_apibank(config, engine=_Oracle(api_bank_samples), progress=False, log=lambda m: None)
    record = json.loads((run.run_dir / "config.json").read_text())
    assert record["identity"]["protocol"] == "apibank-toolrl-2"
    record["identity"]["protocol"] = "apibank-toolrl-1"  # as a run made before this version looks
    (run.run_dir / "config.json").write_text(json.dumps(record))
    with pytest.raises(RunError, match=r"protocol: run has 'apibank-toolrl-1', now 'apibank-toolrl-2'"):
        run_apibank(
            ApiBankConfig(**{**config.__dict__, "resume": str(run.run_dir)}),
            engine=_Oracle(api_bank_samples),
            progress=False,
            log=lambda m: None,
        )


def test_run_records_all_three_scores_with_intervals(api_bank_dir, api_bank_samples, tmp_path):
    config = ApiBankConfig(model="oracle", data_dir=str(api_bank_dir), limit=4, out_dir=str(tmp_path), bootstrap_resamples=300)
    run = run_apibank(config, engine=_Oracle(api_bank_samples), progress=False, log=lambda m: None)
    scores = json.loads((run.run_dir / "scores.json").read_text())
    assert scores["protocol"] == "apibank-toolrl-2" and scores["headline_score"] == "toolrl"
    assert scores["bootstrap"]["resamples"] == 300 and scores["bootstrap"]["seed"] == 0
    for row in [*scores["levels"].values(), scores["overall"]]:
        for name in ("toolrl", "strict", "lenient"):
            assert row[f"{name}_accuracy"] == 100.0 and row[f"{name}_ci"] == [100.0, 100.0]
    preds = [json.loads(x) for x in (run.run_dir / "predictions.jsonl").read_text().splitlines()]
    assert all(p["toolrl"] and p["toolrl_how"] == "match at value 0" for p in preds)
    verdicts = [json.loads(x) for x in (run.run_dir / "verdicts.jsonl").read_text().splitlines()]
    assert [v["id"] for v in verdicts] == [p["id"] for p in preds]
    assert all(v["scores"] == {"toolrl": True, "strict": True, "lenient": True} for v in verdicts)
    report = (run.run_dir / "report.md").read_text()
    assert "ToolRL % [95% CI]" in report and "100.00 [100.00, 100.00]" in report and "300 resamples" in report

