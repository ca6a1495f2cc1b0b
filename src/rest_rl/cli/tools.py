"""Small tools: ``rest-rl tiny-model`` (build the embedded tiny model directory) and ``rest-rl tag`` (show the
ResT region of every token of a completion)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rest_rl.cli.common import CliError
from rest_rl.config import build_dataclass, resolve_tree
from rest_rl.errors import one_line

__all__ = ["add_tag_parser", "add_tiny_model_parser"]


def _cmd_tiny_model(args: argparse.Namespace) -> int:
    from rest_rl.data.synthetic import SyntheticConfig
    from rest_rl.models.tiny import TinyModelConfig, make_embedded_model

    tree = resolve_tree({}, args.config, list(args.set or []))
    unknown = set(tree) - {"world", "model", "vocab_size"}
    if unknown:
        raise CliError(f"unknown section(s) {sorted(unknown)}; expected world, model, vocab_size")
    world = build_dataclass(SyntheticConfig, tree.get("world"), where="world")
    model = build_dataclass(TinyModelConfig, tree.get("model"), where="model")
    vocab = tree.get("vocab_size", 1024)
    if not isinstance(vocab, int) or isinstance(vocab, bool) or vocab < 300:
        raise CliError(f"vocab_size must be an integer >= 300, got {vocab!r}")
    out = make_embedded_model(args.out_dir, world, config=model, vocab_size=vocab)
    print(f"tiny model written to {out} (use it as --model {out})")
    return 0


def _cmd_tag(args: argparse.Namespace) -> int:
    from rest_rl.core.offsets import token_char_offsets
    from rest_rl.core.regions import Region, label_tokens

    if args.file is not None:
        path = Path(args.file)
        if not path.is_file():
            raise CliError(f"no such file: {path}")
        text = path.read_bytes().decode("utf-8", errors="replace")  # any bytes: invalid UTF-8 becomes U+FFFD
    elif args.text is not None:
        text = args.text
    else:
        text = sys.stdin.buffer.read().decode("utf-8", errors="replace")

    if args.tokenizer:
        try:
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
        except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id
            raise CliError(f"cannot load tokenizer {args.tokenizer!r}: {one_line(exc, 300)}") from None
    else:
        from rest_rl.models.tokenizer import build_bpe_tokenizer

        tokenizer = build_bpe_tokenizer()

    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    decoded, offsets = token_char_offsets(tokenizer, ids, skip_special_tokens=False)
    regions = label_tokens(decoded, offsets)
    counts: dict[str, int] = {}
    for (start, end), code in zip(offsets, regions):
        name = Region(int(code)).name
        counts[name] = counts.get(name, 0) + 1
        if not args.summary:
            print(f"{name:<10} {decoded[start:end]!r}")
    total = max(1, len(offsets))
    print(f"-- {len(offsets)} tokens: " + ", ".join(f"{k} {v} ({100 * v / total:.0f}%)" for k, v in sorted(counts.items())))
    return 0


def add_tiny_model_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``tiny-model`` to the ``rest-rl`` sub-parsers; returns its parser."""
    tiny = sub.add_parser(
        "tiny-model",
        help="build the embedded tiny model directory (tokenizer trained on the synthetic world + tiny Qwen3)",
        description="Train a byte-level BPE tokenizer on the synthetic tool world (tool tags as single added "
        "tokens), build a small Qwen3-architecture model and save both as a Hugging Face directory that every "
        "command accepts as --model.",
    )
    tiny.add_argument("--out-dir", required=True, metavar="DIR", help="where to write the model directory")
    tiny.add_argument("--config", metavar="YAML", help="sections world (SyntheticConfig), model (TinyModelConfig), vocab_size")
    tiny.add_argument("--set", action="append", metavar="KEY=VALUE", help="override, e.g. --set model.hidden_size=64")
    tiny.set_defaults(func=_cmd_tiny_model)
    return tiny


def add_tag_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``tag`` to the ``rest-rl`` sub-parsers; returns its parser."""
    tag = sub.add_parser(
        "tag",
        help="show the ResT region of every token of a completion",
        description="Label every token of a completion with its ResT region (FORMAT, THINK, TOOL_NAME, ARG_KEY, "
        "ARG_VALUE, RESPONSE, SCAFFOLD, OTHER). Reads --text, --file or standard input.",
    )
    tag.add_argument("--text", help="the completion text")
    tag.add_argument("--file", help="a file holding the completion text")
    tag.add_argument(
        "--tokenizer",
        help="a local tokenizer directory or hub id (default: a small BPE tokenizer trained locally)",
    )
    tag.add_argument("--summary", action="store_true", help="print only the per-region token counts")
    tag.set_defaults(func=_cmd_tag)
    return tag
