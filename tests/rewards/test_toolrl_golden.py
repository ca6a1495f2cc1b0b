"""Golden cases of the ToolRL reward, each worked out by hand (docs/method.md §4).

Notation: J = multiset Jaccard |a∩b| / (|a|+|b|-|a∩b|); score = J(names) + Σ_gold best
[J(keys) + #equal values]; S_max = 1 + Σ_gold (1 + #params); correctness = lo + (hi-lo)·score/S_max.
STATIC: format {0, 1}, correctness [-3, 3]. Dynamic at p: format ±(2-p), correctness ±(2+p).
"""

from __future__ import annotations

import pytest

from rest_rl.rewards import RewardConfig, gold_from_text, toolrl_reward
from rest_rl.toolcall import ToolCall

STATIC = RewardConfig(schedule="static")
T = "<think> reasoning </think>\n"


def block(*lines: str) -> str:
    return "<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"


def reward(completion: str, gold, config: RewardConfig = STATIC, **kw):
    return toolrl_reward(completion, gold, config=config, **kw)


def check(r, fmt: float, cor: float, total: float | None = None) -> None:
    assert r.format == pytest.approx(fmt)
    assert r.correctness == pytest.approx(cor)
    assert r.total == pytest.approx(fmt + cor if total is None else total)


F1 = '{"name": "f", "parameters": {"a": 1}}'
G2 = '{"name": "g", "parameters": {"b": 2}}'


def test_01_exact_match() -> None:
    gold = [ToolCall("get_weather", {"city": "Paris", "unit": "c"})]
    c = T + block('{"name": "get_weather", "parameters": {"city": "Paris", "unit": "c"}}')
    # identical list -> correctness max 3; format OK -> 1; total 4
    check(reward(c, gold), 1.0, 3.0)
    # dynamic, p = 0: format 2, correctness 2; total 4
    check(reward(c, gold, RewardConfig()), 2.0, 2.0)


def test_02_partial_names() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    c = T + block(F1, '{"name": "h", "parameters": {"b": 2}}')
    # J(names) = |{f}| / (2 + 2 - 1) = 1/3; f: J(keys) 1 + 1 equal = 2; g: no same-name call = 0
    # score = 1/3 + 2 = 7/3; S_max = 1 + 2 + 2 = 5; frac = 7/15
    # correctness = -3 + 6 * 7/15 = -0.2
    check(reward(c, gold), 1.0, -0.2)


def test_03_partial_keys() -> None:
    gold = [ToolCall("f", {"a": 1, "b": 2})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "c": 3}}')
    # J(names) = 1; J({a,b},{a,c}) = 1/3; equal values: a -> 1
    # score = 1 + 1/3 + 1 = 7/3; S_max = 1 + (1 + 2) = 4; frac = 7/12
    # correctness = -3 + 6 * 7/12 = 0.5
    check(reward(c, gold), 1.0, 0.5)


def test_04_wrong_values_and_types() -> None:
    gold = [ToolCall("f", {"a": 1, "b": "x"})]
    c = T + block('{"name": "f", "parameters": {"a": "1", "b": "y"}}')
    # J(names) 1 + J(keys) 1 + equal values 0 ("1" != 1, "y" != "x") = 2; S_max = 4; frac = 1/2
    # correctness = -3 + 6 * 1/2 = 0
    check(reward(c, gold), 1.0, 0.0)
    # true != 1 (JSON equality), 1.0 == 1: gold {"a": 1}
    gold1 = [ToolCall("f", {"a": 1})]
    # bool: 1 + 1 + 0 = 2 of S_max 3 -> -3 + 6 * 2/3 = 1
    check(reward(T + block('{"name": "f", "parameters": {"a": true}}'), gold1), 1.0, 1.0)
    # 1.0: 1 + 1 + 1 = 3 of 3 -> 3
    check(reward(T + block('{"name": "f", "parameters": {"a": 1.0}}'), gold1), 1.0, 3.0)


def test_05_extra_call() -> None:
    gold = [ToolCall("f", {"a": 1})]
    c = T + block(F1, '{"name": "g", "parameters": {}}')
    # J({f},{f,g}) = 1/2; f: 1 + 1 = 2; score = 2.5; S_max = 1 + 2 = 3; frac = 5/6
    # correctness = -3 + 6 * 5/6 = 2
    check(reward(c, gold), 1.0, 2.0)


