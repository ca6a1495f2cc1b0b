"""Data: the :class:`ToolExample` record, loaders for the public sources, step splitting,
prompt building for trainers, source mixing, and a synthetic tool world.

    from rest_rl.data import load_toolrl_sft, to_trl_dataset
    result = load_toolrl_sft("../shared/data/toolrl/rlla_sft.json", skip_invalid=True)
    print(result.report.summary())
    dataset = to_trl_dataset(result.examples, style="toolrl")
"""

from rest_rl.data.dialogue import split_dialogue
from rest_rl.data.sources import load_hammer, load_toolace, load_toolrl_rl, load_toolrl_sft, load_xlam, mask_names
from rest_rl.data.io import DataError, LoadReport, LoadResult, SkippedRow
from rest_rl.data.mix import MixConfig, MixSource, build_mix, load_mix_config, mix_sources, train_test_split
from rest_rl.data.prompting import PROMPT_STYLES, to_prompt_messages, to_trl_dataset
from rest_rl.data.schema import ToolExample
from rest_rl.data.synthetic import SyntheticConfig, SyntheticWorld, corpus_texts, make_splits

__all__ = [
    "PROMPT_STYLES",
    "DataError",
    "LoadReport",
    "LoadResult",
    "MixConfig",
    "MixSource",
    "SkippedRow",
    "SyntheticConfig",
    "SyntheticWorld",
    "ToolExample",
    "build_mix",
    "corpus_texts",
    "load_hammer",
    "load_mix_config",
    "load_toolace",
    "load_toolrl_rl",
    "load_toolrl_sft",
    "load_xlam",
    "make_splits",
    "mask_names",
    "mix_sources",
    "split_dialogue",
    "to_prompt_messages",
    "to_trl_dataset",
    "train_test_split",
]
