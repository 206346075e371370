"""Exceptions the bot layer raises on purpose, under the same root as the core's (``index.NewsbotError``)::

    NewsbotError                 (index/errors.py: ArticlesNotFound, IndexNotFound, IndexCorrupt, ...)
    └── BotError
        ├── ConfigError          settings missing or malformed; the message lists every problem, one per line
        ├── StateError           the bot's database cannot be used (emptied, damaged, newer, unwritable)
        │   └── DiskFull         no space left on the disk holding DATA_DIR: nothing can be saved until some is freed
        └── ReindexRunning       a reindex was asked for while another one runs

Messages say what is wrong, not which command fixes it: each edge (the command line, a chat) adds its own hint.
"""

from __future__ import annotations

from index.errors import NewsbotError

__all__ = ["BotError", "ConfigError", "DiskFull", "ReindexRunning", "StateError"]


class BotError(NewsbotError):
    """Root of the errors the bot layer raises on purpose."""


class ConfigError(BotError):
    """One or more settings are missing or malformed; the message lists all of them, one per line."""


class StateError(BotError):
    """The bot's own database cannot be used as it is; it is left untouched and the message says what to do."""


class DiskFull(StateError):
    """No space is left on the disk holding DATA_DIR: the database cannot be written (what it holds is intact)."""


class ReindexRunning(BotError):
    """A reindex was requested while another one is running."""
