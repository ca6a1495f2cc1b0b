"""Stateful tool environments (reserved): multi-turn worlds whose tools a policy calls during a rollout.

This layer sits above :mod:`rest_rl.toolcall`, :mod:`rest_rl.rewards` and :mod:`rest_rl.data` and below the
engine integrations; see ``docs/architecture.md``.
"""
