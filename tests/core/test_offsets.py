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


# --------------------------------------------------------------------------- the memoised fast path
#
# ``token_char_offsets`` takes each id's bytes from a table built once per tokenizer; the per-call path
# (``_byte_level_spans``, whose reconstruction is checked against ``decode``, and the decode-prefix fallback)
# is kept for everything unusual. The properties below hold the fast path to (a) that per-call path,
# exactly, and (b) ``decode`` itself, token by token.

from rest_rl.core import offsets as offsets_module  # noqa: E402


def per_call_spans(tok, ids: list[int], skip: bool) -> tuple[str, list[tuple[int, int]]]:
    """The per-call reference: what ``token_char_offsets`` computed before the per-tokenizer table."""
    text = tok.decode(ids, skip_special_tokens=skip)
    if not ids:
        return text, []
    spans = offsets_module._byte_level_spans(tok, ids, text, skip)
    if spans is None:
        spans = offsets_module._prefix_decode_spans(tok, ids, text, skip)
    return text, spans


def assert_matches_decode(tok, ids: list[int], skip: bool) -> tuple[str, list[tuple[int, int]]]:
    """Fast path == per-call path; text == decode; every token whose span no other token shares decodes,
    alone, to exactly the characters of its span."""
    text, spans = token_char_offsets(tok, ids, skip_special_tokens=skip)
    assert (text, spans) == per_call_spans(tok, ids, skip)
    assert text == tok.decode(ids, skip_special_tokens=skip)
    assert len(spans) == len(ids)
    check_spans(text, spans)
    nonempty = [(s, e) for s, e in spans if e > s]
    for tid, (s, e) in zip(ids, spans):
        if e > s and sum(1 for a, b in nonempty if a < e and s < b) == 1:
            assert text[s:e] == tok.decode([tid], skip_special_tokens=skip)
        elif e == s:
            assert tok.decode([tid], skip_special_tokens=skip) == ""
    arr_text, arr = token_char_offsets(tok, ids, skip_special_tokens=skip, as_array=True)
    assert arr_text == text and arr.dtype == np.int64 and arr.shape == (len(ids), 2)
    assert [tuple(row) for row in arr.tolist()] == spans
    # the table itself gives these spans whenever the per-call byte-level path does (no silent fallback)
    if ids and all(0 <= t < len(tok) for t in ids) and offsets_module._byte_level_spans(tok, ids, text, skip):
        fast = offsets_module._memo_spans(offsets_module._vocab_bytes(tok), np.array(ids), text, skip)
        assert fast is not None and [tuple(row) for row in fast.tolist()] == spans
    return text, spans


def _interesting_ids(tok) -> list[int]:
    """Ids that stress the byte mapping: specials, added tags, single bytes (UTF-8 lead, continuation and
    invalid bytes), and a few multi-byte pieces."""
    table = byte_to_unicode()
    singles = tok.convert_tokens_to_ids([table[b] for b in (0x0A, 0x20, 0x41, 0x80, 0xBF, 0xC3, 0xA9, 0xE2, 0xF0, 0x9F, 0xFF)])
    tags = [i for i in tok.convert_tokens_to_ids(list(TAGS)) if i != tok.unk_token_id]
    return sorted({*tok.all_special_ids, *tags, *(i for i in singles if i is not None)})


