"""ResTGRPOTrainer features: real training steps, metrics, gradient accumulation, LoRA, vLLM paths
(with a fake vLLM backend), ablation presets and config parsing, and a 2-process CPU run."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import subprocess
import sys
import textwrap
from collections import Counter
from types import SimpleNamespace

import pytest
import torch
from torch.testing import assert_close
from transformers import HfArgumentParser
from trl import GRPOConfig, GRPOTrainer

from rest_rl.core.regions import Region
from rest_rl.core.weights import WeightConfig
from rest_rl.rewards import RewardConfig
from rest_rl.integrations.trl.grpo import REST_AGGREGATIONS, register_rest_aggregation, unregister_rest_aggregation
from rest_rl.integrations.trl import (
    ABLATIONS,
    REGIONS_KEY,
    ResTGRPOConfig,
    ResTGRPOTrainer,
    ToolRLReward,
    apply_ablation,
    completion_text,
)


class RecordingTrainer(ResTGRPOTrainer):
    """Keeps a copy of every micro-batch the loss sees."""

    def _compute_loss(self, model, inputs):
        seen = self.__dict__.setdefault("seen", [])
        seen.append(
            {
                "completion_ids": inputs["completion_ids"].clone(),
                "completion_mask": inputs["completion_mask"].clone(),
                "regions": inputs[REGIONS_KEY].clone(),
                "ga": self.current_gradient_accumulation_steps,
            }
        )
        return super()._compute_loss(model, inputs)


def _rows(ids: torch.Tensor, mask: torch.Tensor) -> list[tuple[int, ...]]:
    return [tuple(r[m.bool()].tolist()) for r, m in zip(ids, mask)]


def _history(trainer) -> dict[str, list[float]]:
    merged: dict[str, list[float]] = {}
    for entry in trainer.state.log_history:
        for key, value in entry.items():
            merged.setdefault(key, []).append(value)
    return merged


# ---- training runs -------------------------------------------------------------------------------


def test_training_steps_log_region_metrics(make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted):
    args = ResTGRPOConfig(**cpu_kwargs(max_steps=2), rest_scheme="entropy")
    trainer = ResTGRPOTrainer(
        model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer
    )
    assert isinstance(trainer.reward_funcs[0], ToolRLReward)
    assert trainer.reward_funcs[0].tokenizer is trainer._tokenizer  # scores the text regions are built on
    scripted(trainer)
    before = [p.detach().clone() for p in trainer.model.parameters()]
    trainer.train()

    logs = [e for e in trainer.state.log_history if "loss" in e]
    assert len(logs) == 2
    for entry in logs:
        shares = [entry[f"rest/share/{r.name}"] for r in Region]
        assert math.isclose(sum(shares), 1.0, abs_tol=1e-6)
        for name in ("THINK", "FORMAT", "TOOL_NAME", "ARG_VALUE", "SCAFFOLD"):
            assert entry[f"rest/share/{name}"] > 0
            assert entry[f"rest/entropy/{name}"] >= 0
            assert entry[f"rest/weight/{name}"] > 0
        assert 0.0 <= entry["rest/clip_frac_weighted"] <= 1.0
        assert entry["rest/fallback_frac"] >= 0.0
        for part in ("format", "correctness", "format_ok", "schedule_p"):
            assert math.isfinite(entry[f"rewards/toolrl/{part}"])
        assert math.isfinite(entry["loss"])
    assert [e["rest/progress"] for e in logs] == [0.0, 0.5]
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.model.parameters()))


def test_gradient_accumulation_keeps_regions_with_their_completions(
    make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted
):
    """GA=2 and steps_per_generation=2: one generation batch of 8 is shuffled and split into two
    micro-batches of 4; each micro-batch's regions must be the labelling of its own completions."""
    args = ResTGRPOConfig(**cpu_kwargs(max_steps=2, gradient_accumulation_steps=2))
    assert args.steps_per_generation == 2 and args.generation_batch_size == 8
    trainer = RecordingTrainer(
        model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer
    )
    gen = scripted(trainer, seed=5)
    trainer.train()

    assert len(trainer.seen) == 4 and gen.calls == 2
    for batch in trainer.seen:
        assert batch["ga"] == 2 and batch["completion_ids"].size(0) == 4
        assert torch.equal(batch["regions"], trainer.label_regions(batch["completion_ids"]))
        assert (batch["regions"][batch["completion_mask"].bool()] != Region.OTHER).any()
    for g in range(2):  # the two micro-batches of generation g hold exactly its completions
        got = Counter(_rows(trainer.seen[2 * g]["completion_ids"], trainer.seen[2 * g]["completion_mask"]))
        got.update(_rows(trainer.seen[2 * g + 1]["completion_ids"], trainer.seen[2 * g + 1]["completion_mask"]))
        assert got == Counter(tuple(ids) for ids in gen.returned[g])
    assert all(math.isfinite(e["loss"]) for e in trainer.state.log_history if "loss" in e)


