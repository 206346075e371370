"""Exceptions the bot layer raises on purpose, under the same root as the core's (``index.NewsbotError``)::

    NewsbotError                 (index/errors.py: ArticlesNotFound, IndexNotFound, IndexCorrupt, ...)
    └── BotError
        ├── ConfigError          settings missing or malformed; the message lists every problem, one per line
        ├── StateError           the bot's state (bot/state/) cannot be read or written (emptied, damaged, newer, ...)
        │   └── DiskFull         no space left on the disk holding the state (DATA_DIR's, or the database server's)
        ├── ReindexRunning       a reindex was asked for while another one runs
        ├── NotAFeed             a URL to follow answered with neither a feed nor a page naming one (.page)
        ├── AlreadyFollowed      the feed to follow (or the one a page names) is followed already (.feed_id)
        └── FetchError           a URL could not be fetched (bot.fetcher; .url); one line fit to show an admin
            ├── UnsafeURL         not http(s), malformed, or a host with a private/loopback/... address
            ├── TooManyRedirects  more than max_redirects hops (loops included)
            ├── ResponseTooLarge  more than max_bytes
            ├── WrongContentType  media that cannot be a feed (feeds) or not HTML (pages)
            ├── HTTPStatusError   .status, .retry_after: an error status (4xx, 5xx, or 3xx without Location)
            ├── FetchTimeout      the total deadline passed
            ├── Unreachable       DNS failure, refused connection, TLS failure, broken response
            ├── RobotsDisallowed  robots.txt forbids the page
            └── RobotsUnavailable robots.txt answered a server error: try later

None of ours is named like one of Telegram's (``telegram.error``), so a bare ``NetworkError`` or ``TimedOut`` in a
handler is always Telegram's; httpx's errors are always written ``httpx.…``.

Messages say what is wrong, not which command fixes it: each edge (the command line, a chat) adds its own hint.
"""

from __future__ import annotations

import datetime as dt

from index.errors import NewsbotError

__all__ = [
    "AlreadyFollowed",
    "BotError",
    "ConfigError",
    "DiskFull",
    "FetchError",
    "FetchTimeout",
    "HTTPStatusError",
    "NotAFeed",
    "ReindexRunning",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "RobotsUnavailable",
    "StateError",
    "TooManyRedirects",
    "Unreachable",
    "UnsafeURL",
    "WrongContentType",
]


class BotError(NewsbotError):
    """Root of the errors the bot layer raises on purpose."""


class ConfigError(BotError):
    """One or more settings are missing or malformed; the message lists all of them, one per line."""


class StateError(BotError):
    """The bot's own state cannot be read or written (``bot.state``): a file that cannot be used as it is is left
    untouched, a write that failed changed nothing, and the message says what to do, in one line."""


class DiskFull(StateError):
    """No space is left on the disk holding the state (DATA_DIR's, or the PostgreSQL server's): the state cannot be
    written (what it holds is intact)."""


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


class FetchError(BotError):
    """A URL could not be fetched; ``str(error)`` is one line saying why, fit to show an admin."""

    def __init__(self, message: str, *, url: str) -> None:
        super().__init__(message)
        self.url = url


class UnsafeURL(FetchError):
    """The URL is not http(s), is malformed, or its host has an address the fetcher may not contact."""


class TooManyRedirects(FetchError):
    """The redirects went on past the limit (a loop, or a very long chain)."""


class ResponseTooLarge(FetchError):
    """The body is larger than ``max_bytes``."""


class WrongContentType(FetchError):
    """The response is not a feed (for a feed) or not an HTML page (for a page)."""


class HTTPStatusError(FetchError):
    """The server answered with an error status; ``retry_after`` is its Retry-After, when it sent one."""

    def __init__(self, message: str, *, url: str, status: int, retry_after: dt.timedelta | None) -> None:
        super().__init__(message, url=url)
        self.status = status
        self.retry_after = retry_after


class FetchTimeout(FetchError):
    """The whole fetch (redirects and body included) took longer than the deadline."""


class Unreachable(FetchError):
    """The host could not be resolved or reached, TLS failed, or the response was broken."""


class RobotsDisallowed(FetchError):
    """The site's robots.txt does not allow newsbot to fetch this page."""


class RobotsUnavailable(FetchError):
    """The site's robots.txt answered a server error (5xx, 429): the page was not fetched; try later."""
