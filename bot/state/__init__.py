"""The bot's own state: briefing subscriptions and chat time zones, followed feeds with their polling state and
the items seen in them, followed topics with what each chat was sent. Shaped as the ``reader`` feed library
shapes its storage:

- ``schema``: the tables, their versions, and the ordered steps that migrate a database from one to the next;
- ``sqlite``: the SQLite file's lifecycle (checks before use, migrations, backups and their rotation, owner-only
  files, failures as ``StateError``/``DiskFull``) and its ``Engine``; ``SQLiteState`` holds the repositories;
- one repository per thing kept, in SQL that any engine runs (``sql``): ``subscriptions`` (and chat settings),
  ``feeds`` (and their items), ``follows`` (and the stories sent);
- ``protocols``: what the bot needs from a store, as ``typing.Protocol``: ``Subscriptions``, ``Feeds``,
  ``Follows`` and ``State`` over them; ``tests/state_suite.py`` checks any implementation against them;
- ``aio``: the async face the bot's event loop uses, ``await state.feeds.known_items(feed_id)``, every call on
  one thread of its own (``AsyncState``); the command line uses a store directly.

``open_state(settings)`` opens the state the settings name (today always ``DATA_DIR/newsbot.sqlite3``).

A second engine (PostgreSQL with psycopg 3, say) provides:

1. an ``Engine`` (``sql.Engine``): ``rows``, ``row``, ``execute``, ``execute_many`` and ``transaction``, taking the
   repositories' ``?`` placeholders (rewritten to its driver's style in that one place), aware datetimes as
   parameters, rows readable by column name, every failure raised as ``StateError`` (``DiskFull`` for no space),
   and ``row_order`` (a column of ``follow_queue`` that grows as rows are inserted, such as a ``bigserial``);
2. the schema's versions as its own DDL, the same tables, columns and keys as ``schema.MIGRATIONS`` (flags as
   ``boolean``, moments as ``timestamptz``), applied in order inside one transaction, and its version kept in
   the database;
3. a ``State``: the three repositories built over its engine (``SQLSubscriptions``, ``SQLFeeds``,
   ``SQLFollows``), ``schema_version``, ``backup`` (None when backups are made outside the bot) and ``close``;
4. a ``Maker`` in ``tests/state_suite.py`` (open the store, make one at an older version) and one entry in its
   ``MAKERS``: the conformance suite then runs against it (``tests/test_state.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.state.aio import AsyncState
from bot.state.feeds import Feed, PollRecord
from bot.state.follows import Follow
from bot.state.protocols import Feeds, Follows, State, Subscriptions
from bot.state.schema import MIGRATIONS, SCHEMA_VERSION
from bot.state.sqlite import BACKUPS_KEPT, SQLiteState
from bot.state.subscriptions import Subscription

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
    "SQLiteState",
    "State",
    "Subscription",
    "Subscriptions",
    "open_state",
]


def open_state(settings: Settings) -> SQLiteState:
    """The bot's state under DATA_DIR (``newsbot.sqlite3``).

    Raises:
        StateError: it cannot be used as it is (emptied, damaged, newer, unwritable); the message says what to do.
    """
    return SQLiteState(settings.data_dir / "newsbot.sqlite3", default_timezone=settings.default_timezone)