@pytest.mark.parametrize(
    ("loss_type", "aggregation"),
    [("grpo", "loss_type"), ("dapo", "loss_type"), ("grpo", "weighted-token-mean"), ("dr_grpo", "weighted-token-mean")],
)
def test_loss_is_divided_by_the_accumulation_steps(
    loss_type, aggregation, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, make_batch, off_policy
):
    args = ResTGRPOConfig(
        **cpu_kwargs(gradient_accumulation_steps=2, loss_type=loss_type), rest_aggregation=aggregation
    )
    trainer = ResTGRPOTrainer(
        model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer
    )
    scripted(trainer, seed=2)
    inputs = trainer._generate_and_score_completions(make_batch(1, 4))
    off_policy(trainer, inputs)
    losses = {}
    for ga in (1, 2):
        trainer.current_gradient_accumulation_steps = ga
        losses[ga] = trainer._compute_loss(trainer.model, inputs).detach()
    assert float(losses[1].abs()) > 0
    assert_close(losses[2] * 2, losses[1], rtol=1e-6, atol=1e-8)


def test_registered_rest_aggregation_scales_the_weights(
    make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, make_batch, off_policy
):
    """A rest_aggregation added with register_rest_aggregation is accepted by the config (within its loss
    types) and its factor multiplies the token weights: a constant 2 doubles TRL's loss exactly."""

    @register_rest_aggregation("double", loss_types=("grpo",))
    def double(trainer, inputs, mask, weights):
        return torch.tensor(2.0, device=weights.device)

    try:
        assert "double" in REST_AGGREGATIONS and REST_AGGREGATIONS["double"].fn is double
        with pytest.raises(TypeError):
            REST_AGGREGATIONS["other"] = REST_AGGREGATIONS["double"]  # type: ignore[index]
        with pytest.raises(ValueError, match="rest_aggregation='double' needs a loss_type among"):
            ResTGRPOConfig(**cpu_kwargs(loss_type="dapo"), rest_aggregation="double")
        trainers = {
            agg: ResTGRPOTrainer(
                model=make_model(),
                args=ResTGRPOConfig(**cpu_kwargs(), rest_aggregation=agg),
                train_dataset=train_dataset,
                processing_class=tiny_tokenizer,
            )
            for agg in ("loss_type", "double")
        }
        for trainer in trainers.values():
            trainer.current_gradient_accumulation_steps = 1  # set by TRL's training loop
        base = trainers["loss_type"]
        scripted(base, seed=2)
        inputs = base._generate_and_score_completions(make_batch(1, 4))
        off_policy(base, inputs)
        plain = base._compute_loss(base.model, inputs).detach()
        doubled = trainers["double"]._compute_loss(trainers["double"].model, inputs).detach()
        assert float(plain.abs()) > 0
        assert_close(doubled, 2 * plain, rtol=1e-6, atol=1e-8)
    finally:
        unregister_rest_aggregation("double")
    assert "double" not in REST_AGGREGATIONS
    with pytest.raises(ValueError, match="rest_aggregation must be one of"):
        ResTGRPOConfig(**cpu_kwargs(), rest_aggregation="double")


