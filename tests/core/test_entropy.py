"""Tests for rest_rl.core.entropy: values and gradients against a naive float64 reference."""

from __future__ import annotations

import pytest
import torch

from rest_rl.core.entropy import chunked_logprobs_and_entropy, logprobs_and_entropy_from_logits

IGNORE = -100


def _naive(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    labels: torch.Tensor,
    bias: torch.Tensor | None = None,
    temperature: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Full float64 logits, log_softmax, gather; zeros at ignored positions."""
    logits = hidden.double() @ weight.double().T
    if bias is not None:
        logits = logits + bias.double()
    logits = logits / temperature
    logp_all = torch.log_softmax(logits, dim=-1)
    valid = labels != IGNORE
    safe = torch.where(valid, labels, torch.zeros_like(labels))
    logp = logp_all.gather(-1, safe.unsqueeze(-1)).squeeze(-1)
    entropy = -(logp_all.exp() * logp_all).sum(-1)
    return torch.where(valid, logp, 0.0), torch.where(valid, entropy, 0.0)


def _make(
    batch: tuple[int, ...],
    seq: int,
    hid: int,
    vocab: int,
    dtype: torch.dtype,
    seed: int = 0,
    with_bias: bool = True,
    n_ignored: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    hidden = torch.randn(*batch, seq, hid, generator=gen, dtype=torch.float64).to(dtype)
    weight = (torch.randn(vocab, hid, generator=gen, dtype=torch.float64) / hid**0.5 * 3).to(dtype)
    bias = torch.randn(vocab, generator=gen, dtype=torch.float64).to(dtype) if with_bias else None
    labels = torch.randint(0, vocab, (*batch, seq), generator=gen)
    if n_ignored:
        flat = labels.view(-1)
        flat[torch.randperm(flat.numel(), generator=gen)[:n_ignored]] = IGNORE
    return hidden, weight, bias, labels


def _grads(
    fn_outputs: tuple[torch.Tensor, torch.Tensor | None],
    inputs: list[torch.Tensor],
    g_logp: torch.Tensor,
    g_ent: torch.Tensor | None,
) -> list[torch.Tensor]:
    logp, ent = fn_outputs
    objective = (logp.double() * g_logp).sum()
    if g_ent is not None:
        assert ent is not None
        objective = objective + (ent.double() * g_ent).sum()
    return list(torch.autograd.grad(objective, inputs))


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 16, 1024])
@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_chunked_matches_float64_reference_values_and_grads(chunk_size: int, temperature: float) -> None:
    hidden, weight, bias, labels = _make((2, 3), 5, 8, 13, torch.float64, seed=chunk_size, n_ignored=4)
    for t in (hidden, weight, bias):
        t.requires_grad_(True)
    gen = torch.Generator().manual_seed(1)
    g_logp = torch.randn(labels.shape, generator=gen, dtype=torch.float64)
    g_ent = torch.randn(labels.shape, generator=gen, dtype=torch.float64)
    inputs = [hidden, weight, bias]

    def run() -> tuple[tuple[torch.Tensor, torch.Tensor | None], tuple[torch.Tensor, torch.Tensor]]:
        ours = chunked_logprobs_and_entropy(
            hidden, weight, labels, bias=bias, temperature=temperature, chunk_size=chunk_size
        )
        return ours, _naive(hidden, weight, labels, bias, temperature)

    ours, ref = run()
    assert ours[0].shape == labels.shape and ours[1] is not None and ours[1].shape == labels.shape
    torch.testing.assert_close(ours[0].double(), ref[0], atol=1e-5, rtol=0)
    torch.testing.assert_close(ours[1].double(), ref[1], atol=1e-5, rtol=0)

    for g_e in (g_ent, None):  # both outputs in the objective, then log-probs only
        ours, ref = run()
        got = _grads(ours, inputs, g_logp, g_e)
        want = _grads(ref, inputs, g_logp, g_e)
        for a, b in zip(got, want):
            torch.testing.assert_close(a.double(), b, atol=1e-5, rtol=0)


def test_entropy_only_gradient_matches_reference() -> None:
    hidden, weight, bias, labels = _make((3,), 6, 5, 11, torch.float64, seed=3)
    for t in (hidden, weight, bias):
        t.requires_grad_(True)
    _, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=4)
    _, ref_ent = _naive(hidden, weight, labels, bias)
    assert ent is not None
    got = torch.autograd.grad(ent.sum(), [hidden, weight, bias])
    want = torch.autograd.grad(ref_ent.sum(), [hidden, weight, bias])
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, atol=1e-8, rtol=1e-6)


def test_float32_inputs_match_float64_reference_and_return_float32() -> None:
    hidden, weight, bias, labels = _make((2,), 9, 16, 50, torch.float32, seed=5)
    for t in (hidden, weight, bias):
        t.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=4, temperature=1.3)
    assert logp.dtype == torch.float32 and ent is not None and ent.dtype == torch.float32
    ref_logp, ref_ent = _naive(hidden, weight, labels, bias, 1.3)
    torch.testing.assert_close(logp.double(), ref_logp, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), ref_ent, atol=2e-5, rtol=1e-5)
    got = torch.autograd.grad(logp.sum() + 0.5 * ent.sum(), [hidden, weight, bias])
    want = torch.autograd.grad(ref_logp.sum() + 0.5 * ref_ent.sum(), [hidden, weight, bias])
    for a, b in zip(got, want):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b.double(), atol=5e-5, rtol=1e-4)


def test_no_bias_and_batch_dims() -> None:
    hidden, weight, _, labels = _make((2, 2, 2), 3, 4, 7, torch.float64, seed=7, with_bias=False)
    hidden.requires_grad_(True)
    weight.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, chunk_size=5)
    ref_logp, ref_ent = _naive(hidden, weight, labels)
    assert logp.shape == (2, 2, 2, 3)
    torch.testing.assert_close(logp, ref_logp)
    torch.testing.assert_close(ent, ref_ent)
    got = torch.autograd.grad((logp * 2 - ent).sum(), [hidden, weight])
    want = torch.autograd.grad((ref_logp * 2 - ref_ent).sum(), [hidden, weight])
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b)


def test_only_requested_input_grads_are_computed() -> None:
    hidden, weight, _, labels = _make((2,), 4, 4, 9, torch.float64, seed=8, with_bias=False)
    hidden.requires_grad_(True)  # frozen LM head (e.g. LoRA): weight needs no grad
    logp, _ = chunked_logprobs_and_entropy(hidden, weight, labels, chunk_size=3)
    (grad,) = torch.autograd.grad(logp.sum(), [hidden])
    ref_logp, _ = _naive(hidden, weight, labels)
    (want,) = torch.autograd.grad(ref_logp.sum(), [hidden])
    torch.testing.assert_close(grad, want)
    assert weight.grad is None


def test_ignored_positions_are_zero_and_get_no_gradient() -> None:
    hidden, weight, bias, labels = _make((1,), 6, 4, 9, torch.float64, seed=9)
    labels[0, 2] = IGNORE
    labels[0, 5] = IGNORE
    hidden.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=4)
    assert ent is not None
    assert logp[0, 2] == 0 and logp[0, 5] == 0 and ent[0, 2] == 0 and ent[0, 5] == 0
    (grad,) = torch.autograd.grad((logp + ent).sum(), [hidden])
    assert torch.all(grad[0, 2] == 0) and torch.all(grad[0, 5] == 0)
    assert torch.any(grad[0, 0] != 0)


def test_compute_entropy_false_returns_none_and_same_logp() -> None:
    hidden, weight, bias, labels = _make((2,), 5, 4, 9, torch.float64, seed=10)
    hidden.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, compute_entropy=False, chunk_size=2)
    assert ent is None
    ref_logp, _ = _naive(hidden, weight, labels, bias)
    torch.testing.assert_close(logp, ref_logp)
    (grad,) = torch.autograd.grad(logp.sum(), [hidden])
    (want,) = torch.autograd.grad(ref_logp.sum(), [hidden])
    torch.testing.assert_close(grad, want)


def test_empty_inputs() -> None:
    hidden = torch.randn(2, 0, 4, requires_grad=True)
    weight = torch.randn(9, 4, requires_grad=True)
    labels = torch.zeros(2, 0, dtype=torch.long)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels)
    assert logp.shape == (2, 0) and ent is not None and ent.shape == (2, 0)
    (logp.sum() + ent.sum()).backward()
    assert weight.grad is not None and torch.all(weight.grad == 0)
    logits = torch.randn(0, 5, 9, requires_grad=True)
    logp2, ent2 = logprobs_and_entropy_from_logits(logits, torch.zeros(0, 5, dtype=torch.long))
    assert logp2.shape == (0, 5) and ent2.shape == (0, 5)
    (logp2.sum() + ent2.sum()).backward()


def test_bf16_inputs_run_and_are_close() -> None:
    hidden, weight, bias, labels = _make((2,), 7, 16, 40, torch.bfloat16, seed=11)
    for t in (hidden, weight, bias):
        t.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=3)
    assert logp.dtype == torch.float32 and ent is not None and ent.dtype == torch.float32
    # The reference sees the same (bf16-rounded) numbers, so only float32 arithmetic differs.
    ref_logp, ref_ent = _naive(hidden, weight, labels, bias)
    torch.testing.assert_close(logp.double(), ref_logp, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ent.double(), ref_ent, atol=1e-4, rtol=1e-4)
    (logp.sum() + ent.sum()).backward()
    for t in (hidden, weight, bias):
        assert t.grad is not None and t.grad.dtype == torch.bfloat16 and torch.isfinite(t.grad.float()).all()


def test_masked_vocabulary_with_minus_inf_bias_is_finite() -> None:
    hidden, weight, bias, labels = _make((1,), 4, 4, 8, torch.float64, seed=12)
    assert bias is not None
    bias[5:] = float("-inf")
    labels = labels % 5
    hidden.requires_grad_(True)
    logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=3)
    ref_logp, _ = _naive(hidden, weight[:5], labels, bias[:5])
    _, ref_ent = _naive(hidden, weight[:5], labels, bias[:5])
    assert ent is not None
    torch.testing.assert_close(logp, ref_logp)
    torch.testing.assert_close(ent, ref_ent)
    (grad,) = torch.autograd.grad((logp + ent).sum(), [hidden])
    assert torch.isfinite(grad).all()


def test_nothing_of_size_rows_times_vocab_is_saved_for_backward() -> None:
    rows, hid, vocab = 96, 8, 50  # N*V = 4800, much larger than N*H = 768 and V*H = 400
    hidden = torch.randn(rows, hid, requires_grad=True)
    weight = torch.randn(vocab, hid, requires_grad=True)
    bias = torch.randn(vocab, requires_grad=True)
    labels = torch.randint(0, vocab, (rows,))
    saved_sizes: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        saved_sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=8)
        assert ent is not None
        loss = logp.sum() + ent.sum()
    assert saved_sizes, "hook saw nothing: the test is not measuring anything"
    assert max(saved_sizes) < rows * vocab // 4
    loss.backward()

    # Sanity check that the hook does see the big tensor on the naive path.
    saved_sizes.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        _naive(hidden, weight, labels, bias)
    assert max(saved_sizes) >= rows * vocab


def test_from_logits_matches_reference_and_saves_no_float32_copy() -> None:
    hidden, weight, bias, labels = _make((2,), 11, 6, 17, torch.float64, seed=13, n_ignored=3)
    logits64 = hidden @ weight.T + bias
    for chunk_size in (1, 4, 100):
        logits = logits64.clone().requires_grad_(True)
        logp, ent = logprobs_and_entropy_from_logits(logits, labels, temperature=0.8, chunk_size=chunk_size)
        ref_logits = logits64.clone().requires_grad_(True)
        ref_logp, ref_ent = _naive(ref_logits, torch.eye(17, dtype=torch.float64), labels, None, 0.8)
        torch.testing.assert_close(logp, ref_logp)
        torch.testing.assert_close(ent, ref_ent)
        (g,) = torch.autograd.grad((logp - 0.3 * ent).sum(), [logits])
        (want,) = torch.autograd.grad((ref_logp - 0.3 * ref_ent).sum(), [ref_logits])
        torch.testing.assert_close(g, want)

    bf16 = logits64.to(torch.bfloat16).requires_grad_(True)
    big_float_saves: list[int] = []

    def pack(t: torch.Tensor) -> torch.Tensor:
        if t.dtype == torch.float32 and t.numel() >= bf16.numel():
            big_float_saves.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logp, ent = logprobs_and_entropy_from_logits(bf16, labels, chunk_size=4)
    assert logp.dtype == torch.float32 and not big_float_saves
    (logp.sum() + ent.sum()).backward()
    assert bf16.grad is not None and bf16.grad.dtype == torch.bfloat16


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"temperature": 0.0}, "temperature"),
        ({"chunk_size": 0}, "chunk_size"),
    ],
)
def test_bad_arguments_raise_value_error(kwargs: dict, match: str) -> None:
    hidden, weight, _, labels = _make((1,), 3, 4, 5, torch.float32, with_bias=False)
    with pytest.raises(ValueError, match=match):
        chunked_logprobs_and_entropy(hidden, weight, labels, **kwargs)
    with pytest.raises(ValueError, match=match):
        logprobs_and_entropy_from_logits(hidden @ weight.T, labels, **kwargs)


def test_shape_and_label_errors() -> None:
    hidden, weight, _, labels = _make((1,), 3, 4, 5, torch.float32, with_bias=False)
    with pytest.raises(ValueError, match="weight"):
        chunked_logprobs_and_entropy(hidden, weight[:, :3], labels)
    with pytest.raises(ValueError, match="labels shape"):
        chunked_logprobs_and_entropy(hidden, weight, labels[:, :2])
    with pytest.raises(ValueError, match="bias"):
        chunked_logprobs_and_entropy(hidden, weight, labels, bias=torch.zeros(4))
    bad = labels.clone()
    bad[0, 1] = 5
    with pytest.raises(ValueError, match="outside the vocabulary"):
        chunked_logprobs_and_entropy(hidden, weight, bad)
    bad[0, 1] = -1
    with pytest.raises(ValueError, match="outside the vocabulary"):
        logprobs_and_entropy_from_logits(hidden @ weight.T, bad)
    with pytest.raises(ValueError, match="integer"):
        chunked_logprobs_and_entropy(hidden, weight, labels.float())


def test_host_autocast_does_not_lower_logit_precision() -> None:
    hidden, weight, bias, labels = _make((2,), 6, 32, 64, torch.float32, seed=14)
    hidden.requires_grad_(True)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        logp, ent = chunked_logprobs_and_entropy(hidden, weight, labels, bias=bias, chunk_size=5)
    assert ent is not None
    ref_logp, ref_ent = _naive(hidden, weight, labels, bias)
    torch.testing.assert_close(logp.double(), ref_logp, atol=2e-5, rtol=1e-5)
    torch.testing.assert_close(ent.double(), ref_ent, atol=2e-5, rtol=1e-5)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        (grad,) = torch.autograd.grad(logp.sum() + ent.sum(), [hidden])
    (want,) = torch.autograd.grad(ref_logp.sum() + ref_ent.sum(), [hidden])
    torch.testing.assert_close(grad.double(), want.double(), atol=5e-5, rtol=1e-4)