def id_sequences(tok, max_size: int = 60):
    vocab = len(tok)
    return st.lists(
        st.one_of(st.integers(0, vocab - 1), st.sampled_from(_interesting_ids(tok))), max_size=max_size
    )


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_fast_path_equals_per_call_path_and_decode_on_random_ids(tok_name, request):
    tok = request.getfixturevalue(tok_name)

    @FAST
    @given(ids=id_sequences(tok), skip=st.booleans())
    def check(ids, skip):
        assert_matches_decode(tok, ids, skip)

    check()


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_fast_path_on_split_multibyte_characters_and_invalid_utf8(tok_name, request):
    tok = request.getfixturevalue(tok_name)
    table = byte_to_unicode()

    def byte_ids(data: bytes) -> list[int]:
        return tok.convert_tokens_to_ids([table[b] for b in data])

    a, b = tok("a ")["input_ids"], tok(" b")["input_ids"]
    cases = [
        byte_ids("\U0001f9ec".encode()),  # a 4-byte character, one token per byte
        byte_ids("é".encode())[:1],  # truncated: U+FFFD
        byte_ids(b"\x80\x80"),  # lone continuation bytes
        byte_ids(b"\xe2\x82") + a,  # a truncated 3-byte character, then text
        byte_ids(b"\xff\xfe") + b,  # bytes that never occur in UTF-8
        byte_ids("€".encode()) + [tok.eos_token_id] + byte_ids("€".encode())[:2] + [tok.eos_token_id],
        [tok.eos_token_id] + byte_ids("é".encode())[1:] + a,  # a skipped special token before a continuation byte
        byte_ids("€".encode())[:1] + [tok.eos_token_id] * 2 + byte_ids("€".encode())[1:] + a,  # ... inside a character
        a + byte_ids("🙂".encode())[:3] + [tok.eos_token_id] + byte_ids("🙂".encode())[3:] + [tok.eos_token_id],
    ]
    for ids in cases:
        for skip in (True, False):
            assert_matches_decode(tok, ids, skip)


@pytest.fixture(scope="module")
def tiny_model_tok(tmp_path_factory):
    """The tokenizer of the embedded tiny model (``rest-rl tiny-model``), saved and loaded back as a user would."""
    from transformers import AutoTokenizer

    from rest_rl.models.tiny import make_embedded_model

    return AutoTokenizer.from_pretrained(make_embedded_model(tmp_path_factory.mktemp("tiny-model")))


def test_fast_path_on_the_tiny_model_tokenizer(tiny_model_tok):
    tok = tiny_model_tok

    @FAST
    @given(ids=id_sequences(tok, max_size=80), skip=st.booleans())
    def check(ids, skip):
        assert_matches_decode(tok, ids, skip)

    check()
    # a rendered tool-use conversation, as the trainer decodes it
    messages = [
        {"role": "user", "content": "Pay 30 from Ann to Bo, and say é 🙂"},
        {"role": "assistant", "content": "<think> two look-ups </think>", "tool_calls": [
            {"type": "function", "function": {"name": "acct", "arguments": {"owner": "Ann"}}}]},
        {"role": "tool", "name": "acct", "content": '{"id": "K42"}'},
        {"role": "assistant", "content": "Done: K42 paid 30."},
    ]  # fmt: skip
    ids = tok(tok.apply_chat_template(messages, tokenize=False), add_special_tokens=False)["input_ids"]
    for skip in (True, False):
        text, _ = assert_matches_decode(tok, ids, skip)
        assert '{"name": "acct", "arguments": {"owner": "Ann"}}' in text


def test_added_tokens_outside_the_byte_alphabet_and_a_changed_vocabulary():
    """Added tokens whose text is not byte-level (non-ASCII, spaces) and special tokens added after the first
    call: the table is rebuilt when ``len(tokenizer)`` changes and still agrees with the per-call path."""
    from rest_rl.models import build_bpe_tokenizer

    tok = build_bpe_tokenizer(tags_as_tokens=True)
    ids = tok("<think> é </think>")["input_ids"]
    assert_matches_decode(tok, ids, True)
    before = offsets_module._vocab_bytes(tok)
    tok.add_tokens(["Grüße", "two words", "\u0120Hi", "🙂x"])
    tok.add_special_tokens({"additional_special_tokens": ["<|sp ace|>", "<|é|>"]})
    assert offsets_module._vocab_bytes(tok) is before  # nothing looks at len(tok) while the table serves
    assert_matches_decode(tok, [len(tok) - 1], True)  # an id beyond the table: len(tok) changed, rebuilt
    after = offsets_module._vocab_bytes(tok)
    assert after is not before and after.size == len(tok)
    assert after.modes[False].any_flags  # these ids take the exact two-step path of _byte_level_spans
    new_ids = list(range(len(tok) - 6, len(tok)))
    rng = random.Random(7)
    for _ in range(300):
        mixed = [rng.choice(new_ids + ids + [0, 1, 2, rng.randrange(len(tok))]) for _ in range(rng.randrange(0, 25))]
        for skip in (True, False):
            assert_matches_decode(tok, mixed, skip)


