"""Region labelling: golden completions on a real BPE tokenizer (both tag modes) and properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_rl.core.offsets import token_char_offsets
from rest_rl.core.regions import (
    NUM_REGIONS,
    REGION_PRIORITY,
    STRADDLE_RULE,
    Region,
    label_batch,
    label_chars,
    label_tokens,
)

R = Region
TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>")
TOKENIZERS = ["bpe_tok_tags", "bpe_tok_text"]


# --------------------------------------------------------------------------- helpers


def encode(tok, text: str) -> list[tuple[int, int]]:
    """Offsets of the canonical tokenisation (tests only: the library never re-tokenises)."""
    return [tuple(o) for o in tok(text, return_offsets_mapping=True)["offset_mapping"]]


def chars_of(text: str, offsets, regions, region: Region) -> str:
    """The characters covered by the tokens labelled ``region``, in text order, each once."""
    covered = sorted({i for (s, e), r in zip(offsets, regions) if r == region for i in range(s, e)})
    return "".join(text[i] for i in covered)


def char_runs(text: str, region: Region) -> list[str]:
    """Maximal runs of characters labelled ``region`` by :func:`label_chars`."""
    labels = label_chars(text)
    runs, current = [], []
    for ch, lab in zip(text, labels):
        if lab == region:
            current.append(ch)
        elif current:
            runs.append("".join(current))
            current = []
    if current:
        runs.append("".join(current))
    return runs


def reference_label_tokens(text: str, offsets) -> list[int]:
    """Slow reference of the straddle rule: highest-priority region among a token's characters."""
    labels = label_chars(text)
    rank = {int(r): len(REGION_PRIORITY) - i for i, r in enumerate(REGION_PRIORITY)}
    out = []
    for s, e in offsets:
        s, e = max(0, min(int(s), len(text))), max(0, min(int(e), len(text)))
        if e <= s:
            out.append(int(R.OTHER))
        else:
            out.append(max((int(x) for x in labels[s:e]), key=rank.__getitem__))
    return out


def labelled(tok, text: str):
    offsets = encode(tok, text)
    return offsets, label_tokens(text, offsets)


# --------------------------------------------------------------------------- golden completions

TOOLRL_TWO_CALLS = (
    "<think> I need the weather and a flight. </think>\n"
    "<tool_call>\n"
    '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}\n'
    '{"name": "search_flights", "parameters": {"origin": "Berlin", "destination": "Tokyo"}}\n'
    "</tool_call>\n"
    "<response> Checking both now. </response>"
)

