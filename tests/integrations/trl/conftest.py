"""Fixtures for the TRL adapter tests: a tiny local tokenizer, model and dataset from the synthetic
tool world, CPU-safe trainer settings, and a scripted "policy" that returns fixed completion ids.

The scripted policy replaces ``_generate_single_turn`` (TRL's generation backend call) on a trainer
instance: a randomly initialised tiny model only samples noise, while these tests need completions
with think text, tool names, arguments and responses (and rewards that differ within a group).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable
from typing import Any

import pytest
import torch

from rest_rl.data import SyntheticConfig, corpus_texts, make_splits, to_trl_dataset
from rest_rl.models import TinyModelConfig, build_bpe_tokenizer, build_tiny_model

WORLD = SyntheticConfig(n_train=24, n_validation=0, n_test=0, seed=3, p_no_call=0.2)
TINY = TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, ffn_multiplier=2, seed=0)


def cpu_config_kwargs(output_dir: Any, **overrides: Any) -> dict[str, Any]:
    """GRPOConfig settings for a fast, deterministic CPU run (TRL's GPU defaults overridden)."""
    kwargs: dict[str, Any] = dict(
        output_dir=str(output_dir),
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        learning_rate=1e-3,
        save_strategy="no",
        report_to=[],
        logging_steps=1,
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=96,
        max_steps=2,
        seed=0,
        disable_tqdm=True,
    )
    kwargs.update(overrides)
    return kwargs


@pytest.fixture(scope="session")
def world() -> dict[str, list]:
    return make_splits(WORLD)


@pytest.fixture(scope="session")
def tiny_tokenizer():
    """Byte-level BPE trained on the synthetic world; tags are single non-special tokens."""
    return build_bpe_tokenizer(corpus_texts(WORLD, n=200))


@pytest.fixture(scope="session")
def train_dataset(world):
    return to_trl_dataset(world["train"], style="compact")


SHARPEN = 40.0
"""Input-embedding scale of the default test model (tied to the LM head): larger logits, so entropies
differ between positions and regions (a freshly initialised model is almost uniform)."""


@pytest.fixture(scope="session")
def _base_model(tiny_tokenizer):
    return build_tiny_model(tiny_tokenizer, TINY)


@pytest.fixture
def make_model(_base_model) -> Callable[..., torch.nn.Module]:
    """``make_model(sharp=True)``: a fresh copy of the tiny model (TRL patches the forward of the
    model it gets, so every trainer needs its own). ``sharp=False`` keeps the near-uniform init,
    whose samples differ within a group."""

    def factory(sharp: bool = True) -> torch.nn.Module:
        model = copy.deepcopy(_base_model)
        if sharp:
            with torch.no_grad():
                model.get_input_embeddings().weight.mul_(SHARPEN)
        model.train()
        return model

    return factory


def _variants(gold: str, other_name: str) -> list[str]:
    """Completions of varying quality for one gold answer."""
    out = [gold]
    if "<tool_call>" in gold:
        name = gold.split('"name": "', 1)[1].split('"', 1)[0] if '"name": "' in gold else ""
        if name:
            out.append(gold.replace(f'"{name}"', f'"{other_name}"'))
        out.append(gold[: max(1, len(gold) // 2)])  # truncated: unclosed block
    out.append("<think> I can answer directly. </think>\n<response> Sorry, I cannot help. </response>")
    out.append('just some text {"name": 1}')
    return out


@pytest.fixture(scope="session")
def scripted_pool(world, tiny_tokenizer) -> list[list[int]]:
    """Token ids (EOS-terminated) of gold answers and corrupted variants."""
    eos = tiny_tokenizer.eos_token_id
    texts: list[str] = []
    for i, example in enumerate(world["train"][:8]):
        other = world["train"][(i + 1) % len(world["train"])]
        other_name = other.gold_calls[0].name if other.gold_calls else "unknown_tool"
        texts.extend(_variants(example.gold_text("toolrl"), other_name))
    return [tiny_tokenizer(t, add_special_tokens=False)["input_ids"] + [eos] for t in texts]


class ScriptedGeneration:
    """Stands in for ``GRPOTrainer._generate_single_turn``: returns completions from a fixed pool.

    ``max_len`` truncates like ``max_completion_length``; ``calls`` counts invocations and
    ``returned`` keeps every batch of ids handed to TRL.
    """

    def __init__(self, pool: list[list[int]], max_len: int, seed: int = 0) -> None:
        self.pool = pool
        self.max_len = max_len
        self.rng = random.Random(seed)
        self.calls = 0
        self.returned: list[list[list[int]]] = []

    def pick(self, n: int) -> list[list[int]]:
        ids = [list(self.rng.choice(self.pool))[: self.max_len] for _ in range(n)]
        self.returned.append(ids)
        return ids

    def __call__(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        self.calls += 1
        return self.pick(len(prompt_ids)), None


@pytest.fixture
def scripted(scripted_pool) -> Callable[..., ScriptedGeneration]:
    """``scripted(trainer, seed=0)`` installs a :class:`ScriptedGeneration` on ``trainer``."""

    def install(trainer: Any, seed: int = 0) -> ScriptedGeneration:
        gen = ScriptedGeneration(scripted_pool, trainer.max_completion_length, seed)
        trainer._generate_single_turn = gen
        return gen

    return install


def generation_batch(dataset, n_prompts: int, num_generations: int, start: int = 0) -> list[dict[str, Any]]:
    """Rows as TRL's RepeatSampler lays them out: each prompt repeated ``num_generations`` times."""
    return [dict(dataset[start + i]) for i in range(n_prompts) for _ in range(num_generations)]


@pytest.fixture
def cpu_kwargs(tmp_path) -> Callable[..., dict[str, Any]]:
    """``cpu_kwargs(**overrides)``: :func:`cpu_config_kwargs` with a fresh output dir."""

    def build(**overrides: Any) -> dict[str, Any]:
        return cpu_config_kwargs(overrides.pop("output_dir", tmp_path / "out"), **overrides)

    return build


@pytest.fixture
def make_batch(train_dataset) -> Callable[..., list[dict[str, Any]]]:
    """``make_batch(n_prompts, num_generations, start=0)``: see :func:`generation_batch`."""

    def build(n_prompts: int, num_generations: int, start: int = 0) -> list[dict[str, Any]]:
        return generation_batch(train_dataset, n_prompts, num_generations, start)

    return build


def add_off_policy_logps(trainer: Any, inputs: dict[str, Any], noise: float = 0.4, seed: int = 0) -> None:
    """Give ``inputs`` old log-probs = current ones + Gaussian noise, so ratios cross both clip bounds
    (and the loss value is not the on-policy 0)."""
    with torch.no_grad():
        ids = torch.cat([inputs["prompt_ids"], inputs["completion_ids"]], dim=1)
        attn = torch.cat([inputs["prompt_mask"], inputs["completion_mask"]], dim=1)
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, attn, inputs["completion_ids"].size(1)
        )
    gen = torch.Generator().manual_seed(seed)
    inputs["old_per_token_logps"] = logps + noise * torch.randn(logps.shape, generator=gen)


@pytest.fixture
def off_policy() -> Callable[..., None]:
    """``off_policy(trainer, inputs, noise=0.4, seed=0)``: see :func:`add_off_policy_logps`."""
    return add_off_policy_logps
