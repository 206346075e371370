"""The state in one SQLite file under DATA_DIR: opening it safely, its one connection, backups, errors in one line.

Before anything is written, an existing file is opened read-only and checked (``PRAGMA integrity_check``): an
emptied or damaged file is refused untouched, with one line that names the newest backup to restore; a database
written by a newer newsbot is refused rather than overwritten; an older one is migrated in one transaction
(``schema.migrate``). A new database is created under a temporary name and renamed into place once its schema
exists, so an empty ``newsbot.sqlite3`` is never one of ours. Backups are made with SQLite's online backup API into
``DATA_DIR/backups`` (the newest ``BACKUPS_KEPT`` are kept). Files and folders are readable by their owner only.

Any statement that fails in SQLite raises ``StateError`` (``DiskFull`` when the disk is full: SQLite rolls the
statement back, so what the database held is intact). One connection serves every call, one statement or one
transaction at a time; the bot makes its calls from one thread (``AsyncState``), and a lock keeps the synchronous
face safe for callers with threads of their own.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from bot.errors import DiskFull, StateError
from bot.state.repositories import Repositories
from bot.state.schema import SCHEMA_VERSION, migrate
from bot.state.sql import Transactions
from index.store import private_dir

__all__ = ["BACKUPS_KEPT", "SQLiteEngine", "SQLiteState"]

BACKUPS_KEPT = 7
_NO_SPACE = ("database or disk is full", "disk i/o error", "no space")


def _state_error(exc: Exception, path: Path, doing: str = "open") -> StateError:
    """A failure of SQLite or of the file system as one line that says what to do (``DiskFull`` for no space)."""
    text = str(exc)
    if any(marker in text.lower() for marker in _NO_SPACE):
        return DiskFull(
            f"cannot {doing} {path}: no space left on the disk holding DATA_DIR ({text}); free some space"
        )
    return StateError(f"cannot {doing} {path} ({text})")


def _owner_only(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


def _value(value: Any) -> Any:
    """A parameter as SQLite keeps it: a moment as ISO 8601 text in UTC (which sorts as time does)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError(f"a moment without a time zone: {value}")
        return value.astimezone(dt.UTC).isoformat()
    return value


def _values(params: Sequence[Any]) -> tuple[Any, ...]:
    return tuple(_value(v) for v in params)


