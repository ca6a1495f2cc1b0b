"""Multi-turn BFCL: fresh simulator state per conversation, calls read with ast (never eval), the
inference loop (held-out functions, step limit) and what a naive reuse of bfcl-eval's executor leaks."""

from __future__ import annotations

import builtins
import copy
import decimal
import uuid

import pytest

pytest.importorskip(
    "bfcl_eval",
    reason="bfcl-eval is not installed: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
    "pip install --no-deps bfcl-eval==2025.7.17",
    exc_type=ImportError,
)

from rest_rl.eval.bfcl.data import load_category  # noqa: E402
from rest_rl.eval.bfcl.multiturn import (  # noqa: E402
    Conversation,
    SimulatorSession,
    UnsafeCall,
    check_conversation,
    parse_call,
)
from rest_rl.eval.bfcl.official import BfclUnavailable, load_bfcl  # noqa: E402
from rest_rl.eval.bfcl.oracle import ORACLE_REPLY, oracle_result, oracle_turn_calls  # noqa: E402
from rest_rl.eval.bfcl.prompts import render_output  # noqa: E402
from rest_rl.eval.bfcl.score import score_entry  # noqa: E402
from rest_rl.toolcall.types import ToolCall  # noqa: E402


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    try:
        return load_bfcl(tmp_path_factory.mktemp("bfcl_project_root"))
    except BfclUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def base(api):
    return load_category("multi_turn_base", limit=5, api=api)


def _decoded_oracle(entry, api) -> list[list[list[str]]]:
    return [[api.convert_to_function_call([{c.name: c.arguments} for c in calls])] if calls else [] for calls in oracle_turn_calls(entry, api)]


def _state(session: SimulatorSession) -> dict:
    return {name: {k: v for k, v in vars(inst).items() if not k.startswith("_")} for name, inst in session.instances.items()}


# ------------------------------------------------------------------------------------------------
# Isolation
# ------------------------------------------------------------------------------------------------


def test_same_entry_scored_twice_in_one_process_gives_the_same_verdict(api, base):
    entry = base[0]  # cd, mkdir temp, mv ...: changes the file system
    decoded = _decoded_oracle(entry, api)
    assert check_conversation(decoded, entry, api) == {"valid": True}
    assert check_conversation(decoded, entry, api) == {"valid": True}
    assert score_entry(entry, oracle_result(entry, "fc", api), "fc", api).valid
    assert score_entry(entry, oracle_result(entry, "toolrl", api), "toolrl", api).valid


def test_naive_reuse_of_bfcl_eval_executor_leaks_state_between_runs(api, base):
    """bfcl-eval keeps simulators in module globals keyed by model name and test id: a run under a
    name already used in the process continues from the earlier run's state. Here a wrong answer is
    scored first, then the oracle under the same name: bfcl-eval fails the oracle; ours does not."""
    entry = base[0]
    oracle = _decoded_oracle(entry, api)
    wrong = copy.deepcopy(oracle)
    wrong[0][0] = wrong[0][0] + ["mkdir(dir_name='junk')"]
    name = f"leak_demo_{uuid.uuid4().hex}"

    def bfcl_check(decoded):
        return api.multi_turn_checker(copy.deepcopy(decoded), copy.deepcopy(entry.ground_truth), entry.test_entry(), entry.category, name)

    assert bfcl_check(wrong)["valid"] is False
    assert bfcl_check(oracle)["valid"] is False  # correct calls, judged on the stale file system
    from bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils import execute_multi_turn_func_call

    _, instances = execute_multi_turn_func_call([], entry.initial_config, entry.involved_classes, name, entry.id, is_evaL_run=True)
    fresh = SimulatorSession(entry.involved_classes, entry.initial_config, api=api)
    assert str(instances["GorillaFileSystem"]._current_dir.name) != str(fresh.instances["GorillaFileSystem"]._current_dir.name)

    # ours: the same sequence, fresh simulators each time
    assert check_conversation(wrong, entry, api)["valid"] is False
    assert check_conversation(oracle, entry, api) == {"valid": True}


def test_each_conversation_and_session_starts_from_the_initial_state(api, base):
    entry = base[0]
    pristine = SimulatorSession(entry.involved_classes, entry.initial_config, api=api)
    first = Conversation(entry, "fc", api)
    for turn in oracle_result(entry, "fc", api):
        for step in turn:
            first.feed(step)
    assert first.done and not first.force_terminated
    assert _state(first.session) != _state(pristine)  # the oracle changed the file system
    second = Conversation(entry, "fc", api)
    assert _state(second.session) == _state(pristine)
    assert second.session.instances["GorillaFileSystem"] is not first.session.instances["GorillaFileSystem"]
    assert entry.initial_config == load_category("multi_turn_base", limit=1, api=api)[0].initial_config  # not mutated


