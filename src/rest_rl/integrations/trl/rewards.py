"""TRL reward functions built on :mod:`rest_rl.rewards` (the ToolRL reward with ResT's schedule).

TRL calls every reward function as ``func(prompts=..., completions=..., completion_ids=...,
**columns, trainer_state=..., log_metric=..., log_extra=...)`` where ``columns`` are the dataset's
extra columns, one value per completion (see :func:`rest_rl.data.to_trl_dataset`: ``gold_calls`` is
a JSON string, ``gold_has_response`` a bool). Conversational completions arrive as
``[{"role": "assistant", "content": ...}]``; plain ones as strings. A reward function returns one
float per completion, or ``None`` for a completion it cannot score (TRL turns that into NaN and
gives it a zero advantage).

Usage::

    from rest_rl.integrations.trl import ResTGRPOConfig, make_reward_funcs
    args = ResTGRPOConfig(output_dir="out", reward_schedule="dynamic")
    reward_funcs = make_reward_funcs(args.to_reward_config())  # [ToolRLReward]
    # GRPOTrainer(..., reward_funcs=reward_funcs) -- ResTGRPOTrainer builds this list by itself
    # when reward_funcs is None, and then scores the exact decoded text its regions are built on.

**Progress.** The dynamic schedule needs the training progress ``nu`` in [0, 1]. By default it is
:func:`training_progress` of the ``trainer_state`` TRL passes to every reward call
(``global_step / max_steps``, clamped), the same definition :class:`~rest_rl.integrations.trl.grpo.ResTGRPOTrainer`
uses for its weight curriculum, so no state has to be shared between trainer and rewards. Pass
``progress_fn`` to define it otherwise (it receives the trainer state, possibly ``None``).

**Components.** One reward function returns the total (format + correctness [+ length]); the parts
are reported through TRL's ``log_metric`` hook as ``rewards/<name>/format``,
``rewards/<name>/correctness``, ``rewards/<name>/format_ok`` (rate), ``rewards/<name>/exact_match``
(rate over completions whose gold makes a call) and ``rewards/<name>/schedule_p``; with TRL's
``log_completions`` the per-completion parts also appear as ``format`` / ``correctness`` columns of
the completions table (via ``log_extra``). Scoring once and logging the parts costs less than three
reward functions with weights ``(1, 0, 0)``, which TRL would run, gather and normalise separately.

**Untrusted output.** A completion of any shape (``None``, a dict, a list of content parts, garbage
text) gets a finite reward; if scoring raises anyway, the completion gets the minimum of the active
total range. A malformed *gold* (a ``gold_calls`` value that is not a JSON list of calls) makes the
row unscorable: ``None``, with one warning per reward function.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rest_rl.data.schema import calls_from_json
from rest_rl.rewards import RewardConfig, reward_ranges, toolrl_reward
from rest_rl.toolcall.prompts import assistant_message_text

__all__ = ["ToolRLReward", "completion_text", "make_reward_funcs", "training_progress"]

logger = logging.getLogger(__name__)

ProgressFn = Callable[[Any], float]
"""Maps TRL's ``trainer_state`` (a ``transformers.TrainerState`` or ``None``) to progress in [0, 1]."""


def training_progress(state: Any) -> float:
    """Training progress ``nu = global_step / max_steps`` clamped into [0, 1]; 0 without a state.

    ``global_step`` counts completed optimiser steps, so during the micro-batches of step ``s``
    (gradient accumulation) ``nu = s / max_steps``: 0 for the first step and ``(N - 1) / N`` for
    the last one. ``max_steps`` is set by the ``Trainer`` when training starts (from
    ``num_train_epochs`` when ``max_steps`` is not given); before that, or in a bare evaluation, the
    progress is 0.
    """
    if state is None:
        return 0.0
    try:
        step = float(getattr(state, "global_step", 0) or 0)
        total = float(getattr(state, "max_steps", 0) or 0)
    except (TypeError, ValueError):
        return 0.0
    if not (total > 0 and math.isfinite(total) and math.isfinite(step)):
        return 0.0
    return min(max(step / total, 0.0), 1.0)