class SQLiteEngine(Transactions):
    """The ``Engine`` over one SQLite connection: rows as ``sqlite3.Row``, failures as ``StateError``.

    A constraint violation is not translated: the repositories' SQL never causes one on purpose, so one is a bug.
    """

    row_order = "rowid"

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.connection = connection
        self.connection.row_factory = sqlite3.Row
        self.path = path
        self._lock = threading.RLock()  # held for a statement, or for a whole transaction
        self._depth = 0  # transactions entered and not left (inner ones join the outermost)

    def _run(self, sql: str, call: Callable[[], sqlite3.Cursor]) -> sqlite3.Cursor:
        try:
            return call()
        except sqlite3.IntegrityError:
            raise
        except sqlite3.Error as exc:
            doing = "read" if sql.lstrip().upper().startswith("SELECT") else "write to"
            raise _state_error(exc, self.path, doing) from None

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """Every row a statement returns; a write with RETURNING is finished (all rows read) before it returns."""
        with self._lock:
            return self._run(sql, lambda: self.connection.execute(sql, _values(params))).fetchall()

    def row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row a statement returns, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        with self._lock:
            return self._run(sql, lambda: self.connection.execute(sql, _values(params))).rowcount

    def execute_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement for each set of parameters."""
        with self._lock:
            self._run(sql, lambda: self.connection.executemany(sql, (_values(p) for p in params)))

    def _rollback(self) -> None:
        """After a failure inside a transaction: roll back what SQLite has not rolled back already (a full disk)."""
        if self.connection.in_transaction:
            with contextlib.suppress(sqlite3.Error):  # the error that got us here is the one to tell
                self.connection.rollback()

    def backup(self, target: sqlite3.Connection) -> None:
        """Copy the database into ``target`` between two statements (online backup API)."""
        with self._lock:
            self.connection.backup(target)

    def close(self) -> None:
        """Close the connection (after the statement or transaction in progress)."""
        with self._lock:
            self.connection.close()


class SQLiteState(Repositories):
    """The bot's state in one SQLite file: ``subscriptions``, ``feeds``, ``follows`` and ``turns`` (see
    ``protocols``).

    Args:
        path: the database file (created with its folder when missing).
        default_timezone: the time zone of chats that never set one.

    Raises:
        StateError: the file cannot be used as it is (the message says what to do); it is left untouched.
    """

    def __init__(self, path: str | Path, *, default_timezone: str = "UTC") -> None:
        self.path = Path(path)
        self.backups = self.path.parent / "backups"
        try:
            private_dir(self.path.parent)
            if not self.path.exists():
                self._create()
            self._check()
            _owner_only(self.path)
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise _state_error(exc, self.path) from None
        except OSError as exc:
            raise StateError(f"cannot open {self.path} ({exc.strerror or exc})") from None
        self.engine = SQLiteEngine(connection, self.path)
        self._open_repositories(self.engine, default_timezone=default_timezone)

    def __enter__(self) -> SQLiteState:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _create(self) -> None:
        """A new database, made under a temporary name and renamed into place with its schema complete."""
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.unlink(missing_ok=True)
        os.close(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            with contextlib.closing(sqlite3.connect(fresh, isolation_level=None)) as db:
                migrate(db, 0)
            os.replace(fresh, self.path)
        except BaseException:
            fresh.unlink(missing_ok=True)
            raise

    def _restore_hint(self) -> str:
        newest = max(self.backups.glob("newsbot-*.sqlite3"), default=None)
        if newest is None:
            return f"no backup exists in {self.backups}; move the file away to start with no subscriptions"
        return f"restore the newest backup with `cp {newest} {self.path}` (the bot stopped), or move the file away"

    def _check(self) -> None:
        """Read-only checks of an existing file, before anything could write into it; migrations after."""
        if self.path.stat().st_size == 0:
            raise StateError(
                f"{self.path} is empty (0 bytes): it was emptied or damaged; {self._restore_hint()}"
            )
        uri = f"{self.path.resolve().as_uri()}?mode=ro"
        try:
            with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
                verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
                version = db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise StateError(
                f"{self.path} is damaged or not a database ({exc}); {self._restore_hint()}"
            ) from None
        if verdict != "ok":
            raise StateError(f"{self.path} is damaged ({verdict}); {self._restore_hint()}")
        if version > SCHEMA_VERSION:
            raise StateError(
                f"{self.path} was written by a newer newsbot (schema {version}; this version knows up to "
                f"{SCHEMA_VERSION}); upgrade newsbot or point DATA_DIR elsewhere"
            )
        if version < SCHEMA_VERSION:
            with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
                migrate(db, version)

    def schema_version(self) -> int:
        """The schema version of the file (``PRAGMA user_version``)."""
        return int(self.engine.row("PRAGMA user_version")["user_version"])

    def backup(self, *, now: dt.datetime | None = None) -> Path:
        """Copy the database (consistently, while in use) into ``backups/`` and keep the newest ``BACKUPS_KEPT``.

        Raises:
            StateError: the copy could not be written (a full disk); the older backups stay.
        """
        stamp = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        target = self.backups / f"newsbot-{stamp}.sqlite3"
        partial = target.with_name(target.name + ".part")
        try:
            private_dir(self.backups)
            partial.unlink(missing_ok=True)
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
            with contextlib.closing(sqlite3.connect(partial)) as copy:
                self.engine.backup(copy)
            os.replace(partial, target)
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise _state_error(exc, self.path, "back up") from None
        for old in sorted(self.backups.glob("newsbot-*.sqlite3"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        return target

    def close(self) -> None:
        """Close the database connection."""
        self.engine.close()
