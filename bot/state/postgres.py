"""The state in a PostgreSQL database (``DATABASE_URL=postgresql://…``), shared by every bot process that names it:
its connection, the schema's versions as PostgreSQL DDL, migrations under an advisory lock, errors in one line.

**One connection per store.** The bot makes every state call from one thread (``AsyncState``), one statement or one
transaction at a time, and the command line from its only thread; a pool would hand that thread the same one
connection every time, so there is none (nor the ``psycopg_pool`` dependency). Several processes scale by having a
connection each: PostgreSQL serves them at once, with row locks where they meet. Statements outside
``transaction()`` commit on their own (autocommit); ``transaction()`` is BEGIN … COMMIT, and one inside another
joins it, as in the SQLite engine. The session keeps time in UTC, so moments come back as UTC datetimes.

**A connection lost.** Before a statement, an idle connection whose server has ended it (a restart, an
administrator's ``pg_terminate_backend``, an idle timeout) is noticed without a round trip, from the socket (the
server's last words are waiting on it), and replaced: the statement then runs on the new connection. A connection
that breaks *during* a statement is replaced once and the statement run again only when that cannot write twice (a
SELECT, a BEGIN); a write that was under way is not repeated (it may have been applied): it fails with one line and
the next call connects again. If connecting again fails, the call fails with one line. TCP keepalives end a
connection whose server went silent within about a minute, rather than a call hanging.

**Migrations.** ``MIGRATIONS`` holds the same versions as ``schema.MIGRATIONS`` (the same tables, columns and keys;
flags ``boolean``, moments ``timestamptz``, ids ``bigserial``, and ``follow_queue.row_order``, the insertion order
SQLite calls ``rowid``), and the version is kept in the ``schema_version`` table. Opening reads the version first,
writing nothing: a database written by a newer newsbot is refused untouched, one at the current version is used as
it is. An older one is migrated in one transaction, begun once the advisory lock (``MIGRATION_LOCK``) is held,
that reads the version again: processes that start together wait for the first, then find nothing left to do.
Nobody migrates twice, and a migration that fails leaves the database as it was.

**Errors.** Every failure is ``StateError`` in one line that names the database without its password
(``postgresql://newsbot@db:5432/newsbot``): connecting (refused, unknown host, wrong password, no such database, a
timeout), a lost connection, a server error; ``DiskFull`` for the server's ``disk_full`` (SQLSTATE 53100, "could not
extend file": PostgreSQL rolls the statement back, so what the database held is intact). A constraint violation
is not translated: the repositories' SQL never causes one on purpose, so one is a bug.

Backups are made outside the bot, with ``pg_dump`` (``PostgresState.backup`` returns None; the README says how).
psycopg 3 is an optional dependency (the ``postgres`` extra): without it, opening a PostgreSQL URL is one line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import select
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote

from bot.config import database_password, without_password
from bot.errors import DiskFull, StateError
from bot.state.repositories import Repositories
from bot.state.schema import SCHEMA_VERSION
from bot.state.sql import Engine, Transactions

try:
    import psycopg
    from psycopg import errors as pg_errors
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.rows import dict_row
except ImportError:  # the optional extra; SQLite never needs it
    psycopg = None

if TYPE_CHECKING:
    from psycopg import Connection, Cursor

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "PostgresEngine", "PostgresState", "migrate", "stored_version"]

log = logging.getLogger(__name__)

T = TypeVar("T")

MISSING_DRIVER = (
    "DATABASE_URL names a PostgreSQL database, but psycopg is not installed; install newsbot's postgres extra "
    "(pip install 'newsbot[postgres]', or '.[postgres]' in a checkout)"
)
MIGRATION_LOCK = 0x6E657773626F74  # "newsbot" in ASCII: the advisory lock key that migrations take
# Connection settings the URL may override: a connection that cannot be made in 10 s fails; keepalives end a
# connection whose server went silent (a machine lost, a network cut) in about a minute instead of hanging a call.
CONNECTION_DEFAULTS = {
    "connect_timeout": "10",
    "application_name": "newsbot",
    "keepalives": "1",
    "keepalives_idle": "30",
    "keepalives_interval": "10",
    "keepalives_count": "3",
}
DISK_FULL = "53100"  # SQLSTATE disk_full: "could not extend file …: No space left on device"

# Version 1: briefing subscriptions and each chat's time zone.
_V1 = """
CREATE TABLE schema_version (version integer NOT NULL);
INSERT INTO schema_version (version) VALUES (0);
CREATE TABLE chats (
    chat_id bigint PRIMARY KEY,
    timezone text NOT NULL
);
CREATE TABLE subscriptions (
    id bigserial PRIMARY KEY,
    chat_id bigint NOT NULL,
    time text NOT NULL,
    topic text,
    created_at timestamptz NOT NULL,
    last_sent_at timestamptz,
    enabled boolean NOT NULL DEFAULT TRUE,
    disabled_reason text
);
CREATE INDEX subscriptions_chat ON subscriptions (chat_id);
"""
# Version 2: followed feeds and the items seen in them; followed topics, what each chat was sent, and its queue.
_V2 = """
CREATE TABLE feeds (
    id bigserial PRIMARY KEY,
    url text NOT NULL UNIQUE,
    name text,
    title text,
    added_at timestamptz NOT NULL,
    paused boolean NOT NULL DEFAULT FALSE,
    etag text,
    last_modified text,
    failures integer NOT NULL DEFAULT 0,
    next_due timestamptz,
    disabled boolean NOT NULL DEFAULT FALSE,
    last_error text NOT NULL DEFAULT '',
    last_fetch timestamptz,
    last_new integer NOT NULL DEFAULT 0
);
CREATE TABLE feed_items (
    feed_id bigint NOT NULL,
    key text NOT NULL,
    digest text NOT NULL,
    article_id text,
    seen_at timestamptz NOT NULL,
    PRIMARY KEY (feed_id, key)
);
CREATE TABLE follows (
    id bigserial PRIMARY KEY,
    chat_id bigint NOT NULL,
    topic text NOT NULL,
    created_at timestamptz NOT NULL,
    UNIQUE (chat_id, topic)
);
CREATE TABLE follow_sent (
    chat_id bigint NOT NULL,
    article_id text NOT NULL,
    sent_at timestamptz NOT NULL,
    PRIMARY KEY (chat_id, article_id)
);
CREATE TABLE follow_queue (
    chat_id bigint NOT NULL,
    article_id text NOT NULL,
    follow_id bigint NOT NULL,
    queued_at timestamptz NOT NULL,
    row_order bigserial NOT NULL,       -- the order rows were queued in (SQLite's rowid)
    PRIMARY KEY (chat_id, article_id)
);
"""
# Version 3: the feed reader's memory (see schema.py).
_V3 = """
ALTER TABLE feed_items
    ADD COLUMN pending text,
    ADD COLUMN position integer NOT NULL DEFAULT 0,
    ADD COLUMN listed boolean NOT NULL DEFAULT TRUE,
    ADD COLUMN left_at timestamptz,
    ADD COLUMN fetched_at timestamptz,
    ADD COLUMN changes integer NOT NULL DEFAULT 0;
UPDATE feed_items SET fetched_at = seen_at;
CREATE INDEX feed_items_waiting ON feed_items (feed_id, seen_at) WHERE pending IS NOT NULL;
ALTER TABLE feeds
    ADD COLUMN waiting integer NOT NULL DEFAULT 0,
    ADD COLUMN last_headlines integer NOT NULL DEFAULT 0,
    ADD COLUMN last_skipped integer NOT NULL DEFAULT 0,
    ADD COLUMN last_note text NOT NULL DEFAULT '';
"""
# Version 4: what several processes agree on (see schema.py).
_V4 = """
CREATE TABLE buttons (
    key text PRIMARY KEY,
    chat_id bigint NOT NULL,
    question text NOT NULL,
    subject text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL
);
CREATE INDEX buttons_created ON buttons (created_at);
CREATE TABLE rate_limits (
    scope text NOT NULL,
    user_id bigint NOT NULL,
    asked text NOT NULL DEFAULT '',
    warned_at double precision,
    last_at double precision NOT NULL,
    PRIMARY KEY (scope, user_id)
);
CREATE TABLE leases (
    job text PRIMARY KEY,
    holder text NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE TABLE claims (
    key text PRIMARY KEY,
    holder text NOT NULL,
    claimed_at timestamptz NOT NULL
);
CREATE INDEX claims_claimed ON claims (claimed_at);
CREATE TABLE processes (
    id text PRIMARY KEY,
    hostname text NOT NULL,
    backend text NOT NULL,
    writer boolean NOT NULL DEFAULT FALSE,
    started_at timestamptz NOT NULL,
    seen_at timestamptz NOT NULL
);
"""
# Version 5: the conversation's last turns (see schema.py).
_V5 = """
CREATE TABLE turns (
    chat_id bigint NOT NULL,
    message_id bigint NOT NULL,
    user_id bigint NOT NULL,
    question text NOT NULL,
    subject text NOT NULL,
    asked_at timestamptz NOT NULL,
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX turns_user ON turns (chat_id, user_id, asked_at);
CREATE INDEX turns_asked ON turns (asked_at);
"""
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _V5))


@functools.lru_cache(maxsize=512)
def _placeholders(sql: str) -> str:
    """The repositories' ``?`` as psycopg's ``%s`` (and a literal ``%`` doubled, as psycopg then wants it)."""
    return sql.replace("%", "%%").replace("?", "%s")


def _value(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        # PostgreSQL would read it in the session's zone: a guess the store does not make.
        raise ValueError(f"a moment without a time zone: {value}")
    return value


def _values(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_value(v) for v in params)


def _harmless(sql: str) -> bool:
    """Whether running ``sql`` again cannot change what the database holds (a read, or the start of a transaction)."""
    return sql.lstrip().upper().startswith(("SELECT", "BEGIN"))


def _first_line(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    text = (diag.message_primary if diag is not None else None) or str(exc) or type(exc).__name__
    return text.strip().splitlines()[0].strip()


def _connect_reason(exc: Exception) -> str:
    """libpq's account of a failed connection as one line, with a hint where one helps."""
    text = str(exc).strip()
    for prefix in ("connection failed:",):
        text = text.removeprefix(prefix).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    # 'connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for …'
    if line.startswith("connection to server") and " failed: " in line:
        line = line.split(" failed: ", 1)[1]
    line = line.removeprefix("FATAL:").strip()
    lowered = line.lower()
    if "password authentication failed" in lowered or "no password supplied" in lowered:
        return f"{line}; check the user and password in DATABASE_URL"
    if "does not exist" in lowered:
        return f"{line}; create it, or correct DATABASE_URL"
    if "connection refused" in lowered:
        return f"{line}; is PostgreSQL running there, listening on that port?"
    if "timeout expired" in lowered:
        return f"no answer in time ({line}); is the host reachable?"
    return line


class PostgresEngine(Transactions):
    """The ``Engine`` over one psycopg connection: rows as dicts, failures as ``StateError`` (see the module).

    Args:
        url: the database (``postgresql://…``, any parameter libpq takes).

    Raises:
        StateError: it cannot be connected to; one line naming the database without its password.
    """

    row_order = "row_order"

    def __init__(self, url: str) -> None:
        if psycopg is None:
            raise StateError(MISSING_DRIVER)
        self.url = url
        self.shown = without_password(url)  # what messages and logs name
        password = database_password(url)
        self._secrets = {s for s in (password, unquote(password) if password else None) if s}
        self._lock = threading.RLock()  # held for a statement, or for a whole transaction
        self._depth = 0  # transactions entered and not left (inner ones join the outermost)
        self._closed = False
        self.statements = 0  # round trips to the server (a batch of execute_many counts one): /metrics shows them
        self.connection: Connection[dict[str, Any]] = self._connect()

    def _hide(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[password]")
        return text

    def _connect(self) -> Connection[dict[str, Any]]:
        try:
            params = {**CONNECTION_DEFAULTS, **conninfo_to_dict(self.url)}
            connection = psycopg.connect(**params, autocommit=True, row_factory=dict_row)
        except psycopg.Error as exc:
            raise StateError(self._hide(f"cannot connect to {self.shown}: {_connect_reason(exc)}")) from None
        try:
            connection.execute("SET TIME ZONE 'UTC'")
        except psycopg.Error as exc:
            connection.close()
            raise StateError(self._hide(f"cannot connect to {self.shown}: {_first_line(exc)}")) from None
        return connection

    def _reconnect(self) -> None:
        """Replace a lost connection (StateError, one line, when a new one cannot be made)."""
        with contextlib.suppress(psycopg.Error):
            self.connection.close()
        self.connection = self._connect()
        log.warning("the connection to %s was lost; connected again", self.shown)

    def _lost(self) -> bool:
        return self.connection.closed or self.connection.broken

    def _ready(self) -> None:
        """Before a statement outside a transaction: a connection the server ended while it was idle is replaced."""
        if self._closed:
            raise StateError(f"cannot use {self.shown}: the store was closed")
        if self._depth:
            return  # inside a transaction its connection is the one to use, or to fail on
        if self._lost():
            self._reconnect()
            return
        # An idle connection has nothing to read unless the server said something: usually its goodbye before
        # closing (FATAL: terminating connection …). Only then is a round trip spent to find out.
        poller = select.poll()
        poller.register(self.connection.fileno(), select.POLLIN)
        if poller.poll(0):
            try:
                self.connection.execute("SELECT 1")
            except psycopg.Error:
                self._reconnect()

    def _error(self, exc: Exception, sql: str) -> StateError:
        doing = "read" if sql.lstrip().upper().startswith("SELECT") else "write to"
        reason = self._hide(_first_line(exc))
        if getattr(exc, "sqlstate", None) == DISK_FULL:
            return DiskFull(
                f"cannot {doing} {self.shown}: no space left on the database server's disk ({reason}); free some "
                "space there"
            )
        if self._lost():
            lost = "" if _harmless(sql) else "; what it was writing may or may not have been saved"
            return StateError(f"cannot {doing} {self.shown}: the connection was lost ({reason}){lost}")
        return StateError(f"cannot {doing} {self.shown} ({reason})")

    def _run(self, sql: str, params: Sequence[Any], use: Callable[[Cursor[dict[str, Any]]], T]) -> T:
        """One statement, with its result read by ``use``; run again on a new connection when that is harmless."""
        query, values = (_placeholders(sql), _values(params)) if params else (sql, None)
        self.statements += 1
        with self._lock:
            self._ready()
            for again in (False, True):
                try:
                    return use(self.connection.execute(query, values))
                except pg_errors.IntegrityError:
                    raise
                except psycopg.Error as exc:
                    if again or not (self._depth == 0 and self._lost() and _harmless(sql)):
                        raise self._error(exc, sql) from None
                self._reconnect()
            raise AssertionError("the second attempt returns or raises")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Every row a statement returns (a SELECT, or a write with RETURNING)."""
        return self._run(sql, params, lambda cursor: cursor.fetchall() if cursor.description else [])

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        """The first row a statement returns, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement (or, without parameters, several separated by ``;``); how many rows it changed."""
        return self._run(sql, params, lambda cursor: cursor.rowcount)

    def execute_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each set of parameters, all or none: inside a transaction (the caller's, or one of
        its own, which also spares the server a commit per row); psycopg pipelines them in one round trip."""
        batch = [_values(p) for p in params]
        if not batch:
            return
        query = _placeholders(sql)
        self.statements += 1
        with self.transaction():
            try:
                self.connection.cursor().executemany(query, batch)
            except pg_errors.IntegrityError:
                raise
            except psycopg.Error as exc:
                raise self._error(exc, sql) from None

    def _rollback(self) -> None:
        """After a failure inside a transaction: roll back what is still open (a lost connection has nothing)."""
        if not self._lost() and self.connection.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):  # the error that got us here is the one to tell
                self.connection.execute("ROLLBACK")

    def close(self) -> None:
        """Close the connection (after the statement or transaction in progress); later calls raise StateError."""
        with self._lock:
            self._closed = True
            self.connection.close()


def stored_version(db: Engine) -> int:
    """The schema version the database holds (0: none of newsbot's tables yet)."""
    if not db.row("SELECT to_regclass('schema_version') IS NOT NULL AS present")["present"]:
        return 0
    return int(db.row("SELECT version FROM schema_version")["version"])


def _newer(shown: str, version: int) -> StateError:
    return StateError(
        f"{shown} was written by a newer newsbot (schema {version}; this version knows up to {SCHEMA_VERSION}); "
        "upgrade newsbot or point DATABASE_URL elsewhere"
    )


def migrate(db: PostgresEngine, *, to: int = SCHEMA_VERSION) -> None:
    """Bring the database to version ``to``: every step after its version, in one transaction, under the advisory
    lock (another process migrating at the same moment is waited for; its work is not done twice).

    Raises:
        StateError: the database is at a newer version than this newsbot knows (it is left untouched), or a step
            failed (nothing of the migration stays).
    """
    version = stored_version(db)  # read without a lock or a write: the usual start finds nothing to do
    if version > SCHEMA_VERSION:
        raise _newer(db.shown, version)
    if version >= to:
        return
    # The session's lock is taken before the transaction begins, not inside it: a transaction that began before
    # another process's migration committed would still find its tables missing (PostgreSQL reads the catalog
    # changes others committed when a transaction begins, not when a lock is granted), and migrate again.
    db.execute("SELECT pg_advisory_lock(?)", (MIGRATION_LOCK,))
    try:
        with db.transaction():
            version = stored_version(db)  # another process may have migrated while this one waited for the lock
            if version > SCHEMA_VERSION:
                raise _newer(db.shown, version)
            for step, sql in MIGRATIONS:
                if version < step <= to:
                    db.execute(sql)
                    db.execute("UPDATE schema_version SET version = ?", (step,))
    finally:
        with contextlib.suppress(StateError):  # a connection lost has released its locks already
            db.execute("SELECT pg_advisory_unlock(?)", (MIGRATION_LOCK,))
    if version < to:
        log.info("migrated %s from schema %d to %d", db.shown, version, to)


class PostgresState(Repositories):
    """The bot's state in a PostgreSQL database: ``subscriptions``, ``feeds``, ``follows`` and ``turns`` (see
    ``protocols``).

    Args:
        url: the database (``postgresql://USER:PASSWORD@HOST:PORT/DATABASE``); its role must be allowed to create
            tables in it (own it) the first time, and at every migration.
        default_timezone: the time zone of chats that never set one.

    Raises:
        StateError: psycopg is missing, the database cannot be reached, or it was written by a newer newsbot (it
            is left untouched); one line without the password.
    """

    def __init__(self, url: str, *, default_timezone: str = "UTC") -> None:
        self.engine = PostgresEngine(url)
        self.shown = self.engine.shown
        try:
            migrate(self.engine)
        except BaseException:
            self.engine.close()
            raise
        self._open_repositories(self.engine, default_timezone=default_timezone)

    def __enter__(self) -> PostgresState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version the database holds (the ``schema_version`` table)."""
        return stored_version(self.engine)

    def backup(self, *, now: dt.datetime | None = None) -> None:
        """None: a server database is backed up outside the bot (``pg_dump``; see the README)."""
        return None

    def close(self) -> None:
        """Close the database connection."""
        self.engine.close()
