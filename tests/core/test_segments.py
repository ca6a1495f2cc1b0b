"""label_segments: every trained run of tokens labelled on its own, from exact offsets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rest_rl.core import label_segments, mask_runs
from rest_rl.core.offsets import token_char_offsets
from rest_rl.core.regions import Region, label_tokens

TOKENIZERS = ["bpe_tok_tags", "bpe_tok_text"]

TURN_1 = (
    "<think> I need the weather first. </think>\n<tool_call>\n"
    '{"name": "get_weather", "parameters": {"city": "Paris", "days": 2}}\n</tool_call>'
)
# Tool output the model did not write: tags and JSON, and an unclosed <tool_call> that would swallow
# everything after it if the whole sequence were labelled as one text.
TOOL_OUTPUT = '\n<tool_response>\n{"temp": 21, "note": "<tool_call> {\\"name\\": \\"x\\""}\n<tool_call> {"name": "leak",'
TURN_2 = "\n<think> It is mild. </think>\n<response> Paris will be 21 degrees. </response>"


def _ids(tok, text: str) -> list[int]:
    return tok(text, add_special_tokens=False)["input_ids"]


def _alone(tok, ids: list[int]) -> list[int]:
    text, spans = token_char_offsets(tok, ids)
    return label_tokens(text, spans).tolist()


@pytest.fixture(params=TOKENIZERS)
def tok(request):
    return request.getfixturevalue(request.param)


@pytest.fixture
def multi_turn(tok):
    """(ids, mask, the three pieces' ids) of model turn / tool output / model turn."""
    pieces = [_ids(tok, TURN_1), _ids(tok, TOOL_OUTPUT), _ids(tok, TURN_2)]
    ids = pieces[0] + pieces[1] + pieces[2]
    mask = [1] * len(pieces[0]) + [0] * len(pieces[1]) + [1] * len(pieces[2])
    return ids, mask, pieces


def test_mask_runs() -> None:
    assert mask_runs([]) == []
    assert mask_runs([0, 0]) == []
    assert mask_runs([1, 1, 1]) == [(0, 3)]
    assert mask_runs([0, 1, 1, 0, 1]) == [(1, 3), (4, 5)]
    assert mask_runs(torch.tensor([True, False, True, True])) == [(0, 1), (2, 4)]
    with pytest.raises(ValueError, match="1-D"):
        mask_runs([[1, 0]])


def test_single_fully_masked_sequence_equals_label_tokens(tok) -> None:
    ids = _ids(tok, TURN_1 + TURN_2)
    expected = _alone(tok, ids)
    got = label_segments(tok, ids, [1] * len(ids))
    assert got == expected
    assert isinstance(got, list) and all(type(c) is int for c in got)
    # the expected labels are meaningful, not all OTHER
    assert {Region.THINK, Region.TOOL_NAME, Region.ARG_VALUE, Region.RESPONSE} <= set(expected)


def test_segments_are_labelled_independently_of_tool_output(tok, multi_turn) -> None:
    ids, mask, (turn1, tool, turn2) = multi_turn
    got = label_segments(tok, ids, mask, fill=-1)
    n1, n2 = len(turn1), len(tool)
    assert got[:n1] == _alone(tok, turn1)
    assert got[n1 : n1 + n2] == [-1] * n2
    assert got[n1 + n2 :] == _alone(tok, turn2)
    # Labelling the whole concatenation instead lets the tool output's unclosed <tool_call> swallow
    # the second turn: its think/response text would not be THINK/RESPONSE.
    whole = _alone(tok, ids)
    assert whole[n1 + n2 :] != got[n1 + n2 :]
    assert Region.RESPONSE in got[n1 + n2 :] and Region.RESPONSE not in whole[n1 + n2 :]


def test_fill_value_and_default(tok, multi_turn) -> None:
    ids, mask, (turn1, tool, _) = multi_turn
    n1, n2 = len(turn1), len(tool)
    default = label_segments(tok, ids, mask)
    assert default[n1 : n1 + n2] == [int(Region.OTHER)] * n2
    assert label_segments(tok, ids, mask, fill=7)[n1 : n1 + n2] == [7] * n2
    assert label_segments(tok, ids, [0] * len(ids), fill=-1) == [-1] * len(ids)
    with pytest.raises(TypeError, match="fill"):
        label_segments(tok, ids, mask, fill=1.5)  # type: ignore[arg-type]


def test_batch_equals_per_row(tok, multi_turn) -> None:
    ids, mask, _ = multi_turn
    short = _ids(tok, TURN_2)
    pad = tok.pad_token_id
    width = len(ids)
    rows = [ids, short + [pad] * (width - len(short)), [pad] * width]
    masks = [mask, [1] * len(short) + [0] * (width - len(short)), [0] * width]
    ids_t = torch.tensor(rows, dtype=torch.long)
    mask_t = torch.tensor(masks, dtype=torch.bool)

    batch = label_segments(tok, ids_t, mask_t, fill=-1)
    for b in range(len(rows)):
        assert batch[b].tolist() == label_segments(tok, rows[b], masks[b], fill=-1)
        assert torch.equal(batch[b], label_segments(tok, ids_t[b], mask_t[b], fill=-1))
    # list of lists (ragged rows allowed) gives the same numbers as lists
    ragged = label_segments(tok, [ids, short], [mask, [1] * len(short)], fill=-1)
    assert ragged == [batch[0].tolist(), batch[1, : len(short)].tolist()]
    # numpy in, numpy out
    arr = label_segments(tok, np.asarray(rows), np.asarray(masks), fill=-1)
    assert isinstance(arr, np.ndarray) and arr.dtype == np.int64
    assert arr.tolist() == batch.tolist()


def test_tensor_dtype_device_and_mask_kinds(tok, multi_turn) -> None:
    ids, mask, _ = multi_turn
    for dtype in (torch.int32, torch.int64):
        ids_t = torch.tensor([ids], dtype=dtype)
        out = label_segments(tok, ids_t, torch.tensor([mask], dtype=torch.float32))
        assert out.dtype == torch.int64 and out.device == ids_t.device and out.shape == ids_t.shape
        assert out[0].tolist() == label_segments(tok, ids, mask)
    one = label_segments(tok, torch.tensor(ids), mask)  # 1-D tensor, list mask
    assert one.dim() == 1 and one.tolist() == label_segments(tok, ids, mask)
    if torch.cuda.is_available():
        cuda = label_segments(tok, torch.tensor([ids], device="cuda"), torch.tensor([mask], device="cuda"))
        assert cuda.device.type == "cuda" and cuda.cpu().tolist() == [label_segments(tok, ids, mask)]


def test_shape_and_type_errors(tok) -> None:
    ids = torch.tensor([[1, 2, 3]])
    with pytest.raises(ValueError, match="mask shape"):
        label_segments(tok, ids, torch.ones(1, 2))
    with pytest.raises(ValueError, match="integer"):
        label_segments(tok, ids.float(), torch.ones(1, 3))
    with pytest.raises(ValueError, match="1-D"):
        label_segments(tok, ids[None], torch.ones(1, 1, 3))
    with pytest.raises(ValueError, match="row 1"):
        label_segments(tok, [[1, 2], [3]], [[1, 1], [1, 1]])
    with pytest.raises(ValueError, match="one row per"):
        label_segments(tok, [[1, 2], [3]], [[1, 1]])
    assert label_segments(tok, [], []) == []
    empty = label_segments(tok, torch.zeros(2, 0, dtype=torch.long), torch.zeros(2, 0))
    assert empty.shape == (2, 0) and empty.dtype == torch.int64


# --------------------------------------------------------------------------- the array fast path
#
# ``label_segments`` takes each run's offsets as an array straight from the per-tokenizer table (no list of
# span tuples in between); the codes must be those of the public composition run by run.

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

PIECES = [TURN_1, TOOL_OUTPUT, TURN_2, " é 🙂 ", '{"a": [1, "b"]}', "<tool_call>", "</think>", "plain"]


def _by_composition(tok, ids: list[int], mask: list[int], fill: int, skip: bool) -> list[int]:
    out = [fill] * len(ids)
    for start, end in mask_runs(mask):
        text, spans = token_char_offsets(tok, ids[start:end], skip_special_tokens=skip)
        out[start:end] = label_tokens(text, spans).tolist()
    return out


@st.composite
def rows_and_masks(draw, tok):
    """A batch of rows: text pieces, EOS / pad / random ids, and masks with several runs."""
    vocab = len(tok)
    specials = [tok.eos_token_id, tok.pad_token_id, *tok.all_special_ids]
    width = draw(st.integers(0, 70))
    rows, masks = [], []
    for _ in range(draw(st.integers(1, 3))):
        ids: list[int] = []
        while len(ids) < width:
            kind = draw(st.integers(0, 2))
            if kind == 0:
                ids += _ids(tok, draw(st.sampled_from(PIECES)))
            elif kind == 1:
                ids.append(draw(st.sampled_from(specials)))
            else:
                ids.append(draw(st.integers(0, vocab - 1)))
        rows.append(ids[:width])
        masks.append(draw(st.lists(st.integers(0, 1), min_size=width, max_size=width)))
    return rows, masks


@pytest.mark.parametrize("tok_name", TOKENIZERS)
def test_label_segments_equals_the_public_composition_on_random_batches(tok_name, request) -> None:
    tok = request.getfixturevalue(tok_name)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(case=rows_and_masks(tok), fill=st.sampled_from([0, -1, 7]), skip=st.booleans())
    def check(case, fill, skip):
        rows, masks = case
        expected = [_by_composition(tok, r, m, fill, skip) for r, m in zip(rows, masks)]
        width = len(rows[0])
        as_tensor = label_segments(tok, torch.tensor(rows, dtype=torch.long).reshape(len(rows), width),
                                   torch.tensor(masks).reshape(len(rows), width), fill=fill, skip_special_tokens=skip)
        assert as_tensor.tolist() == expected
        as_array = label_segments(tok, np.array(rows, dtype=np.int32).reshape(len(rows), width),
                                  np.array(masks).reshape(len(rows), width), fill=fill, skip_special_tokens=skip)
        assert as_array.tolist() == expected
        assert label_segments(tok, rows, masks, fill=fill, skip_special_tokens=skip) == expected
        assert label_segments(tok, rows[0], masks[0], fill=fill, skip_special_tokens=skip) == expected[0]

    check()