def test_generation_loop_replays_the_oracle_into_a_valid_result(api, base):
    for style in ("fc", "toolrl"):
        for entry in base:
            expected = oracle_result(entry, style, api)
            conversation = Conversation(entry, style, api)
            for turn in expected:
                for step in turn:
                    assert not conversation.done
                    conversation.feed(step)
            assert conversation.done
            record = conversation.record()
            assert record["result"] == expected
            assert score_entry(entry, record["result"], style, api).valid


# ------------------------------------------------------------------------------------------------
# Safety: ast only, simulator methods only, no eval
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo pwned')",
        "os.system('echo pwned')",
        "GorillaFileSystem.cd(folder='x')",
        "cd(folder=open('/etc/passwd').read())",
        "cd(folder=ls())",
        "cd(*['document'])",
        "cd(**{'folder': 'document'})",
        "[cd(folder='document')]",
        "cd(folder='a'); exit()",
        "lambda: 1",
        "cd(folder=f'{1}')",
    ],
)
def test_parse_call_accepts_only_a_plain_call_with_literal_arguments(text):
    with pytest.raises(UnsafeCall):
        parse_call(text)


def test_parse_call_reads_literals_without_evaluating():
    assert parse_call("mv(source='a.txt', destination='b')") == ("mv", [], {"source": "a.txt", "destination": "b"})
    assert parse_call("sort('final_report.pdf')") == ("sort", ["final_report.pdf"], {})
    assert parse_call("f(x=-1.5, y=[1, (2, 3)], z={'k': None}, w=True)") == (
        "f", [], {"x": -1.5, "y": [1, (2, 3)], "z": {"k": None}, "w": True}
    )


def test_only_public_methods_of_the_loaded_simulators_are_reachable(api, base):
    session = SimulatorSession(base[0].involved_classes, base[0].initial_config, api=api)
    assert "cd" in session.method_names and "post_tweet" in session.method_names
    assert not any(n.startswith("_") for n in session.method_names)
    for text in ("exit()", "eval(source='1+1')", "print(x=1)", "_load_scenario(scenario={})", "__import__(name='os')"):
        result = session.execute_one(text)
        assert result.startswith("Error during execution: name ") and "is not defined" in result, result
    assert session.execute_one("os.system('echo pwned')").startswith("Error during execution: ")
    assert session.execute_one("cd(folder='document')") == '{"current_working_directory": "document"}'
    assert session.execute_one("cd(nonsense=1)").startswith("Error during execution: ")
    assert session.execute_one(12) .startswith("Error during execution: ")  # type: ignore[arg-type]


def test_scoring_and_inference_never_call_eval(api, base, monkeypatch):
    entry = base[1]
    results = oracle_result(entry, "fc", api)

    def forbidden(*args, **kwargs):
        raise AssertionError("eval was called")

    # bfcl-eval's own executor must not be reached either
    monkeypatch.setattr(api.multi_turn_checker_module, "execute_multi_turn_func_call", forbidden)
    monkeypatch.setattr(builtins, "eval", forbidden)
    assert score_entry(entry, results, "fc", api).valid
    conversation = Conversation(entry, "fc", api)
    for turn in results:
        for step in turn:
            conversation.feed(step)
    assert conversation.done


def test_huge_integers_are_refused_in_any_base_before_running(api):
    session = SimulatorSession(["MathAPI"], {}, api=api)
    base_10 = "9" * 4300  # ~14,000 bits, still under Python's digit cap for decimal literals
    base_16 = "0x" + "f" * 4000  # 16,000 bits: hex literals are not covered by the digit cap
    for literal in (base_10, base_16, "0b" + "1" * 300, "0o" + "7" * 100):
        out = session.execute_one(f"power(base={literal}, exponent=2)")
        assert out.startswith("Error during execution: power: integer too large"), out[:120]
    assert session.execute_one(f"power(base={'0x' + 'f' * 60}, exponent=2)").startswith('{"result": ')  # 240 bits
    assert session.execute_one("add(a=1e400, b=1)").startswith("Error during execution: add: ")  # inf
    assert session.execute_one("add(a={1, 2}, b=1)").startswith("Error during execution: add: ")  # a set


def test_arguments_that_would_stall_the_process_are_refused(api):
    session = SimulatorSession(["MathAPI"], {}, api=api)
    out = session.execute_one("power(base=7, exponent=1000000000)")
    assert out.startswith("Error during execution: exponent")
    assert session.execute_one("square_root(number=2, precision=100000000)").startswith("Error during execution: precision")
    assert session.execute_one("power(base=2, exponent=10)") == '{"result": 1024}'
    prec = decimal.getcontext().prec
    assert "1.4142135623730950488016887242096980785696718753769" in session.execute_one("square_root(number=2, precision=50)")
    assert decimal.getcontext().prec == prec  # the simulator's precision change stayed local


