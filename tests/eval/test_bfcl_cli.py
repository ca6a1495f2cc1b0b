"""``rest-rl eval bfcl`` end to end: the tiny model on CPU, run directories in bfcl-eval's layout, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

import pytest

pytest.importorskip(
    "bfcl_eval",
    reason="bfcl-eval is not installed: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
    "pip install --no-deps bfcl-eval==2025.7.17",
    exc_type=ImportError,
)

from rest_rl.eval.bfcl import official  # noqa: E402
from rest_rl.eval.bfcl.run import BfclConfig, run_bfcl  # noqa: E402
from rest_rl.cli import main  # noqa: E402
from rest_rl.eval.engines import GenerationRequest  # noqa: E402
from rest_rl.eval.runs import RunError  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def _bfcl(tmp_path_factory: pytest.TempPathFactory):
    try:
        official.load_bfcl(tmp_path_factory.mktemp("bfcl_project_root"))
    except official.BfclUnavailable as exc:
        pytest.skip(str(exc))


def _run_dir(out_dir: Path) -> Path:
    (run_dir,) = [p for p in out_dir.iterdir() if p.is_dir()]
    return run_dir


def test_tiny_model_runs_bfcl_end_to_end(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = [
        "eval", "bfcl", "--model", str(tiny_model_dir),
        "--categories", "simple", "live_irrelevance", "multi_turn_base",
        "--limit", "2", "--style", "fc", "--max-new-tokens", "8",
        "--out-dir", str(out), "--device", "cpu", "--no-progress",
    ]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "| multi_turn_base" in printed and "**Overall (v3)**" in printed and "Subset:" in printed
    run_dir = _run_dir(out)
    (model_dir,) = list((run_dir / "result").iterdir())  # result/<model>/BFCL_v3_<category>_result.json
    for category in ("simple", "live_irrelevance", "multi_turn_base"):
        lines = (model_dir / f"BFCL_v3_{category}_result.json").read_text().splitlines()
        ids = sorted(json.loads(line)["id"] for line in lines)
        assert len(ids) == 2 and all(i.startswith(category + "_") for i in ids)
        score_lines = (run_dir / "score" / model_dir.name / f"BFCL_v3_{category}_score.json").read_text().splitlines()
        assert json.loads(score_lines[0])["total_count"] == 2
    record = json.loads((model_dir / "BFCL_v3_multi_turn_base_result.json").read_text().splitlines()[0])
    assert isinstance(record["result"], list) and all(isinstance(turn, list) for turn in record["result"])
    scores = json.loads((run_dir / "scores.json").read_text())
    assert {c: v["total"] for c, v in scores["categories"].items()} == {"simple": 2, "live_irrelevance": 2, "multi_turn_base": 2}
    assert scores["full_benchmark"] is False and scores["style"] == "fc"
    assert "# BFCL v3 evaluation" in (run_dir / "report.md").read_text()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["identity"]["bfcl_eval"] == "2025.7.17" and config["identity"]["style"] == "fc"


def test_tiny_model_toolrl_style_single_turn(tiny_model_dir, tmp_path, capsys):
    out = tmp_path / "runs"
    argv = [
        "eval", "bfcl", "--model", str(tiny_model_dir), "--categories", "simple", "live_relevance",
        "--limit", "1", "--max-new-tokens", "8", "--out-dir", str(out), "--device", "cpu", "--no-progress",
    ]
    assert main(argv) == 0
    report = (_run_dir(out) / "report.md").read_text()
    assert "`toolrl`" in report and "not directly comparable with the public leaderboard" in report
    capsys.readouterr()


class ScriptedEngine:
    """Answers every prompt with the same text; counts prompts."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.prompts = 0

    def generate(self, requests: Sequence[GenerationRequest], **kwargs: Any) -> list[str]:
        self.prompts += len(requests)
        return [self.text for _ in requests]


def test_resume_generates_only_what_is_missing(tmp_path):
    reply = "<think> none fits </think>\n<response> I cannot help. </response>"
    engine = ScriptedEngine(reply)
    config = BfclConfig(
        model="scripted-model", categories=["irrelevance", "multi_turn_miss_param"], limit=2, out_dir=str(tmp_path), max_new_tokens=4
    )
    first = run_bfcl(config, engine=engine, progress=False, log=lambda _: None)
    assert first.generated == 4 and first.reused == 0
    assert first.scores.categories["irrelevance"].correct == 2  # no call: right for irrelevance
    assert first.scores.categories["multi_turn_miss_param"].correct == 0
    # one more category, same run directory: only the new entries are generated
    more = BfclConfig(**{**config.__dict__, "categories": ["irrelevance", "live_irrelevance", "multi_turn_miss_param"], "resume": str(first.run_dir)})
    engine2 = ScriptedEngine(reply)
    second = run_bfcl(more, engine=engine2, progress=False, log=lambda _: None)
    assert second.generated == 2 and second.reused == 4 and engine2.prompts == 2
    # a different style cannot resume this directory
    with pytest.raises(RunError, match="style"):
        run_bfcl(BfclConfig(**{**more.__dict__, "style": "fc"}), engine=engine2, progress=False, log=lambda _: None)


def test_cli_reports_user_errors_in_one_line(tmp_path, capsys, monkeypatch):
    assert main(["eval", "bfcl", "--model", "m", "--categories", "exec_simple", "--out-dir", str(tmp_path)]) == 2
    assert "unknown BFCL category 'exec_simple'" in capsys.readouterr().err
    assert main(["eval", "bfcl", "--model", "m", "--engine", "openai", "--out-dir", str(tmp_path)]) == 2
    assert "--base-url" in capsys.readouterr().err
    monkeypatch.setattr(official, "_installed_version", lambda: None)
    assert main(["eval", "bfcl", "--model", "m", "--out-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "bfcl-eval is not installed" in err and "pip install --no-deps bfcl-eval==2025.7.17" in err
    assert not any(tmp_path.iterdir())  # nothing written
