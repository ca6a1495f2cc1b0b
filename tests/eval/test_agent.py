"""``rest-rl eval agent``: the generate -> parse -> execute -> append loop on the multi-turn world."""

from __future__ import annotations

import json

import pytest

from rest_rl.envs.tasks import TaskConfig, make_tasks
from rest_rl.eval.agent import AgentConfig, run_agent, run_episodes, score_records
from rest_rl.eval.runs import RunError


class ScriptedEngine:
    """Answers every conversation by its task's gold trajectory (``gold``) or a scripted failure."""

    def __init__(self, tasks, mode="gold"):
        self.by_request = {t.request: t for t in tasks}
        self.mode = mode
        self.calls = 0

    def generate(self, requests, *, max_new_tokens=512, stop=(), progress=True):
        self.calls += 1
        out = []
        for req in requests:
            user = next(m["content"] for m in req.messages if m["role"] == "user")
            task = self.by_request[user]
            turn = sum(1 for m in req.messages if m["role"] == "assistant")
            assert req.tools and all(t["type"] == "function" for t in req.tools)
            if self.mode == "garbage":
                out.append("<tool_call>\n{not json\n</tool_call>")
            elif self.mode == "loop":
                out.append('<tool_call>\n{"name": "nope", "arguments": {}}\n</tool_call>')
            elif turn < len(task.gold):
                blocks = [json.dumps({"name": c["name"], "arguments": c["arguments"]}) for c in task.gold[turn]]
                out.append("\n".join(f"<tool_call>\n{b}\n</tool_call>" for b in blocks))
            else:
                out.append(task.answer)
        return out


@pytest.fixture(scope="module")
def tasks():
    return make_tasks(TaskConfig(seed=0, n_train=0, n_validation=0, n_test=24))["test"]


def test_gold_trajectories_succeed_and_the_loop_reads_tool_results(tasks):
    records = run_episodes(tasks, ScriptedEngine(tasks), max_turns=6)
    assert all(r["success"] for r in records), [r["detail"] for r in records if not r["success"]]
    assert sum(r["calls"] for r in records) == sum(len(turn) for t in tasks for turn in t.gold)
    multi = [r for r, t in zip(records, tasks) if len(t.gold) >= 2]
    assert multi and all(any(m["role"] == "tool" for m in r["transcript"]) for r in multi)


def test_unparseable_calls_and_endless_tool_loops_are_failures_not_crashes(tasks):
    garbage = run_episodes(tasks[:6], ScriptedEngine(tasks, "garbage"), max_turns=3)
    assert all(r["unparsed"] == 1 and r["finished"] and r["calls"] == 0 for r in garbage)
    loop = run_episodes(tasks[:6], ScriptedEngine(tasks, "loop"), max_turns=3)
    assert all(not r["finished"] and r["turns"] == 3 and not r["success"] and r["tool_errors"] + r["invalid_calls"] >= 3 for r in loop)


def test_scores_have_intervals_per_domain_and_kind(tasks):
    records = run_episodes(tasks, ScriptedEngine(tasks), max_turns=6)
    records[0] = {**records[0], "success": False}
    scores = score_records(records, total=len(records), resamples=200)
    d = scores.to_dict()
    assert d["overall"]["success"] == pytest.approx((len(records) - 1) / len(records))
    low, high = d["overall"]["success_ci95"]
    assert low <= d["overall"]["success"] <= high < 1.0 + 1e-9
    assert set(d["domains"]) == {t.domain for t in tasks}


def test_run_directory_resume_and_identity(tmp_path, tasks):
    engine = ScriptedEngine(tasks)
    config = AgentConfig(model="scripted", out_dir=str(tmp_path), n_tasks=24, limit=10, chunk_size=4)
    run = run_agent(config, engine=engine, progress=False, log=lambda m: None)
    assert run.generated == 10 and run.scores.overall.n == 10 and run.scores.subset_note()
    assert (run.run_dir / "report.md").read_text().count("success") >= 1
    more = AgentConfig(model="scripted", out_dir=str(tmp_path), n_tasks=24, resume=str(run.run_dir))
    again = run_agent(more, engine=engine, progress=False, log=lambda m: None)
    assert again.generated == 14 and again.reused == 10 and again.scores.overall.successes == 24
    other = AgentConfig(model="scripted", out_dir=str(tmp_path), n_tasks=24, max_turns=3, resume=str(run.run_dir))
    with pytest.raises(RunError, match="max_turns"):
        run_agent(other, engine=engine, progress=False, log=lambda m: None)


def test_config_is_checked():
    with pytest.raises(ValueError, match="split"):
        AgentConfig(model="m", split="dev")
    with pytest.raises(ValueError, match="env"):
        AgentConfig(model="m", env="bfcl")
    with pytest.raises(ValueError, match="max_turns"):
        AgentConfig(model="m", max_turns=0)


def test_two_agent_runs_compare_task_by_task(tmp_path, tasks):
    from rest_rl.eval.compare import compare_runs

    good = run_agent(AgentConfig(model="a", out_dir=str(tmp_path), n_tasks=24), engine=ScriptedEngine(tasks),
                     progress=False, log=lambda m: None)  # fmt: skip
    bad = run_agent(AgentConfig(model="a", out_dir=str(tmp_path), n_tasks=24), engine=ScriptedEngine(tasks, "garbage"),
                    progress=False, log=lambda m: None)  # fmt: skip
    comparison = compare_runs(good.run_dir, bad.run_dir).to_dict()
    overall = next(r for r in comparison["scores"]["success"]["rows"] if r["row"] == "overall")
    assert overall["samples"] == 24 and overall["a"] == 100.0 and overall["b"] == 0.0 and overall["lost"] == 24
    assert overall["mcnemar_p"] < 1e-6
