"""rest_rl.eval.contamination: normalised exact match and word 8-gram containment against benchmark prompts."""

from __future__ import annotations

import pytest

from rest_rl.data.schema import ToolExample
from rest_rl.eval.contamination import (
    NEAR_THRESHOLD,
    NGRAM,
    BenchmarkIndex,
    BenchmarkPrompt,
    ContaminationError,
    apibank_prompts,
    example_text,
    find_overlaps,
    load_index,
    normalize_text,
    parse_against,
    word_ngrams,
)

LONG = (
    "I need to reschedule my dentist appointment from March 25th to March 26th with Dr. Lee "
    "because I will be travelling for work that whole week"
)
PROMPTS = [
    BenchmarkPrompt("bfcl", "simple_0", "Find the area of a triangle with a base of 10 units and height of 5 units."),
    BenchmarkPrompt("bfcl", "simple_1", "What's the weather in Boston?"),
    BenchmarkPrompt("apibank", "L1-0", LONG),
]


def ex(text: str, i: int = 0, extra_turns: tuple[str, ...] = ()) -> ToolExample:
    messages = [{"role": "user", "content": text}]
    for t in extra_turns:
        messages += [{"role": "assistant", "content": "ok"}, {"role": "user", "content": t}]
    return ToolExample(id=f"train-{i}", source="test", tools=[], messages=messages)


@pytest.fixture()
def index() -> BenchmarkIndex:
    return BenchmarkIndex(PROMPTS)


def test_normalisation_ignores_case_whitespace_and_punctuation():
    assert normalize_text("  What's   the WEATHER,\tin Boston?! ") == "what s the weather in boston"
    assert normalize_text("Ｆｕｌｌ－width_ＴＥＸＴ") == "full width text"  # NFKC, underscores are separators
    assert normalize_text("...") == ""
    assert word_ngrams("a b c", 2) == {"a b", "b c"} and word_ngrams("a b", 3) == set()


def test_exact_match_after_normalisation(index):
    report = find_overlaps([ex("what's the weather in BOSTON"), ex("What is the weather in Boston?", 1)], index=index)
    assert [(o.example_id, o.kind, o.benchmark_id) for o in report.overlaps] == [("train-0", "exact", "simple_1")]
    assert report.counts()["exact"] == 1 and report.counts()["by_benchmark"]["bfcl"] == {"exact": 1, "near": 0}


def test_near_duplicate_by_containment_either_way(index):
    embedded = "Hi there! " + PROMPTS[0].text + " Please show the working too, step by step."
    cut = "dentist appointment from March 25th to March 26th with Dr. Lee because I will be travelling"
    report = find_overlaps([ex(embedded), ex(cut, 1), ex("Compute the triangle area for me", 2)], index=index)
    found = {o.example_id: o for o in report.overlaps}
    assert set(found) == {"train-0", "train-1"}
    assert found["train-0"].kind == "near" and found["train-0"].benchmark_id == "simple_0"
    assert found["train-0"].containment == 1.0 and 0 < found["train-0"].jaccard < 1.0  # the benchmark text is inside
    assert found["train-1"].benchmark_id == "L1-0" and found["train-1"].containment == 1.0  # a piece of the dialogue


def test_threshold_and_the_length_floor(index):
    words = LONG.split()
    half = " ".join(words[:13] + ["completely", "different", "ending", "about", "something", "else", "entirely", "now", "ok", "yes"])
    match = index.best_match(half)
    assert match is not None and 0.0 < match[2] < 1.0
    containment = match[2]
    assert find_overlaps([ex(half)], index=index, threshold=containment).flagged == 1
    assert find_overlaps([ex(half)], index=index, threshold=min(1.0, containment + 0.01)).flagged == 0
    # fewer than 8 words and not equal: never flagged, however similar
    assert find_overlaps([ex("What's the weather in Boston today?")], index=index).flagged == 0
    with pytest.raises(ContaminationError):
        find_overlaps([ex("x")], index=index, threshold=0)


