"""Our BFCL scoring gives exactly bfcl-eval's verdicts: oracle answers and perturbed ones, every category.

Two references, both bfcl-eval's own code:

* ``fc`` style (Hermes ``<tool_call>`` text): bfcl-eval's whole path — its Qwen FC handler decodes the
  text and its file runners (``ast_file_runner``, ``relevance_file_runner``, ``multi_turn_runner``,
  which executes with its own ``eval``-based executor) judge it. Test-built text only: no model output
  is ever evaluated.
* ``toolrl`` style (no bfcl-eval handler reads it): bfcl-eval's checkers called directly on the same
  decoded output our decoder produced (``ast_checker``, ``is_empty_output``, unpatched
  ``multi_turn_checker``).
"""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip(
    "bfcl_eval",
    reason="bfcl-eval is not installed: pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
    "pip install --no-deps bfcl-eval==2025.7.17",
    exc_type=ImportError,
)

from rest_rl.eval.bfcl.data import ALL_CATEGORIES, CATEGORY_SIZES, MULTI_TURN, BfclEntry, category_language  # noqa: E402
from rest_rl.eval.bfcl.official import CHECKER_MODEL_NAME, BfclUnavailable, load_bfcl  # noqa: E402
from rest_rl.eval.bfcl.oracle import ORACLE_REPLY, oracle_calls, oracle_result, oracle_turn_calls  # noqa: E402
from rest_rl.eval.bfcl.prompts import decode_output, render_output  # noqa: E402
from rest_rl.eval.bfcl.score import BfclScores, CategoryScore, aggregate_v3, score_entry  # noqa: E402
from rest_rl.toolcall.types import ToolCall  # noqa: E402


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory):
    try:
        return load_bfcl(tmp_path_factory.mktemp("bfcl_project_root"))
    except BfclUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def entries(api) -> dict[str, list[BfclEntry]]:
    from rest_rl.eval.bfcl.data import load_category

    return {c: load_category(c, api=api) for c in ALL_CATEGORIES}


# ------------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------------


def _score_file_verdicts(path: Path, ids: list[str]) -> dict[str, tuple[bool, str | None]]:
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    failed = {row["id"]: row.get("error_type") or (row.get("error") or {}).get("error_type") for row in lines[1:]}
    return {i: (i not in failed, failed.get(i)) for i in ids}


def reference_fc(entries: list[BfclEntry], results: dict[str, Any], score_dir: Path) -> dict[str, tuple[bool, str | None]]:
    """bfcl-eval's own handler + runner on fc-style text: {id: (valid, error_type)}."""
    from bfcl_eval.eval_checker import eval_runner as runner
    from bfcl_eval.model_handler.local_inference.qwen_fc import QwenFCHandler

    handler = QwenFCHandler(CHECKER_MODEL_NAME, temperature=0)
    category = entries[0].category
    kind = entries[0].kind
    model_result = [{"id": e.id, "result": copy.deepcopy(results[e.id])} for e in entries]
    prompts = [e.test_entry() for e in entries]
    answers = [{"id": e.id, "ground_truth": copy.deepcopy(e.ground_truth)} for e in entries]
    name = f"reference_{uuid.uuid4().hex}"  # bfcl-eval's executor keeps state per model name: a new one each time
    if kind in ("irrelevance", "relevance"):
        runner.relevance_file_runner(handler, model_result, prompts, name, category, score_dir)
    elif kind == "multi_turn":
        runner.multi_turn_runner(handler, model_result, prompts, answers, name, category, score_dir)
    else:
        name = CHECKER_MODEL_NAME  # the AST checker looks the name up in bfcl-eval's model table
        runner.ast_file_runner(handler, model_result, prompts, answers, category_language(category), category, name, score_dir)
    return _score_file_verdicts(score_dir / name / f"BFCL_v3_{category}_score.json", [e.id for e in entries])


