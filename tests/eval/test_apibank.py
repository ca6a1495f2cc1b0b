"""API-Bank: data loading and download, ToolRL parse, strict/lenient scores, runs, resume and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rest_rl.data.io import DataError
from rest_rl.eval.apibank import (
    FILE_SHA256,
    LEVEL_SIZES,
    TOTAL_SAMPLES,
    ApiBankConfig,
    ChecksumError,
    download_apibank,
    lenient_match,
    level_file,
    load_apibank,
    normalize_value,
    parse_apibank_output,
    prediction_record,
    run_apibank,
    score_output,
    score_predictions,
    select_samples,
    strict_match,
)
from rest_rl.eval.runs import RunError, read_predictions
from rest_rl.toolcall import ToolCall, render_toolrl

GOLD = ToolCall("ModifyRegistration", {"appointment_id": "34567890", "new_appointment_date": "2023-03-26"})
RIGHT = '{"name": "ModifyRegistration", "parameters": {"appointment_id": "34567890", "new_appointment_date": "2023-03-26"}}'


def block(*lines: str, think: str = "I should call the tool.") -> str:
    return f"<think> {think} </think>\n<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"


def call(name: str = "ModifyRegistration", **params) -> str:
    return json.dumps({"name": name, "parameters": params})


# --------------------------------------------------------------------------------------------
# Protocol: perturbations score as the strict rule and the lenient rule say (ToolRL's own decision,
# quirks included, is checked in test_apibank_toolrl.py)
# --------------------------------------------------------------------------------------------

PERTURBATIONS = {
    # name: (completion, strict, lenient)
    "exact": (block(RIGHT), True, True),
    "wrong value": (block(call(appointment_id="34567891", new_appointment_date="2023-03-26")), False, False),
    "int instead of string": (block(call(appointment_id=34567890, new_appointment_date="2023-03-26")), False, True),
    "missing parameter": (block(call(appointment_id="34567890")), False, False),
    "extra parameter": (
        block(call(appointment_id="34567890", new_appointment_date="2023-03-26", doctor="Dr. Lee")),
        False,
        False,
    ),
    "wrong name": (block(call("CancelRegistration", appointment_id="34567890", new_appointment_date="2023-03-26")), False, False),
    "extra call alongside the right one": (block(call("QueryHealthData", user_id="x"), RIGHT), True, True),
    "no call": ("<think> I should respond. </think>\n<response> Which date? </response>", False, False),
    "malformed JSON line dropped, right line kept": (block('{"name": "ModifyRegistration", "parameters": {', RIGHT), True, True),
    "only a malformed JSON line": (block('{"name": "ModifyRegistration", "parameters": {"appointment_id": "34567890"'), False, False),
    "text after the block": (block(RIGHT) + "\n<response> Done, your appointment is moved. </response>\nBye!", True, True),
    "unclosed block (truncated output)": ("<think> ok </think>\n<tool_call>\n" + RIGHT + "\n", True, True),
    "right call in an earlier block only": (block(RIGHT) + "\n<tool_call>\n" + call("CancelRegistration") + "\n</tool_call>", False, False),
    "value with other case and spaces": (
        block(call(appointment_id=" 34567890 ", new_appointment_date="2023-03-26")),
        False,
        True,
    ),
    "arguments instead of parameters": (
        block(json.dumps({"name": "ModifyRegistration", "arguments": GOLD.arguments})),
        False,
        True,
    ),
    "no parameters field": (block(json.dumps({"name": "ModifyRegistration"})), False, False),
    "a JSON list, not an object": (block(json.dumps([json.loads(RIGHT)])), False, False),
    "different date format is not normalised": (
        block(call(appointment_id="34567890", new_appointment_date="March 26, 2023")),
        False,
        False,
    ),
    # ToolRL's split rule reads the whole text when no <tool_call> tag is present
    "bare JSON line without tags (ToolRL quirk)": (RIGHT, True, True),
}


@pytest.mark.parametrize("name", list(PERTURBATIONS))
def test_perturbed_prediction_scores_as_the_protocol_says(name):
    text, strict, lenient = PERTURBATIONS[name]
    verdict = score_output(text, GOLD)
    assert (verdict.strict, verdict.lenient) == (strict, lenient), name


def test_parse_takes_text_after_last_tool_call_one_json_per_line():
    text = "<think> x <tool_call> in thought </think>\n<tool_call>\n" + RIGHT + "\nnot json\n\n  [1, 2]  \n</tool_call> tail"
    parsed = parse_apibank_output(text)
    assert parsed.block_found
    assert parsed.calls == [json.loads(RIGHT), [1, 2]]
    assert parsed.dropped_lines == 1


@pytest.mark.parametrize("bad", [None, 17, "", "<tool_call>", "<tool_call></tool_call>", "[" * 100_000, '{"a": ' * 50_000])
def test_parse_and_score_never_raise_on_garbage(bad):
    verdict = score_output(bad, GOLD)  # type: ignore[arg-type]
    assert not verdict.strict and not verdict.lenient


def test_strict_match_is_python_dict_equality():
    gold = ToolCall("f", {"n": "1", "flag": "True"})
    assert strict_match({"name": "f", "parameters": {"n": "1", "flag": "True"}}, gold)
    assert not strict_match({"name": "f", "parameters": {"n": 1, "flag": "True"}}, gold)
    assert not strict_match({"name": "f", "parameters": {"n": "1", "flag": True}}, gold)
    assert not strict_match({"name": "f ", "parameters": {"n": "1", "flag": "True"}}, gold)
    assert strict_match({"name": "f", "parameters": {"flag": "True", "n": "1"}, "id": 3}, gold)  # key order, extra fields


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        (1, "1", True),
        (1.0, "1", True),
        ("1.50", 1.5, True),
        (True, "true", True),
        ("TRUE", "True", True),
        (False, "true", False),
        (None, "null", True),
        ("007", 7, False),
        ("  Dr.   Lee ", "dr. lee", True),
        (["John", "Jane"], "['John', 'Jane']", True),
        ('["John", "Jane"]', "['John', 'Jane']", True),
        (["Jane", "John"], "['John', 'Jane']", False),
        ({"name": "bp", "value": 120}, "{'name': 'bp', 'value': '120'}", True),
        ("2023-03-26", "2023/03/26", False),
        ("１２", "12", True),  # NFKC: full-width digits
        (float("nan"), "nan", True),
    ],
)
def test_lenient_value_normalisation(pred, gold, equal):
    assert (normalize_value(pred) == normalize_value(gold)) is equal


def test_lenient_keeps_key_and_name_exact_but_trims_whitespace():
    gold = ToolCall("GetUser", {"user_id": "u1"})
    assert lenient_match({"name": " GetUser ", "parameters": {" user_id": "U1"}}, gold)
    assert not lenient_match({"name": "getuser", "parameters": {"user_id": "u1"}}, gold)
    assert not lenient_match({"name": "GetUser", "parameters": {"User_id": "u1"}}, gold)
    assert lenient_match({"name": "GetUser", "arguments": '{"user_id": "u1"}'}, gold)


# --------------------------------------------------------------------------------------------
# Real data: the 597 samples, oracle predictions, real perturbations
# --------------------------------------------------------------------------------------------


def test_real_files_have_the_published_sizes_and_pinned_checksums(api_bank_dir, api_bank_samples):
    from rest_rl.eval.apibank import file_sha256

    for name, digest in FILE_SHA256.items():
        assert file_sha256(api_bank_dir / name) == digest
    counts = {k: sum(s.level == k for s in api_bank_samples) for k in (1, 2, 3)}
    assert counts == LEVEL_SIZES and len(api_bank_samples) == TOTAL_SAMPLES
    first = api_bank_samples[0]
    assert first.id == "L1-0" and first.messages()[0]["role"] == "system" and first.messages()[1]["role"] == "user"
    assert first.gold.name == "ModifyRegistration"
    assert all(isinstance(v, str) for s in api_bank_samples for v in s.gold.arguments.values())


def test_oracle_predictions_score_100_percent_strict_on_all_597(api_bank_samples):
    records = [
        prediction_record(s, render_toolrl([s.gold], think="I should call the tool.", response="Done."))
        for s in api_bank_samples
    ]
    scores = score_predictions(records, api_bank_samples)
    assert scores.full and scores.overall.n == TOTAL_SAMPLES
    assert scores.overall.strict == TOTAL_SAMPLES and scores.overall.lenient == TOTAL_SAMPLES
    assert {k: v.strict for k, v in scores.levels.items()} == LEVEL_SIZES
    assert scores.subset_note() is None
    json.dumps(records)  # every record is plain JSON


def test_numeric_value_retyped_is_strict_wrong_lenient_right_on_real_data(api_bank_samples):
    changed = 0
    for s in api_bank_samples:
        key = next((k for k, v in s.gold.arguments.items() if v.isdigit() and (v == "0" or not v.startswith("0"))), None)
        if key is None:
            continue
        args = dict(s.gold.arguments, **{key: int(s.gold.arguments[key])})
        verdict = score_output(render_toolrl([ToolCall(s.gold.name, args)], think="t"), s.gold)
        assert (verdict.strict, verdict.lenient) == (False, True), s.id
        changed += 1
    assert changed > 50


def test_wrong_value_and_wrong_name_fail_both_scores_on_real_data(api_bank_samples):
    for s in api_bank_samples[::7]:
        wrong_name = render_toolrl([ToolCall(s.gold.name + "X", s.gold.arguments)], think="t")
        assert not score_output(wrong_name, s.gold).lenient
        if s.gold.arguments:
            key = next(iter(s.gold.arguments))
            wrong = render_toolrl([ToolCall(s.gold.name, dict(s.gold.arguments, **{key: "zzz-wrong"}))], think="t")
            verdict = score_output(wrong, s.gold)
            assert not verdict.strict and not verdict.lenient, s.id


def test_limit_takes_the_first_n_of_each_level(api_bank_samples):
    picked = select_samples(api_bank_samples, 2)
    assert [s.id for s in picked] == ["L1-0", "L1-1", "L2-0", "L2-1", "L3-0", "L3-1"]
    scores = score_predictions([prediction_record(s, "") for s in picked], picked)
    assert not scores.full and "6 of 597" in scores.subset_note()


# --------------------------------------------------------------------------------------------
# Malformed data and the download path
# --------------------------------------------------------------------------------------------


def _write_levels(root: Path, rows_by_level: dict[int, object]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for level, rows in rows_by_level.items():
        (root / level_file(level)).write_text(json.dumps(rows), encoding="utf-8")
    return root


GOOD_ROW = {"system": "s", "user": "u", "answer": [{"name": "f", "parameters": {"a": "1"}}], "other": {}}


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ({"system": "s", "answer": GOOD_ROW["answer"]}, "'user'"),
        ({**GOOD_ROW, "answer": []}, "exactly one call"),
        ({**GOOD_ROW, "answer": [{"name": "f"}]}, "'parameters'"),
        ({**GOOD_ROW, "answer": "f(a=1)"}, "call object"),
        ("not a record", "expected an object"),
    ],
)
def test_malformed_record_is_a_clear_error_naming_file_and_row(tmp_path, row, reason):
    root = _write_levels(tmp_path / "d", {1: [GOOD_ROW, GOOD_ROW, row]})
    with pytest.raises(DataError) as err:
        load_apibank(root, levels=(1,))
    assert err.value.row == 2 and err.value.path.endswith(level_file(1))
    assert reason in str(err.value) and "row 2" in str(err.value)


def test_level_file_that_is_not_json_names_the_file(tmp_path):
    root = tmp_path / "d"
    root.mkdir()
    (root / level_file(2)).write_text("{oops", encoding="utf-8")
    with pytest.raises(DataError, match="level-2-api_processed.json: not readable JSON"):
        load_apibank(root, levels=(2,))


def test_download_from_file_url_verifies_checksums_and_caches(api_bank_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FILE_SHA256:
        shutil.copyfile(api_bank_dir / name, mirror / name)
    cache = tmp_path / "cache"
    out = download_apibank(cache, base_url=mirror.as_uri())
    assert out == cache and sorted(p.name for p in cache.iterdir()) == sorted(FILE_SHA256)
    assert len(load_apibank(out)) == TOTAL_SAMPLES
    # cached: a second call does not need the source any more
    shutil.rmtree(mirror)
    assert download_apibank(cache, base_url=mirror.as_uri()) == cache


def test_download_checksum_mismatch_is_a_clear_error_and_keeps_nothing(api_bank_dir, tmp_path):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    for name in FILE_SHA256:
        shutil.copyfile(api_bank_dir / name, mirror / name)
    with (mirror / level_file(2)).open("a", encoding="utf-8") as fh:
        fh.write("\n")  # one extra byte
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        download_apibank(cache, base_url=mirror.as_uri())
    message = str(err.value)
    assert "level-2-api_processed.json" in message and "SHA-256 mismatch" in message
    assert FILE_SHA256[level_file(2)] in message and "\n" not in message
    assert not (cache / level_file(2)).exists()
    assert not list(cache.glob("*.part"))


def test_download_from_unreachable_source_suggests_data_dir(tmp_path):
    with pytest.raises(DataError, match="cannot download .*--data-dir"):
        download_apibank(tmp_path / "cache", base_url=(tmp_path / "nowhere").as_uri(), levels=(1,))


# --------------------------------------------------------------------------------------------
# Runs: fresh directories, resume fills only the gaps, refuses a different configuration
# --------------------------------------------------------------------------------------------


class OracleEngine:
    """Answers each prompt with its gold call (looked up by the user turn); counts what it was asked."""

    def __init__(self, samples):
        self.by_prompt = {(s.system, s.user): s for s in samples}
        self.asked: list[str] = []

    def generate(self, requests, *, max_new_tokens=512, stop=(), progress=True):
        out = []
        for r in requests:
            s = self.by_prompt[(r.messages[0]["content"], r.messages[1]["content"])]
            self.asked.append(s.id)
            out.append(render_toolrl([s.gold], think="t"))
        return out


def test_run_writes_files_and_resume_fills_only_missing_samples(api_bank_dir, api_bank_samples, tmp_path):
    config = ApiBankConfig(model="oracle", data_dir=str(api_bank_dir), limit=5, out_dir=str(tmp_path), chunk_size=4)
    engine = OracleEngine(api_bank_samples)
    first = run_apibank(config, engine=engine, progress=False, log=lambda m: None)
    assert first.generated == 15 and first.scores.overall.strict == 15
    for name in ("config.json", "predictions.jsonl", "scores.json", "report.md"):
        assert (first.run_dir / name).is_file(), name
    scores = json.loads((first.run_dir / "scores.json").read_text())
    assert scores["overall"]["strict_correct"] == 15 and scores["full_benchmark"] is False

    # a plain rerun never reuses or merges: a new directory
    again = run_apibank(config, engine=OracleEngine(api_bank_samples), progress=False, log=lambda m: None)
    assert again.run_dir != first.run_dir and again.generated == 15

    # drop two predictions and cut the last line short (a crash mid-write), then resume
    lines = first.predictions_path.read_text().splitlines(keepends=True)
    kept = lines[:3] + lines[5:-1] + [lines[-1][:40]]
    first.predictions_path.write_text("".join(kept))
    dropped = {json.loads(x)["id"] for x in lines[3:5] + lines[-1:]}
    before = {k: v for k, v in read_predictions(first.predictions_path).items()}
    engine = OracleEngine(api_bank_samples)
    resumed = run_apibank(
        ApiBankConfig(**{**config.__dict__, "resume": str(first.run_dir)}), engine=engine, progress=False, log=lambda m: None
    )
    assert set(engine.asked) == dropped and resumed.generated == 3 and resumed.reused == 12
    after = read_predictions(first.predictions_path)
    assert len(after) == 15 and all(after[k] == v for k, v in before.items())
    assert resumed.scores.overall.strict == 15

    # resuming with everything present generates nothing
    engine = OracleEngine(api_bank_samples)
    assert run_apibank(ApiBankConfig(**{**config.__dict__, "resume": str(first.run_dir)}), engine=engine, progress=False, log=lambda m: None).generated == 0
    assert engine.asked == []
    assert len(json.loads((first.run_dir / "config.json").read_text())["invocations"]) == 3


def test_resume_refuses_a_different_model_or_decoding(api_bank_dir, api_bank_samples, tmp_path):
    config = ApiBankConfig(model="oracle", data_dir=str(api_bank_dir), limit=1, out_dir=str(tmp_path))
    run = run_apibank(config, engine=OracleEngine(api_bank_samples), progress=False, log=lambda m: None)
    for change in ({"model": "other"}, {"max_new_tokens": 7}):
        with pytest.raises(RunError, match="configuration differs"):
            run_apibank(
                ApiBankConfig(**{**config.__dict__, **change, "resume": str(run.run_dir)}),
                engine=OracleEngine(api_bank_samples),
                progress=False,
                log=lambda m: None,
            )


def test_corrupt_prediction_line_is_an_error_naming_file_and_line(tmp_path):
    path = tmp_path / "predictions.jsonl"
    path.write_text('{"id": "L1-0"}\n{broken\n{"id": "L1-1"}\n')
    with pytest.raises(RunError, match=r"predictions.jsonl, line 2: not valid JSON"):
        read_predictions(path)


# --------------------------------------------------------------------------------------------
# End to end with the tiny model through the CLI
# --------------------------------------------------------------------------------------------


def test_cli_eval_apibank_runs_tiny_model_end_to_end(tiny_model_dir, api_bank_dir, tmp_path, capsys):
    from rest_rl.cli import main

    argv = ["eval", "apibank", "--model", str(tiny_model_dir), "--data-dir", str(api_bank_dir), "--limit", "6",
            "--max-new-tokens", "8", "--batch-size", "4", "--out-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| Level" in out and "| Overall |      18 |" in out and "Subset: 18 of 597" in out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    for name in ("config.json", "predictions.jsonl", "scores.json", "report.md"):
        assert (run_dir / name).is_file(), name
    preds = read_predictions(run_dir / "predictions.jsonl")
    assert len(preds) == 18
    rec = preds["L2-5"]
    assert set(rec) >= {"id", "level", "prompt_sha256", "raw_output", "parsed_calls", "toolrl", "strict", "lenient"}
    assert len((run_dir / "verdicts.jsonl").read_text().splitlines()) == 18
    assert "| Overall |" in (run_dir / "report.md").read_text()

    # resume the finished run: nothing to generate, same table
    assert main(argv[:-3] + ["--resume", str(run_dir), "--no-progress"]) == 0
    assert "generated 0, reused 18" in capsys.readouterr().out


def test_cli_reports_user_errors_in_one_line(tmp_path, capsys):
    from rest_rl.cli import main

    assert main(["eval", "apibank", "--model", "m", "--data-dir", str(tmp_path / "none"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rest-rl: error: ") and "no such directory" in err and "\n" not in err
    assert main(["eval", "apibank", "--model", "m", "--engine", "openai"]) == 2
    assert "--base-url" in capsys.readouterr().err


def test_cli_bad_model_path_is_one_line(api_bank_dir, tmp_path, capsys):
    from rest_rl.cli import main

    argv = ["eval", "apibank", "--model", str(tmp_path / "no-model"), "--data-dir", str(api_bank_dir), "--limit", "1",
            "--out-dir", str(tmp_path / "runs"), "--no-progress"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("rest-rl: error: cannot load model") and "no such model directory" in err[-1]
    assert not (tmp_path / "runs").exists()  # the model is checked before a run directory is made


def test_eval_bfcl_is_registered(capsys):
    import argparse

    from rest_rl.cli.eval import add_eval_parser

    parser = argparse.ArgumentParser(prog="rest-rl")
    add_eval_parser(parser.add_subparsers(dest="command"))
    with pytest.raises(SystemExit):  # registered whether or not bfcl-eval is installed (checked when run)
        parser.parse_args(["eval", "bfcl", "--help"])


def test_cli_levels_option_selects_levels(api_bank_dir, api_bank_samples, tmp_path, monkeypatch, capsys):
    import argparse

    from rest_rl import cli
    from rest_rl.cli.eval import resolve_eval_config
    from rest_rl.eval.apibank import run as apibank

    monkeypatch.setattr(apibank, "build_engine", lambda config: OracleEngine(api_bank_samples))
    parser = argparse.ArgumentParser(prog="rest-rl")
    cli.add_eval_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["eval", "apibank", "--model", "oracle", "--data-dir", str(api_bank_dir), "--levels", "3,2",
                              "--limit", "3", "--out-dir", str(tmp_path), "--no-progress"])  # fmt: skip
    assert resolve_eval_config(ApiBankConfig, args).levels == (2, 3)
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "| L2      |       3 |              3 |" in out and "L1" not in out
    # "1 3" as one value or as two, and "1,3", all select levels 1 and 3
    for spelling in (["1 3"], ["1", "3"], ["1,3"]):
        args = parser.parse_args(["eval", "apibank", "--model", "m", "--levels", *spelling])
        assert resolve_eval_config(ApiBankConfig, args).levels == (1, 3), spelling
    # a level that does not exist is a one-line error
    assert cli.main(["eval", "apibank", "--model", "m", "--levels", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rest-rl: error: levels must be a non-empty subset of 1, 2, 3; got [4]"
