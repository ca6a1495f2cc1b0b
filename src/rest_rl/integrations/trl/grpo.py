"""ResT on TRL: a thin subclass of ``trl.GRPOTrainer`` that reshapes token-level policy gradients.

Quick start (a tiny local model; any Hugging Face causal LM works the same way)::

    from rest_rl.integrations.trl import ResTGRPOConfig, ResTGRPOTrainer
    args = ResTGRPOConfig(output_dir="out", rest_scheme="entropy", max_steps=100,
                          num_generations=8, max_completion_length=256)
    trainer = ResTGRPOTrainer(model="Qwen/Qwen3-1.7B", args=args, train_dataset=dataset)
    trainer.train()          # reward: ToolRL (format + correctness), built from args.reward_*

``dataset`` is :func:`rest_rl.data.to_trl_dataset` output (columns ``prompt``, ``gold_calls``,
``gold_has_response``, ...). Ablations: :func:`apply_ablation` (``ABLATIONS`` lists them).

How TRL is hooked (three overrides, no copied TRL code, no extra forward pass)
------------------------------------------------------------------------------
1. ``_generate_and_score_completions`` (once per *generation* batch): after TRL has generated
   and scored the rollouts -- with transformers, vLLM server or colocate, a ``rollout_func`` or the
   tool loop alike -- every completion's regions are labelled from its token ids by
   :func:`~rest_rl.core.segments.label_segments` (:func:`~rest_rl.core.offsets.token_char_offsets`
   gives each id its exact character span in the decoded text,
   :func:`~rest_rl.core.regions.label_tokens` labels the text; nothing is re-tokenised) and stored
   as a ``[B, T]`` tensor under :data:`REGIONS_KEY` in the batch dict. A single-step completion is
   one segment: its ids before the trailing padding. In TRL's multi-turn tool loop
   (``tools=`` / ``environment_factory=``; or a ``rollout_func`` returning ``env_mask``) a
   completion interleaves model turns with tool results, marked by TRL's ``tool_mask`` (0 on the
   inserted tool-result suffix, next assistant header included); there every model-written run
   (``completion_mask * tool_mask``) -- one assistant turn -- is labelled on its own, so tool output
   holding ``<tool_call>``, ``</think>`` or JSON cannot shift the labels of a later turn. Tool-result
   tokens get ``Region.OTHER`` and, like in TRL's loss, count nowhere in ResT: not in the region
   entropies, the weight normalisation, the curriculum, the aggregation factors or the metrics
   (every ResT statistic uses the same ``completion_mask * tool_mask`` as TRL's loss).
   TRL's ``shuffle_sequence_dict`` / ``split_tensor_dict`` permute and slice every ``[B, ...]``
   tensor of that dict together, so the regions follow their completions into each of the
   ``steps_per_generation`` micro-batches (and across ``num_iterations`` reuses).
2. ``_get_per_token_logps_and_entropies``: passes through to TRL. When called from inside
   ``_compute_loss`` with ``compute_entropy=True`` (TRL's training forward), it takes the per-token
   entropies TRL just computed, reduces the per-region entropy sums/counts across processes
   (one all-reduce), builds the token weights with :func:`~rest_rl.core.weights.token_weights`
   and multiplies them into the advantages of that call's (shallow-copied) inputs.
3. ``_compute_loss``: hands TRL a shallow copy of the micro-batch (so buffered batches reused by
   ``num_iterations > 1`` are never modified), lets TRL compute its loss unchanged, and fails
   loudly if step 2 did not happen (the seam moved in a TRL upgrade).

Why weights can ride on the advantages. For a weight ``w >= 0`` and any ratio ``r`` and clip
range, ``w * -min(r*A, clip(r)*A) == -min(r*(w*A), clip(r)*(w*A))``; the same holds for TRL's
``delta`` cap, CISPO (linear in ``A``), SAPO and VESPO (they only look at the sign of ``A``, which
``w > 0`` keeps; a token with ``w = 0`` contributes 0 either way). So TRL's own loss with
per-token advantages ``A_i * w_t`` is the ResT-weighted loss, with every TRL feature left intact:
its aggregation (``loss_type``), gradient-accumulation and ``num_items_in_batch`` normalisers, vLLM
importance-sampling correction, off-policy mask, top-entropy mask and metrics. Not reweighted: the
KL penalty (``beta``) and the entropy bonus, which TRL adds after the policy term. TRL's
``clip_ratio/*`` metrics count a clipped token only where its weight is non-zero.

Aggregation (``rest_aggregation``). ``"loss_type"`` (default) keeps TRL's normaliser for
``loss_type`` (the paper's formula is ``loss_type="grpo"``, the default of
:class:`ResTGRPOConfig`). ``"weighted-token-mean"`` is the authors' ``sum(m*w*l) / (sum(m*w) +
1e-8)`` per micro-batch (divided by the gradient-accumulation steps, like TRL's per-micro-batch
modes); it is obtained by scaling each row's weights by ``D_i / ((sum(m*w) + 1e-8) * GA)``, where
``D_i`` is TRL's own denominator for that row under ``loss_type`` -- exact for every loss type.

Since TRL computes the loss itself, a trainer aggregation is not a reduction of per-token losses
(those are :data:`rest_rl.core.loss.AGGREGATIONS`, for hosts that compute the loss) but a factor
on the token weights that turns TRL's ``loss_type`` normaliser into the wanted one.
:data:`REST_AGGREGATIONS` is a read-only live view of an open registry; add one with
:func:`register_rest_aggregation`::

    @register_rest_aggregation("sum-over-batch", loss_types=("bnpo",))
    def sum_over_batch(trainer, inputs, mask, weights):
        return mask.sum().clamp(min=1.0)          # bnpo divides by sum(m): undo it

A registered function is called once per micro-batch as ``fn(trainer, inputs, mask, weights)``
(the trainer, the micro-batch dict, the ``[B, T]`` loss mask and the ``[B, T]`` normalised ResT
weights) and returns ``None`` (TRL's normaliser unchanged) or a detached tensor broadcastable to
``[B, T]`` that multiplies the weights. ``loss_types`` (``None`` = any) lists the TRL loss types it
supports; :class:`ResTGRPOConfig` rejects other combinations.

Dual clip (``rest_dual_clip = c``) is TRL's ``delta``: for ``A < 0``, ``max(min(r, c), clip(r))
* |A| == min(max(r, clip(r)), c) * |A|`` (verl's dual clip) and for ``A > 0`` the cap never binds
when ``c > 1 + epsilon_high``, which the config enforces.

Training progress ``nu = state.global_step / state.max_steps`` clamped into [0, 1]
(:func:`~rest_rl.integrations.trl.rewards.training_progress`, shared with the reward's dynamic schedule);
``step = state.global_step`` for the official ramp. Region entropies are those of the current
micro-batch under the current policy (detached), summed over all processes before the weights are
built, so every process uses the same region weights.

Metrics (in ``log_history``, TensorBoard, W&B; averaged over the logging interval), per region
name ``R`` of :class:`~rest_rl.core.regions.Region`: ``rest/share/R`` (share of valid tokens),
``rest/entropy/R`` (mean entropy), ``rest/weight/R`` (mean token weight after normalisation) --
the last two only for regions present in the micro-batch -- plus ``rest/progress``,
``rest/fallback_frac`` (share of completions whose weights were all zero and fell back to uniform),
``rest/clip_frac_weighted`` (share of the weight mass on clipped tokens) and, with a dual clip,
``rest/dual_clip_frac``. Under the tool loop also, per assistant turn ``k`` of an episode
(``turn1`` .. ``turn4``, later turns pooled in ``turn5+``; :data:`TURN_METRIC_BUCKETS`):
``rest/turn{k}/share/R``, ``rest/turn{k}/entropy/R`` and ``rest/turn{k}/weight/R`` (the same
statistics over that turn's model tokens; only for turns present in the micro-batch), and
``rest/turns_per_episode`` (mean number of model turns of the completions with a trained token). TRL
itself logs ``tools/call_frequency`` (tool calls per episode) and ``tools/failure_frequency`` (failed
calls per call); they are not repeated here.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from trl import GRPOConfig, GRPOTrainer

from rest_rl.core.loss import WEIGHTED_MEAN_EPS
from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.registry import Registry
from rest_rl.core.curriculum import ClosedLoopProgress, structure_entropy
from rest_rl.core.segments import label_segments
from rest_rl.core.weights import WeightConfig, region_entropy_stats, token_weights, weights_equal_mask
from rest_rl.rewards import RewardConfig

from .rewards import make_reward_funcs, training_progress

__all__ = [
    "ABLATIONS",
    "REGIONS_KEY",
    "REST_AGGREGATIONS",
    "TURN_METRIC_BUCKETS",
    "ResTAggregation",
    "ResTGRPOConfig",
    "ResTGRPOTrainer",
    "apply_ablation",
    "register_rest_aggregation",
    "unregister_rest_aggregation",
]

CURRICULUM_STATE_FILE = "rest_curriculum.json"
"""Closed-loop curriculum state saved in every checkpoint (``rest_curriculum_driver=structure_entropy``)."""

logger = logging.getLogger(__name__)

REGIONS_KEY = "rest_regions"
"""Key of the ``[B, T]`` region-code tensor in TRL's batch dict (codes of :class:`Region`)."""