def reference_direct(api, entry: BfclEntry, result: Any, style: str) -> tuple[bool, str | None]:
    """bfcl-eval's checkers called directly on our decoder's output (its multi-turn checker unpatched)."""
    if entry.kind == "multi_turn":
        if len(result) != len(entry.ground_truth):
            return False, "multi_turn:force_terminated"
        turns = []
        for turn in result:
            steps = []
            for step in turn:
                calls = decode_output(step, style).execute_form(api)
                if calls is not None and not api.is_empty_execute_response(calls):
                    steps.append(calls)
            turns.append(steps)
        out = api.multi_turn_checker(
            turns, copy.deepcopy(entry.ground_truth), entry.test_entry(), entry.category, f"reference_{uuid.uuid4().hex}"
        )
        return bool(out["valid"]), out.get("error_type")
    form = decode_output(result, style).ast_form()
    if entry.kind in ("irrelevance", "relevance"):
        contains = form is not None and not api.is_empty_output(form)
        valid = not contains if entry.kind == "irrelevance" else contains
        return valid, None if valid else f"{entry.kind}_error"
    if form is None:
        return False, "ast_decoder:decoder_failed"
    out = api.ast_checker(
        copy.deepcopy(entry.functions), form, copy.deepcopy(entry.ground_truth),
        category_language(entry.category), entry.category, CHECKER_MODEL_NAME,
    )
    return bool(out["valid"]), out.get("error_type")


def ours(api, entries: list[BfclEntry], results: dict[str, Any], style: str) -> dict[str, tuple[bool, str | None]]:
    out = {}
    for e in entries:
        v = score_entry(e, results[e.id], style, api)
        out[e.id] = (v.valid, v.error_type)
    return out


def _same(mine: dict[str, tuple[bool, str | None]], ref: dict[str, tuple[bool, str | None]]) -> list[tuple[str, Any, Any]]:
    """Entries whose verdict differs: validity, and the error type when both say invalid.

    One labelling difference is allowed: a malformed ``<tool_call>`` block is a decode failure for
    us (``ast_decoder:decoder_failed``) while bfcl-eval's Qwen FC handler decodes it to an empty call
    list, which its checker then rejects for the wrong number of calls; both say invalid.
    """
    bad = []
    for key, (valid, error_type) in ref.items():
        got_valid, got_type = mine[key]
        if got_valid != valid:
            bad.append((key, mine[key], ref[key]))
        elif (
            not valid
            and error_type
            and not error_type.endswith("_error")
            and got_type != error_type
            and got_type != "ast_decoder:decoder_failed"
        ):
            bad.append((key, mine[key], ref[key]))
    return bad


# ------------------------------------------------------------------------------------------------
# Oracle answers
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("category", ALL_CATEGORIES)
def test_fc_oracle_verdicts_equal_bfcl_eval_end_to_end(api, entries, category, tmp_path):
    """Every entry of the category: our verdict on the oracle answer == bfcl-eval's handler + runner."""
    sample = entries[category]
    results = {e.id: oracle_result(e, "fc", api) for e in sample}
    ref = reference_fc(sample, results, tmp_path)
    mine = ours(api, sample, results, "fc")
    assert _same(mine, ref) == []
    accuracy = sum(v for v, _ in ref.values()) / len(ref)
    # bfcl-eval itself gives the oracle 100% here, except for a handful of known data quirks
    # (e.g. simple_363's ground-truth name differs from its doc) and Java collection literals.
    assert accuracy == 1.0 if category in MULTI_TURN or category.endswith("relevance") else accuracy >= 0.93