HERMES_TWO_BLOCKS = (
    "<think>\nTwo lookups are needed.\n</think>\n\n"
    "<tool_call>\n"
    '{"name": "get_stock_price", "arguments": {"symbol": "AAPL"}}\n'
    "</tool_call>\n"
    "<tool_call>\n"
    '{"name": "convert_currency", "arguments": {"amount": 250, "from": "USD", "to": "EUR"}}\n'
    "</tool_call>"
)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_toolrl_block_with_two_calls_labels_every_call(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = TOOLRL_TWO_CALLS
    offsets, regions = labelled(tok, text)
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "get_weather" + "search_flights"
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "city" + "days" + "origin" + "destination"
    assert chars_of(text, offsets, regions, R.ARG_VALUE) == "Paris" + " 3" + "Berlin" + "Tokyo"
    assert "".join(chars_of(text, offsets, regions, R.FORMAT).split()) == "".join(TAGS[:4] + TAGS[4:])
    think = chars_of(text, offsets, regions, R.THINK)
    assert think.strip() == "I need the weather and a flight."
    assert chars_of(text, offsets, regions, R.RESPONSE).strip() == "Checking both now."
    assert set(chars_of(text, offsets, regions, R.OTHER)) <= {"\n"}
    scaffold = chars_of(text, offsets, regions, R.SCAFFOLD)
    for word in ("name", "parameters"):
        scaffold = scaffold.replace(word, "")
    assert set(scaffold) <= set('{}[]:," \n')
    # char-level exact expectations
    assert char_runs(text, R.TOOL_NAME) == ["get_weather", "search_flights"]
    assert char_runs(text, R.ARG_KEY) == ["city", "days", "origin", "destination"]
    assert char_runs(text, R.ARG_VALUE) == ["Paris", " 3", "Berlin", "Tokyo"]
    assert char_runs(text, R.THINK) == [" I need the weather and a flight. "]
    assert char_runs(text, R.RESPONSE) == [" Checking both now. "]
    assert char_runs(text, R.FORMAT) == list(TAGS)
    assert char_runs(text, R.OTHER) == ["\n", "\n"]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_tags_are_format_tokens(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = TOOLRL_TWO_CALLS
    offsets, regions = labelled(tok, text)
    for tag in TAGS:
        start = text.index(tag)
        tag_chars = set(range(start, start + len(tag)))
        touching = [r for (s, e), r in zip(offsets, regions) if tag_chars & set(range(s, e))]
        assert touching and all(r == R.FORMAT for r in touching), tag
    if tok_name == "bpe_tok_tags":  # one token per tag, exactly its characters
        tag_tokens = [text[s:e] for (s, e), r in zip(offsets, regions) if r == R.FORMAT]
        assert tag_tokens == list(TAGS)


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_hermes_two_blocks(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = HERMES_TWO_BLOCKS
    offsets, regions = labelled(tok, text)
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "get_stock_price" + "convert_currency"
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "symbol" + "amount" + "from" + "to"
    assert chars_of(text, offsets, regions, R.ARG_VALUE) == "AAPL" + " 250" + "USD" + "EUR"
    assert chars_of(text, offsets, regions, R.THINK).strip() == "Two lookups are needed."
    assert char_runs(text, R.FORMAT) == ["<think>", "</think>"] + ["<tool_call>", "</tool_call>"] * 2
    assert char_runs(text, R.OTHER) == ["\n\n", "\n"]
    assert char_runs(text, R.ARG_VALUE) == ["AAPL", " 250", "USD", "EUR"]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_response_only(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = "<think> Nothing to call. </think>\n<response> Hello! How can I help? </response>"
    offsets, regions = labelled(tok, text)
    assert chars_of(text, offsets, regions, R.RESPONSE).strip() == "Hello! How can I help?"
    assert not {R.TOOL_NAME, R.ARG_KEY, R.ARG_VALUE, R.SCAFFOLD} & set(regions.tolist())
    assert char_runs(text, R.RESPONSE) == [" Hello! How can I help? "]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_think_only_and_unclosed_think(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = "<think> just thinking </think>"
    offsets, regions = labelled(tok, text)
    assert chars_of(text, offsets, regions, R.THINK).strip() == "just thinking"
    assert set(regions.tolist()) <= {R.THINK, R.FORMAT}

    text = "<think> never closed, still going"
    offsets, regions = labelled(tok, text)
    assert char_runs(text, R.THINK) == [" never closed, still going"]
    assert regions[-1] == R.THINK

    text = '<think> unclosed, then <tool_call>\n{"name": "list_files", "arguments": {"path": "/tmp"}}\n</tool_call>'
    offsets, regions = labelled(tok, text)
    assert char_runs(text, R.THINK) == [" unclosed, then "]
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "list_files"
    assert char_runs(text, R.ARG_VALUE) == ["/tmp"]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_nested_argument_values(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = (
        "<tool_call>\n"
        '{"name": "book_restaurant", "parameters": {"options": {"seats": ["window", "quiet"], '
        '"count": 2, "vip": true}, "time": "19:30", "note": null}}\n'
        "</tool_call>"
    )
    offsets, regions = labelled(tok, text)
    assert char_runs(text, R.ARG_KEY) == ["options", "time", "note"]
    # the space before a bare literal belongs to the value (BPE glues it: " true" is one token)
    assert char_runs(text, R.ARG_VALUE) == ["seats", "window", "quiet", "count", " 2", "vip", " true", "19:30", " null"]
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "optionstimenote"
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "book_restaurant"
    # so the " true" / " null" / " 2" tokens, the value decisions, are ARG_VALUE, not SCAFFOLD
    assert chars_of(text, offsets, regions, R.ARG_VALUE).replace(" ", "") == "seatswindowquietcount2viptrue19:30null"
    true_at = text.index(" true")
    assert label_tokens(text, [(true_at - 1, true_at + 5), (true_at, true_at + 5)]).tolist() == [
        R.SCAFFOLD,  # ": true" straddles the colon: structure wins
        R.ARG_VALUE,
    ]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_escaped_quotes_and_braces_inside_strings(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    body = 'He said \\"hi\\" {not: json} [x], ok'
    text = f'<tool_call>\n{{"name": "send_email", "parameters": {{"body": "{body}", "to": "a@b.c"}}}}\n</tool_call>'
    offsets, regions = labelled(tok, text)
    assert char_runs(text, R.ARG_VALUE) == [body, "a@b.c"]
    assert char_runs(text, R.ARG_KEY) == ["body", "to"]  # parsing resumed correctly after the string
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "send_email"
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "bodyto"


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_unicode_values(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = (
        "<think> Übersetzen 🙂 </think>\n<tool_call>\n"
        '{"name": "translate_text", "arguments": {"text": "北京 café 🙂 𝄞", "target_language": "Español"}}\n'
        "</tool_call>"
    )
    offsets, regions = labelled(tok, text)
    assert char_runs(text, R.ARG_VALUE) == ["北京 café 🙂 𝄞", "Español"]
    assert chars_of(text, offsets, regions, R.ARG_VALUE) == "北京 café 🙂 𝄞Español"
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "texttarget_language"
    assert chars_of(text, offsets, regions, R.THINK).strip() == "Übersetzen 🙂"


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_truncated_mid_json(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text = '<think> x </think>\n<tool_call>\n{"name": "get_weather", "parameters": {"city": "Par'
    offsets, regions = labelled(tok, text)
    assert chars_of(text, offsets, regions, R.TOOL_NAME) == "get_weather"
    assert chars_of(text, offsets, regions, R.ARG_KEY) == "city"
    assert char_runs(text, R.ARG_VALUE) == ["Par"]
    # truncated name string
    text = '<tool_call>\n{"name": "get_wea'
    assert char_runs(text, R.TOOL_NAME) == ["get_wea"]


def test_truncated_call_line_does_not_swallow_the_next_call():
    text = (
        "<tool_call>\n"
        '{"name": "a", "parameters": {"x": 1\n'
        '{"name": "b", "parameters": {"y": "v\\"}}\n'
        '{"name": "c", "parameters": {"z": 3}}\n'
        "</tool_call>"
    )
    assert char_runs(text, R.TOOL_NAME) == ["a", "b", "c"]
    assert char_runs(text, R.ARG_KEY) == ["x", "y", "z"]


def test_tags_inside_think_are_think_text():
    text = "<think> I could write <tool_call> or </response> here </think><response>ok</response>"
    assert char_runs(text, R.THINK) == [" I could write <tool_call> or </response> here "]
    assert char_runs(text, R.FORMAT) == ["<think>", "</think><response>", "</response>"]
    assert char_runs(text, R.RESPONSE) == ["ok"]


def test_text_before_and_after_tags_is_other():
    text = 'Sure.<tool_call>{"name": "f", "arguments": {}}</tool_call> Done'
    assert char_runs(text, R.OTHER) == ["Sure.", " Done"]
    assert char_runs(text, R.TOOL_NAME) == ["f"]


def test_leading_close_think_means_think_was_in_the_prompt():
    text = 'reasoning here\n</think>\n\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    assert char_runs(text, R.THINK) == ["reasoning here\n"]
    assert char_runs(text, R.TOOL_NAME) == ["f"]


def test_alternative_call_layouts():
    text = (
        '<tool_call>[{"name": "x", "arguments": {"a": 1}}, '
        '{"function": {"name": "y", "arguments": "{\\"q\\": 2}"}}]</tool_call>'
    )
    assert char_runs(text, R.TOOL_NAME) == ["x", "y"]
    assert char_runs(text, R.ARG_KEY) == ["a"]
    assert char_runs(text, R.ARG_VALUE) == [" 1", '{\\"q\\": 2}']
    text = "<tool_call>{'name': 'py', 'arguments': {'k': True}}</tool_call>"
    assert char_runs(text, R.TOOL_NAME) == ["py"]
    assert char_runs(text, R.ARG_KEY) == ["k"]
    assert char_runs(text, R.ARG_VALUE) == [" True"]


def test_unknown_call_keys_and_their_values_are_scaffold():
    text = '<tool_call>{"name": "f", "id": "call_1", "arguments": {"k": "v"}}</tool_call>'
    labels = label_chars(text)
    start = text.index("call_1")
    assert (labels[start : start + 6] == R.SCAFFOLD).all()
    assert char_runs(text, R.TOOL_NAME) == ["f"]


def test_unclosed_tool_call_runs_to_end_of_text():
    text = '<tool_call>\n{"name": "f", "arguments": {"k": "v"}}\ntrailing words'
    labels = label_chars(text)
    assert (labels[text.index("trailing") :] == R.SCAFFOLD).all()
    assert char_runs(text, R.TOOL_NAME) == ["f"]


def test_empty_completion():
    assert label_chars("").shape == (0,)
    assert label_chars("").dtype == np.uint8
    assert label_tokens("", []).shape == (0,)
    assert label_tokens("", [(0, 0)]).tolist() == [R.OTHER]
    assert label_tokens("", np.zeros((0, 2), dtype=np.int64)).dtype == np.int64


def test_empty_and_out_of_range_spans():
    text = "<think> a </think>"
    n = len(text)
    out = label_tokens(text, [(0, 7), (n, n), (0, 0), (5, 3), (-10, 3), (n - 3, n + 50)])
    assert out.tolist() == [R.FORMAT, R.OTHER, R.OTHER, R.OTHER, R.FORMAT, R.FORMAT]
    # arrays and tensors work too
    assert label_tokens(text, np.array([[7, 9]])).tolist() == [R.THINK]
    assert label_tokens(text, torch.tensor([[7, 9]])).tolist() == [R.THINK]


def test_straddling_token_takes_structure_over_content():
    text = '<tool_call>{"name": "f", "arguments": {"k": "v"}}</tool_call>'
    name_at = text.index('"f"')
    # a token covering a quote and the name is SCAFFOLD; the name alone is TOOL_NAME
    assert label_tokens(text, [(name_at, name_at + 2), (name_at + 1, name_at + 2)]).tolist() == [
        R.SCAFFOLD,
        R.TOOL_NAME,
    ]
    text = "<think> x </think> y"
    assert label_tokens(text, [(6, 9), (8, 12), (17, 20)]).tolist() == [R.FORMAT, R.FORMAT, R.FORMAT]
    assert "FORMAT > SCAFFOLD > TOOL_NAME" in STRADDLE_RULE


def test_pipeline_with_generated_ids(bpe_tok_tags, bpe_tok_text):
    """Offsets from generated ids (no re-tokenising) feed the labeller; the EOS is OTHER."""
    for tok in (bpe_tok_tags, bpe_tok_text):
        ids = tok(TOOLRL_TWO_CALLS)["input_ids"] + [tok.eos_token_id]
        text, spans = token_char_offsets(tok, ids)
        assert text == TOOLRL_TWO_CALLS
        regions = label_tokens(text, spans)
        assert regions[-1] == R.OTHER
        assert chars_of(text, spans, regions, R.TOOL_NAME) == "get_weathersearch_flights"


def test_label_batch_pads_right_and_truncates():
    texts = ["<think> a </think>", "", "<response> b </response>"]
    offsets = [[(0, 7), (7, 10)], [], [(0, 10), (10, 13), (13, 24)]]
    out = label_batch(texts, offsets)
    assert out.dtype == torch.long and out.shape == (3, 3)
    assert out.tolist() == [
        [R.FORMAT, R.THINK, R.OTHER],
        [R.OTHER] * 3,
        [R.FORMAT, R.RESPONSE, R.FORMAT],
    ]
    out = label_batch(texts, offsets, max_len=2, pad_value=-1)
    assert out.tolist() == [[R.FORMAT, R.THINK], [-1, -1], [R.FORMAT, R.RESPONSE]]
    assert label_batch([], []).shape == (0, 0)
    with pytest.raises(ValueError):
        label_batch(["a"], [])


def test_non_string_input_is_treated_as_empty():
    assert label_chars(None).shape == (0,)  # type: ignore[arg-type]
    assert label_tokens(None, [(0, 3)]).tolist() == [R.OTHER]  # type: ignore[arg-type]


# --------------------------------------------------------------------------- properties

FRAGMENTS = list(TAGS) + [
    '{"name": "',
    '"name"',
    '"parameters": {',
    '"arguments": ',
    '"function": {',
    "{",
    "}",
    "[",
    "]",
    '"',
    "'",
    '\\"',
    "\\",
    ":",
    ",",
    "\n",
    " ",
    "true",
    "null",
    "-12.5",
    "get_weather",
    "city",
    "é",
    "🙂",
    "北京",
    "<",
    ">",
    "</",
    "<think",
    "tool_call>",
]
grammar_text = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=4), max_size=40).map("".join)
any_text = st.text(max_size=200) | grammar_text


@st.composite
def text_and_spans(draw):
    text = draw(any_text)
    n = len(text)
    spans = draw(
        st.lists(st.tuples(st.integers(-3, n + 3), st.integers(-3, n + 3)), max_size=30)
        | st.lists(st.integers(0, max(n, 0)), max_size=30).map(
            lambda cuts: [(a, b) for a, b in zip([0] + sorted(cuts), sorted(cuts) + [n])]
        )
    )
    return text, spans


PROPS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(any_text)
def test_label_chars_never_raises_and_covers_every_char(text):
    labels = label_chars(text)
    assert labels.shape == (len(text),) and labels.dtype == np.uint8
    assert ((labels >= 0) & (labels < NUM_REGIONS)).all()


@PROPS
@given(text_and_spans())
def test_label_tokens_matches_slow_reference(case):
    text, spans = case
    out = label_tokens(text, spans)
    assert out.shape == (len(spans),) and out.dtype == np.int64
    assert ((out >= 0) & (out < NUM_REGIONS)).all()
    assert out.tolist() == reference_label_tokens(text, spans)


@PROPS
@given(text_and_spans())
def test_every_char_of_a_tool_name_token_is_tool_name(case):
    text, spans = case
    labels = label_chars(text)
    for (s, e), region in zip(spans, label_tokens(text, spans)):
        if region == R.TOOL_NAME:
            s, e = max(s, 0), min(e, len(text))
            assert (labels[s:e] == R.TOOL_NAME).all()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(grammar_text)
def test_real_tokens_get_one_region_and_tool_name_tokens_are_pure(bpe_tok_tags, bpe_tok_text, text):
    for tok in (bpe_tok_tags, bpe_tok_text):
        ids = tok(text)["input_ids"]
        decoded, spans = token_char_offsets(tok, ids)
        regions = label_tokens(decoded, spans)
        assert regions.shape == (len(ids),)
        assert regions.tolist() == reference_label_tokens(decoded, spans)
        labels = label_chars(decoded)
        for (s, e), region in zip(spans, regions):
            if region == R.TOOL_NAME:
                assert (labels[s:e] == R.TOOL_NAME).all()


# --------------------------------------------------------------------------- the call-block lexer
#
# For speed, the lexer of a <tool_call> block lets a string or bare word take the ``:`` / ``,`` after it into
# the same regex match (and a closing bracket its ``,``), and writes string bodies in unrolled form. The
# labels must be exactly those of the plain lexer, one JSON token per match, kept here as the reference.

from unittest import mock  # noqa: E402

from rest_rl.core import regions as regions_module  # noqa: E402

_REF_TOKEN_RE = __import__("re").compile(
    r'("(?:[^"\\\n]|\\.?)*)("?)'
    r"|('(?:[^'\\\n]|\\.?)*)('?)"
    r"|([{\[])"
    r"|([}\]])"
    r"|(:)"
    r"|(,)"
    r"|(</?(?:think|tool_call|response)>)"
    r"|([^\s\"'{}\[\]:,<]+)"
)


def _reference_label_call_block(text: str, start: int, end: int, labels: np.ndarray, paint=None) -> None:
    """The plain lexer: one regex match per JSON token, the same state machine (paints region codes)."""
    m_ = regions_module
    labels[start:end] = R.SCAFFOLD
    stack: list[list[int]] = []
    for m in _REF_TOKEN_RE.finditer(text, start, end):
        g = m.lastindex
        if g in (2, 4, 10):
            if g == 10:
                c0, c1 = m.span()
                while c0 > start and text[c0 - 1] in " \t":
                    c0 -= 1
            else:
                c0, c1 = m.start(g - 1) + 1, m.end(g - 1)
            if not stack:
                continue
            frame = stack[-1]
            role = frame[0]
            if role == m_._ROLE_VALUE:
                labels[c0:c1] = R.ARG_VALUE
                frame[2] = m_._AFTER_VALUE
                continue
            if frame[1] and frame[2] != m_._EXPECT_VALUE:
                frame[2] = m_._AFTER_KEY
                if role == m_._ROLE_CALL:
                    frame[3] = m_._CALL_KEYS.get(text[c0:c1], m_._KEY_OTHER)
                elif role == m_._ROLE_ARGS:
                    labels[c0:c1] = R.ARG_KEY
                continue
            frame[2] = m_._AFTER_VALUE
            if role == m_._ROLE_ARGS:
                labels[c0:c1] = R.ARG_VALUE
            elif role == m_._ROLE_CALL:
                if frame[3] == m_._KEY_NAME:
                    labels[c0:c1] = R.TOOL_NAME
                elif frame[3] == m_._KEY_ARGS:
                    labels[c0:c1] = R.ARG_VALUE
        elif g == 5:
            is_object = m.group(g) == "{"
            if stack and stack[-1][2] != m_._EXPECT_VALUE:
                stack.clear()
            if not stack:
                role = m_._ROLE_CALL if is_object else m_._ROLE_CALL_LIST
            else:
                parent = stack[-1]
                prole = parent[0]
                parent[2] = m_._AFTER_VALUE
                if prole == m_._ROLE_CALL_LIST:
                    role = m_._ROLE_CALL if is_object else m_._ROLE_CALL_LIST
                elif prole == m_._ROLE_CALL:
                    if parent[3] == m_._KEY_ARGS:
                        role = m_._ROLE_ARGS if is_object else m_._ROLE_VALUE
                    elif parent[3] == m_._KEY_FUNCTION and is_object:
                        role = m_._ROLE_CALL
                    else:
                        role = m_._ROLE_IGNORED
                elif prole in (m_._ROLE_ARGS, m_._ROLE_VALUE):
                    role = m_._ROLE_VALUE
                else:
                    role = m_._ROLE_IGNORED
            stack.append([role, is_object, m_._EXPECT_KEY if is_object else m_._EXPECT_VALUE, m_._KEY_OTHER])
        elif g == 6:
            if stack:
                stack.pop()
        elif g == 7:
            if stack and stack[-1][1]:
                stack[-1][2] = m_._EXPECT_VALUE
        elif g == 8:
            if stack:
                stack[-1][2] = m_._EXPECT_KEY if stack[-1][1] else m_._EXPECT_VALUE
                stack[-1][3] = m_._KEY_OTHER
        else:
            labels[m.start() : m.end()] = R.FORMAT
            stack.clear()


def reference_label_chars(text: str) -> np.ndarray:
    with mock.patch.object(regions_module, "_label_call_block", _reference_label_call_block):
        return label_chars(text)


JSON_PIECES = [
    '"', "'", "\\", '\\"', "{", "}", "[", "]", ":", ",", " ", "\t", "\n", "\r", "\u3000", "  ,", " : ", "},", "] ,",
    '"name"', '"arguments"', '"parameters"', '"function"', "true", "-1.5e3", "null", "x", "é", "🙂",
    "<tool_call>", "</tool_call>", "<think>", "<",
]
json_text = st.lists(st.sampled_from(JSON_PIECES) | st.text(max_size=3), max_size=60).map(
    lambda parts: "<tool_call>" + "".join(parts)
)


def _json_call_text(value) -> str:
    import json

    return "<tool_call>\n" + json.dumps(value) + "\n</tool_call>"


json_calls = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["name", "arguments", "k", "a\\"]), inner, max_size=4),
    max_leaves=12,
).map(_json_call_text)


@PROPS
@given(st.one_of(any_text, json_text, json_calls))
def test_call_block_lexer_matches_the_one_token_per_match_reference(text):
    got = label_chars(text)
    assert got.dtype == np.uint8 and got.tolist() == reference_label_chars(text).tolist()


def test_call_block_lexer_matches_the_reference_on_real_and_cut_calls():
    text = TOOLRL_TWO_CALLS + HERMES_TWO_BLOCKS + '<tool_call>[{"function": {"name": "f", "arguments": "{\\"a\\": 1}"}}, '
    for cut in range(len(text) + 1):
        assert label_chars(text[:cut]).tolist() == reference_label_chars(text[:cut]).tolist()


@PROPS
@given(st.one_of(any_text, json_text))
def test_ranks_painted_directly_equal_the_ranks_of_the_codes(text):
    """label_tokens reduces over priority ranks painted directly (no code -> rank lookup per character)."""
    ranks = regions_module._char_ranks(text)
    assert ranks.dtype == np.uint8 and ranks.shape == (len(text) + 1,) and ranks[-1] == 0
    assert ranks[:-1].tolist() == regions_module._RANK_OF_REGION[label_chars(text)].tolist()