def test_06_missing_call() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    c = T + block(F1)
    # J({f,g},{f}) = 1/2; f: 2; g: 0; score = 2.5; S_max = 1 + 2 + 2 = 5; frac = 1/2
    # correctness = -3 + 6 * 1/2 = 0
    check(reward(c, gold), 1.0, 0.0)


def test_07_repeated_names_greedy_in_gold_order() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("f", {"a": 2})]
    c = T + block('{"name": "f", "parameters": {"a": 2}}', '{"name": "f", "parameters": {"a": 3}}')
    # J({f,f},{f,f}) = 1. gold f(a=1): f(a=2) scores 1 + 0, f(a=3) scores 1 + 0: tie -> first
    # (f(a=2)) is used; gold f(a=2): only f(a=3) is left: 1 + 0.
    # score = 1 + 1 + 1 = 3; S_max = 1 + 2 + 2 = 5; frac = 3/5 (the best pairing would give 4/5)
    # correctness = -3 + 6 * 3/5 = 0.6
    check(reward(c, gold), 1.0, 0.6)


def test_08_permuted_calls_reach_the_maximum() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    # not the identical list, but J(names) 1 + f 2 + g 2 = 5 = S_max -> correctness 3
    check(reward(T + block(G2, F1), gold), 1.0, 3.0)


def test_09_no_call_gold() -> None:
    # gold has no call, only a response: required tags think + response; correctness 0
    c = T + "<response> Hello! </response>"
    check(reward(c, None, gold_has_response=True), 1.0, 0.0)
    check(reward(c, [], gold_has_response=True), 1.0, 0.0)
    # think-only gold (neither calls nor response): just <think>...</think>
    check(reward("<think> done </think>", None), 1.0, 0.0)


def test_10_response_only_gold_but_the_model_calls_a_tool() -> None:
    c = T + block(F1) + "\n<response> Hello! </response>"
    # <tool_call> is not required -> format 0; correctness 0 (gold has no call); total 0
    check(reward(c, None, gold_has_response=True), 0.0, 0.0)


def test_11_calls_and_response_gold() -> None:
    gold = [ToolCall("f", {"a": 1})]
    both = T + block(F1) + "\n<response> Working on it. </response>"
    # think, tool_call, response all present in order: format 1; exact: 3
    check(reward(both, gold, gold_has_response=True), 1.0, 3.0)
    # response missing: format 0; correctness still 3
    check(reward(T + block(F1), gold, gold_has_response=True), 0.0, 3.0)


def test_12_parse_failure_bad_json() -> None:
    gold = [ToolCall("f", {"a": 1})]
    c = T + block('{"name": "f", "parameters": {"a": 1}')  # missing brace
    # tags fine -> format 1; the block has a bad line -> correctness min -3; total -2
    check(reward(c, gold), 1.0, -3.0)
    # one good line and one bad line is still a parse failure
    check(reward(T + block(F1, "oops"), gold), 1.0, -3.0)
    # a call without "parameters" is a defect too
    check(reward(T + block('{"name": "f"}'), [ToolCall("f")]), 1.0, -3.0)


def test_13_truncated_output() -> None:
    gold = [ToolCall("f", {"a": 1})]
    c = T + "<tool_call>\n" + F1  # cut before </tool_call>
    # </tool_call> missing -> format 0; unclosed block -> correctness min -3; total -3
    check(reward(c, gold), 0.0, -3.0)
    # cut inside the think: no block at all -> same
    check(reward("<think> I will call f with a", gold), 0.0, -3.0)


def test_14_missing_think() -> None:
    gold = [ToolCall("f", {"a": 1})]
    # no <think> -> format 0; the block is exact -> correctness 3; total 3
    check(reward(block(F1), gold), 0.0, 3.0)


def test_15_tags_out_of_order() -> None:
    gold = [ToolCall("f", {"a": 1})]
    c = T + "<response> ok </response>\n" + block(F1)
    # response before tool_call -> format 0; correctness from the block: exact -> 3
    check(reward(c, gold, gold_has_response=True), 0.0, 3.0)
    c2 = block(F1) + "\n" + T + "<response> ok </response>"
    # the block precedes the think: order wrong -> 0; the block is searched after </think>
    # only, so there is none -> correctness -3
    check(reward(c2, gold, gold_has_response=True), 0.0, -3.0)