@pytest.mark.parametrize("category", ALL_CATEGORIES)
def test_toolrl_oracle_verdicts_equal_bfcl_checkers(api, entries, category):
    sample = entries[category][:: max(1, len(entries[category]) // 40)]  # about 40 per category
    results = {e.id: oracle_result(e, "toolrl", api) for e in sample}
    ref = {e.id: reference_direct(api, e, results[e.id], "toolrl") for e in sample}
    mine = ours(api, sample, results, "toolrl")
    assert _same(mine, ref) == []
    fc = ours(api, sample, {e.id: oracle_result(e, "fc", api) for e in sample}, "fc")
    assert {k: v[0] for k, v in mine.items()} == {k: v[0] for k, v in fc.items()}  # the style does not matter


def test_oracle_scores_whole_benchmark_like_bfcl_eval(api, entries):
    """All 4,441 oracle answers: 100% on multi-turn and (ir)relevance, per-category numbers pinned."""
    all_entries = [e for c in ALL_CATEGORIES for e in entries[c]]
    verdicts = [score_entry(e, oracle_result(e, "toolrl", api), "toolrl", api) for e in all_entries]
    scores = BfclScores.from_verdicts(verdicts, api)
    assert scores.full
    assert {c: s.total for c, s in scores.categories.items()} == CATEGORY_SIZES
    wrong = {c: s.total - s.correct for c, s in scores.categories.items() if s.correct != s.total}
    assert wrong == {
        "simple": 1, "java": 4, "javascript": 1, "parallel_multiple": 2,
        "live_simple": 2, "live_multiple": 3, "live_parallel": 1,
    }


# ------------------------------------------------------------------------------------------------
# Perturbed answers
# ------------------------------------------------------------------------------------------------


def _other_value(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 7
    if isinstance(value, float):
        return value + 1.25
    if isinstance(value, str):
        return value + "_changed"
    if isinstance(value, list):
        return value + [value[0] if value else "extra"]
    if isinstance(value, dict):
        return {**value, "unexpected_key": 1}
    return "changed"


def _other_type(value: Any) -> Any:
    if isinstance(value, str):
        return 12345
    if isinstance(value, (bool, int, float)):
        return str(value)
    return "not a collection"


def _with_first_arg(calls: list[ToolCall], change) -> list[ToolCall] | None:
    for i, call in enumerate(calls):
        if call.arguments:
            key = next(iter(call.arguments))
            args = dict(call.arguments)
            args[key] = change(args[key])
            return calls[:i] + [ToolCall(call.name, args)] + calls[i + 1 :]
    return None


def _without_required(entry: BfclEntry, calls: list[ToolCall]) -> list[ToolCall] | None:
    docs = {f["name"]: f for f in entry.functions}
    for i, call in enumerate(calls):
        required = (docs.get(call.name, {}).get("parameters") or {}).get("required") or []
        present = [k for k in required if k in call.arguments]
        if present:
            args = {k: v for k, v in call.arguments.items() if k != present[0]}
            return calls[:i] + [ToolCall(call.name, args)] + calls[i + 1 :]
    return None


_MALFORMED = {
    "toolrl": '<think> call it </think>\n<tool_call>\n{"name": "f", "parameters": {"a": \n</tool_call>',
    "fc": '<tool_call>\n{"name": "f", "arguments": {"a": \n</tool_call>',
}


def _ast_perturbations(entry: BfclEntry, style: str) -> dict[str, str]:
    calls = oracle_calls(entry)
    out = {
        "no_call": render_output(style, [], response="I cannot call anything."),
        "malformed": _MALFORMED[style],
        "extra_call": render_output(style, calls + calls[:1]),
        "plain_text": "Sure, calling " + (calls[0].name if calls else "it") + " now.",
    }
    for kind, variant in (
        ("wrong_value", _with_first_arg(calls, _other_value)),
        ("wrong_type", _with_first_arg(calls, _other_type)),
        ("missing_param", _without_required(entry, calls)),
    ):
        if variant is not None:
            out[kind] = render_output(style, variant)
    return out


_AST_CATEGORIES = [c for c in ALL_CATEGORIES if c not in MULTI_TURN and not c.endswith("relevance")]


@pytest.mark.parametrize("style", ["fc", "toolrl"])
@pytest.mark.parametrize("category", _AST_CATEGORIES)
def test_perturbed_ast_answers_score_as_bfcl_eval(api, entries, category, style, tmp_path):
    sample = entries[category][:: max(1, len(entries[category]) // 12)]  # about 12 per category
    results: dict[str, Any] = {}
    by_id: dict[str, BfclEntry] = {}
    for e in sample:
        for kind, text in _ast_perturbations(e, style).items():
            clone = copy.copy(e)
            clone.id = f"{e.id}__{kind}"
            by_id[clone.id] = clone
            results[clone.id] = text
    clones = list(by_id.values())
    mine = ours(api, clones, results, style)
    if style == "fc":
        # bfcl-eval's runner matches results to prompts by position, so it sees the same entries
        ref = reference_fc(clones, results, tmp_path)
    else:
        ref = {c.id: reference_direct(api, c, results[c.id], style) for c in clones}
    assert _same(mine, ref) == []
    invalid = {kind: [] for kind in ("no_call", "malformed", "extra_call", "plain_text", "missing_param")}
    for key, (valid, _) in mine.items():
        kind = key.split("__")[1]
        if kind in invalid:
            invalid[kind].append(not valid)
    for kind, flags in invalid.items():
        assert all(flags), f"{kind}: a perturbed answer was accepted"
    wrong = [not v for k, (v, _) in mine.items() if k.split("__")[1] in ("wrong_value", "wrong_type")]
    assert sum(wrong) >= 0.8 * len(wrong)


@pytest.mark.parametrize("style", ["fc", "toolrl"])
def test_relevance_and_irrelevance_perturbations_score_as_bfcl_eval(api, entries, style, tmp_path):
    for category in ("irrelevance", "live_irrelevance", "live_relevance"):
        sample = entries[category][:10]
        results: dict[str, Any] = {}
        clones = []
        for e in sample:
            variants = {
                "call": render_output(style, [ToolCall(e.functions[0]["name"], {"x": 1})]),
                "empty_args_call": render_output(style, [ToolCall(e.functions[0]["name"], {})]),
                "no_call": render_output(style, [], response=ORACLE_REPLY),
                "malformed": _MALFORMED[style],
                "empty": "",
            }
            for kind, text in variants.items():
                clone = copy.copy(e)
                clone.id = f"{e.id}__{kind}"
                clones.append(clone)
                results[clone.id] = text
        mine = ours(api, clones, results, style)
        ref = reference_fc(clones, results, tmp_path) if style == "fc" else {
            c.id: reference_direct(api, c, results[c.id], style) for c in clones
        }
        assert _same(mine, ref) == []
        for key, (valid, _) in mine.items():
            calls = key.split("__")[1] in ("call", "empty_args_call")
            assert valid == (calls if category == "live_relevance" else not calls), key


def _turns(style: str, turn_calls: list[list[ToolCall]]) -> list[list[str]]:
    reply = render_output(style, [], response=ORACLE_REPLY)
    return [[render_output(style, calls), reply] if calls else [reply] for calls in turn_calls]


def _mt_perturbations(entry: BfclEntry, style: str, api) -> dict[str, list[list[str]]]:
    turns = oracle_turn_calls(entry, api)
    first = next(i for i, t in enumerate(turns) if t)
    out: dict[str, list[list[str]]] = {}
    dropped = copy.deepcopy(turns)
    dropped[first] = dropped[first][:-1]
    out["dropped_call"] = _turns(style, dropped)
    changed = copy.deepcopy(turns)
    variant = _with_first_arg(changed[first], _other_value)
    if variant is not None:
        changed[first] = variant
        out["wrong_value"] = _turns(style, changed)
    extra = copy.deepcopy(turns)
    extra[first] = extra[first] + extra[first][-1:]
    out["repeated_call"] = _turns(style, extra)
    silent = _turns(style, turns)
    silent[first] = [render_output(style, [], response="Nothing to do.")]
    out["no_call_in_turn"] = silent
    broken = _turns(style, turns)
    broken[first] = [_MALFORMED[style]]
    out["malformed_step"] = broken
    out["missing_turn"] = _turns(style, turns)[:-1]
    split = [[render_output(style, [c]) for c in calls] + [render_output(style, [], response="ok")] for calls in turns]
    out["one_call_per_step"] = split  # a correct answer spread over steps
    return out


@pytest.mark.parametrize("style", ["fc", "toolrl"])
@pytest.mark.parametrize("category", MULTI_TURN)
def test_perturbed_multi_turn_answers_score_as_bfcl_eval(api, entries, category, style, tmp_path):
    sample = entries[category][:: len(entries[category]) // 5]  # 5 conversations per category
    results: dict[str, Any] = {}
    clones = []
    for e in sample:
        for kind, turns in _mt_perturbations(e, style, api).items():
            clone = copy.copy(e)
            # an identifier-safe id (bfcl-eval's executor builds variable names from it) that keeps the
            # category's name in front (bfcl-eval reads "long_context" from the id)
            clone.id = f"{e.id}__{kind}"
            clones.append(clone)
            results[clone.id] = turns
    mine = ours(api, clones, results, style)
    if style == "fc":
        ref = reference_fc(clones, results, tmp_path)
    else:
        ref = {c.id: reference_direct(api, c, results[c.id], style) for c in clones}
    assert _same(mine, ref) == []
    for key, (valid, error_type) in mine.items():
        kind = key.split("__")[1]
        if kind == "one_call_per_step":
            assert valid, key
        elif kind in ("no_call_in_turn", "malformed_step"):
            assert error_type == "multi_turn:empty_turn_model_response", key
        elif kind == "missing_turn":
            assert error_type == "multi_turn:force_terminated", key


# ------------------------------------------------------------------------------------------------
# Aggregation
# ------------------------------------------------------------------------------------------------


def test_v3_aggregation_follows_the_leaderboard_formula(api):
    acc = {c: (i + 1) / 20 for i, c in enumerate(ALL_CATEGORIES)}  # distinct accuracies
    cats = {c: CategoryScore(correct=round(acc[c] * n * 1000), total=n * 1000) for c, n in CATEGORY_SIZES.items()}
    a = {c: s.accuracy for c, s in cats.items()}
    summary = aggregate_v3(cats, api)
    simple_ast = (a["simple"] + a["java"] + a["javascript"]) / 3
    non_live = (simple_ast + a["multiple"] + a["parallel"] + a["parallel_multiple"] + a["irrelevance"]) / 5
    live_names = ["live_simple", "live_multiple", "live_parallel", "live_parallel_multiple", "live_irrelevance", "live_relevance"]
    live = sum(a[c] * cats[c].total for c in live_names) / sum(cats[c].total for c in live_names)
    multi = sum(a[c] for c in MULTI_TURN) / 4
    assert summary["non_live_simple_ast"]["accuracy"] == pytest.approx(simple_ast)
    assert summary["non_live"]["accuracy"] == pytest.approx(non_live)
    assert summary["live"]["accuracy"] == pytest.approx(live)
    assert summary["multi_turn"]["accuracy"] == pytest.approx(multi)
    assert summary["overall"]["accuracy"] == pytest.approx((non_live + live + multi) / 3)
    assert summary["irrelevance"]["accuracy"] == pytest.approx((a["irrelevance"] + a["live_irrelevance"]) / 2)
    assert summary["relevance"]["accuracy"] == pytest.approx(a["live_relevance"])


def test_missing_categories_count_as_zero_and_show_na(api):
    summary = aggregate_v3({"simple": CategoryScore(400, 400), "multi_turn_base": CategoryScore(100, 200)}, api)
    assert summary["non_live_ast"]["display"] == "N/A"  # java, javascript, multiple... were not run
    assert summary["non_live_simple_ast"]["accuracy"] == pytest.approx(1 / 3)
    assert summary["multi_turn"]["accuracy"] == pytest.approx(0.5 / 4)
    assert summary["overall"]["display"] != "N/A"  # bfcl-eval prints the overall rows anyway
    scores = BfclScores.from_verdicts([], api)
    assert not scores.full and "not evaluated" in scores.subset_note()
