"""rest-rl's verl plugin: imported by verl itself (entry point group ``verl.plugins``) in every process that
imports verl, when rest-rl is installed next to it.

It registers the ``rest_sync`` trainer (:mod:`rest_rl.integrations.verl.trainer`). The trainer needs verl's
v1 stack (TransferQueue); where that is not installed, nothing is registered and a debug line says why,
since verl loads plugins on ``import verl`` and a plugin must not break it.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

try:
    from rest_rl.integrations.verl import trainer as _trainer  # noqa: F401  (registers "rest_sync")
except ImportError as exc:  # verl without its v1 trainer dependencies
    logger.debug("rest_rl verl plugin: rest_sync trainer not registered: %s", exc)