def test_lora_adapter_trains_with_real_generation(make_model, tiny_tokenizer, train_dataset, cpu_kwargs):
    """The real transformers generation path (no script), with a PEFT LoRA adapter."""
    from peft import LoraConfig

    def varied(completions, **_):  # a random policy's outputs all score the ToolRL minimum: use a signal
        return [float(len(completion_text(c)) % 7) for c in completions]

    args = ResTGRPOConfig(**cpu_kwargs(max_steps=2, max_completion_length=12))
    trainer = ResTGRPOTrainer(
        model=make_model(sharp=False),  # near-uniform sampling: completions (and rewards) differ
        reward_funcs=[varied],
        args=args,
        train_dataset=train_dataset,
        processing_class=tiny_tokenizer,
        peft_config=LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
    )
    lora = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_B" in n}
    frozen = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if not p.requires_grad}
    assert lora and frozen
    trainer.train()
    params = dict(trainer.model.named_parameters())
    assert any(not torch.equal(params[n], v) for n, v in lora.items())
    assert all(torch.equal(params[n], v) for n, v in frozen.items())
    history = _history(trainer)
    assert len(history["rest/share/OTHER"]) == 2 and "rest/entropy/OTHER" in history


# ---- vLLM paths (fake backend: everything up to the vLLM engine) ---------------------------------


class FakeVLLMGeneration:
    """Replaces trl's VLLMGeneration: returns completions from a fixed pool, counts weight syncs."""

    pool: list[list[int]] = []
    instances: list[FakeVLLMGeneration] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.mode = kwargs["mode"]
        self.syncs = 0
        self.returned: list[list[int]] = []
        self.vllm_client = SimpleNamespace(
            get_server_info=lambda: {"model_config": {"logprobs_mode": "processed_logprobs"}}
        )
        FakeVLLMGeneration.instances.append(self)

    def sync_weights(self):
        self.syncs += 1

    def generate(self, prompts, images, num_generations, profiler=None):
        limit = self.kwargs["max_completion_length"]
        start = len(self.returned)
        ids = [list(self.pool[(start + i) % len(self.pool)])[:limit] for i in range(len(prompts))]
        self.returned.extend(ids)
        return prompts, ids, [[[-0.5] for _ in seq] for seq in ids], None


@pytest.mark.parametrize("mode", ["server", "colocate"])
def test_vllm_modes_label_regions_from_the_returned_ids(
    mode, monkeypatch, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted_pool
):
    import trl.trainer.grpo_trainer as grpo_module

    monkeypatch.setattr(FakeVLLMGeneration, "pool", scripted_pool)
    monkeypatch.setattr(FakeVLLMGeneration, "instances", [])
    monkeypatch.setattr(grpo_module, "VLLMGeneration", FakeVLLMGeneration)
    args = ResTGRPOConfig(
        **cpu_kwargs(max_steps=1),
        use_vllm=True,
        vllm_mode=mode,
        vllm_importance_sampling_correction=mode == "server",
    )
    trainer = RecordingTrainer(
        model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer
    )
    trainer.train()

    (backend,) = FakeVLLMGeneration.instances
    assert backend.mode == mode and backend.syncs >= 1
    (batch,) = trainer.seen
    assert Counter(_rows(batch["completion_ids"], batch["completion_mask"])) == Counter(map(tuple, backend.returned))
    assert torch.equal(batch["regions"], trainer.label_regions(batch["completion_ids"]))
    assert (batch["regions"] == Region.TOOL_NAME).any()


def test_only_the_loss_seam_is_overridden():
    """Generation, reward and batching stay TRL's (whichever backend produced the ids); besides the loss
    seam, only the checkpoint hooks (which add the closed-loop curriculum state to a checkpoint)."""
    overridden = {
        name for name, value in vars(ResTGRPOTrainer).items() if callable(value) and hasattr(GRPOTrainer, name)
    }
    assert overridden == {
        "__init__",
        "_generate_and_score_completions",
        "_get_per_token_logps_and_entropies",
        "_compute_loss",
        "_save_checkpoint",
        "_load_from_checkpoint",
    }


# ---- config, presets, parsing ---------------------------------------------------------------------


def test_config_mirrors_every_core_knob_with_help():
    config_fields = {f.name: f for f in dataclasses.fields(ResTGRPOConfig)}
    for f in dataclasses.fields(WeightConfig):
        mirror = config_fields[f"rest_{f.name}"]
        if f.name != "unnamed_region_weights":
            assert mirror.default == f.default, f.name
    for f in dataclasses.fields(RewardConfig):
        assert config_fields[f"reward_{f.name}"].default == f.default
    for name, f in config_fields.items():
        if name.startswith(("rest_", "reward_")) and name != "reward_weights":
            assert f.metadata.get("help"), name
    args = ResTGRPOConfig(output_dir="unused", bf16=False)
    assert args.loss_type == "grpo"
    assert args.to_weight_config() == WeightConfig()
    assert args.to_reward_config() == RewardConfig()