TURN_METRIC_BUCKETS = 4
"""Per-turn metrics under the tool loop: turns ``1 .. TURN_METRIC_BUCKETS`` on their own, later turns pooled
(``rest/turn5+/...``), so the number of logged keys stays bounded."""

# TRL loss types whose per-row denominator is known (needed by the weighted-token-mean rescaling).
_KNOWN_LOSS_TYPES = ("grpo", "sapo", "bnpo", "dr_grpo", "dapo", "cispo", "vespo", "luspo")

ResTAggregationFn = Callable[[Any, dict[str, Any], torch.Tensor, torch.Tensor], torch.Tensor | None]
"""``fn(trainer, inputs, mask, weights) -> factor on the weights or None`` (module docstring)."""


@dataclass(frozen=True)
class ResTAggregation:
    """A registered ``rest_aggregation``: the weight-factor function and the loss types it supports.

    Attributes:
        name: the registered name (the value of ``ResTGRPOConfig.rest_aggregation``).
        fn: ``fn(trainer, inputs, mask, weights)`` -> ``None`` or a tensor broadcastable to ``[B, T]``.
        loss_types: TRL ``loss_type`` values it is exact for; ``None`` = all.
    """

    name: str
    fn: ResTAggregationFn
    loss_types: tuple[str, ...] | None = None

    def __call__(
        self, trainer: Any, inputs: dict[str, Any], mask: torch.Tensor, weights: torch.Tensor
    ) -> torch.Tensor | None:
        return self.fn(trainer, inputs, mask, weights)


_REST_AGGREGATIONS: Registry[ResTAggregation] = Registry("rest_aggregation")

REST_AGGREGATIONS: Mapping[str, ResTAggregation] = _REST_AGGREGATIONS.view
"""``rest_aggregation`` values (read-only live view of the registry): follow TRL's ``loss_type``, the ResT
authors' weighted token mean, or any name added with :func:`register_rest_aggregation`."""


