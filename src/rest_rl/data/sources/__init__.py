"""Loaders for the public tool-use data sets, each returning :class:`~rest_rl.data.io.LoadResult`
(``ToolExample`` records plus a report of skipped rows): ToolRL (SFT json, RL parquet), ToolACE, xLAM, Hammer;
and the writer of ToolRL's RL parquet in verl's layout (``write_toolrl_rl``)."""

from rest_rl.data.sources.hammer import load_hammer, mask_names
from rest_rl.data.sources.toolace import load_toolace
from rest_rl.data.sources.toolrl import load_toolrl_rl, load_toolrl_sft, toolrl_rl_row, write_toolrl_rl
from rest_rl.data.sources.xlam import load_xlam

__all__ = ["load_hammer", "load_toolace", "load_toolrl_rl", "load_toolrl_sft", "load_xlam", "mask_names", "toolrl_rl_row", "write_toolrl_rl"]
