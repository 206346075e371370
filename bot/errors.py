"""Exceptions the bot layer raises on purpose, under the same root as the core's (``index.NewsbotError``)::

    NewsbotError                 (index/errors.py: ArticlesNotFound, IndexNotFound, IndexCorrupt, ...)
    └── BotError
        ├── ConfigError          settings missing or malformed; the message lists every problem, one per line
        ├── StateError           the bot's state (bot/state/) cannot be read or written (emptied, damaged, newer, ...)
        │   └── DiskFull         no space left on the disk holding DATA_DIR: nothing can be saved until some is freed
        ├── ReindexRunning       a reindex was asked for while another one runs
        ├── NotAFeed             a URL to follow answered with neither a feed nor a page naming one (.page)
        └── AlreadyFollowed      the feed to follow (or the one a page names) is followed already (.feed_id)

Messages say what is wrong, not which command fixes it: each edge (the command line, a chat) adds its own hint.
"""

from __future__ import annotations

from index.errors import NewsbotError

__all__ = ["AlreadyFollowed", "BotError", "ConfigError", "DiskFull", "NotAFeed", "ReindexRunning", "StateError"]


class BotError(NewsbotError):
    """Root of the errors the bot layer raises on purpose."""


class ConfigError(BotError):
    """One or more settings are missing or malformed; the message lists all of them, one per line."""


class StateError(BotError):
    """The bot's own state cannot be read or written (``bot.state``): a file that cannot be used as it is is left
    untouched, a write that failed changed nothing, and the message says what to do, in one line."""


class DiskFull(StateError):
    """No space is left on the disk holding DATA_DIR: the state cannot be written (what it holds is intact)."""


class ReindexRunning(BotError):
    """A reindex was requested while another one is running."""


class NotAFeed(BotError):
    """A URL to follow answered, but with neither a feed nor a web page that names one.

    ``page`` is True when it answered with a web page (its own article may be what was meant).
    """

    def __init__(self, message: str, *, page: bool) -> None:
        super().__init__(message)
        self.page = page


class AlreadyFollowed(BotError):
    """The feed to follow, or the feed a page names, is followed already (as feed ``feed_id``)."""

    def __init__(self, message: str, *, feed_id: int) -> None:
        super().__init__(message)
        self.feed_id = feed_id