def register_rest_aggregation(
    name: str, *, loss_types: tuple[str, ...] | None = None, override: bool = False
) -> Callable[[ResTAggregationFn], ResTAggregationFn]:
    """Decorator registering a ``rest_aggregation`` (a factor on the token weights; module docstring).

    Args:
        name: the value of ``ResTGRPOConfig.rest_aggregation`` that selects it.
        loss_types: the TRL loss types it supports (``None`` = all); others are rejected at config time.
        override: replace an existing registration instead of raising ``ValueError``.

    The decorated function is returned unchanged.
    """
    _REST_AGGREGATIONS.check_name(name)
    types = None if loss_types is None else tuple(loss_types)

    def decorator(fn: ResTAggregationFn) -> ResTAggregationFn:
        if not callable(fn):
            raise TypeError(f"rest_aggregation {name!r} must be callable, got {type(fn).__name__}")
        _REST_AGGREGATIONS.add(name, ResTAggregation(name, fn, types), override=override)
        return fn

    return decorator


def unregister_rest_aggregation(name: str) -> ResTAggregation:
    """Remove a registered (non-built-in) ``rest_aggregation`` and return it; ``ValueError`` otherwise."""
    return _REST_AGGREGATIONS.unregister(name)


@register_rest_aggregation("loss_type")
def _loss_type_aggregation(
    trainer: Any, inputs: dict[str, Any], mask: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor | None:
    """TRL's own normaliser for ``loss_type``: no factor."""
    return None


@register_rest_aggregation("weighted-token-mean", loss_types=_KNOWN_LOSS_TYPES)
def _weighted_token_mean_aggregation(
    trainer: Any, inputs: dict[str, Any], mask: torch.Tensor, weights: torch.Tensor
) -> torch.Tensor | None:
    """The ResT authors' ``sum(m*w*l) / (sum(m*w) + 1e-8)`` per micro-batch."""
    return trainer._weighted_mean_scale(inputs, mask, weights)


_REST_AGGREGATIONS.seal_builtins()


def _help(cls: type, name: str) -> str:
    """The help text of a core config field (``%`` escaped for argparse)."""
    return {f.name: f.metadata.get("help", "") for f in dataclasses.fields(cls)}[name].replace("%", "%%")


def _default(cls: type, name: str) -> Any:
    return {f.name: f.default for f in dataclasses.fields(cls)}[name]


def _wfield(name: str) -> Any:
    """A ``rest_<name>`` field mirroring :class:`WeightConfig` (same default, same help)."""
    return field(default=_default(WeightConfig, name), metadata={"help": f"[ResT weights] {_help(WeightConfig, name)}"})


def _rfield(name: str) -> Any:
    """A ``reward_<name>`` field mirroring :class:`RewardConfig` (same default, same help)."""
    return field(default=_default(RewardConfig, name), metadata={"help": f"[ResT reward] {_help(RewardConfig, name)}"})


def _parse_unnamed(spec: Any) -> Any:
    """``rest_unnamed_region_weights`` as WeightConfig accepts it; strings are JSON or ``R=v,R=v``."""
    if spec is None or isinstance(spec, dict):
        return spec
    if isinstance(spec, str):
        text = spec.strip()
        if not text:
            return None
        if text.startswith("{"):
            return json.loads(text)
        out: dict[str, Any] = {}
        for item in text.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"rest_unnamed_region_weights: expected REGION=value, got {item!r}")
            value = value.strip()
            try:
                out[key.strip()] = float(value)
            except ValueError:
                out[key.strip()] = value
        return out
    return spec


