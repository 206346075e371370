"""The store conformance suite (tests/state_suite.py), run against every implementation of ``bot.state.State``."""

from __future__ import annotations

from .state_suite import *  # noqa: F403
