"""The synthetic tool world: determinism, held-out values, valid golds, knobs."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from rest_rl.data import SyntheticConfig, SyntheticWorld, corpus_texts, make_splits, to_prompt_messages
from rest_rl.data.synthetic import validate_call
from rest_rl.toolcall.toolrl import parse_toolrl

SMALL = SyntheticConfig(n_train=600, n_validation=100, n_test=200, n_novel=200)


@pytest.fixture(scope="module")
def splits():
    return make_splits(SMALL)


@pytest.fixture(scope="module")
def world():
    return SyntheticWorld(SMALL)


def _dump(examples):
    return [json.dumps(ex.to_dict(), sort_keys=True) for ex in examples]


def test_world_has_about_thirty_typed_tools_in_several_domains(world):
    assert 28 <= len(world.tools) <= 32
    assert len(world.domains) >= 6
    types = Counter(p["type"] for t in world.tools for p in t["parameters"]["properties"].values())
    assert {"string", "integer", "number", "boolean"} <= set(types)
    assert any("enum" in p for t in world.tools for p in t["parameters"]["properties"].values())
    assert any(set(t["parameters"]["properties"]) - set(t["parameters"]["required"]) for t in world.tools)


def test_same_seed_same_examples_and_other_seed_other_examples(splits):
    again = make_splits(SMALL)
    for name in ("train", "validation", "test", "novel"):
        assert _dump(splits[name]) == _dump(again[name])
    other = make_splits(SyntheticConfig(seed=1, n_train=600, n_validation=100, n_test=200))
    assert _dump(other["train"]) != _dump(splits["train"])
    world = SyntheticWorld(SMALL)
    assert _dump(world.sample(20, "train", seed=3)) == _dump(world.sample(20, "train", seed=3))
    assert _dump(world.sample(20, "train", seed=3)) != _dump(world.sample(20, "train", seed=4))


def test_split_sizes_and_held_out_requests_never_repeat_a_prompt(splits):
    assert [len(splits[s]) for s in ("train", "validation", "test", "novel")] == [600, 100, 200, 200]
    prompts = {s: [json.dumps(to_prompt_messages(ex, style="compact")) for ex in splits[s]] for s in splits}
    train = set(prompts["train"])
    assert not train & set(prompts["validation"]) and not train & set(prompts["test"])
    assert not set(prompts["validation"]) & set(prompts["test"])
    assert len(set(prompts["test"])) == len(prompts["test"])  # no duplicates within the split either
    # the same distribution as train: same tools are asked for, held-out requests only
    assert {c.name for ex in splits["test"] for c in ex.gold_calls or []} <= {t["name"] for t in SyntheticWorld(SMALL).tools}


def _slot_values(world, example):
    """(pool, value) of every free slot of the gold calls."""
    out = []
    for call in example.gold_calls or []:
        pools = world.slot_pools(call.name)
        out += [(pools[k], v) for k, v in call.arguments.items() if k in pools]
    return out


def test_heldout_values_appear_only_in_novel(world, splits):
    heldout = world.heldout_values()
    assert all(values for values in heldout.values())
    for name in ("train", "validation", "test"):
        for ex in splits[name]:
            for pool, value in _slot_values(world, ex):
                assert value not in heldout[pool], (name, ex.id, pool, value)
    novel_values = [(p, v) for ex in splits["novel"] for p, v in _slot_values(world, ex)]
    assert novel_values and all(v in heldout[p] for p, v in novel_values)
    # held-out cities show up in novel prompts and never in any train prompt
    cities = heldout["city"]
    train_text = " ".join(ex.messages[0]["content"] for ex in splits["train"])
    test_text = " ".join(ex.messages[0]["content"] for ex in splits["novel"])
    assert not any(f" {c}" in train_text for c in cities)
    assert any(f" {c}" in test_text for c in cities)


def test_every_gold_renders_parses_back_and_is_valid_against_its_schema(world, splits):
    for ex in splits["train"] + splits["test"] + splits["novel"]:
        text = ex.gold_text("toolrl")
        parsed = parse_toolrl(text)
        assert parsed.ok, (ex.id, parsed.problems)
        assert parsed.calls == list(ex.gold_calls or []), ex.id
        assert parsed.think == ex.gold_think and parsed.response == ex.gold_response
        listed = {t["name"]: t for t in ex.tools}
        for call in ex.gold_calls or []:
            assert call.name in listed, ex.id  # the needed tool is offered
            assert validate_call(call, listed[call.name]) == [], ex.id
            assert validate_call(call, world.tool(call.name)) == []


def test_validate_call_reports_schema_violations(world):
    from rest_rl.toolcall.types import ToolCall

    tool = world.tool("get_weather")
    assert validate_call(ToolCall("get_weather", {"city": "Paris", "unit": "celsius"}), tool) == []
    problems = validate_call(ToolCall("get_weather", {"unit": "kelvin", "zip": 1}), tool)
    assert any("missing required 'city'" in p for p in problems)
    assert any("not in" in p for p in problems) and any("unknown parameter" in p for p in problems)
    assert validate_call(ToolCall("book_hotel", {"city": "Rome", "nights": True}), world.tool("book_hotel"))


def test_gold_kinds_distractors_and_no_call_answers(splits):
    kinds = Counter(ex.meta["kind"] for ex in splits["train"])
    assert {"single", "parallel", "chitchat", "unserved"} <= set(kinds)
    for ex in splits["train"]:
        names = [t["name"] for t in ex.tools]
        needed = {c.name for c in ex.gold_calls or []}
        assert len(names) == len(set(names)) and len(set(names) - needed) >= 1  # distractors
        if ex.meta["kind"] == "parallel":
            assert len(ex.gold_calls) == 2 and ex.gold_response is None
        if ex.meta["kind"] in ("chitchat", "unserved"):
            assert ex.gold_calls is None and ex.gold_response
        if ex.meta["kind"] == "unserved":
            assert ex.meta["wanted"] not in names  # really no listed tool for it
    thinks = {ex.gold_think.split(" ")[0] for ex in splits["train"] if ex.meta["kind"] == "single"}
    assert len(thinks) >= 5  # varied phrasings


def test_knobs_are_honoured():
    only_calls = SyntheticWorld(SyntheticConfig(p_no_call=0.0, p_parallel=0.0, tools_per_prompt=5)).sample(200)
    assert all(ex.meta["kind"] == "single" and len(ex.tools) == 5 for ex in only_calls)
    no_calls = SyntheticWorld(SyntheticConfig(p_no_call=1.0, p_chitchat=0.0)).sample(100)
    assert all(ex.meta["kind"] == "unserved" for ex in no_calls)
    parallel = SyntheticWorld(SyntheticConfig(p_no_call=0.0, p_parallel=0.5)).sample(1000)
    share = sum(ex.meta["kind"] == "parallel" for ex in parallel) / 1000
    assert 0.45 < share < 0.55
    many = SyntheticWorld(SyntheticConfig(tools_per_prompt=1, min_distractors=3, p_no_call=0.0, p_parallel=0.0)).sample(50)
    assert all(len(ex.tools) == 4 for ex in many)
    no_think = SyntheticWorld(SyntheticConfig(with_think=False)).sample(20)
    assert all(ex.gold_think is None for ex in no_think)
    weather = SyntheticWorld(SyntheticConfig(domains=("weather", "math")))
    assert {t["name"] for t in weather.tools} >= {"get_weather", "add_numbers"} and len(weather.tools) == 8


def test_fixed_think_style_keeps_everything_but_the_thought():
    varied = SyntheticWorld(SyntheticConfig(p_parallel=0.2)).sample(300)
    fixed = SyntheticWorld(SyntheticConfig(p_parallel=0.2, think_style="fixed")).sample(300)
    fixed_phrases = set()
    for a, b in zip(varied, fixed, strict=True):
        assert (a.messages, a.tools, a.gold_calls, a.gold_response) == (b.messages, b.tools, b.gold_calls, b.gold_response)
        if a.gold_calls:
            fixed_phrases.add(b.gold_think)
            assert a.gold_calls[0].name in a.gold_think and a.gold_calls[0].name not in b.gold_think
        else:
            assert a.gold_think == b.gold_think  # chit-chat and unserved thoughts are not touched
    assert 3 <= len(fixed_phrases) <= 5
    with pytest.raises(ValueError, match="think_style"):
        SyntheticConfig(think_style="long")


def test_difficulty_controls_distractor_domains():
    def same_domain_share(difficulty):
        world = SyntheticWorld(SyntheticConfig(difficulty=difficulty, p_no_call=0.0, p_parallel=0.0))
        domain = {spec["name"]: name for name in world.domains for spec in SyntheticWorld(SyntheticConfig(domains=(name,))).tools}
        hits = total = 0
        for ex in world.sample(300):
            target = domain[ex.gold_calls[0].name]
            for tool in ex.tools:
                if tool["name"] != ex.gold_calls[0].name:
                    total += 1
                    hits += domain[tool["name"]] == target
        return hits / total

    easy, medium, hard = (same_domain_share(d) for d in ("easy", "medium", "hard"))
    assert easy == 0.0 and hard > 0.9 and easy < medium < hard


def test_bad_configs_are_rejected():
    for bad in ({"p_parallel": 1.5}, {"difficulty": "extreme"}, {"heldout_fraction": 0.0}, {"domains": ("cooking",)}):
        with pytest.raises(ValueError):
            SyntheticConfig(**bad)
    with pytest.raises(ValueError, match="split"):
        SyntheticWorld().sample(1, "dev")


def test_prompts_and_completions_are_compact():
    examples = SyntheticWorld(SyntheticConfig()).sample(300)
    prompt_chars = [sum(len(m["content"]) for m in to_prompt_messages(ex, style="compact")) for ex in examples]
    gold_chars = [len(ex.gold_text()) for ex in examples]
    # ~3 characters per token with a ~1k-vocab BPE: prompts ≲ 150 tokens, completions ≈ 60 tokens
    assert max(prompt_chars) < 560 and sum(prompt_chars) / len(prompt_chars) < 400
    assert sum(gold_chars) / len(gold_chars) < 200


def test_corpus_texts_cover_prompt_and_gold_without_heldout_values(world):
    texts = corpus_texts(SMALL, n=200)
    assert len(texts) == 200
    assert texts[0].startswith("Tools:\n") and "<think>" in texts[0]
    joined = "\n".join(texts)
    assert not any(f" {c}" in joined for c in world.heldout_values()["city"])


def test_think_filler_lengthens_reasoning_and_changes_nothing_else():
    from rest_rl.data.synthetic import SyntheticConfig, make_splits

    base = SyntheticConfig(n_train=60, n_validation=10, n_test=10, n_novel=5)
    plain = make_splits(base)
    long = make_splits(SyntheticConfig(**{**base.__dict__, "think_filler": 8}))
    for split in plain:
        assert [e.messages for e in plain[split]] == [e.messages for e in long[split]]
        assert [e.tools for e in plain[split]] == [e.tools for e in long[split]]
        assert [e.gold_calls for e in plain[split]] == [e.gold_calls for e in long[split]]
    words_plain = sum(len((e.gold_think or "").split()) for e in plain["train"])
    words_long = sum(len((e.gold_think or "").split()) for e in long["train"])
    assert words_long > 4 * words_plain
    assert all(e.gold_think.endswith(p.gold_think) for e, p in zip(long["train"], plain["train"]))
    distinct = {e.gold_think.split(".")[0] for e in long["train"]}
    assert len(distinct) > 30  # high entropy: first filler sentences rarely repeat


def test_think_filler_low_entropy_and_validation():
    import random

    import pytest

    from rest_rl.data.synthetic import SyntheticConfig, filler_sentences

    low = {filler_sentences(random.Random(i), 1, "low") for i in range(50)}
    assert len(low) <= 3
    with pytest.raises(ValueError, match="think_filler must be >= 0"):
        SyntheticConfig(think_filler=-1)
    with pytest.raises(ValueError, match="think_filler_entropy"):
        SyntheticConfig(think_filler_entropy="medium")