def test_ablation_presets(tmp_path):
    def fresh():
        return ResTGRPOConfig(output_dir=str(tmp_path), bf16=False)

    assert fresh().rest_scheme == "entropy"
    assert apply_ablation(fresh(), "no_curriculum").to_weight_config().curriculum is False
    assert apply_ablation(fresh(), "no_reasoning_gradient").to_weight_config().think_weight_zero is True
    assert apply_ablation(fresh(), "no_dynamic_reward").to_reward_config().schedule == "static"
    assert apply_ablation(fresh(), "uniform").rest_scheme == "uniform"
    dr = apply_ablation(fresh(), "dr_grpo")
    assert (dr.rest_scheme, dr.loss_type, dr.scale_rewards) == ("uniform", "dr_grpo", "none")
    official = apply_ablation(fresh(), "official")
    assert official.rest_scheme == "official" and official.rest_aggregation == "weighted-token-mean"
    assert official.rest_dual_clip == 3.0 and official.delta == 3.0 and official.beta == 0.0
    both = apply_ablation(apply_ablation(fresh(), "official"), "no_dynamic_reward")
    assert both.rest_scheme == "official" and both.reward_schedule == "static"
    assert set(ABLATIONS) == {
        "no_curriculum",
        "no_reasoning_gradient",
        "no_dynamic_reward",
        "uniform",
        "dr_grpo",
        "official",
        "closed_loop",
    }
    assert apply_ablation(fresh(), "closed_loop").to_weight_config().curriculum_driver == "structure_entropy"
    with pytest.raises(ValueError, match="unknown ablation"):
        apply_ablation(fresh(), "no_such_thing")


@pytest.mark.parametrize("preset", ["no_reasoning_gradient", "official", "dr_grpo"])
def test_presets_run_a_loss(preset, make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, make_batch):
    args = apply_ablation(ResTGRPOConfig(**cpu_kwargs()), preset)
    trainer = ResTGRPOTrainer(
        model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer
    )
    trainer.current_gradient_accumulation_steps = 1
    scripted(trainer, seed=3)
    inputs = trainer._generate_and_score_completions(make_batch(2, 4))
    loss = trainer._compute_loss(trainer.model, inputs)
    assert torch.isfinite(loss)
    metrics = trainer._metrics["train"]
    if preset == "no_reasoning_gradient":
        assert metrics["rest/share/THINK"][-1] > 0 and metrics["rest/weight/THINK"][-1] == 0.0
    if preset == "official":
        assert metrics["rest/weight/SCAFFOLD"][-1] == 0.0 and "rest/dual_clip_frac" in metrics


@pytest.mark.parametrize(
    "bad",
    [
        {"rest_scheme": "bogus"},
        {"rest_aggregation": "mean"},
        {"rest_dual_clip": 1.1},
        {"rest_dual_clip": 3.0, "delta": 2.0},
        {"rest_w_min": 3.0, "rest_w_max": 2.0},
        {"reward_schedule": "sometimes"},
        {"rest_unnamed_region_weights": {"THINK": 1.0}},
    ],
)
def test_invalid_settings_are_rejected(bad, tmp_path):
    with pytest.raises(ValueError):
        ResTGRPOConfig(output_dir=str(tmp_path), bf16=False, **bad)


def test_command_line_parsing(tmp_path):
    parser = HfArgumentParser(ResTGRPOConfig)
    (args,) = parser.parse_args_into_dataclasses(
        [
            "--output_dir", str(tmp_path),
            "--bf16", "false",
            "--rest_scheme", "official",
            "--rest_curriculum", "false",
            "--rest_alpha_think", "0.25",
            "--rest_dual_clip", "3",
            "--rest_unnamed_region_weights", '{"RESPONSE": 0.5, "SCAFFOLD": "entropy"}',
            "--reward_schedule", "static",
        ]
    )  # fmt: skip
    weights = args.to_weight_config()
    assert weights.scheme == "official" and weights.curriculum is False and weights.alpha_think == 0.25
    assert dict(weights.unnamed_region_weights)[Region.RESPONSE] == 0.5
    assert args.delta == 3.0 and args.to_reward_config().schedule == "static"
    compact = ResTGRPOConfig(
        output_dir=str(tmp_path), bf16=False, rest_unnamed_region_weights="OTHER=0, RESPONSE=entropy"
    )
    assert dict(compact.to_weight_config().unnamed_region_weights)[Region.OTHER] == 0.0
    assert dict(compact.to_weight_config().unnamed_region_weights)[Region.RESPONSE] == "entropy"