def test_16_duplicate_tags() -> None:
    gold = [ToolCall("f", {"a": 1})]
    c = T + block('{"name": "f", "parameters": {"a": 2}}') + "\n" + block(F1)
    # two <tool_call> blocks -> format 0; the last block is scored: exact -> 3
    check(reward(c, gold), 0.0, 3.0)
    c2 = T + T + block(F1)
    # a second <think> outside the first think -> format 0; correctness 3
    check(reward(c2, gold), 0.0, 3.0)


def test_17_strict_versus_relaxed() -> None:
    gold = [ToolCall("f", {"a": 1})]
    strict = RewardConfig(schedule="static", format_check="strict")
    loose = T.rstrip("\n") + "\n\n" + block(F1) + "<|im_end|>"
    # relaxed: tags present once each, in order -> 1; strict: "\n\n" separator and trailing
    # text break the anchored layout -> 0. Correctness 3 either way.
    check(reward(loose, gold), 1.0, 3.0)
    check(reward(loose, gold, strict), 0.0, 3.0)
    # a tag mentioned inside the think text: relaxed ignores it, strict counts it (as ToolRL)
    mention = "<think> put it in <tool_call> tags </think>\n" + block(F1)
    check(reward(mention, gold), 1.0, 3.0)
    check(reward(mention, gold, strict), 0.0, 3.0)
    # the exact layout passes both (surrounding whitespace is stripped first)
    exact = "\n" + T + block(F1) + "\n"
    check(reward(exact, gold, strict), 1.0, 3.0)


def test_18_dynamic_schedule_at_start_middle_end() -> None:
    gold = [ToolCall("f", {"a": 1, "b": "x"})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "b": "y"}}')
    # score = 1 + 1 + 1 = 3 of S_max 4 -> frac 3/4
    dyn = RewardConfig()
    # p = 0: format [-2, 2] -> 2; correctness [-2, 2] -> -2 + 4 * 3/4 = 1; total 3
    check(reward(c, gold, dyn, progress=0.0), 2.0, 1.0)
    # p = 0.5: format [-1.5, 1.5] -> 1.5; correctness [-2.5, 2.5] -> -2.5 + 5 * 3/4 = 1.25
    check(reward(c, gold, dyn, progress=0.5), 1.5, 1.25)
    # p = 1: format [-1, 1] -> 1; correctness [-3, 3] -> -3 + 6 * 3/4 = 1.5
    check(reward(c, gold, dyn, progress=1.0), 1.0, 1.5)
    # past the end it stays saturated; a format failure at p = 0.5 costs -1.5
    check(reward(c, gold, dyn, progress=3.0), 1.0, 1.5)
    check(reward(block(F1), [ToolCall("f", {"a": 1})], dyn, progress=0.5), -1.5, 2.5)


def test_19_dynamic_horizon_reproduces_step_over_150() -> None:
    gold = [ToolCall("f", {"a": 1, "b": "x"})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "b": "y"}}')
    # ResT's 105-step run: progress = step / 105, horizon = 150 / 105 -> p = step / 150.
    # step 75 -> p = 0.5: same as progress 0.5 with horizon 1: 1.5 + 1.25
    cfg = RewardConfig(dynamic_horizon=150 / 105)
    check(reward(c, gold, cfg, progress=75 / 105), 1.5, 1.25)
    # step 30 -> p = 0.2: format 1.8, correctness -2.2 + 4.4 * 3/4 = 1.1
    check(reward(c, gold, cfg, progress=30 / 105), 1.8, 1.1)


def test_20_equal_max() -> None:
    gold = [ToolCall("f", {"a": 1, "b": "x"})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "b": "y"}}')
    # correctness range [-1, 1]: -1 + 2 * 3/4 = 0.5; static format 1
    check(reward(c, gold, RewardConfig(schedule="static", variant="equal_max")), 1.0, 0.5)


def test_21_two_stage() -> None:
    gold = [ToolCall("f", {"a": 1, "b": "x"})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "b": "y"}}')
    cfg = RewardConfig(schedule="static", variant="two_stage")
    # p = 0.1 < 0.2: correctness [-1, 1] -> 0.5; p = 0.2: [-3, 3] -> 1.5
    check(reward(c, gold, cfg, progress=0.1), 1.0, 0.5)
    check(reward(c, gold, cfg, progress=0.2), 1.0, 1.5)


