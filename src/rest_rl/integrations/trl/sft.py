"""Supervised baselines on TRL's ``SFTTrainer``: SFT, TSFT and RSFT with the ResT region tagger.

The paper compares ResT with three supervised baselines (docs/method.md §8):

* **SFT** — plain next-token cross-entropy on the completion (the assistant step);
* **TSFT** — the same, with tool-name and parameter tokens (``TOOL_NAME``, ``ARG_KEY``,
  ``ARG_VALUE``) up-weighted;
* **RSFT** — the same, with reasoning tokens (``THINK``) up-weighted.

:class:`ResTSFTTrainer` subclasses :class:`trl.SFTTrainer` thinly. After TRL has tokenised the
dataset, every completion token is labelled with its :class:`~rest_rl.core.regions.Region` by the same
tagger the RL trainer uses (exact character offsets of the token ids, no re-tokenising), and the loss
becomes ``sum_t w_t * nll_t / N`` where ``N`` is TRL's token count. With ``rest_normalize_weights``
(default) the weights of each sequence are divided by their mean over its completion tokens, so only
the distribution of the gradient across tokens changes, not its scale (as ResT's weights do).

``rest_sft_mode="sft"`` gives weights of exactly 1: the loss, gradients and metrics equal TRL's own
``SFTTrainer`` (a parity test checks it), plus per-region metrics in the log history under the same
names the GRPO trainer uses: ``rest/entropy/<REGION>``, ``rest/weight/<REGION>``, ``rest/share/<REGION>``.

    from rest_rl.integrations.trl.sft import ResTSFTConfig, ResTSFTTrainer, sft_dataset
    args = ResTSFTConfig(output_dir="runs/tsft", rest_sft_mode="tsft", rest_upweight=2.0)
    trainer = ResTSFTTrainer(model="Qwen/Qwen3-4B-Instruct-2507", args=args,
                             train_dataset=sft_dataset(examples, style="toolrl"))
    trainer.train()
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from trl import SFTConfig, SFTTrainer

from rest_rl.core.regions import NUM_REGIONS, Region
from rest_rl.core.segments import label_segments

__all__ = [
    "REGION_COLUMN",
    "SFT_MODES",
    "RegionCollator",
    "ResTSFTConfig",
    "ResTSFTTrainer",
    "completion_regions",
    "sft_dataset",
    "sft_region_weights",
]

SFT_MODES: tuple[str, ...] = ("sft", "tsft", "rsft", "custom")
"""Supervised baselines: plain SFT, tool-token up-weighted, reasoning up-weighted, or a custom table."""

TOOL_REGIONS: tuple[Region, ...] = (Region.TOOL_NAME, Region.ARG_KEY, Region.ARG_VALUE)
"""Regions TSFT up-weights: the tool name and the parameters (keys and values)."""

REASONING_REGIONS: tuple[Region, ...] = (Region.THINK,)
"""Regions RSFT up-weights: the text inside ``<think> ... </think>``."""

REGION_COLUMN = "regions"
"""Dataset / batch column holding one region code per token (``-1`` outside the completion)."""

_NOT_COMPLETION = -1


@dataclass
class ResTSFTConfig(SFTConfig):
    """TRL's :class:`~trl.SFTConfig` plus the ``rest_*`` fields of the supervised baselines.

    Every TRL / Transformers field keeps its meaning and default (mind TRL's GPU-oriented defaults,
    e.g. ``bf16=True`` and ``gradient_checkpointing=True``: set them for a CPU run).
    """

    rest_sft_mode: str = field(
        default="sft",
        metadata={
            "help": "Supervised baseline: 'sft' (every completion token weighs 1, TRL's own loss), 'tsft' "
            "(tool-name and parameter tokens weigh rest_upweight), 'rsft' (reasoning tokens weigh rest_upweight) "
            "or 'custom' (weights from rest_region_weights)."
        },
    )
    rest_upweight: float = field(
        default=2.0,
        metadata={
            "help": "Weight of the up-weighted regions in tsft/rsft, relative to 1 for every other completion "
            "token (before per-sequence normalisation). The paper does not publish its factor; 2.0 is ours."
        },
    )
    rest_region_weights: dict[str, float] | None = field(
        default=None,
        metadata={
            "help": "For rest_sft_mode='custom': {REGION_NAME: weight} (OTHER, FORMAT, THINK, TOOL_NAME, ARG_KEY, "
            "ARG_VALUE, RESPONSE, SCAFFOLD); regions not named weigh 1."
        },
    )
    rest_normalize_weights: bool = field(
        default=True,
        metadata={
            "help": "Divide each sequence's token weights by their mean over its completion tokens, so the "
            "loss scale matches plain SFT and only the distribution across tokens changes."
        },
    )
    rest_region_metrics: bool = field(
        default=True,
        metadata={
            "help": "Label regions even in plain 'sft' mode and log rest/entropy|weight|share/<REGION> "
            "(costs one decode per example at dataset preparation; off with packing / padding_free)."
        },
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.rest_sft_mode not in SFT_MODES:
            raise ValueError(f"rest_sft_mode must be one of {SFT_MODES}, got {self.rest_sft_mode!r}")
        if not self.rest_upweight >= 0.0:
            raise ValueError(f"rest_upweight must be >= 0, got {self.rest_upweight}")
        # Validates names and values early (raises ValueError on a bad table).
        sft_region_weights(self.rest_sft_mode, self.rest_upweight, self.rest_region_weights)
        if self.rest_sft_mode != "sft" and (self.packing or self.padding_free):
            raise ValueError(
                f"rest_sft_mode={self.rest_sft_mode!r} needs one row per example: set packing=False and padding_free=False"
            )

    @property
    def needs_regions(self) -> bool:
        """Whether the trainer labels regions (weighted modes, or region metrics without packing)."""
        if self.rest_sft_mode != "sft":
            return True
        return self.rest_region_metrics and not (self.packing or self.padding_free)


def sft_region_weights(
    mode: str, upweight: float = 2.0, custom: Mapping[str, float] | None = None
) -> list[float]:
    """Per-region weight table (indexed by :class:`Region` code) of a supervised baseline.

    ``sft``: all 1. ``tsft``: ``upweight`` on TOOL_NAME / ARG_KEY / ARG_VALUE. ``rsft``: ``upweight`` on
    THINK. ``custom``: the named regions of ``custom`` (case-insensitive names), others 1.
    Raises ``ValueError`` on an unknown mode, region name or a negative / non-finite weight.
    """
    table = [1.0] * NUM_REGIONS
    if mode == "sft":
        return table
    if mode == "tsft":
        for r in TOOL_REGIONS:
            table[r] = float(upweight)
    elif mode == "rsft":
        for r in REASONING_REGIONS:
            table[r] = float(upweight)
    elif mode == "custom":
        for name, value in (custom or {}).items():
            try:
                region = Region[str(name).strip().upper()]
            except KeyError:
                raise ValueError(
                    f"unknown region {name!r} in rest_region_weights; expected one of {[r.name for r in Region]}"
                ) from None
            try:
                weight = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"rest_region_weights[{name!r}] must be a number, got {value!r}") from None
            if not (weight >= 0.0 and weight != float("inf")):
                raise ValueError(f"rest_region_weights[{name!r}] must be finite and >= 0, got {value!r}")
            table[region] = weight
    else:
        raise ValueError(f"unknown SFT mode {mode!r}; expected one of {SFT_MODES}")
    return table


def completion_regions(tokenizer: Any, input_ids: Sequence[int], labels: Sequence[int]) -> list[int]:
    """One region code per token of ``input_ids``: tokens whose label is ``-100`` (or that have no label)
    get ``-1``; every maximal run of trained tokens (a completion, or one assistant turn) is decoded and
    labelled on its own by :func:`~rest_rl.core.segments.label_segments` from its exact character offsets."""
    ids = [int(t) for t in (input_ids.tolist() if hasattr(input_ids, "tolist") else input_ids)]
    labs = labels.tolist() if hasattr(labels, "tolist") else list(labels)
    trained = [i < len(labs) and labs[i] != -100 for i in range(len(ids))]
    return label_segments(tokenizer, ids, trained, fill=_NOT_COMPLETION)


@dataclass
class RegionCollator:
    """Wraps TRL's collator: pads the ``regions`` column with ``-1`` to the batch's sequence length."""

    base: Any

    def __call__(self, examples: list[dict[str, Any]]) -> dict[str, Any]:
        regions = [ex.pop(REGION_COLUMN) for ex in examples] if REGION_COLUMN in examples[0] else None
        batch = self.base(examples)
        if regions is not None:
            width = batch["input_ids"].shape[1]
            codes = torch.full((len(regions), width), _NOT_COMPLETION, dtype=torch.long)
            for row, r in enumerate(regions):
                r = list(r)[:width]
                codes[row, : len(r)] = torch.tensor(r, dtype=torch.long)
            batch[REGION_COLUMN] = codes
        return batch


def sft_dataset(
    examples: Iterable[Any],
    *,
    style: str = "toolrl",
    gold_format: str | None = None,
    system_prompt: str | None = None,
    think_placeholder: bool = True,
) -> Any:
    """A prompt-completion ``datasets.Dataset`` for :class:`ResTSFTTrainer` from ToolExamples.

    ``prompt`` is the conversational prompt of :func:`~rest_rl.data.prompting.to_prompt_messages`,
    ``completion`` one assistant message holding the gold step (ToolRL format by default; Hermes for
    ``style="chat_template"``). With ``style="chat_template"`` the ``tools`` column is kept, so TRL
    renders each row's tools with the chat template; the other styles already list the tools in the
    prompt text, so the column is dropped (it would make a tools-aware template list them twice).
    Examples whose gold cannot be rendered (neither a call nor a response) are skipped.
    """
    from rest_rl.data.prompting import to_trl_dataset

    data = to_trl_dataset(
        examples,
        style=style,
        gold_format=gold_format,
        system_prompt=system_prompt,
        think_placeholder=think_placeholder,
    )
    data = data.filter(lambda row: bool(row["gold_text"]))
    if len(data) == 0:
        raise ValueError("no example has a gold answer to train on")
    data = data.map(lambda row: {"completion": [{"role": "assistant", "content": row["gold_text"]}]})
    keep = ["prompt", "completion", "id"] + (["tools"] if style == "chat_template" else [])
    return data.select_columns(keep)


class ResTSFTTrainer(SFTTrainer):
    """:class:`trl.SFTTrainer` with region-weighted token losses (SFT / TSFT / RSFT) and region metrics.

    Same constructor as ``SFTTrainer``; pass a :class:`ResTSFTConfig` as ``args`` (a plain ``SFTConfig``
    behaves as ``rest_sft_mode='sft'`` without region metrics, i.e. exactly like ``SFTTrainer``).
    """

    _tag_names = ["trl", "sft", "rest-rl"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.args
        self._rest_mode = getattr(cfg, "rest_sft_mode", "sft")
        table = sft_region_weights(
            self._rest_mode, getattr(cfg, "rest_upweight", 2.0), getattr(cfg, "rest_region_weights", None)
        )
        self._rest_table = torch.tensor(table, dtype=torch.float32)
        self._rest_normalize = bool(getattr(cfg, "rest_normalize_weights", True))
        if self._rest_mode != "sft":
            unsupported = [
                name
                for name, bad in (
                    ("compute_loss_func", self.compute_loss_func is not None),
                    ("label_smoothing_factor", self.label_smoother is not None),
                    ("MoE aux loss", self.aux_loss_enabled),
                )
                if bad
            ]
            if unsupported:
                raise ValueError(f"rest_sft_mode={self._rest_mode!r} cannot be combined with {', '.join(unsupported)}")
        if not isinstance(self.data_collator, RegionCollator):
            self.data_collator = RegionCollator(self.data_collator)

    # -- dataset preparation -------------------------------------------------------------------

    def _prepare_dataset(self, dataset, processing_class, args, packing, formatting_func, dataset_name):  # type: ignore[override]
        dataset = super()._prepare_dataset(dataset, processing_class, args, packing, formatting_func, dataset_name)
        if not getattr(args, "needs_regions", False) or packing or self.padding_free:
            return dataset
        tokenizer = getattr(processing_class, "tokenizer", processing_class)

        def add_regions(example: dict[str, Any]) -> dict[str, Any]:
            return {REGION_COLUMN: completion_regions(tokenizer, example["input_ids"], example["labels"])}

        kwargs: dict[str, Any] = {}
        if hasattr(dataset, "num_rows"):  # a map-style Dataset (IterableDataset has no desc)
            kwargs["desc"] = f"Labelling ResT regions of {dataset_name} dataset"
        return dataset.map(add_regions, **kwargs)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if self._signature_columns is not None and REGION_COLUMN not in self._signature_columns:
            self._signature_columns = [*self._signature_columns, REGION_COLUMN]

    # -- loss ----------------------------------------------------------------------------------

    def _own_loss_applies(self) -> bool:
        """Whether the plain fused-head path of ``SFTTrainer.compute_loss`` is the one TRL would take."""
        if self.compute_loss_func is not None or self.label_smoother is not None or self.aux_loss_enabled:
            return False
        pc = getattr(self.accelerator, "parallelism_config", None)
        return not (pc is not None and getattr(pc, "sp_enabled", False) and self.model.training)

    def token_weights(self, regions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, T] weights of the label positions: the region table, zero where ``mask`` is 0, and (with
        normalisation) divided per row by the row's mean over its masked-in tokens."""
        table = self._rest_table.to(mask.device)
        weights = table[regions.clamp(min=0, max=NUM_REGIONS - 1)] * mask
        if self._rest_normalize:
            count = mask.sum(dim=1, keepdim=True).clamp(min=1)
            mean = weights.sum(dim=1, keepdim=True) / count
            weights = torch.where(mean > 0, weights / mean.clamp(min=1e-12), mask.to(weights.dtype))
        return weights

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):  # type: ignore[override]
        regions = inputs.pop(REGION_COLUMN, None)
        if regions is None or return_outputs or not self._own_loss_applies():
            if regions is not None and self._rest_mode != "sft":
                raise ValueError(f"rest_sft_mode={self._rest_mode!r} is not supported in this configuration")
            return super().compute_loss(model, inputs, return_outputs=return_outputs, num_items_in_batch=num_items_in_batch)

        mode = "train" if self.model.training else "eval"
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        mask = outputs.label_mask
        shifted = regions[:, 1:].to(mask.device)
        weights = self.token_weights(shifted, mask.to(torch.float32)).to(outputs.log_probs.dtype)
        per_token_loss = -outputs.log_probs
        if self.args.loss_type == "dft":
            per_token_loss = per_token_loss * outputs.log_probs.exp().detach()
        if self._rest_mode != "sft":  # plain SFT keeps TRL's arithmetic bit for bit
            per_token_loss = per_token_loss * weights
        num_tokens = mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token_loss.sum() / torch.as_tensor(num_tokens).clamp(min=1)
        if self.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (self.accelerator.num_processes // self.get_tp_size())

        # TRL's metrics, computed the same way.
        num_valid = self.accelerator.gather_for_metrics(mask.sum()).sum()
        entropy_sum = self.accelerator.gather_for_metrics(outputs.entropy.detach().sum()).sum()
        num_correct = self.accelerator.gather_for_metrics(outputs.is_top1.sum()).sum()
        self._metrics[mode]["entropy"].append((entropy_sum / num_valid).item() if num_valid > 0 else 0.0)
        self._metrics[mode]["mean_token_accuracy"].append((num_correct / num_valid).item() if num_valid > 0 else 0.0)
        if mode == "train":
            n = self.accelerator.gather_for_metrics(inputs["attention_mask"].sum()).sum().item()
            self._total_train_tokens += n // self._tp_size
        self._metrics[mode]["num_tokens"] = [self._total_train_tokens]
        self._log_region_metrics(mode, shifted, outputs.entropy.detach(), mask, weights.detach())
        return loss

    def _log_region_metrics(
        self, mode: str, regions: torch.Tensor, entropy: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor
    ) -> None:
        valid = mask.bool()
        codes = regions.clamp(min=0, max=NUM_REGIONS - 1)[valid]
        stats = torch.zeros(3, NUM_REGIONS, dtype=torch.float64, device=entropy.device)
        stats[0].index_add_(0, codes, torch.ones_like(codes, dtype=torch.float64))
        stats[1].index_add_(0, codes, entropy[valid].to(torch.float64))
        stats[2].index_add_(0, codes, weights[valid].to(torch.float64))
        stats = self.accelerator.reduce(stats, reduction="sum") if self.accelerator.num_processes > 1 else stats
        counts, ent, wts = stats.tolist()
        total = sum(counts)
        if total <= 0:
            return
        for region in Region:
            n = counts[region]
            if n <= 0:
                continue
            self._metrics[mode][f"rest/share/{region.name}"].append(n / total)
            self._metrics[mode][f"rest/entropy/{region.name}"].append(ent[region] / n)
            self._metrics[mode][f"rest/weight/{region.name}"].append(wts[region] / n)
