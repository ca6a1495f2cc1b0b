"""Task generation and splits: determinism, held-out compositions, gold trajectories that succeed, wrong
ones that fail, tasks that need a value read from a tool result, no-valid-action tasks, dataset rows."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest

from rest_rl.envs import (
    DOMAIN_TOOLS,
    DOMAINS,
    ENVIRONMENTS,
    KINDS,
    SPLITS,
    TEMPLATES,
    Task,
    TaskConfig,
    WorldEnv,
    compositions,
    environment_for,
    final_answer,
    generate_task,
    gold_messages,
    heldout_compositions,
    is_refusal,
    make_tasks,
    outcome_reward,
    replay,
    to_grpo_row,
    to_sft_example,
    tool_schemas,
)
from rest_rl.errors import ConfigError

SMALL = TaskConfig(n_train=400, n_validation=80, n_test=80)


@pytest.fixture(scope="module")
def splits() -> dict[str, list[Task]]:
    return make_tasks(SMALL)


@pytest.fixture(scope="module")
def every_template() -> list[Task]:
    """Twenty tasks of every template."""
    rng = random.Random("every-template")
    return [generate_task(key, rng, f"t-{i}-{n}") for i, key in enumerate(TEMPLATES) for n in range(20)]


def _key(task: Task) -> str:
    return json.dumps([task.domain, task.template, task.request, task.state], sort_keys=True)


def _play(task: Task, answer: str | None = None, *, turns: int | None = None) -> Any:
    env = environment_for(task)
    for turn in task.gold[:turns]:
        for call in turn:
            env.episode.call(call["name"], call["arguments"])
    return env, env.episode.outcome(task.answer if answer is None else answer)


# ------------------------------------------------------------------------------------------------ determinism


def test_same_config_same_tasks_other_seed_other_tasks(splits):
    again = make_tasks(SMALL)
    assert {s: [t.to_json() for t in ts] for s, ts in again.items()} == {
        s: [t.to_json() for t in ts] for s, ts in splits.items()
    }
    other = make_tasks(TaskConfig(n_train=400, n_validation=80, n_test=80, seed=1))
    assert [t.to_json() for t in other["train"]] != [t.to_json() for t in splits["train"]]


def test_tasks_do_not_depend_on_the_process_hash_seed():
    import hashlib
    import os
    import subprocess
    import sys

    code = (
        "import hashlib, json\n"
        "from rest_rl.envs import TaskConfig, make_tasks\n"
        "s = make_tasks(TaskConfig(n_train=200, n_validation=20, n_test=20, seed=4))\n"
        "print(hashlib.sha256(json.dumps({k: [t.to_json() for t in v] for k, v in s.items()}).encode()).hexdigest())\n"
    )
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout.strip()
        for seed in ("1", "2")
    }  # fmt: skip
    here = make_tasks(TaskConfig(n_train=200, n_validation=20, n_test=20, seed=4))
    ours = hashlib.sha256(json.dumps({k: [t.to_json() for t in v] for k, v in here.items()}).encode()).hexdigest()
    assert digests == {ours}


def test_split_sizes_and_ids(splits):
    assert {s: len(ts) for s, ts in splits.items()} == {"train": 400, "validation": 80, "test": 80}
    ids = [t.id for ts in splits.values() for t in ts]
    assert len(set(ids)) == len(ids)
    assert tuple(splits) == SPLITS


# ------------------------------------------------------------------------------------------------ splits


def test_compositions_are_disjoint_across_splits_and_tasks_never_repeat(splits):
    comps = {s: {t.composition for t in ts} for s, ts in splits.items()}
    assert not comps["train"] & comps["test"]
    assert not comps["train"] & comps["validation"]
    assert not comps["validation"] & comps["test"]
    keys = [_key(t) for ts in splits.values() for t in ts]
    assert len(set(keys)) == len(keys)


def test_heldout_compositions_match_what_the_splits_hold(splits):
    held = heldout_compositions(SMALL)
    for split, tasks in splits.items():
        assert {t.composition for t in tasks} == set(held[split])
    assert sorted(held["train"] + held["validation"] + held["test"]) == sorted(compositions())


@pytest.mark.parametrize("seed", range(6))
def test_every_heldout_composition_is_made_of_parts_seen_in_train(seed):
    held = heldout_compositions(TaskConfig(seed=seed))
    for domain in DOMAINS:
        train = [TEMPLATES[k] for k in held["train"] if k[0] == domain]
        seen_tools = set().union(*(t.uses for t in train))
        assert {t.kind for t in train} == set(KINDS)
        for split in ("validation", "test"):
            out = [TEMPLATES[k] for k in held[split] if k[0] == domain]
            assert sorted(t.kind == "refuse" for t in out) == [False, True]  # one possible, one refuse
            for template in out:
                assert template.uses <= seen_tools, (domain, template.name)


def test_the_heldout_choice_depends_on_the_seed():
    choices = {tuple(heldout_compositions(TaskConfig(seed=s))["test"]) for s in range(8)}
    assert len(choices) > 3


def test_in_distribution_validation_draws_new_tasks_of_train_compositions():
    config = TaskConfig(n_train=300, n_validation=60, n_test=40, heldout_validation=False)
    splits = make_tasks(config)
    train_comps = {t.composition for t in splits["train"]}
    assert {t.composition for t in splits["validation"]} <= train_comps
    assert not {t.composition for t in splits["test"]} & train_comps
    assert not {_key(t) for t in splits["validation"]} & {_key(t) for t in splits["train"]}
    assert heldout_compositions(config)["validation"] == []


def test_pinned_compositions():
    config = TaskConfig(
        test_compositions=("bank/pay_all", "files/move_word", "files/empty"),
        validation_compositions=("orders/undo",),
        n_train=50, n_validation=10, n_test=20,
    )  # fmt: skip
    held = heldout_compositions(config)
    assert held["test"] == [("bank", "pay_all"), ("files", "move_word"), ("files", "empty")]
    assert held["validation"] == [("orders", "undo")]
    assert {t.composition for t in make_tasks(config)["test"]} == set(held["test"])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(test_compositions=("bank/pay_owner",)), "keep every held-out tool"),  # owner is used nowhere else
        (dict(test_compositions=("bank/balance",)), "keep every held-out tool"),  # the only bank info template
        (dict(test_compositions=("bank/pay",), validation_compositions=("bank/pay",)), "no way to hold out"),
        (dict(heldout_per_domain=3), "no way to hold out"),
        (dict(test_compositions=("bank/nope",)), "unknown composition"),
        (dict(domains=("bank", "shop")), "unknown domains"),
        (dict(domains=()), "non-empty"),
        (dict(n_train=-1), "n_train"),
        (dict(refuse_share=1.5), "refuse_share"),
    ],
)
def test_bad_configs_are_refused(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        heldout_compositions(TaskConfig(**kwargs))


def test_domains_restrict_the_tasks():
    splits = make_tasks(TaskConfig(domains=("files",), n_train=50, n_validation=10, n_test=10))
    assert {t.domain for ts in splits.values() for t in ts} == {"files"}


def test_refuse_share_is_respected_roughly(splits):
    kinds = Counter(t.kind for t in splits["train"])
    assert 0.15 < kinds["refuse"] / 400 < 0.35
    assert kinds["action"] and kinds["info"]
    none = make_tasks(TaskConfig(n_train=100, n_validation=0, n_test=0, refuse_share=0.0))["train"]
    assert all(t.kind != "refuse" for t in none)


# ------------------------------------------------------------------------------------------------ gold trajectories


def test_every_template_is_declared_and_generated(every_template):
    assert {t.composition for t in every_template} == set(TEMPLATES)
    assert {d for d, _ in TEMPLATES} == set(DOMAINS)
    used: dict[tuple[str, str], set[str]] = {key: set() for key in TEMPLATES}
    for task in every_template:
        template = TEMPLATES[task.composition]
        used[task.composition] |= {c["name"] for c in task.gold_calls}
        assert task.kind == template.kind and task.tools == DOMAIN_TOOLS[task.domain]
    assert used == {key: set(t.uses) for key, t in TEMPLATES.items()}  # ``undo`` cancels or refunds


def test_every_gold_trajectory_succeeds_in_the_environment(every_template, splits):
    for task in every_template + [t for ts in splits.values() for t in ts]:
        env, outcome = _play(task)
        assert outcome.success, (task.composition, outcome.detail, task.request)
        assert outcome.invalid_calls == 0 and env.episode.crashes == 0
        if task.kind != "refuse":
            assert outcome.tool_errors == 0, task.composition


def test_possible_tasks_take_two_to_five_calls_over_two_or_more_turns(every_template):
    for task in every_template:
        if task.kind == "refuse":
            continue
        assert 2 <= len(task.gold_calls) <= 5 and len(task.gold) >= 2, task.composition
        assert len(set(DOMAIN_TOOLS[task.domain]) - {c["name"] for c in task.gold_calls}) >= 1  # a distractor


def _read_from_results(task: Task) -> bool:
    """Whether some call of turn k >= 1 has an argument that only an earlier tool result could supply."""
    results = [[result for _, result in turn] for turn in replay(task)]
    for k, turn in enumerate(task.gold[1:], start=1):
        earlier = " ".join(r for rs in results[:k] for r in rs)
        for call in turn:
            for value in call["arguments"].values():
                text = str(value).rsplit("/", 1)[-1]  # a path's file name comes from ls
                if text in earlier and text not in task.request:
                    return True
    return False


def test_every_possible_task_needs_a_value_read_from_a_tool_result(every_template):
    per_domain = Counter()
    for task in every_template:
        if task.kind != "refuse":
            assert _read_from_results(task), (task.composition, task.request, task.gold)
            per_domain[task.domain] += 1
    assert set(per_domain) == set(DOMAINS)


def test_info_answers_come_from_tool_results(every_template):
    for task in every_template:
        if task.kind == "info":
            results = " ".join(r for turn in replay(task) for _, r in turn)
            assert task.expect and all(v in results and v not in task.request for v in task.expect)


def test_action_tasks_change_the_state_and_refuse_tasks_do_not(every_template):
    for task in every_template:
        if task.kind == "action":
            assert task.final_state != task.state
        else:
            assert task.final_state == task.state
        assert is_refusal(task.answer) is (task.kind == "refuse")


def test_refuse_tasks_exist_in_every_domain_and_some_need_tool_results(every_template):
    refuse = [t for t in every_template if t.kind == "refuse"]
    assert {t.domain for t in refuse} == set(DOMAINS)
    assert any(not t.gold for t in refuse)  # nothing can serve the request: answer at once
    # the same request as a possible template: only the results show it cannot be done
    possible_requests = {t.request for t in every_template if t.kind != "refuse"}
    assert sum(t.request in possible_requests for t in refuse) > 10


# ------------------------------------------------------------------------------------------------ wrong trajectories


def _stray_change(env: Any) -> str:
    """A valid, state-changing call the task did not ask for."""
    state = env.episode.state
    if "accounts" in state:
        (a, acc_a), (b, _) = sorted(state["accounts"].items(), key=lambda kv: -kv[1]["balance"])[:2]
        return env.transfer(src=a, dst=b, amount=5)
    if "orders" in state:
        for order_id, record in state["orders"].items():
            if record["status"] in ("placed", "delivered"):
                return env.cancel(order=order_id) if record["status"] == "placed" else env.refund(order=order_id)
        return env.episode.call("cancel", {"order": "none"})
    if "events" in state:
        return env.add(date="12-30", title="stray")
    if state["files"]:
        return env.rm(path=sorted(state["files"])[0])
    return env.episode.call("rm", {"path": "none"})


def test_wrong_trajectories_fail(every_template):
    changed = 0
    for task in every_template:
        if task.kind == "refuse":
            assert not _play(task, "Done.")[1].success
            env, _ = _play(task)
            if '"error"' not in _stray_change(env):
                changed += 1
                assert not env.episode.outcome(task.answer).state_ok
        else:
            assert not _play(task, "Sorry, I cannot do that.")[1].success
            assert not _play(task, "")[1].success
            if task.kind == "info":
                assert not _play(task, "It is 999 or so.")[1].success
            else:
                env, outcome = _play(task, turns=len(task.gold) - 1)  # stop before the last turn
                assert not outcome.state_ok and outcome.detail.startswith("state: ")
    assert changed > 50


def test_a_different_path_to_the_same_state_succeeds():
    rng = random.Random(3)
    task = generate_task(("bank", "pay"), rng)
    env = environment_for(task)
    (src, dst) = [c["arguments"]["owner"] for c in task.gold[0]]
    ids = [json.loads(env.acct(owner=n))["id"] for n in (src, dst)]
    amount = task.gold[1][0]["arguments"]["amount"]
    env.transfer(src=ids[0], dst=ids[1], amount=amount)
    env.transfer(src=ids[1], dst=ids[0], amount=amount)  # undone ...
    env.transfer(src=ids[0], dst=ids[1], amount=amount)  # ... and redone
    assert env.episode.success("All done.")


# ------------------------------------------------------------------------------------------------ rows


def test_grpo_row_resets_its_environment(splits):
    for task in splits["train"][:40]:
        row = to_grpo_row(task, system="You are a helpful assistant.")
        assert set(row) == {"prompt", "task", "environment"}
        assert row["prompt"] == [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": task.request},
        ]
        for env in (ENVIRONMENTS[row["environment"]](), WorldEnv()):
            env.reset(**row)  # TRL passes the whole row
            assert env.episode.task == task and env.episode.state == task.state
    assert to_grpo_row(splits["train"][0])["prompt"] == [{"role": "user", "content": splits["train"][0].request}]


def test_sft_example_is_the_gold_conversation(splits):
    task = next(t for t in splits["train"] if len(t.gold) == 3)
    example = to_sft_example(task)
    messages = example["messages"]
    per_turn = [role for turn in task.gold for role in ["assistant"] + ["tool"] * len(turn)]
    assert [m["role"] for m in messages] == ["user", *per_turn, "assistant"]
    assert messages[-1] == {"role": "assistant", "content": task.answer}
    first = messages[1]
    assert first["content"] == "" and first["tool_calls"][0]["type"] == "function"
    call = first["tool_calls"][0]["function"]
    assert call["name"] == task.gold[0][0]["name"] and json.loads(call["arguments"]) == task.gold[0][0]["arguments"]
    tool_message = messages[2]
    assert set(tool_message) == {"role", "name", "content"} and tool_message["name"] == call["name"]
    assert json.loads(example["tools"]) == tool_schemas(task)
    as_dicts = gold_messages(task)
    assert as_dicts[1]["tool_calls"][0]["function"]["arguments"] == task.gold[0][0]["arguments"]


def test_tool_schemas_list_tools_in_trl_order():
    assert [s["function"]["name"] for s in tool_schemas(env=ENVIRONMENTS["bank"])] == [
        "acct", "balance", "owner", "transfer",
    ]  # fmt: skip
    assert len(tool_schemas()) == 16


# ------------------------------------------------------------------------------------------------ reward


def _completion(task: Task, answer: str | None = None) -> list[dict[str, Any]]:
    messages = gold_messages(task)[1:]  # what TRL's completions hold: everything after the prompt
    if answer is not None:
        messages[-1] = {"role": "assistant", "content": answer}
    return messages


def test_outcome_reward_scores_state_and_final_answer(splits):
    tasks = splits["test"][:12]
    envs = []
    for task in tasks:
        env = ENVIRONMENTS[task.domain]()
        env.reset(**to_grpo_row(task))
        replay(task, env)
        envs.append(env)
    assert outcome_reward([_completion(t) for t in tasks], environments=envs) == [1.0] * len(tasks)
    wrong = ["Done." if t.kind == "refuse" else "Sorry, I cannot." for t in tasks]
    assert outcome_reward([_completion(t, a) for t, a in zip(tasks, wrong)], environments=envs) == [0.0] * len(tasks)
    ends_without_an_answer = [_completion(t)[:-1] for t in tasks]  # on a tool result, or empty
    extra_columns = {"task": [t.to_json() for t in tasks], "environment": [t.domain for t in tasks]}
    assert outcome_reward(ends_without_an_answer, environments=envs, **extra_columns) == [0.0] * len(tasks)
    assert outcome_reward([[], "text", None], environments=[None, WorldEnv(), object()]) == [0.0, 0.0, 0.0]


def test_final_answer_reads_only_a_closing_assistant_turn():
    assert final_answer([{"role": "assistant", "content": "Done."}]) == "Done."
    assert final_answer([{"role": "assistant", "content": "", "tool_calls": [{}]}]) == ""
    assert final_answer([{"role": "tool", "content": "Done."}]) == ""
    assert final_answer([{"role": "assistant", "content": [{"type": "text", "text": "a"}, {"text": "b"}]}]) == "a b"
    assert final_answer("plain") == "plain"
    for odd in (None, 3, [], [None], [{"role": "assistant", "content": 5}]):
        assert final_answer(odd) == ""


def test_process_terms_and_the_default_outcome_only_reward():
    import pytest

    from rest_rl.envs.tasks import (
        TaskConfig, agent_reward_funcs, calls_reward, make_tasks, outcome_reward, replay, tool_error_penalty,
    )  # fmt: skip
    from rest_rl.envs.world import environment_for

    task = next(t for t in make_tasks(TaskConfig(n_train=0, n_validation=0, n_test=40))["test"] if t.gold)
    gold_env = environment_for(task)
    replay(task, gold_env)
    wrong_env = environment_for(task)
    wrong_env.episode.call("no_such_tool", {})
    assert calls_reward([""], [gold_env]) == [1.0]
    assert calls_reward([""], [wrong_env])[0] < 0.5
    assert tool_error_penalty([""], [gold_env]) == [0.0] and tool_error_penalty([""], [wrong_env]) == [-1.0]
    funcs, weights = agent_reward_funcs()
    assert funcs == [outcome_reward] and weights == [1.0]
    funcs, weights = agent_reward_funcs(calls_weight=0.2, error_weight=0.1)
    assert funcs == [outcome_reward, calls_reward, tool_error_penalty] and weights == [1.0, 0.2, 0.1]
    with pytest.raises(ValueError, match=">= 0"):
        agent_reward_funcs(calls_weight=-1)