@dataclass
class ResTGRPOConfig(GRPOConfig):
    """``trl.GRPOConfig`` plus the ResT knobs: token weights (``rest_*``) and the reward (``reward_*``).

    Every ``rest_<x>`` field mirrors ``WeightConfig.<x>`` (:mod:`rest_rl.core.weights`) and every
    ``reward_<x>`` field mirrors ``RewardConfig.<x>`` (:mod:`rest_rl.rewards`): same default, same
    help; :meth:`to_weight_config` / :meth:`to_reward_config` build them. Three fields are ResT's
    own: ``rest_aggregation``, ``rest_dual_clip`` and ``rest_log_region_metrics``.

    One default differs from ``GRPOConfig``: ``loss_type="grpo"`` (per-sequence token mean, the
    paper's ``-(1/G) sum_i sum_t w_t/T_i ...``; TRL's default is ``"dapo"``). TRL's other defaults
    are kept, including those meant for GPU runs (``bf16=True``, ``gradient_checkpointing=True``,
    ``learning_rate=1e-6``, ``max_completion_length=512``): set them for a CPU or tiny-model run.
    """

    _VALID_DICT_FIELDS = GRPOConfig._VALID_DICT_FIELDS + ["rest_unnamed_region_weights"]

    loss_type: str = field(
        default="grpo",
        metadata={
            "help": "TRL loss formulation (see trl.GRPOConfig): 'grpo' (default here: the ResT paper's per-sequence "
            "token mean), 'dapo', 'dr_grpo', 'bnpo', 'cispo', 'sapo', 'luspo', 'vespo'. ResT weights apply to all."
        },
    )

    # ---- token weights: rest_<WeightConfig field> ----------------------------------------------
    rest_scheme: str = _wfield("scheme")
    rest_entropy_map: str = _wfield("entropy_map")
    rest_entropy_eps: float = _wfield("entropy_eps")
    rest_base_normalizer: str = _wfield("base_normalizer")
    rest_alpha_format: float = _wfield("alpha_format")
    rest_alpha_params: float = _wfield("alpha_params")
    rest_alpha_think: float = _wfield("alpha_think")
    rest_w_min: float = _wfield("w_min")
    rest_w_max: float = _wfield("w_max")
    rest_curriculum: bool = _wfield("curriculum")
    rest_curriculum_driver: str = _wfield("curriculum_driver")
    rest_curriculum_ema: float = _wfield("curriculum_ema")
    rest_curriculum_target_drop: float = _wfield("curriculum_target_drop")
    rest_think_weight_zero: bool = _wfield("think_weight_zero")
    rest_merge_parameters: bool = _wfield("merge_parameters")
    rest_unnamed_region_weights: dict | str | None = field(
        default=None,
        metadata={
            "help": "[ResT weights] Entropy scheme: weight rule of the regions the paper does not name "
            "(RESPONSE, SCAFFOLD, OTHER): a dict or JSON object, or 'REGION=rule,...', rule = 'entropy' or a "
            "constant >= 0. None = WeightConfig's default. " + _help(WeightConfig, "unnamed_region_weights")
        },
    )
    rest_official_format_weight: float = _wfield("official_format_weight")
    rest_official_tool_name_weight: float = _wfield("official_tool_name_weight")
    rest_official_args_start: float = _wfield("official_args_start")
    rest_official_args_slope: float = _wfield("official_args_slope")
    rest_official_args_max: float = _wfield("official_args_max")
    rest_official_think_start: float = _wfield("official_think_start")
    rest_official_think_slope: float = _wfield("official_think_slope")
    rest_official_think_max: float = _wfield("official_think_max")
    rest_official_other_weight: float = _wfield("official_other_weight")
    rest_official_zero_fallback: bool = _wfield("official_zero_fallback")
    rest_clamp_min: float = _wfield("clamp_min")
    rest_clamp_max: float = _wfield("clamp_max")
    rest_norm_eps: float = _wfield("norm_eps")

    # ---- loss -------------------------------------------------------------------------------
    rest_aggregation: str = field(
        default="loss_type",
        metadata={
            "help": "[ResT loss] How weighted per-token losses are reduced: 'loss_type' (TRL's normaliser for "
            "loss_type, with its gradient-accumulation and num_items_in_batch handling), 'weighted-token-mean' "
            "(the ResT authors' sum(m*w*l) / (sum(m*w) + 1e-8) per micro-batch, divided by the accumulation steps) "
            "or a name added with rest_rl.integrations.trl.grpo.register_rest_aggregation."
        },
    )
    rest_dual_clip: float | None = field(
        default=None,
        metadata={
            "help": "[ResT loss] Dual-clip constant c (verl; the ResT authors use 3): for negative advantages the "
            "loss is capped at c*|A|. Implemented as TRL's `delta` (identical when c > 1 + epsilon_high, which is "
            "required); setting both to different values is an error. None = off."
        },
    )
    rest_log_region_metrics: bool = field(
        default=True,
        metadata={
            "help": "[ResT] Log per-region token share, mean entropy and mean weight (rest/share/R, rest/entropy/R, "
            "rest/weight/R), progress, fallback and weighted clip fractions every step."
        },
    )

    # ---- reward: reward_<RewardConfig field> --------------------------------------------------
    reward_format_check: str = _rfield("format_check")
    reward_schedule: str = _rfield("schedule")
    reward_dynamic_horizon: float = _rfield("dynamic_horizon")
    reward_variant: str = _rfield("variant")
    reward_two_stage_switch: float = _rfield("two_stage_switch")
    reward_length_target_words: int = _rfield("length_target_words")
    reward_length_weight: float = _rfield("length_weight")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.validate_rest()
        self._warn_unaligned_checkpoints()

    def _warn_unaligned_checkpoints(self) -> None:
        """TRL does not checkpoint its buffer of generated rollouts: a run resumed from a checkpoint taken in
        the middle of a rollout batch generates a fresh one there, so the resumed run's rollouts differ from an
        uninterrupted run's (no optimizer step is lost or repeated). Warn when ``save_steps`` allows that."""
        strategy = getattr(self.save_strategy, "value", self.save_strategy)
        ga = int(self.gradient_accumulation_steps)
        every = int(self.steps_per_generation or ga) * int(self.num_iterations)
        save = self.save_steps
        if strategy != "steps" or every <= ga or not save or float(save) < 1 or float(save) != int(save):
            return
        if (int(save) * ga) % every:
            logger.warning(
                "save_steps=%s is not a multiple of the optimizer steps per rollout batch (%s = steps_per_generation"
                " x num_iterations / gradient_accumulation_steps): a run resumed from such a checkpoint regenerates "
                "the interrupted rollout batch (TRL does not checkpoint it). Use a multiple for exact resumption.",
                save,
                every / ga,
            )

    def validate_rest(self) -> None:
        """Check the ResT fields (and apply ``rest_dual_clip`` to ``delta``); raises ``ValueError``.

        Called by ``__post_init__``; call it again after changing fields by hand, as
        :func:`apply_ablation` does.
        """
        if not isinstance(self.rest_aggregation, str) or self.rest_aggregation not in REST_AGGREGATIONS:
            raise ValueError(
                f"rest_aggregation must be one of {tuple(REST_AGGREGATIONS)}, got {self.rest_aggregation!r}"
            )
        supported = REST_AGGREGATIONS[self.rest_aggregation].loss_types
        if supported is not None and self.loss_type not in supported:
            raise ValueError(
                f"rest_aggregation={self.rest_aggregation!r} needs a loss_type among {supported}, "
                f"got {self.loss_type!r}"
            )
        if self.rest_dual_clip is not None:
            c = float(self.rest_dual_clip)
            eps_high = self.epsilon_high if self.epsilon_high is not None else self.epsilon
            if not (math.isfinite(c) and c > 1.0 + eps_high):
                raise ValueError(f"rest_dual_clip must be a number > 1 + epsilon_high = {1.0 + eps_high}, got {c}")
            if self.delta is not None and float(self.delta) != c:
                raise ValueError(
                    f"rest_dual_clip={c} and delta={self.delta} disagree: the dual clip is implemented as TRL's delta"
                )
            self.delta = c
        self.to_weight_config()
        self.to_reward_config()

    def to_weight_config(self) -> WeightConfig:
        """The :class:`~rest_rl.core.weights.WeightConfig` of the ``rest_*`` fields (validated)."""
        values: dict[str, Any] = {}
        for f in dataclasses.fields(WeightConfig):
            value = getattr(self, f"rest_{f.name}")
            if f.name == "unnamed_region_weights":
                value = _parse_unnamed(value)
                if value is None:
                    continue
            values[f.name] = value
        return WeightConfig(**values)

    def to_reward_config(self) -> RewardConfig:
        """The :class:`~rest_rl.rewards.RewardConfig` of the ``reward_*`` fields (validated)."""
        return RewardConfig(**{f.name: getattr(self, f"reward_{f.name}") for f in dataclasses.fields(RewardConfig)})