def completion_text(completion: Any) -> str:
    """The text of one TRL completion, whatever its shape; ``""`` when there is none.

    A string is returned as is. A conversational completion (a list of messages) gives the text of
    its assistant messages joined by newlines. A message's ``content`` may be a string or a list of
    content parts; if the tokenizer's response parser moved parts of the output into
    ``reasoning_content`` / ``tool_calls``, they are written back as ``<think>`` / ``<tool_call>``
    text so the ToolRL reward can see them (decoding ``completion_ids`` is exact; see
    :class:`ToolRLReward`).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return assistant_message_text(completion)
    if isinstance(completion, Sequence) and not isinstance(completion, (bytes, bytearray)):
        messages = [m for m in completion if isinstance(m, Mapping)]
        assistant = [m for m in messages if m.get("role", "assistant") == "assistant"] or messages
        return "\n".join(t for t in (assistant_message_text(m) for m in assistant) if t)
    return ""


def _has_tool_results(completion: Any) -> bool:
    """Whether a conversational completion holds messages other than the assistant's (TRL's tool loop)."""
    if isinstance(completion, (str, bytes, bytearray, Mapping)) or not isinstance(completion, Sequence):
        return False
    return any(isinstance(m, Mapping) and m.get("role", "assistant") != "assistant" for m in completion)


def _as_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "y"}
    try:
        return bool(value)
    except Exception:  # noqa: BLE001 - any odd value counts as False
        return False


def _column(kwargs: Mapping[str, Any], name: str, n: int) -> list[Any] | None:
    values = kwargs.get(name)
    if values is None:
        return None
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        values = [values] * n  # a scalar broadcast to every completion
    if len(values) != n:
        raise ValueError(f"reward column {name!r} has {len(values)} values for {n} completions")
    return list(values)


class ToolRLReward:
    """The ToolRL reward as a TRL reward function (a picklable callable with a ``__name__``).

    Args:
        config: how the reward is computed (:class:`~rest_rl.rewards.RewardConfig`).
        progress_fn: maps TRL's ``trainer_state`` to training progress in [0, 1] (default
            :func:`training_progress`).
        tokenizer: if given, each completion's text is ``tokenizer.decode(completion_ids,
            skip_special_tokens=True)`` -- exactly the text the trainer labels regions on, even
            when TRL parsed the completion into structured messages. Otherwise the text comes from
            ``completions`` (:func:`completion_text`). A completion of TRL's multi-turn tool loop
            (a message list holding tool results) is always read from its assistant messages: its
            ids also hold the tool output, which the model did not write.
        name: the name TRL logs the reward under (``rewards/<name>/mean``).
        log_components: report the reward's parts through ``log_metric`` / ``log_extra``.

    Columns read from the dataset: ``gold_calls`` (required: JSON ``[{"name", "arguments"}]``,
    ``"[]"`` for a gold without call) and ``gold_has_response`` (optional, default False).
    """

    def __init__(
        self,
        config: RewardConfig | None = None,
        *,
        progress_fn: ProgressFn | None = None,
        tokenizer: Any = None,
        name: str = "toolrl",
        log_components: bool = True,
    ) -> None:
        self.config = config or RewardConfig()
        self.progress_fn = progress_fn or training_progress
        self.tokenizer = tokenizer
        self.__name__ = name
        self.log_components = log_components
        self._warned_gold = False

    def __repr__(self) -> str:
        return f"ToolRLReward(name={self.__name__!r}, config={self.config!r})"

    def _texts(self, completions: Sequence[Any], completion_ids: Sequence[Any] | None) -> list[str]:
        if self.tokenizer is not None and completion_ids is not None and len(completion_ids) == len(completions):
            texts = []
            for ids, completion in zip(completion_ids, completions):
                if _has_tool_results(completion):
                    texts.append(completion_text(completion))
                    continue
                try:
                    text = self.tokenizer.decode(list(ids), skip_special_tokens=True)
                except Exception:  # noqa: BLE001 - fall back to what TRL decoded
                    text = None
                texts.append(text if isinstance(text, str) else completion_text(completion))
            return texts
        return [completion_text(c) for c in completions]

    def _gold(self, value: Any, row: int) -> list[Any] | None:
        try:
            return calls_from_json(value)
        except (ValueError, TypeError) as err:
            if not self._warned_gold:
                logger.warning(
                    "%s: row %d has an unusable gold_calls value (%s); it is left unscored", self.__name__, row, err
                )
                self._warned_gold = True
            return None

    def __call__(
        self,
        prompts: Sequence[Any] | None = None,
        completions: Sequence[Any] | None = None,
        completion_ids: Sequence[Any] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        """Score a batch of completions (TRL's reward-function protocol; see the module docstring)."""
        completions = list(completions or [])
        n = len(completions)
        golds = _column(kwargs, "gold_calls", n)
        if golds is None:
            raise ValueError(
                f"{self.__name__}: the dataset needs a 'gold_calls' column (JSON list of calls, '[]' for none); "
                "see rest_rl.data.to_trl_dataset"
            )
        has_response = _column(kwargs, "gold_has_response", n) or [False] * n
        progress = float(self.progress_fn(kwargs.get("trainer_state")))
        floor = reward_ranges(self.config, progress).total[0]

        rewards: list[float | None] = []
        parts: list[tuple[float, float, bool, bool | None]] = []
        for row, (text, gold_value, resp) in enumerate(
            zip(self._texts(completions, completion_ids), golds, has_response)
        ):
            gold = self._gold(gold_value, row)
            if gold is None:
                rewards.append(None)
                continue
            try:
                result = toolrl_reward(
                    text, gold, gold_has_response=_as_bool(resp), progress=progress, config=self.config
                )
                total = float(result.total)
                if not math.isfinite(total):
                    raise ValueError("non-finite reward")
            except Exception:  # noqa: BLE001 - untrusted output must never stop training
                logger.debug("%s: scoring failed for row %d; minimum reward", self.__name__, row, exc_info=True)
                rewards.append(floor)
                parts.append((floor, 0.0, False, False if gold else None))
                continue
            rewards.append(total)
            exact = (result.extra.get("match") == 1.0) if gold else None
            parts.append((float(result.format), float(result.correctness), bool(result.extra.get("format_ok")), exact))

        if self.log_components:
            self._log(kwargs, rewards, parts, progress)
        return rewards

    def _log(
        self,
        kwargs: Mapping[str, Any],
        rewards: list[float | None],
        parts: list[tuple[float, float, bool, bool | None]],
        progress: float,
    ) -> None:
        log_metric = kwargs.get("log_metric")
        log_extra = kwargs.get("log_extra")
        prefix = f"rewards/{self.__name__}"
        if callable(log_metric) and parts:
            log_metric(f"{prefix}/format", sum(p[0] for p in parts) / len(parts))
            log_metric(f"{prefix}/correctness", sum(p[1] for p in parts) / len(parts))
            log_metric(f"{prefix}/format_ok", sum(p[2] for p in parts) / len(parts))
            exact = [p[3] for p in parts if p[3] is not None]
            if exact:
                log_metric(f"{prefix}/exact_match", sum(exact) / len(exact))
            log_metric(f"{prefix}/schedule_p", min(max(progress / self.config.dynamic_horizon, 0.0), 1.0))
        if callable(log_extra):
            it = iter(parts)
            fmt, cor = [], []
            for r in rewards:
                p = next(it) if r is not None else None
                fmt.append(None if p is None else p[0])
                cor.append(None if p is None else p[1])
            log_extra("format", fmt)
            log_extra("correctness", cor)


def make_reward_funcs(
    reward_config: RewardConfig | Any | None = None,
    *,
    progress_fn: ProgressFn | None = None,
    tokenizer: Any = None,
    log_components: bool = True,
) -> list[Callable[..., list[float | None]]]:
    """TRL reward functions for ResT training: ``[ToolRLReward]`` (total reward; parts are logged).

    Args:
        reward_config: a :class:`~rest_rl.rewards.RewardConfig`, or any object with a
            ``to_reward_config()`` method (e.g. :class:`~rest_rl.integrations.trl.grpo.ResTGRPOConfig`);
            ``None`` for the defaults (relaxed format check, dynamic schedule).
        progress_fn: maps TRL's ``trainer_state`` to progress in [0, 1] (default:
            :func:`training_progress`, the trainer's own definition).
        tokenizer: decode ``completion_ids`` with it (exact text) instead of reading ``completions``.
        log_components: report format / correctness / rates as metrics.

    Returns a list, ready for ``GRPOTrainer(reward_funcs=...)``; TRL's ``reward_weights`` default
    (all ones) applies.
    """
    if reward_config is None:
        config = RewardConfig()
    elif isinstance(reward_config, RewardConfig):
        config = reward_config
    elif hasattr(reward_config, "to_reward_config"):
        config = reward_config.to_reward_config()
    else:
        raise TypeError(
            f"reward_config must be a RewardConfig or have to_reward_config(), got {type(reward_config).__name__}"
        )
    return [ToolRLReward(config, progress_fn=progress_fn, tokenizer=tokenizer, log_components=log_components)]