def test_22_coarse() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    cfg = RewardConfig(schedule="static", variant="coarse")
    # all or nothing: one wrong value -> -3; same calls in another order -> 3
    check(reward(T + block(F1, '{"name": "g", "parameters": {"b": 3}}'), gold, cfg), 1.0, -3.0)
    check(reward(T + block(G2, F1), gold, cfg), 1.0, 3.0)


def test_23_fine_grained() -> None:
    gold = [ToolCall("f", {"a": 1, "b": 2})]
    c = T + block('{"name": "f", "parameters": {"a": 1, "c": 3}}')
    # names equal -> 1; key sets {a,b} vs {a,c} differ -> 0 (not 1/3); value a -> 1
    # score = 2 of S_max 4 -> -3 + 6 * 1/2 = 0 (default gives 0.5, case 03)
    check(reward(c, gold, RewardConfig(schedule="static", variant="fine_grained")), 1.0, 0.0)


def test_24_intermediate() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    c = T + block(F1, '{"name": "g", "parameters": {"b": 3}}')
    # J(names) 1; f exact -> 1; g not exact -> 0; score 2; S_max = 1 + 2 = 3
    # correctness = -3 + 6 * 2/3 = 1
    check(reward(c, gold, RewardConfig(schedule="static", variant="intermediate")), 1.0, 1.0)
    # default for comparison: 1 + (1 + 1) + (1 + 0) = 4 of 5 -> -3 + 6 * 4/5 = 1.8
    check(reward(c, gold), 1.0, 1.8)


def test_25_tool_n1() -> None:
    gold = [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})]
    cfg = RewardConfig(variant="tool_n1")
    # think present and the same set of calls (order and repetition ignored) -> 1
    check(reward(T + block(G2, F1, F1), gold, cfg), 1.0, 1.0, total=1.0)
    # no think -> 0 even with exact calls
    check(reward(block(F1, G2), gold, cfg), 0.0, 1.0, total=0.0)
    # a wrong value -> 0
    check(reward(T + block(F1, '{"name": "g", "parameters": {"b": "2"}}'), gold, cfg), 1.0, 0.0, total=0.0)
    # gold without calls: a completion without calls -> 1; the schedule does not matter
    check(reward(T + "<response> hi </response>", None, cfg, progress=0.7), 1.0, 1.0, total=1.0)


def test_26_length() -> None:
    gold = [ToolCall("f", {"a": 1})]
    cfg = RewardConfig(schedule="static", variant="length", length_target_words=512)
    c = "<think> " + "word " * 256 + "</think>\n" + block(F1)
    r = reward(c, gold, cfg)
    # 256 / 512 = 0.5 length reward; total = 1 + 3 + 0.5
    check(r, 1.0, 3.0, total=4.5)
    assert r.extra["length"] == pytest.approx(0.5)
    # 1000 words saturate at 1; no think -> 0 (and format 0)
    check(reward("<think> " + "w " * 1000 + "</think>\n" + block(F1), gold, cfg), 1.0, 3.0, total=5.0)
    check(reward(block(F1), gold, cfg), 0.0, 3.0, total=3.0)


def test_27_empty_parameters_and_empty_block() -> None:
    gold = [ToolCall("now", {})]
    # {} vs {}: identical -> 3
    check(reward(T + block('{"name": "now", "parameters": {}}'), gold), 1.0, 3.0)
    # predicted {"tz": "UTC"}: J(names) 1 + J({}, {tz}) 0 + 0 = 1 of S_max 2 -> -3 + 3 = 0
    check(reward(T + block('{"name": "now", "parameters": {"tz": "UTC"}}'), gold), 1.0, 0.0)
    # empty block: J(names) = 0, nothing matched -> 0 / 2 -> -3
    check(reward(T + "<tool_call>\n</tool_call>", gold), 1.0, -3.0)


def test_28_gold_from_text_feeds_the_reward() -> None:
    gold_text = T + block(F1, G2) + "\n<response> Done. </response>"
    calls, has_response = gold_from_text(gold_text)
    assert calls == [ToolCall("f", {"a": 1}), ToolCall("g", {"b": 2})] and has_response
    # the gold scored against itself: format max, correctness max
    check(reward(gold_text, calls, gold_has_response=has_response), 1.0, 3.0)
    assert gold_from_text(T + "<response> hi </response>") == (None, True)
    with pytest.raises(ValueError):
        gold_from_text(T + block("not json"))