ABLATIONS: dict[str, str] = {
    "no_curriculum": "Static entropy-informed weights: rest_curriculum=False (paper ablation 'w/o curriculum').",
    "no_reasoning_gradient": "THINK tokens weigh 0 in every scheme: rest_think_weight_zero=True "
    "(paper ablation 'w/o CoT gradient').",
    "no_dynamic_reward": "Static ToolRL reward scales (format {0, 1}, correctness [-3, 3]): reward_schedule='static' "
    "(paper ablation 'w/o dynamic reward').",
    "uniform": "Plain GRPO: rest_scheme='uniform' (every token weighs 1; loss_type and reward unchanged), "
    "bit-for-bit TRL's loss.",
    "dr_grpo": "The Dr.GRPO baseline: uniform weights, loss_type='dr_grpo' (constant max_completion_length "
    "normaliser), scale_rewards='none' (no std normalisation).",
    "official": "The authors' public code (bugs fixed): rest_scheme='official' (constant + step-ramp weights, "
    "no entropy), rest_aggregation='weighted-token-mean', rest_dual_clip=3 (delta=3), epsilon=0.2 both sides, "
    "beta=0, scale_rewards='group'.",
    "closed_loop": "Closed-loop curriculum: rest_curriculum_driver='structure_entropy' (progress from the decline "
    "of the structure regions' entropy instead of the step count; rest_rl.core.curriculum).",
}
"""Ablation presets of :func:`apply_ablation`: name -> what it changes."""


def apply_ablation(config: ResTGRPOConfig, name: str) -> ResTGRPOConfig:
    """Apply the ablation preset ``name`` (a key of :data:`ABLATIONS`) to ``config`` in place.

    Returns ``config`` (re-validated). Presets change only the fields listed in :data:`ABLATIONS`,
    so they compose (e.g. ``official`` then ``no_dynamic_reward``).
    """
    if name not in ABLATIONS:
        raise ValueError(f"unknown ablation {name!r}; expected one of {sorted(ABLATIONS)}")
    if name == "no_curriculum":
        config.rest_curriculum = False
    elif name == "no_reasoning_gradient":
        config.rest_think_weight_zero = True
    elif name == "no_dynamic_reward":
        config.reward_schedule = "static"
    elif name == "uniform":
        config.rest_scheme = "uniform"
    elif name == "dr_grpo":
        config.rest_scheme = "uniform"
        config.loss_type = "dr_grpo"
        config.scale_rewards = "none"
    elif name == "closed_loop":
        config.rest_curriculum_driver = "structure_entropy"
    elif name == "official":
        config.rest_scheme = "official"
        config.rest_aggregation = "weighted-token-mean"
        config.epsilon = 0.2
        config.epsilon_high = 0.2
        config.beta = 0.0
        config.scale_rewards = "group"
        config.delta = None
        config.rest_dual_clip = 3.0
    config.validate_rest()
    return config


def _model_token_mask(batch: Mapping[str, Any]) -> torch.Tensor | None:
    """TRL's loss mask ``completion_mask * tool_mask`` of a batch holding a ``tool_mask`` (multi-turn), else None."""
    tool_mask = batch.get("tool_mask")
    if tool_mask is None:
        return None
    return batch["completion_mask"] * tool_mask


def _turn_index(mask: torch.Tensor) -> torch.Tensor:
    """``[B, T]`` int64: 0-based index of the masked-in run (model turn) each token belongs to, -1 outside the mask."""
    valid = mask.bool()
    previous = torch.zeros_like(valid)
    previous[:, 1:] = valid[:, :-1]
    index = (valid & ~previous).to(torch.int64).cumsum(dim=-1) - 1
    return torch.where(valid, index, torch.full_like(index, -1))


def _turn_label(bucket: int) -> str:
    """Metric name part of a turn bucket (0-based): ``turn1`` .. ``turn4``, then ``turn5+``."""
    return f"turn{bucket + 1}" if bucket < TURN_METRIC_BUCKETS else f"turn{TURN_METRIC_BUCKETS + 1}+"


def _before_trailing_pad(ids: torch.Tensor, pad_token_id: int | None) -> torch.Tensor:
    """Bool mask ``[B, T]``: true before each row's run of trailing ``pad_token_id`` ids (all true without a pad id)."""
    if pad_token_id is None:
        return torch.ones_like(ids, dtype=torch.bool)
    is_pad = (ids == pad_token_id).to(torch.int64)
    trailing = is_pad.flip(-1).cumprod(dim=-1).flip(-1)
    return trailing == 0


@dataclass
class _LossCall:
    """State of one ``_compute_loss`` call, read by the entropy hook."""

    inputs: dict[str, Any]
    applied: bool = False


