"""The bot's own state: briefing subscriptions and chat time zones, followed feeds with their polling state and
the items seen in them, followed topics with what each chat was sent. Shaped as the ``reader`` feed library
shapes its storage:

- ``schema``: the tables, their versions, and the ordered steps that migrate a database from one to the next;
- ``sqlite``: the SQLite file's lifecycle (checks before use, migrations, backups and their rotation, owner-only
  files, failures as ``StateError``/``DiskFull``) and its ``Engine``; ``SQLiteState`` holds the repositories;
- ``postgres``: the second engine, a PostgreSQL database that several bot processes share (its connection and
  reconnection, the schema's versions as PostgreSQL DDL, migrations under an advisory lock, errors in one line
  without the password); ``PostgresState`` holds the same repositories;
- ``transfer``: ``copy_state`` moves a state from one store to another (``newsbot db copy``: SQLite into
  PostgreSQL) and ``counts`` counts each table's rows (``newsbot db check``);
- one repository per thing kept, in SQL that any engine runs (``sql``): ``subscriptions`` (and chat settings),
  ``feeds`` (and their items), ``follows`` (and the stories sent), ``turns`` (the conversation's last questions);
- ``protocols``: what the bot needs from a store, as ``typing.Protocol``: ``Subscriptions``, ``Feeds``,
  ``Follows`` and ``State`` over them; ``tests/state_suite.py`` checks any implementation against them;
- ``aio``: the async face the bot's event loop uses, ``await state.feeds.known_items(feed_id)``, every call on
  one thread of its own (``AsyncState``); the command line uses a store directly.

``open_state(settings)`` opens the state the settings name (``DATABASE_URL``: ``sqlite:///PATH``, by default
``DATA_DIR/newsbot.sqlite3``, or ``postgresql://…``); ``open_url(url)`` opens the one a URL names.

An engine (``sqlite``; ``postgres``, with psycopg 3) provides:

1. an ``Engine`` (``sql.Engine``): ``rows``, ``row``, ``execute``, ``execute_many`` and ``transaction``, taking the
   repositories' ``?`` placeholders (rewritten to its driver's style in that one place), aware datetimes as
   parameters, rows readable by column name, every failure raised as ``StateError`` (``DiskFull`` for no space),
   and ``row_order`` (a column of ``follow_queue`` that grows as rows are inserted, such as a ``bigserial``);
2. the schema's versions as its own DDL, the same tables, columns and keys as ``schema.MIGRATIONS`` (flags as
   ``boolean``, moments as ``timestamptz``), applied in order inside one transaction, and its version kept in
   the database;
3. a ``State``: the four repositories built over its engine (``SQLSubscriptions``, ``SQLFeeds``,
   ``SQLFollows``, ``SQLTurns``), ``schema_version``, ``backup`` (None when backups are made outside the bot) and
   ``close``;
4. a ``Maker`` in ``tests/state_suite.py`` (open the store, make one at an older version) and one entry in its
   ``MAKERS``: the conformance suite then runs against it (``tests/test_state.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.config import sqlite_path
from bot.state.aio import AsyncState
from bot.state.feeds import Feed, PollRecord
from bot.state.follows import Follow
from bot.state.postgres import PostgresState
from bot.state.protocols import Feeds, Follows, State, Subscriptions, Turns
from bot.state.schema import MIGRATIONS, SCHEMA_VERSION
from bot.state.sqlite import BACKUPS_KEPT, SQLiteState
from bot.state.subscriptions import Subscription
from bot.state.turns import Turn

if TYPE_CHECKING:
    from bot.config import Settings

__all__ = [
    "BACKUPS_KEPT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "AsyncState",
    "Feed",
    "Feeds",
    "Follow",
    "Follows",
    "PollRecord",
    "PostgresState",
    "SQLiteState",
    "State",
    "Subscription",
    "Subscriptions",
    "Turn",
    "Turns",
    "open_state",
    "open_url",
]


def open_url(url: str, *, default_timezone: str = "UTC") -> SQLiteState | PostgresState:
    """The state a URL names: ``sqlite:///PATH`` (a file; relative, or absolute with a fourth slash) or
    ``postgresql://…`` (``postgres://…``), already checked by ``bot.config``.

    Raises:
        StateError: it cannot be used as it is (emptied, damaged, newer, unwritable, unreachable, psycopg missing);
            one line that says what to do, without a password.
    """
    path = sqlite_path(url)
    if path is not None:
        return SQLiteState(path, default_timezone=default_timezone)
    return PostgresState(url, default_timezone=default_timezone)


def open_state(settings: Settings) -> SQLiteState | PostgresState:
    """The bot's state where the settings say (DATABASE_URL; by default ``DATA_DIR/newsbot.sqlite3``).

    Raises:
        StateError: it cannot be used as it is; the message says what to do.
    """
    return open_url(settings.state_url, default_timezone=settings.default_timezone)