def test_ids_outside_the_vocabulary_and_odd_inputs_take_the_per_call_path(bpe_tok_tags):
    tok = bpe_tok_tags
    base = tok("<think> é 🙂 </think>")["input_ids"]
    for ids in ([len(tok) + 5] + base, base + [10**6], [2**32 - 1]):
        assert token_char_offsets(tok, ids) == per_call_spans(tok, ids, True)
    for ids in (np.array(base, dtype=np.uint16), np.array(base, dtype=np.int32), tuple(base), torch.tensor(base, dtype=torch.int32)):
        assert token_char_offsets(tok, ids) == per_call_spans(tok, base, True)
    assert token_char_offsets(tok, [True, 5]) == per_call_spans(tok, [1, 5], True)  # items convert as int() does
    with pytest.raises((TypeError, ValueError, OverflowError)):
        token_char_offsets(tok, [None])


class _RecordingTokenizer:
    """A duck-typed byte-level tokenizer (not transformers' class): records what ``decode`` receives."""

    def __init__(self, tok):
        self._tok = tok
        self.seen: list = []
        self.added_tokens_decoder = tok.added_tokens_decoder

    def __len__(self):
        return len(self._tok)

    def convert_ids_to_tokens(self, ids):
        return self._tok.convert_ids_to_tokens(ids)

    def decode(self, ids, skip_special_tokens=False):
        self.seen.append(ids)
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens)


def test_a_duck_typed_decode_gets_a_list_of_ints_and_the_table_is_used(bpe_tok_tags):
    rec = _RecordingTokenizer(bpe_tok_tags)
    ids = bpe_tok_tags("<tool_call> é </tool_call>")["input_ids"]
    for given_ids in (ids, np.array(ids), torch.tensor(ids)):
        assert token_char_offsets(rec, given_ids) == token_char_offsets(bpe_tok_tags, ids)
    assert all(type(seen) is list and all(type(t) is int for t in seen) for seen in rec.seen)
    assert offsets_module._vocab_bytes(rec) is not None


class _ShoutingTokenizer(_RecordingTokenizer):
    """Byte-level pieces, but a decode that changes the text: the reconstruction never matches."""

    def decode(self, ids, skip_special_tokens=False):
        return self._tok.decode(ids, skip_special_tokens=skip_special_tokens).upper()


def test_a_reconstruction_that_does_not_match_decode_falls_back(bpe_tok_tags):
    tok = _ShoutingTokenizer(bpe_tok_tags)
    ids = bpe_tok_tags("<think> abc </think> é")["input_ids"]
    text, spans = token_char_offsets(tok, ids)
    assert text == bpe_tok_tags.decode(ids, skip_special_tokens=True).upper()
    assert spans == offsets_module._prefix_decode_spans(tok, ids, text, True)
    check_spans(text, spans)


def test_the_table_leaves_with_its_tokenizer():
    import gc

    from rest_rl.models import build_bpe_tokenizer

    tok = build_bpe_tokenizer(tags_as_tokens=False)
    token_char_offsets(tok, tok("hi")["input_ids"])
    key = id(tok)
    assert key in offsets_module._TABLES
    del tok
    gc.collect()
    assert key not in offsets_module._TABLES


def test_a_decode_patched_on_a_transformers_tokenizer_gets_a_list(bpe_tok_text):
    """Only transformers' own ``decode`` is given numpy arrays (it documents them); a function set on the
    instance, as tests and wrappers do, gets the list of ints the per-call path always passed."""
    import copy

    tok = copy.deepcopy(bpe_tok_text)
    seen = []
    original = tok.decode

    def decode(ids, skip_special_tokens=False, **kwargs):
        seen.append(ids)
        return original(list(ids), skip_special_tokens=skip_special_tokens, **kwargs)

    tok.decode = decode
    ids = tok("<think> é </think>")["input_ids"]
    assert token_char_offsets(tok, np.array(ids)) == token_char_offsets(bpe_tok_text, ids)
    assert seen and all(type(x) is list for x in seen)
    assert offsets_module._decodes_arrays(bpe_tok_text) and not offsets_module._decodes_arrays(tok)
