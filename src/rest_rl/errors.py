"""The errors a user can fix, and how every command prints them.

Every such error derives from :class:`UserError`; the commands catch that one class and print
:func:`one_line` of it (``rest-rl: error: ...``) with exit status 2, never a traceback. The concrete
classes live with the layer that raises them (``DataError`` in :mod:`rest_rl.data.io`, ``RunError`` and
``EngineError`` in :mod:`rest_rl.eval`, ...); the ones shared by several layers live here.

This module imports nothing but the standard library, so every layer may import it.
"""

from __future__ import annotations

__all__ = ["ConfigError", "ModelPathError", "UserError", "one_line"]


class UserError(Exception):
    """An error caused by the user's input (an argument, a file, a path); its message says what to fix."""


class ConfigError(UserError, ValueError):
    """A configuration problem the user can fix (unknown key, wrong type, bad value); one-line message."""


class ModelPathError(UserError, ValueError):
    """A model argument that is neither a model directory nor shaped like a hub id (``owner/name``)."""


def one_line(exc: BaseException, limit: int | None = None) -> str:
    """``exc``'s message with all white space folded to single spaces (its class name when it has none),
    cut to ``limit`` characters (plus ``...``) when one is given: for messages of third-party libraries."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if limit is None or len(text) <= limit else text[:limit] + "..."