def test_trainer_requires_a_rest_config(make_model, tiny_tokenizer, train_dataset, tmp_path):
    with pytest.raises(TypeError, match="ResTGRPOConfig"):
        ResTGRPOTrainer(
            model=make_model(), args=GRPOConfig(output_dir=str(tmp_path), bf16=False), train_dataset=train_dataset
        )


# ---- two processes ---------------------------------------------------------------------------------

WORKER = textwrap.dedent("""
    import json, os, random, sys
    import torch
    from rest_rl.core.weights import region_entropy_stats
    from rest_rl.data import SyntheticConfig, corpus_texts, make_splits, to_trl_dataset
    from rest_rl.models import TinyModelConfig, build_bpe_tokenizer, build_tiny_model
    from rest_rl.integrations.trl import REGIONS_KEY, ResTGRPOConfig, ResTGRPOTrainer

    out_dir = sys.argv[1]
    world = SyntheticConfig(n_train=16, n_validation=0, n_test=0, seed=3)
    examples = make_splits(world)["train"]
    tok = build_bpe_tokenizer(corpus_texts(world, n=100))
    model = build_tiny_model(tok, TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1))
    with torch.no_grad():
        model.get_input_embeddings().weight.mul_(40.0)
    pool = [tok(ex.gold_text("toolrl"), add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for ex in examples]
    pool += [ids[: len(ids) // 2] for ids in pool]


    class Recording(ResTGRPOTrainer):
        records = []

        def _rest_reweight(self, inputs, logps, entropies):
            _, counts = region_entropy_stats(inputs[REGIONS_KEY], entropies.detach(), inputs["completion_mask"])
            super()._rest_reweight(inputs, logps, entropies)
            self.records.append({
                "local_counts": counts.tolist(),
                "region_weights": self.last_region_weights.tolist(),
                "region_entropy": [None if x != x else x for x in self.last_region_entropy.tolist()],
            })


    args = ResTGRPOConfig(
        output_dir=os.path.join(out_dir, "run"), use_cpu=True, bf16=False, gradient_checkpointing=False,
        learning_rate=1e-3, save_strategy="no", report_to=[], logging_steps=1, per_device_train_batch_size=4,
        num_generations=4, max_completion_length=96, max_steps=2, seed=0, disable_tqdm=True, rest_scheme="entropy",
    )
    trainer = Recording(model=model, args=args, train_dataset=to_trl_dataset(examples, style="compact"),
                        processing_class=tok)
    rank = trainer.accelerator.process_index
    rng = random.Random(100 + rank)  # the ranks roll out different completions
    trainer._generate_single_turn = lambda prompt_ids, *a, **k: ([list(rng.choice(pool)) for _ in prompt_ids], None)
    trainer.train()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"num_processes": trainer.accelerator.num_processes, "records": Recording.records}, f)
    # Leave together and close the gloo group cleanly: a rank exiting while the other still holds the group
    # can abort (SIGABRT) at interpreter shutdown.
    import torch.distributed as dist
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
    """)


def test_two_cpu_processes_share_all_reduced_region_weights(tmp_path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "out"
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HOME": str(tmp_path / "hf"), "TOKENIZERS_PARALLELISM": "false"}
    for key in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "ACCELERATE_USE_CPU"):
        env.pop(key, None)
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(script),
        str(out),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-5000:])

    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["num_processes"] for r in ranks] == [2, 2]
    rec0, rec1 = ranks[0]["records"], ranks[1]["records"]
    assert len(rec0) == len(rec1) == 2
    for a, b in zip(rec0, rec1):
        assert_close(torch.tensor(a["region_weights"]), torch.tensor(b["region_weights"]), rtol=0, atol=1e-12)
        assert a["region_entropy"] == b["region_entropy"]
    # The ranks saw different completions, so only the all-reduce can make their weights agree.
    assert any(a["local_counts"] != b["local_counts"] for a, b in zip(rec0, rec1))


