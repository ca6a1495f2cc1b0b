"""``rest-rl data check``: the data section through the config engine, the report, --out, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rest_rl.cli import main
from rest_rl.data.schema import ToolExample

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
API_BANK = SHARED / "api_bank"


@pytest.fixture(scope="module")
def api_bank_dir() -> Path:
    if not (API_BANK / "level-1-api_processed.json").is_file():
        pytest.skip(f"real API-Bank files not available in {API_BANK}")
    return API_BANK


def _examples_file(tmp_path: Path, texts: list[str]) -> Path:
    path = tmp_path / "train.jsonl"
    rows = [
        ToolExample(id=f"ex-{i}", source="handmade", tools=[], messages=[{"role": "user", "content": t}], gold_response="ok").to_dict()
        for i, t in enumerate(texts)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _apibank_user(level: int, index: int) -> str:
    from rest_rl.eval.contamination import apibank_prompts

    return next(p.text for p in apibank_prompts(API_BANK) if p.id == f"L{level}-{index}")


def test_check_reports_counts_and_top_matches_and_writes_json(api_bank_dir, tmp_path, capsys):
    copied = _apibank_user(1, 0)
    data = _examples_file(tmp_path, ["Tell me a joke about cats please, a long one with a twist.", copied.upper(), "Hi " + copied + " thanks"])
    out = tmp_path / "overlaps.json"
    argv = ["data", "check", "--against", "apibank", "--apibank-dir", str(api_bank_dir),
            "--set", "data.source=examples", f"data.path={data}", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "contamination check: 3 training examples against apibank (597 prompts)" in printed
    assert "flagged: 2 (1 exact, 1 near-duplicate)" in printed
    assert "ex-1 (handmade) ~ apibank:L1-" in printed and "exact" in printed
    report = json.loads(out.read_text())
    assert report["data"]["source"] == "examples" and report["examples_checked"] == 3
    assert [o["example_id"] for o in report["overlaps"]] == ["ex-1", "ex-2"]
    assert report["overlaps"][1]["kind"] == "near" and report["overlaps"][1]["containment"] >= 0.5


def test_clean_data_is_a_report_with_exit_status_zero(api_bank_dir, tmp_path, capsys):
    data = _examples_file(tmp_path, ["Book me a table for two at an Italian place near the station tonight at eight."])
    assert main(["data", "check", "--against", "apibank", "--apibank-dir", str(api_bank_dir),
                 "--set", "data.source=examples", "--set", f"data.path={data}", "--top", "0"]) == 0  # fmt: skip
    assert "flagged: 0 (0 exact, 0 near-duplicate)" in capsys.readouterr().out


def test_data_section_comes_from_a_run_file_with_overrides(api_bank_dir, tmp_path, capsys):
    data = _examples_file(tmp_path, [_apibank_user(3, 0), "x y z"])
    run_file = tmp_path / "run.yaml"
    run_file.write_text(f"model:\n  name_or_path: whatever\ndata:\n  source: examples\n  path: {data}\n  limit: 5\ntrain:\n  max_steps: 3\n")
    assert main(["data", "check", "--against", "apibank", "--apibank-dir", str(api_bank_dir), "--config", str(run_file)]) == 0
    assert "contamination check: 2 training examples" in capsys.readouterr().out
    assert main(["data", "check", "--against", "apibank", "--apibank-dir", str(api_bank_dir), "--config", str(run_file),
                 "--set", "data.limit=1"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "contamination check: 1 training examples" in printed and "1 exact" in printed


def test_shared_toolrl_file_through_the_training_loader(api_bank_dir, capsys):
    path = SHARED / "toolrl" / "rlla_sft.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    assert main(["data", "check", "--against", "apibank", "--apibank-dir", str(api_bank_dir),
                 "--set", "data.source=toolrl_sft", f"data.path={path}"]) == 0  # fmt: skip
    printed = capsys.readouterr().out
    assert "data: data.source=toolrl_sft" in printed and "contamination check: 400 training examples" in printed


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--against", "apibank,toolace"], "unknown benchmark 'toolace'"),
        (["--set", "source=examples"], "data check reads only the data section"),
        (["--set", "data.sorce=examples"], "unknown key 'sorce' in section 'data' (did you mean 'source'?)"),
        (["--set", "data.source=examples", "data.path=/nonexistent/x.jsonl"], "no such data file"),
        (["--threshold", "1.5", "--set", "data.source=synthetic", "data.limit=1"], "threshold must be in (0, 1]"),
        (["--top", "-1"], "--top must be >= 0"),
    ],
)
def test_user_errors_are_one_line(api_bank_dir, tmp_path, capsys, argv, message):
    assert main(["data", "check", "--apibank-dir", str(api_bank_dir), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rest-rl: error: ") and message in err and "\n" not in err


def test_help_lists_the_options(capsys):
    with pytest.raises(SystemExit):
        main(["data", "check", "--help"])
    out = capsys.readouterr().out
    for flag in ("--against", "--config", "--set", "--threshold", "--top", "--out", "--apibank-dir"):
        assert flag in out
