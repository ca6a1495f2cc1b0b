"""The seam to the official BFCL scorer, ``bfcl-eval==2025.7.17``: load it, check it, name what we call.

Everything this package takes from bfcl-eval goes through :func:`load_bfcl`, which

* points ``BFCL_PROJECT_ROOT`` where the caller says *before* the first import (importing
  ``bfcl_eval.constants.eval_config`` creates ``result/`` and ``score/`` under it; by default it would
  write next to site-packages). Without a root, a fresh temporary directory is used, unless the user
  set ``BFCL_PROJECT_ROOT`` already. Python imports a module once, so the first call in a process
  decides; :attr:`BfclApi.project_root` says which root bfcl-eval actually uses.
* refuses any other bfcl-eval version (later releases ship v4 data and changed entry points) and
  turns a failed import into :class:`BfclUnavailable`, whose message carries the install command.

Only checkers, data helpers and constants are used. bfcl-eval's multi-turn executor (``eval`` on
model text, simulator instances in module globals) is never called on model output: see
:mod:`rest_rl.eval.bfcl.multiturn`.
"""

from __future__ import annotations

import functools
import importlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

from rest_rl.errors import UserError

__all__ = [
    "BFCL_VERSION",
    "CHECKER_MODEL_NAME",
    "INSTALL_COMMAND",
    "BfclApi",
    "BfclUnavailable",
    "bfcl_available",
    "load_bfcl",
]

#: The only bfcl-eval release accepted: the last one that ships the BFCL v3 data.
BFCL_VERSION = "2025.7.17"

#: The tested install (run from the repository root); ``requirements/bfcl.txt`` explains each line.
INSTALL_COMMAND = (
    "pip install -c constraints/cpu.txt -r requirements/bfcl.txt && "
    f"pip install --no-deps bfcl-eval=={BFCL_VERSION}"
)

#: The model name handed to bfcl-eval's checkers. The AST checker reads only its
#: ``underscore_to_dot`` flag (whether ``math.factorial`` is expected as ``math_factorial``); this
#: entry, the leaderboard's local Qwen3 FC handler, has it off: function names are compared exactly
#: as the data writes them, dots included, which is what both our prompt styles ask the model for.
CHECKER_MODEL_NAME = "Qwen/Qwen3-8B-FC"


class BfclUnavailable(UserError, ImportError):
    """bfcl-eval is missing, is another version, or cannot be imported (the message says how to fix it)."""


