"""BFCL's simulators as a TRL environment: tools with the simulators' schemas, safe dispatch, state per
episode, and the guard that refuses BFCL's own test entries."""

from __future__ import annotations

import inspect
import json

import pytest

pytest.importorskip("bfcl_eval", reason="needs bfcl-eval (make install-bfcl)")

from rest_rl.eval.bfcl.environment import BfclContaminationError, bfcl_environment, check_rows  # noqa: E402


@pytest.fixture(scope="module")
def env_cls():
    return bfcl_environment(["GorillaFileSystem", "MathAPI"])


def _tools(cls) -> list[str]:
    # TRL's discovery rule: public functions of the class other than reset / get_reward
    return [n for n, _ in inspect.getmembers(cls, predicate=inspect.isfunction) if not n.startswith("_") and n != "reset"]


def test_tools_are_the_simulators_methods_with_valid_schemas(env_cls):
    from transformers.utils import get_json_schema

    names = _tools(env_cls)
    assert {"cd", "ls", "mkdir", "power", "add"} <= set(names)
    schema = get_json_schema(getattr(env_cls(), "cd"))
    assert schema["function"]["name"] == "cd" and "folder" in schema["function"]["parameters"]["properties"]


def test_episodes_have_fresh_state_and_calls_are_bounded(env_cls):
    config = {"GorillaFileSystem": {"root": {"workspace": {"type": "directory", "contents": {
        "notes.txt": {"type": "file", "content": "hello"}}}}}}  # fmt: skip
    row = {"prompt": [{"role": "user", "content": "Make a folder called drafts in my workspace, please."}],
           "initial_config": json.dumps(config)}  # fmt: skip
    env = env_cls()
    env.reset(**row)
    assert "notes.txt" in env.ls()
    env.mkdir(dir_name="drafts")
    assert "drafts" in env.ls()
    env.reset(**row)
    assert "drafts" not in env.ls()  # a new episode starts from the row's state
    assert env.power(base=int("f" * 4000, 16), exponent=2).startswith("Error during execution: power: integer too large")
    assert env.cd(nonsense=1).startswith("Error during execution")  # a wrong argument is the model's result


def test_training_on_bfcl_test_entries_is_refused(env_cls):
    from rest_rl.eval.contamination import bfcl_prompts

    entry = next(p for p in bfcl_prompts() if p.id.startswith("multi_turn_base"))
    with pytest.raises(BfclContaminationError, match="refusing to train on BFCL's test data.*multi_turn_base"):
        env_cls().reset(prompt=[{"role": "user", "content": entry.text}], initial_config={})
    with pytest.raises(BfclContaminationError, match="is a BFCL v3 test entry"):
        check_rows([{"id": "x", "prompt": "make a folder"}, {"id": entry.id, "prompt": "anything"}])
    check_rows([{"id": "mine-1", "prompt": "Make a folder called drafts in my workspace, please."}])


def test_unknown_simulator_class_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown BFCL simulator class 'Nope'"):
        bfcl_environment(["Nope"])


def test_every_simulator_tool_has_a_schema_trl_can_build():
    from transformers.utils import get_json_schema

    from rest_rl.eval.bfcl.official import load_bfcl

    count = 0
    for class_name in sorted(load_bfcl().class_file_path_mapping):
        env = bfcl_environment([class_name], guard=False)()
        for name in _tools(type(env)):
            assert get_json_schema(getattr(env, name))["function"]["name"] == name
            count += 1
    assert count > 100
