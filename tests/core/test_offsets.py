"""Character offsets of generated ids: exact text, monotone spans, no re-tokenising."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rest_rl.core.offsets import byte_to_unicode, token_char_offsets

TOKENIZERS = ["bpe_tok_tags", "bpe_tok_text"]
TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<response>", "</response>")
SFT_FILE = Path(__file__).resolve().parents[3] / "shared" / "data" / "toolrl" / "rlla_sft.json"

COMPLETIONS = [
    "",
    "plain text without tags",
    "<think> I need the weather. </think>\n<tool_call>\n"
    '{"name": "get_weather", "parameters": {"city": "Zürich", "days": 3}}\n'
    '{"name": "send_email", "parameters": {"to": "a@b.c", "body": "Grüße 🙂"}}\n</tool_call>',
    '<think>\n北京 or 東京? 𝄞 🚀🚀\n</think>\n\n<tool_call>\n{"name": "translate_text", "arguments": '
    '{"text": "Москва — Αθήνα ǅ 𐍈", "target_language": "中文"}}\n</tool_call>',
    "<response> Done! Ω≈ç√∫˜µ≤≥÷ 👩\u200d👩\u200d👧 </response>",
    '<tool_call>\n{"name": "x", "arguments": {"q": "\\"quoted\\" {brace}"}}',
    "  leading and trailing spaces \n\n\t ",
]


def check_spans(text: str, spans: list[tuple[int, int]]) -> None:
    """Invariants every span list must satisfy."""
    n = len(text)
    for s, e in spans:
        assert 0 <= s <= e <= n
    starts = [s for s, _ in spans]
    assert starts == sorted(starts)
    nonempty_ends = [e for s, e in spans if e > s]
    assert nonempty_ends == sorted(nonempty_ends)
    # the union of the spans, read left to right without overlaps, is the whole text
    pieces, done = [], 0
    for s, e in spans:
        if e > done:
            assert s <= done, "a gap between spans"
            pieces.append(text[done:e])
            done = e
    assert "".join(pieces) == text


def assert_consistent(tok, ids, skip_special_tokens: bool = True) -> tuple[str, list[tuple[int, int]]]:
    text, spans = token_char_offsets(tok, ids, skip_special_tokens=skip_special_tokens)
    assert text == tok.decode(ids, skip_special_tokens=skip_special_tokens)
    assert len(spans) == len(ids)
    check_spans(text, spans)
    return text, spans


@pytest.mark.parametrize("tok_name", TOKENIZERS)
@pytest.mark.parametrize("completion", COMPLETIONS)
def test_realistic_completions_roundtrip(tok_name, completion, request):
    tok = request.getfixturevalue(tok_name)
    ids = tok(completion)["input_ids"]
    text, spans = assert_consistent(tok, ids)
    assert text == completion
    # where the canonical tokenisation has whole-character offsets, ours agree exactly
    reference = tok(completion, return_offsets_mapping=True)["offset_mapping"]
    if all(e > s for s, e in reference) and all(a[1] <= b[0] for a, b in zip(reference, reference[1:])):
        assert spans == [tuple(o) for o in reference]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_real_sft_completions_roundtrip(tok_name, request):
    if not SFT_FILE.exists():
        pytest.skip(f"shared data not found: {SFT_FILE}")
    tok = request.getfixturevalue(tok_name)
    records = json.loads(SFT_FILE.read_text(encoding="utf-8"))
    for record in records[:25]:
        ids = tok(record["output"])["input_ids"]
        text, spans = assert_consistent(tok, ids)
        assert text == record["output"]


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_concatenation_of_non_overlapping_spans_is_the_text(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    text_in = '<think> ok </think>\n<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>'
    text, spans = assert_consistent(tok, tok(text_in)["input_ids"])
    assert "".join(text[s:e] for s, e in spans) == text_in


def test_tags_are_single_tokens_with_exact_spans(bpe_tok_tags):
    tok = bpe_tok_tags
    ids = tok("<think>x</think><tool_call>{}</tool_call><response>y</response>")["input_ids"]
    text, spans = assert_consistent(tok, ids)
    tag_ids = {tok.convert_tokens_to_ids(t) for t in TAGS}
    got = [text[s:e] for tid, (s, e) in zip(ids, spans) if tid in tag_ids]
    assert got == list(TAGS)


def test_tags_are_not_special(bpe_tok_tags, bpe_tok_text):
    for tag in TAGS:
        ids = bpe_tok_tags(tag)["input_ids"]
        assert len(ids) == 1 and ids[0] not in bpe_tok_tags.all_special_ids
        assert bpe_tok_tags.decode(ids, skip_special_tokens=True) == tag
        assert len(bpe_tok_text(tag)["input_ids"]) > 1


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_skipped_special_tokens_get_empty_spans(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    im_start, im_end = tok.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    body = tok("<response> hi </response>")["input_ids"]
    ids = [im_start] + body + [im_end, tok.eos_token_id]
    text, spans = assert_consistent(tok, ids)
    assert text == "<response> hi </response>"
    assert spans[0] == (0, 0)
    assert spans[-1] == spans[-2] == (len(text), len(text))
    # kept when not skipped: the EOS covers its own characters
    text, spans = assert_consistent(tok, ids, skip_special_tokens=False)
    assert text.endswith("<|im_end|><|endoftext|>")
    assert text[spans[-1][0] : spans[-1][1]] == "<|endoftext|>"


def test_partial_multibyte_tokens_share_the_character(bpe_tok_tags):
    tok = bpe_tok_tags
    table = byte_to_unicode()
    emoji = "\U0001f9ec"  # a character absent from the training corpus: one token per byte
    byte_ids = tok.convert_tokens_to_ids([table[b] for b in emoji.encode("utf-8")])
    ids = tok("a ")["input_ids"] + byte_ids + tok(" b")["input_ids"]
    text, spans = assert_consistent(tok, ids)
    assert text == f"a {emoji} b"
    k = text.index(emoji)
    assert spans[2:6] == [(k, k + 1)] * 4
    # truncated in the middle of the character: U+FFFD, like the tokenizer
    text, spans = assert_consistent(tok, ids[:4])
    assert text == "a \ufffd"
    assert spans[2:] == [(2, 3), (2, 3)]


def test_accepts_tensors_arrays_and_empty(bpe_tok_tags):
    tok = bpe_tok_tags
    ids = tok("<think> x </think>")["input_ids"]
    expected = token_char_offsets(tok, ids)
    assert token_char_offsets(tok, torch.tensor(ids)) == expected
    assert token_char_offsets(tok, np.array(ids)) == expected
    assert token_char_offsets(tok, []) == ("", [])


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_random_ids_roundtrip(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    rng = random.Random(1234)
    vocab = len(tok)
    for _ in range(200):
        ids = [rng.randrange(vocab) for _ in range(rng.randrange(0, 60))]
        assert_consistent(tok, ids)
        assert_consistent(tok, ids, skip_special_tokens=False)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=80))
def test_any_text_roundtrips(bpe_tok_tags, bpe_tok_text, text):
    for tok in (bpe_tok_tags, bpe_tok_text):
        decoded, _ = assert_consistent(tok, tok(text)["input_ids"])
        assert decoded == text


class _DecodeOnly:
    """A tokenizer exposing only ``decode``: forces the generic fallback."""

    def __init__(self, tok):
        self._tok = tok

    def decode(self, ids, skip_special_tokens=False):
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)


@pytest.mark.parametrize("completion", COMPLETIONS)
def test_generic_fallback_agrees_with_fast_path(bpe_tok_tags, completion):
    tok = bpe_tok_tags
    ids = tok(completion)["input_ids"] + [tok.eos_token_id]
    fast = token_char_offsets(tok, ids)
    slow = token_char_offsets(_DecodeOnly(tok), ids)
    assert slow[0] == fast[0]
    check_spans(*slow)
    # whole-character tokens get identical spans; partial-character tokens may differ
    spans = fast[1]
    whole = [
        i
        for i, (s, e) in enumerate(spans)
        if all(b <= s or a >= e for j, (a, b) in enumerate(spans) if j != i and b > a)
    ]
    assert [slow[1][i] for i in whole] == [fast[1][i] for i in whole]


def test_generic_fallback_on_a_wordpiece_tokenizer():
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.normalizer = normalizers.NFC()
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.decoder = decoders.WordPiece()
    trainer = trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[UNK]", "[SEP]"], show_progress=False)
    backend.train_from_iterator([c for c in COMPLETIONS if c] * 3, trainer=trainer)
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]", sep_token="[SEP]")
    for completion in COMPLETIONS:
        ids = tok(completion)["input_ids"] + [tok.sep_token_id]
        text, spans = assert_consistent(tok, ids)
        assert spans[-1][0] == spans[-1][1]  # the skipped [SEP]


def test_byte_to_unicode_is_the_byte_level_alphabet():
    from tokenizers import pre_tokenizers

    table = byte_to_unicode()
    assert sorted(table) == list(range(256))
    assert len(set(table.values())) == 256
    assert set(table.values()) == set(pre_tokenizers.ByteLevel.alphabet())
    assert table[ord(" ")] == "\u0120" and table[ord("\n")] == "\u010a" and table[ord("A")] == "A"


def test_tokenizer_is_deterministic_and_configured(bpe_tok_tags):
    from rest_rl.models import build_bpe_tokenizer

    again = build_bpe_tokenizer(tags_as_tokens=True)
    assert again.get_vocab() == bpe_tok_tags.get_vocab()
    assert bpe_tok_tags.eos_token == bpe_tok_tags.pad_token == "<|endoftext|>"
    assert bpe_tok_tags.padding_side == "left"
    assert bpe_tok_tags.convert_ids_to_tokens(bpe_tok_tags("2024")["input_ids"]) == ["2", "0", "2", "4"]
    assert 600 < len(bpe_tok_tags) <= 1024
    prompt = bpe_tok_tags.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")