def test_checkpoints_inside_a_rollout_batch_are_warned_about(tmp_path, caplog):
    """TRL regenerates the interrupted rollout batch on resume; save_steps should be a whole number of
    rollout batches when one rollout batch spans several optimizer steps."""
    common = dict(output_dir=str(tmp_path), use_cpu=True, bf16=False, save_strategy="steps", report_to=[],
                  per_device_train_batch_size=4, num_generations=4, gradient_accumulation_steps=2,
                  steps_per_generation=8)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="rest_rl.integrations.trl.grpo"):
        ResTGRPOConfig(**common, save_steps=3)  # 3 optimizer steps: not a multiple of 8 / 2 = 4
    assert any("not a multiple of the optimizer steps per rollout batch" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="rest_rl.integrations.trl.grpo"):
        ResTGRPOConfig(**common, save_steps=8)
        ResTGRPOConfig(**{**common, "steps_per_generation": 2}, save_steps=3)  # one rollout batch per step
    assert not any("rollout batch" in r.message for r in caplog.records)


# ---- closed-loop curriculum ------------------------------------------------------------------------


def test_closed_loop_progress_is_fed_by_finished_steps(make_model, tiny_tokenizer, train_dataset, cpu_kwargs):
    from rest_rl.core import NUM_REGIONS, ClosedLoopProgress

    args = ResTGRPOConfig(**cpu_kwargs(), rest_curriculum_driver="structure_entropy", rest_curriculum_ema=0.0)
    trainer = ResTGRPOTrainer(model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer)
    trainer.model.train()

    def stats(h: float) -> tuple[torch.Tensor, torch.Tensor]:
        sums, counts = torch.zeros(NUM_REGIONS), torch.zeros(NUM_REGIONS)
        sums[Region.TOOL_NAME], counts[Region.TOOL_NAME] = 10 * h, 10
        sums[Region.THINK], counts[Region.THINK] = 500.0, 10  # reasoning entropy does not drive it
        return sums, counts

    seen = []
    for step, h in [(0, 2.0), (0, 2.0), (1, 1.5), (1, 1.5), (2, 1.0), (3, 1.0)]:
        trainer.state.global_step = step
        seen.append(trainer._rest_progress(*stats(h)))
    reference = ClosedLoopProgress(ema=0.0)
    expected = [0.0, 0.0, reference.update(2.0), 0.0, reference.update(1.5), reference.update(1.0)]
    expected[3] = expected[2]
    assert seen == pytest.approx(expected)
    assert seen[-1] == pytest.approx(1.0)  # the structure entropy halved
    trainer.model.eval()
    assert trainer._rest_progress(*stats(0.1)) == seen[-1]  # evaluation does not feed it


def test_closed_loop_curriculum_state_survives_resume(make_model, tiny_tokenizer, train_dataset, cpu_kwargs, scripted, tmp_path):
    def run(out, steps, resume=None):
        args = ResTGRPOConfig(
            **cpu_kwargs(output_dir=out, max_steps=4, save_strategy="steps", save_steps=2),
            rest_curriculum_driver="structure_entropy", rest_curriculum_target_drop=0.02,
        )  # fmt: skip
        trainer = ResTGRPOTrainer(model=make_model(), args=args, train_dataset=train_dataset, processing_class=tiny_tokenizer)
        scripted(trainer)
        trainer.train(resume_from_checkpoint=resume)
        return [e["rest/progress"] for e in trainer.state.log_history if "loss" in e], trainer

    full, _ = run(tmp_path / "a", 4)
    assert full[0] == 0.0 and all(b >= a for a, b in zip(full, full[1:]))
    assert full[-1] > 0.0, full  # the structure entropy fell: a resume that lost the state would differ
    saved = json.loads((tmp_path / "a" / "checkpoint-2" / "rest_curriculum.json").read_text())
    assert saved["closed_loop"]["reference"] is not None and saved["pending"]["step"] == 1
    resumed, _ = run(tmp_path / "a", 4, resume=str(tmp_path / "a" / "checkpoint-2"))
    assert resumed[-2:] == pytest.approx(full[-2:])
