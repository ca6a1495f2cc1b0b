"""What a command needs to know about the model it trains or evaluates, and the checks made before any
weights are loaded: :class:`ModelSection` (the ``model`` section of a run file), :func:`check_model_path`
(a directory with ``config.json`` or a hub id) and :func:`load_tokenizer` (a one-line error, never a traceback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rest_rl.errors import ModelPathError, UserError, one_line

__all__ = ["ModelSection", "check_model_path", "is_hub_id", "load_tokenizer"]


_HUB_PART = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9_])?$")


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is shaped like a Hugging Face hub id (``owner/name`` of letters, digits, ``._-``) and
    does not look local: a name whose first part is an existing local directory (``runs/sft`` next to
    ``runs/``) is a local path that does not exist, not a hub id (no network round trips are spent on it)."""
    parts = name.split("/")
    if len(parts) != 2 or not all(_HUB_PART.match(p) and ".." not in p and "--" not in p for p in parts):
        return False
    return not Path(parts[0]).is_dir()


def check_model_path(name_or_path: str) -> None:
    """:class:`~rest_rl.errors.ModelPathError` unless ``name_or_path`` is a model directory (holding
    ``config.json``) or, when no such path exists, shaped like a hub id (``owner/name``)."""
    if not name_or_path:
        raise ModelPathError("no model: pass --model DIR_OR_HUB_ID or set model.name_or_path in the config")
    path = Path(name_or_path)
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            raise ModelPathError(f"not a model directory (no config.json): {path}")
        return
    if not is_hub_id(name_or_path):
        raise ModelPathError(f"no such model directory: {path}")


_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model", "spiece.model")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """The model's tokenizer (``AutoTokenizer``), or a one-line :class:`~rest_rl.errors.UserError`."""
    from transformers import AutoTokenizer

    local = Path(name_or_path)
    if local.is_dir() and not any((local / f).is_file() for f in _TOKENIZER_FILES):
        raise UserError(
            f"{name_or_path} has no tokenizer files ({', '.join(_TOKENIZER_FILES[:2])}, ...): save the tokenizer "
            "beside the weights (tokenizer.save_pretrained)"
        )
    try:
        return AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id (or the network)
        raise UserError(f"cannot load the tokenizer of {name_or_path!r}: {one_line(exc, 300)}") from None


@dataclass
class ModelSection:
    """The model a command trains or evaluates: a local Hugging Face directory or a hub id."""

    name_or_path: str = field(
        default="",
        metadata={
            "help": "Model directory or hub id (what --model sets), e.g. runs/demo/model or "
            "Qwen/Qwen3-4B-Instruct-2507. Its tokenizer and chat template are used too."
        },
    )
    dtype: str = field(
        default="float32",
        metadata={"help": "Weights dtype when loading: float32, bfloat16, float16 or auto (the checkpoint's)."},
    )
    attn_implementation: str | None = field(
        default=None, metadata={"help": "Attention kernel (sdpa, eager, flash_attention_2); None = Transformers' choice."}
    )
    trust_remote_code: bool = field(default=False, metadata={"help": "Allow model code from the hub (off by default)."})

    def __post_init__(self) -> None:
        if self.dtype not in ("float32", "bfloat16", "float16", "auto"):
            raise ValueError(f"model.dtype must be float32, bfloat16, float16 or auto, got {self.dtype!r}")

    def init_kwargs(self) -> dict[str, Any]:
        """``model_init_kwargs`` for trainers that load the model from the path (TRL's)."""
        kwargs: dict[str, Any] = {"dtype": self.dtype}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        return kwargs