@dataclass(frozen=True)
class BfclApi:
    """The parts of bfcl-eval this package calls (module objects and functions, unchanged)."""

    version: str
    project_root: Path
    prompt_path: Path
    possible_answer_path: Path
    test_file_mapping: dict[str, str]
    version_prefix: str
    # data helpers
    load_file: Callable[..., list[dict[str, Any]]]
    sort_key: Callable[[dict[str, Any]], Any]
    process_multi_turn_test_case: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    func_doc_language_specific_pre_processing: Callable[[list[dict[str, Any]], str], list[dict[str, Any]]]
    convert_to_function_call: Callable[[list[dict[str, Any]]], list[str]]
    # checkers
    ast_checker: Callable[..., dict[str, Any]]
    is_function_calling_format_output: Callable[[Any], bool]
    is_empty_output: Callable[[Any], bool]
    is_empty_execute_response: Callable[[list[Any]], bool]
    multi_turn_checker_module: ModuleType
    # multi-turn simulators
    class_file_path_mapping: dict[str, str]
    stateless_classes: tuple[str, ...]
    maximum_step_limit: int
    additional_function_prompt_fc: str
    # aggregation
    calculate_weighted_accuracy: Callable[..., dict[str, Any]]
    calculate_unweighted_accuracy: Callable[..., dict[str, Any]]
    get_category_score: Callable[[dict[str, Any], str], dict[str, Any]]
    model_config_mapping: dict[str, Any]

    def multi_turn_checker(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """bfcl-eval's ``multi_turn_checker`` (looked up at call time, so a patched executor is seen)."""
        return self.multi_turn_checker_module.multi_turn_checker(*args, **kwargs)


def _installed_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("bfcl-eval")
    except metadata.PackageNotFoundError:
        return None


def bfcl_available() -> bool:
    """Whether the right bfcl-eval release is installed (does not import it)."""
    return _installed_version() == BFCL_VERSION


def _set_project_root(project_root: str | os.PathLike[str] | None) -> None:
    if "bfcl_eval.constants.eval_config" in sys.modules:
        return  # already imported: its root is fixed for this process
    if project_root is not None:
        root = Path(project_root)
        root.mkdir(parents=True, exist_ok=True)
        os.environ["BFCL_PROJECT_ROOT"] = str(root.resolve())
    elif not os.environ.get("BFCL_PROJECT_ROOT"):
        os.environ["BFCL_PROJECT_ROOT"] = tempfile.mkdtemp(prefix="bfcl-root-")


def load_bfcl(project_root: str | os.PathLike[str] | None = None) -> BfclApi:
    """Import bfcl-eval (once per process) and return the functions this package uses.

    ``project_root`` becomes ``BFCL_PROJECT_ROOT`` when bfcl-eval is not imported yet (see the module
    docstring). Raises :class:`BfclUnavailable` with the install command when it cannot be used.
    """
    version = _installed_version()
    if version is None:
        raise BfclUnavailable(f"bfcl-eval is not installed; install it with: {INSTALL_COMMAND}")
    if version != BFCL_VERSION:
        raise BfclUnavailable(
            f"bfcl-eval {version} is installed, but BFCL v3 needs exactly bfcl-eval=={BFCL_VERSION} "
            f"(the last release with v3 data); install it with: {INSTALL_COMMAND}"
        )
    _set_project_root(project_root)
    return _import_api()


@functools.lru_cache(maxsize=1)
def _import_api() -> BfclApi:
    try:
        category_mapping = importlib.import_module("bfcl_eval.constants.category_mapping")
        eval_config = importlib.import_module("bfcl_eval.constants.eval_config")
        default_prompts = importlib.import_module("bfcl_eval.constants.default_prompts")
        utils = importlib.import_module("bfcl_eval.utils")
        ast_checker = importlib.import_module("bfcl_eval.eval_checker.ast_eval.ast_checker")
        mt_checker = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_checker")
        mt_utils = importlib.import_module("bfcl_eval.eval_checker.multi_turn_eval.multi_turn_utils")
        handler_utils = importlib.import_module("bfcl_eval.model_handler.utils")
        generation = importlib.import_module("bfcl_eval._llm_response_generation")
        helper = importlib.import_module("bfcl_eval.eval_checker.eval_runner_helper")
        model_config = importlib.import_module("bfcl_eval.constants.model_config")
    except ImportError as exc:
        missing = getattr(exc, "name", None) or str(exc)
        raise BfclUnavailable(
            f"bfcl-eval {BFCL_VERSION} is installed but cannot be imported (missing {missing!r}); "
            f"install what it imports with: {INSTALL_COMMAND}"
        ) from exc
    if CHECKER_MODEL_NAME not in model_config.MODEL_CONFIG_MAPPING:  # pragma: no cover - pinned version
        raise BfclUnavailable(f"bfcl-eval has no model config {CHECKER_MODEL_NAME!r}; wrong version?")
    return BfclApi(
        version=BFCL_VERSION,
        project_root=Path(eval_config.PROJECT_ROOT),
        prompt_path=Path(eval_config.PROMPT_PATH),
        possible_answer_path=Path(eval_config.POSSIBLE_ANSWER_PATH),
        test_file_mapping=dict(category_mapping.TEST_FILE_MAPPING),
        version_prefix=category_mapping.VERSION_PREFIX,
        load_file=utils.load_file,
        sort_key=utils.sort_key,
        process_multi_turn_test_case=generation.process_multi_turn_test_case,
        func_doc_language_specific_pre_processing=handler_utils.func_doc_language_specific_pre_processing,
        convert_to_function_call=handler_utils.convert_to_function_call,
        ast_checker=ast_checker.ast_checker,
        is_function_calling_format_output=utils.is_function_calling_format_output,
        is_empty_output=utils.is_empty_output,
        is_empty_execute_response=mt_utils.is_empty_execute_response,
        multi_turn_checker_module=mt_checker,
        class_file_path_mapping=dict(mt_utils.CLASS_FILE_PATH_MAPPING),
        stateless_classes=tuple(mt_utils.STATELESS_CLASSES),
        maximum_step_limit=int(default_prompts.MAXIMUM_STEP_LIMIT),
        additional_function_prompt_fc=default_prompts.DEFAULT_USER_PROMPT_FOR_ADDITIONAL_FUNCTION_FC,
        calculate_weighted_accuracy=helper.calculate_weighted_accuracy,
        calculate_unweighted_accuracy=helper.calculate_unweighted_accuracy,
        get_category_score=helper.get_category_score,
        model_config_mapping=model_config.MODEL_CONFIG_MAPPING,
    )