class ResTGRPOTrainer(GRPOTrainer):
    """``trl.GRPOTrainer`` with ResT token weights (see the module docstring for the mechanism).

    Args:
        model: as for ``GRPOTrainer`` (model id, ``PreTrainedModel`` or ``PeftModel``).
        reward_funcs: as for ``GRPOTrainer``; ``None`` (default) = the ToolRL reward of
            ``args.reward_*`` (:func:`~rest_rl.integrations.trl.rewards.make_reward_funcs`), scoring the
            completion text decoded from its ids with the trainer's tokenizer.
        args: a :class:`ResTGRPOConfig` (``None`` = defaults, output dir ``<model>-ResT``).
        **kwargs: every other ``GRPOTrainer`` argument, by keyword (``train_dataset``,
            ``processing_class``, ``peft_config``, ``callbacks``, ...).

    After each loss computation ``last_region_weights`` / ``last_region_entropy`` hold the
    per-region weights (before per-sequence normalisation) and mean entropies ([NUM_REGIONS],
    detached, on the training device; NaN entropy for absent regions) -- the same on every process.
    """

    _tag_names = [*GRPOTrainer._tag_names, "rest"]
    _name = "ResT-GRPO"

    def __init__(self, model: Any, reward_funcs: Any = None, args: ResTGRPOConfig | None = None, **kwargs: Any) -> None:
        if args is None:
            model_name = model if isinstance(model, str) else getattr(model.config, "_name_or_path", "model")
            args = ResTGRPOConfig(f"{str(model_name).rstrip('/').split('/')[-1] or 'model'}-ResT")
        if not isinstance(args, ResTGRPOConfig):
            raise TypeError(f"ResTGRPOTrainer needs a ResTGRPOConfig, got {type(args).__name__}")
        args.validate_rest()
        default_rewards = reward_funcs is None and kwargs.get("environment_factory") is None
        if default_rewards:
            reward_funcs = make_reward_funcs(args)
        super().__init__(model, reward_funcs, args, **kwargs)
        if default_rewards:
            for func in self.reward_funcs:
                func.tokenizer = self._tokenizer  # score exactly the text the regions are labelled on
        self.rest_weight_config: WeightConfig = args.to_weight_config()
        self.rest_aggregation: str = args.rest_aggregation
        self._rest_aggregation_impl: ResTAggregation = REST_AGGREGATIONS[args.rest_aggregation]
        self._rest_reweights = not (
            weights_equal_mask(self.rest_weight_config) and self._rest_aggregation_impl.fn is _loss_type_aggregation
        )
        self._rest_passthrough = not self._rest_reweights and not args.rest_log_region_metrics
        self._rest_call: _LossCall | None = None
        self._rest_warned_unlabelled = False
        # Closed-loop curriculum (rest_curriculum_driver="structure_entropy"): the structure regions' entropy
        # of each finished optimizer step feeds the progress used by the next ones (core.curriculum).
        cfg = self.rest_weight_config
        self.rest_closed_loop: ClosedLoopProgress | None = (
            ClosedLoopProgress(ema=cfg.curriculum_ema, target_drop=cfg.curriculum_target_drop)
            if cfg.curriculum_driver == "structure_entropy"
            else None
        )
        self._rest_step_stats: tuple[int, torch.Tensor, torch.Tensor] | None = None
        self.last_region_weights: torch.Tensor | None = None
        self.last_region_entropy: torch.Tensor | None = None

    # ---- 1. label regions once per generation batch --------------------------------------------

    def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        output = super()._generate_and_score_completions(inputs)
        output[REGIONS_KEY] = self.label_regions(output["completion_ids"], _model_token_mask(output))
        return output

    def label_regions(self, completion_ids: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Region codes ``[B, T]`` (int64, same device) of right-padded completion ids.

        Args:
            completion_ids: ``[B, T]`` completion ids, right-padded with the tokenizer's pad id.
            mask: ``[B, T]``, non-zero on the model-written tokens; each maximal run of it (one
                assistant turn) is labelled on its own. In TRL's tool loop this is
                ``completion_mask * tool_mask``. ``None`` (single-step): each row's ids before its
                trailing padding form one segment.

        Every segment is decoded once with the trainer's tokenizer (``skip_special_tokens=True``, as
        TRL decodes completions for the reward) and every id gets the region of its exact character
        span (:func:`~rest_rl.core.segments.label_segments`). Ids outside the segments (padding, tool
        results) and special tokens such as EOS are ``Region.OTHER``; they are masked out of the
        loss anyway.
        """
        if mask is None:
            mask = _before_trailing_pad(completion_ids, self._tokenizer.pad_token_id)
        return label_segments(self._tokenizer, completion_ids, mask, fill=Region.OTHER)

    # ---- 2./3. weights from TRL's own entropies, applied through the advantages ---------------

    def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> torch.Tensor:
        if self._rest_passthrough:
            return super()._compute_loss(model, inputs)
        call = _LossCall(inputs=dict(inputs))  # shallow copy: the buffered batch stays untouched
        self._rest_call = call
        try:
            loss = super()._compute_loss(model, call.inputs)
        finally:
            self._rest_call = None
        if not call.applied:
            raise RuntimeError(
                "ResTGRPOTrainer: TRL's _compute_loss did not call _get_per_token_logps_and_entropies with "
                "compute_entropy=True, so no ResT weights were applied. The TRL seam this trainer relies on has "
                "moved; check the installed TRL version (tested with trl 1.16)."
            )
        return loss

    def _get_per_token_logps_and_entropies(self, *args: Any, **kwargs: Any) -> Any:
        logps, entropies, *rest = super()._get_per_token_logps_and_entropies(*args, **kwargs)
        call = self._rest_call
        if call is not None and not call.applied and kwargs.get("compute_entropy") and entropies is not None:
            call.applied = True
            self._rest_reweight(call.inputs, logps, entropies)
        return (logps, entropies, *rest)

    def _rest_reweight(self, inputs: dict[str, Any], logps: torch.Tensor, entropies: torch.Tensor) -> None:
        """Build the token weights of this micro-batch and fold them into ``inputs["advantages"]``."""
        model_tokens = _model_token_mask(inputs)  # None without TRL's tool_mask (single-step)
        mask = inputs["completion_mask"] if model_tokens is None else model_tokens  # = TRL's loss mask
        regions = inputs.get(REGIONS_KEY)
        if regions is None:
            if not self._rest_warned_unlabelled:
                logger.warning("ResTGRPOTrainer: batch has no %r; labelling regions in the loss (slower)", REGIONS_KEY)
                self._rest_warned_unlabelled = True
            regions = self.label_regions(inputs["completion_ids"], model_tokens)
        regions = regions.to(mask.device)

        sums, counts = region_entropy_stats(regions, entropies.detach(), mask)
        if self.accelerator.num_processes > 1:
            stats = self.accelerator.reduce(torch.stack([sums, counts]), reduction="sum")
            sums, counts = stats[0], stats[1]
        progress = self._rest_progress(sums, counts)
        out = token_weights(
            regions,
            mask,
            self.rest_weight_config,
            progress=progress,
            step=int(self.state.global_step),
            region_stats=(sums, counts),
        )
        self.last_region_weights = out.region_weights.detach()
        self.last_region_entropy = out.region_entropy.detach()
        weights = out.weights.to(mask.device)

        advantages = inputs["advantages"]
        adv2d = advantages.unsqueeze(1) if advantages.dim() == 1 else advantages
        if self._rest_reweights:
            scaled = weights
            factor = self._rest_aggregation_impl(self, inputs, mask, weights)
            if factor is not None:
                scaled = weights * factor
            inputs["advantages"] = adv2d * scaled.to(adv2d.dtype)
        if self.args.rest_log_region_metrics:
            self._rest_log_metrics(
                inputs, mask, regions, sums, counts, weights, out.fallback_rows, logps, adv2d, progress, entropies
            )

    def _rest_progress(self, sums: torch.Tensor, counts: torch.Tensor) -> float:
        """The curriculum progress of this micro-batch: ``global_step / max_steps`` (driver ``steps``), or the
        closed-loop progress fed with the structure entropy of every *finished* optimizer step (driver
        ``structure_entropy``), so all micro-batches of one step share one value and resume is exact."""
        if self.rest_closed_loop is None:
            return training_progress(self.state)
        if not self.model.training:
            return self.rest_closed_loop.nu
        step = int(self.state.global_step)
        pending = self._rest_step_stats
        if pending is not None and pending[0] != step:
            self.rest_closed_loop.update(structure_entropy(pending[1], pending[2]))
            pending = None
        if pending is None:
            self._rest_step_stats = (step, sums.detach().double().cpu(), counts.detach().double().cpu())
        else:
            self._rest_step_stats = (step, pending[1] + sums.detach().double().cpu(), pending[2] + counts.detach().double().cpu())
        return self.rest_closed_loop.nu

    def _save_checkpoint(self, model: Any, trial: Any) -> None:
        super()._save_checkpoint(model, trial)
        if self.rest_closed_loop is not None and self.args.should_save:
            folder = os.path.join(self._get_output_dir(trial=trial), f"checkpoint-{self.state.global_step}")
            state = {"closed_loop": self.rest_closed_loop.state_dict(), "pending": None}
            if self._rest_step_stats is not None:
                step, sums, counts = self._rest_step_stats
                state["pending"] = {"step": step, "sums": sums.tolist(), "counts": counts.tolist()}
            with open(os.path.join(folder, CURRICULUM_STATE_FILE), "w", encoding="utf-8") as f:
                json.dump(state, f)

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model: Any = None) -> None:
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        path = os.path.join(resume_from_checkpoint, CURRICULUM_STATE_FILE)
        if self.rest_closed_loop is not None and os.path.isfile(path):
            with open(path, encoding="utf-8") as f:
                state = json.load(f)
            self.rest_closed_loop.load_state_dict(state.get("closed_loop") or {})
            pending = state.get("pending")
            self._rest_step_stats = None if not pending else (
                int(pending["step"]),
                torch.tensor(pending["sums"], dtype=torch.float64),
                torch.tensor(pending["counts"], dtype=torch.float64),
            )

    def _weighted_mean_scale(self, inputs: dict[str, Any], mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """Per-row factor turning TRL's ``loss_type`` normaliser into ``(sum(m*w) + 1e-8) * GA``."""
        training = self.model.training
        ga = (
            float(getattr(self, "current_gradient_accumulation_steps", self.args.gradient_accumulation_steps))
            if training
            else 1.0
        )
        m = mask.to(weights.dtype)
        rows = float(mask.size(0))
        lt = self.loss_type
        if lt in ("grpo", "sapo"):
            denom = rows * m.sum(-1, keepdim=True).clamp(min=1.0) * ga
        elif lt == "bnpo":
            denom = m.sum().clamp(min=1.0) * ga
        elif lt == "dr_grpo":
            denom = torch.tensor(rows * float(self.max_completion_length) * ga, device=m.device)
        elif lt in ("dapo", "cispo", "vespo"):
            denom = inputs["num_items_in_batch"].to(m.device, m.dtype).clamp(min=1.0) / self.accelerator.num_processes
            if training:
                denom = denom * ga / self.args.steps_per_generation
        elif lt == "luspo":
            denom = torch.tensor(rows * ga, device=m.device)
        else:  # validated at config time; kept for a loss type added by a TRL upgrade
            raise ValueError(f"rest_aggregation='weighted-token-mean' does not know loss_type {lt!r}")
        target = ((weights * m).sum() + WEIGHTED_MEAN_EPS) * ga
        return denom / target

    def _rest_log_metrics(
        self,
        inputs: dict[str, Any],
        mask: torch.Tensor,
        regions: torch.Tensor,
        sums: torch.Tensor,
        counts: torch.Tensor,
        weights: torch.Tensor,
        fallback_rows: torch.Tensor,
        logps: torch.Tensor,
        advantages: torch.Tensor,
        progress: float,
        entropies: torch.Tensor | None = None,
    ) -> None:
        """Append the per-step ResT metrics to TRL's ``self._metrics`` (one host sync).

        With TRL's ``tool_mask`` in ``inputs`` (multi-turn) and ``entropies`` given, the per-turn
        metrics too (module docstring).
        """
        valid = mask.bool()
        codes = regions.long()
        codes = torch.where((codes >= 0) & (codes < NUM_REGIONS), codes, torch.zeros_like(codes))
        w = torch.where(valid, weights, torch.zeros_like(weights)).to(torch.float64)
        wsum = torch.zeros(NUM_REGIONS, dtype=torch.float64, device=w.device).index_add_(
            0, codes.reshape(-1), w.reshape(-1)
        )

        # Clip fractions against the policy that generated the samples (ratio 1 when on-policy).
        old = inputs.get("old_per_token_logps")
        log_ratio = logps.detach() - (logps.detach() if old is None else old)
        if self.importance_sampling_level == "sequence":
            log_ratio = (log_ratio * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp(min=1.0)
        ratio = torch.exp(log_ratio)
        clipped = ((ratio < 1 - self.epsilon_low) & (advantages < 0)) | (
            (ratio > 1 + self.epsilon_high) & (advantages > 0)
        )
        clipped = clipped & valid
        delta = self.args.delta
        dual = ((ratio > delta) & (advantages < 0) & valid) if delta is not None else torch.zeros_like(valid)
        extra = torch.stack(
            [
                w.sum(),
                (w * clipped.to(w.dtype)).sum(),
                dual.sum().to(torch.float64),
                valid.sum().to(torch.float64),
                fallback_rows.to(torch.float64),
                torch.tensor(float(mask.size(0)), dtype=torch.float64, device=w.device),
            ]
        )
        parts = [wsum, extra.to(w.device)]
        per_turn = "tool_mask" in inputs and entropies is not None
        if per_turn:
            parts.append(self._rest_turn_stats(valid, codes, w, entropies))
        packed = torch.cat(parts)
        if self.accelerator.num_processes > 1:
            packed = self.accelerator.reduce(packed, reduction="sum")
        values = torch.cat([sums.to(packed), counts.to(packed), packed]).tolist()
        k = NUM_REGIONS
        h_sum, n, w_sum = values[:k], values[k : 2 * k], values[2 * k : 3 * k]
        w_total, clip_w, dual_n, n_valid, fallback, n_rows = values[3 * k : 3 * k + 6]
        turn_values = values[3 * k + 6 :]

        metrics = self._metrics["train" if self.model.training else "eval"]
        total = sum(n)
        for region in Region:
            r = int(region)
            metrics[f"rest/share/{region.name}"].append(n[r] / total if total > 0 else 0.0)
            if n[r] > 0:
                metrics[f"rest/entropy/{region.name}"].append(h_sum[r] / n[r])
                metrics[f"rest/weight/{region.name}"].append(w_sum[r] / n[r])
        metrics["rest/progress"].append(progress)
        metrics["rest/fallback_frac"].append(fallback / n_rows if n_rows > 0 else 0.0)
        metrics["rest/clip_frac_weighted"].append(clip_w / w_total if w_total > 0 else 0.0)
        if delta is not None:
            metrics["rest/dual_clip_frac"].append(dual_n / n_valid if n_valid > 0 else 0.0)
        if per_turn:
            self._rest_log_turn_metrics(metrics, turn_values)

    @staticmethod
    def _rest_turn_stats(
        valid: torch.Tensor, codes: torch.Tensor, weights: torch.Tensor, entropies: torch.Tensor
    ) -> torch.Tensor:
        """Per (turn bucket, region) token counts, entropy sums and weight sums, then turns and rows (float64).

        Layout: ``[counts | entropy sums | weight sums]`` of ``(TURN_METRIC_BUCKETS + 1) * NUM_REGIONS``
        each (bucket-major), then the total number of model turns and of rows with at least one.
        """
        turns = _turn_index(valid)
        buckets = TURN_METRIC_BUCKETS + 1
        size = buckets * NUM_REGIONS
        cell = (turns.clamp(min=0, max=TURN_METRIC_BUCKETS) * NUM_REGIONS + codes).reshape(-1)
        on = valid.reshape(-1).to(torch.float64)
        zero = torch.zeros((), dtype=torch.float64, device=valid.device)
        ent = torch.where(valid, entropies.detach().to(torch.float64), zero)
        stats = torch.zeros(3, size, dtype=torch.float64, device=valid.device)
        stats[0].index_add_(0, cell, on)
        stats[1].index_add_(0, cell, ent.reshape(-1))
        stats[2].index_add_(0, cell, weights.to(torch.float64).reshape(-1))  # already 0 outside the mask
        per_row = turns.max(dim=-1).values + 1  # 0 for a row without model tokens
        rows = torch.stack([per_row.sum(), (per_row > 0).sum()]).to(torch.float64)
        return torch.cat([stats.reshape(-1), rows])

    @staticmethod
    def _rest_log_turn_metrics(metrics: dict[str, list[float]], values: list[float]) -> None:
        """Append the per-turn metrics from the (all-reduced) values of :meth:`_rest_turn_stats`."""
        size = (TURN_METRIC_BUCKETS + 1) * NUM_REGIONS
        counts, h_sums, w_sums = values[:size], values[size : 2 * size], values[2 * size : 3 * size]
        n_turns, n_rows = values[3 * size :]
        for bucket in range(TURN_METRIC_BUCKETS + 1):
            base = bucket * NUM_REGIONS
            total = sum(counts[base : base + NUM_REGIONS])
            if total <= 0:
                continue
            prefix = f"rest/{_turn_label(bucket)}"
            for region in Region:
                c = counts[base + int(region)]
                metrics[f"{prefix}/share/{region.name}"].append(c / total)
                if c > 0:
                    metrics[f"{prefix}/entropy/{region.name}"].append(h_sums[base + int(region)] / c)
                    metrics[f"{prefix}/weight/{region.name}"].append(w_sums[base + int(region)] / c)
        if n_rows > 0:
            metrics["rest/turns_per_episode"].append(n_turns / n_rows)