# ------------------------------------------------------------------------------------------------
# The inference loop
# ------------------------------------------------------------------------------------------------


def test_held_out_functions_appear_only_from_their_turn(api):
    entry = load_category("multi_turn_miss_func", limit=1, api=api)[0]
    (turn, names), = [(int(k), [d["name"] for d in v]) for k, v in entry.missed_functions.items()]
    conversation = Conversation(entry, "fc", api)
    reply = render_output("fc", [], response=ORACLE_REPLY)
    for t in range(turn + 1):
        tools = {tool["function"]["name"] for tool in conversation.request().tools}
        assert all((n in tools) == (t == turn) for n in names)
        if t == turn:
            assert conversation.messages[-1] == {"role": "user", "content": api.additional_function_prompt_fc}
        conversation.feed(reply)
    toolrl = Conversation(entry, "toolrl", api)
    assert "Name: sort\n" not in toolrl.request().messages[0]["content"]


def test_tool_results_go_back_to_the_model(api, base):
    entry = base[0]
    for style, marker in (("fc", None), ("toolrl", "<obs>")):
        conversation = Conversation(entry, style, api)
        conversation.feed(render_output(style, [ToolCall("cd", {"folder": "document"})]))
        request = conversation.request()
        if style == "fc":
            assert request.messages[-1] == {"role": "tool", "content": '{"current_working_directory": "document"}'}
            assert request.messages[-2]["tool_calls"][0]["function"] == {"name": "cd", "arguments": {"folder": "document"}}
        else:
            assert '<obs> {"current_working_directory": "document"} </obs>' in request.messages[1]["content"]
        assert conversation.turn == 0 and conversation.step == 1


def test_too_many_steps_in_a_turn_force_terminates(api, base):
    entry = base[0]
    conversation = Conversation(entry, "toolrl", api)
    step = render_output("toolrl", [ToolCall("ls", {})])
    while not conversation.done:
        conversation.feed(step)
    assert conversation.force_terminated
    assert len(conversation.turn_outputs) == 1 and len(conversation.turn_outputs[0]) == api.maximum_step_limit + 1
    verdict = score_entry(entry, conversation.record()["result"], "toolrl", api)
    assert verdict.error_type == "multi_turn:force_terminated"


def test_garbage_output_ends_the_turn(api, base):
    entry = base[0]
    conversation = Conversation(entry, "fc", api)
    for text in ("", "<tool_call>\n{not json\n</tool_call>", None, "just words"):
        conversation.feed(text)  # type: ignore[arg-type]
    assert conversation.turn == 4 or conversation.done
    assert all(len(t) == 1 for t in conversation.turn_outputs)


# ------------------------------------------------------------------------------------------------
# Untrusted output never crashes scoring
# ------------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_FRAGMENTS = st.sampled_from(
    ["<tool_call>", "</tool_call>", "<think>", "</think>", "<response>", "</response>", '{"name": "cd", ',
     '"arguments": {"folder": "document"}}', '"parameters": {', "}", "[", "]", "\n", "cd(", "folder='x'", ")", "ls()"]
)
_TEXT = st.lists(st.one_of(_FRAGMENTS, st.text(max_size=12)), max_size=12).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT)
def test_any_call_text_gives_a_result_string(api, base, text):
    session = SimulatorSession(base[0].involved_classes, base[0].initial_config, api=api)
    assert isinstance(session.execute_one(text), str)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_TEXT, turns=st.lists(st.lists(_TEXT, max_size=3), max_size=5), style=st.sampled_from(["fc", "toolrl"]))
def test_any_output_gets_a_verdict(api, base, text, turns, style):
    single = load_category("live_simple", limit=1, api=api)[0]
    for entry, result in ((single, text), (base[0], turns), (base[0], text), (single, turns)):
        verdict = score_entry(entry, result, style, api)
        assert isinstance(verdict.valid, bool)


def test_deeply_nested_arguments_are_handled(api, base, tmp_path):
    from rest_rl.eval.bfcl.score import write_score_files

    deep = "[" * 900 + "]" * 900
    single = load_category("simple", limit=1, api=api)[0]
    for style, text in (
        ("fc", '<tool_call>\n{"name": "calculate_triangle_area", "arguments": {"base": ' + deep + "}}\n</tool_call>"),
        ("toolrl", '<tool_call>\n{"name": "calculate_triangle_area", "parameters": {"base": ' + deep + "}}\n</tool_call>"),
    ):
        v1 = score_entry(single, text, style, api)
        v2 = score_entry(base[0], [[text]] * len(base[0].ground_truth), style, api)
        assert not v1.valid and not v2.valid
        write_score_files(tmp_path, "m", [v1, v2], {single.id: text, base[0].id: [[text]]}, [single, base[0]])