def test_multi_turn_training_dialogues_use_every_user_turn(index):
    example = ex("Hello.", extra_turns=("Find the area of a triangle with a base of 10 units", "and height of 5 units."))
    assert example_text(example) == "Hello.\nFind the area of a triangle with a base of 10 units\nand height of 5 units."
    (overlap,) = find_overlaps([example], index=index).overlaps
    assert overlap.benchmark_id == "simple_0" and overlap.containment >= NEAR_THRESHOLD
    assert example_text("plain") == "plain" and example_text({"messages": [{"role": "user", "content": "m"}]}) == "m"


def test_report_orders_best_first_and_serialises(index):
    examples = [ex("unrelated words that match nothing at all in any benchmark prompt", 0),
                ex(PROMPTS[2].text[:80] + " and more words to add here", 1), ex(PROMPTS[0].text, 2)]  # fmt: skip
    report = find_overlaps(examples, index=index)
    assert [o.example_id for o in report.overlaps] == ["train-2", "train-1"]  # exact first
    data = report.to_dict(top=1)
    assert data["flagged"] == 2 and len(data["overlaps"]) == 1 and data["ngram"] == NGRAM
    assert data["examples_checked"] == 3 and data["benchmark_prompts"] == {"bfcl": 2, "apibank": 1}
    lines = report.summary_lines(top=5)
    assert "flagged: 2 (1 exact, 1 near-duplicate)" in lines[2] and "train-2 (test) ~ bfcl:simple_0  exact" in lines[4]


def test_parse_against():
    assert parse_against("apibank,bfcl") == ("apibank", "bfcl")
    assert parse_against(" BFCL , api-bank,bfcl") == ("bfcl", "apibank")
    with pytest.raises(ContaminationError, match="unknown benchmark 'toolace'"):
        parse_against("apibank,toolace")
    with pytest.raises(ContaminationError):
        parse_against("")


def test_real_apibank_prompts_and_a_planted_copy(api_bank_dir):
    prompts = apibank_prompts(api_bank_dir)
    assert len(prompts) == 597 and all("Based on our conversation above" not in p.text for p in prompts)
    assert prompts[0].text.startswith("Can you please modify my appointment")
    index = load_index("apibank", apibank_dir=api_bank_dir)
    assert load_index(["apibank"], apibank_dir=api_bank_dir) is index  # built once, cached
    planted = ex(prompts[0].text.upper().replace(".", " ! "), 1)
    clean = ex("Could you help me find information on the manager Alex Ferguson?", 2)
    report = find_overlaps([clean, planted], "apibank", apibank_dir=api_bank_dir)
    assert [(o.example_id, o.kind) for o in report.overlaps] == [("train-1", "exact")]
    assert report.overlaps[0].benchmark_id.startswith("L1-")


def test_the_shared_training_files_against_the_real_benchmarks(api_bank_dir):
    """The shared ToolRL / Hammer files: a real check runs and reports (their overlap is what it is)."""
    from pathlib import Path

    from rest_rl.data.selection import DataSection, load_examples

    path = Path(api_bank_dir).parent / "toolrl" / "rlla_sft.json"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    examples = load_examples(DataSection(source="toolrl_sft", path=str(path)))
    report = find_overlaps(examples, "apibank", apibank_dir=api_bank_dir)
    assert report.examples_checked == len(examples) == 400
    assert all(o.containment >= NEAR_THRESHOLD for o in report.overlaps)


def test_bfcl_prompts_are_the_user_turns_of_every_entry():
    pytest.importorskip("bfcl_eval", exc_type=ImportError)
    from rest_rl.eval.bfcl.data import TOTAL_ENTRIES, load_category
    from rest_rl.eval.contamination import bfcl_prompts

    prompts = bfcl_prompts()
    assert len(prompts) == TOTAL_ENTRIES
    by_id = {p.id: p for p in prompts}
    entry = load_category("multi_turn_base", limit=1)[0]
    user_turns = [m["content"] for turn in entry.question for m in turn if m["role"] == "user"]
    assert by_id[entry.id].text == "\n".join(user_turns) and len(user_turns) >= 2
    planted = ex("Please: " + by_id["simple_10"].text + " Thanks a lot, really.")
    index = BenchmarkIndex(prompts)
    (overlap,) = find_overlaps([planted, ex("nothing like any benchmark at all here ok", 1)], index=index).overlaps
    assert overlap.benchmark_id == "simple_10" and overlap.kind in ("near", "exact")
