"""What the repositories need from a database engine (``Engine``), and the conventions their SQL keeps.

The repositories (``subscriptions``, ``feeds``, ``follows``) write SQL that SQLite and PostgreSQL both run:

- ``?`` placeholders; an engine whose driver wants another style (psycopg's ``%s``) rewrites them in its ``Engine``;
- ``INSERT ... ON CONFLICT ... DO NOTHING / DO UPDATE`` and ``RETURNING`` instead of ``INSERT OR IGNORE`` and
  ``lastrowid``: "exists already" is an answer with no row, never an exception;
- ``TRUE`` and ``FALSE`` for flags (SQLite keeps 1 and 0; PostgreSQL's columns are ``boolean``);
- no function of one engine alone, and ``IN`` lists of at most ``IN_LIMIT`` values;
- moments go in as aware datetimes (``second`` cuts one to the second where the schema keeps seconds) and come back
  through ``moment``: the engine stores them its own way (SQLite: ISO 8601 text in UTC, which sorts as time does).

The one thing standard SQL cannot say is "in the order the rows were inserted": the engine names a column or
expression for it (``Engine.row_order``; SQLite's ``rowid``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

__all__ = ["IN_LIMIT", "Engine", "Row", "Transactions", "chunks", "marks", "moment", "second"]

IN_LIMIT = 500  # values in one ``IN (...)`` list: far below any engine's limit on parameters


class Row(Protocol):
    """A row read by column name (``sqlite3.Row``; a dict with psycopg's ``dict_row``)."""

    def __getitem__(self, column: str) -> Any:
        """The value of ``column``."""
        ...


class Engine(Protocol):
    """A connection the repositories share: statements with ``?`` placeholders, rows by column name, transactions.

    Each statement outside ``transaction()`` is committed on its own. Every failure of the database or of its disk
    is raised as ``StateError`` (``DiskFull`` when the disk is full), in one line that names the database.
    """

    row_order: str  # orders a table's rows as they were inserted (SQLite: "rowid")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row a statement returns (a SELECT, or a write with RETURNING)."""
        ...

    def row(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row a statement returns, or None."""
        ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; how many rows it changed."""
        ...

    def execute_many(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        """Run one statement once for each set of parameters."""
        ...

    def transaction(self) -> AbstractContextManager[None]:
        """The statements inside the ``with`` block commit together, or not at all (an exception rolls back)."""
        ...


class Transactions:
    """``Engine.transaction`` for an engine over one connection: BEGIN ... COMMIT under the engine's lock, held for
    the whole block; a transaction inside one joins it (it commits with the outermost, or not at all).

    The engine provides ``_lock`` (a ``threading.RLock``), ``_depth`` (0), ``execute`` and ``_rollback`` (after a
    failure: roll back whatever is still open, quietly).
    """

    _lock: threading.RLock
    _depth: int

    def _rollback(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """BEGIN ... COMMIT around the block (ROLLBACK when it raises); a transaction inside one joins it."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.execute("BEGIN")
            self._depth = 1
            try:
                yield
                self.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            finally:
                self._depth = 0


def moment(value: str | dt.datetime | None) -> dt.datetime | None:
    """A stored moment as an aware datetime (SQLite hands back ISO 8601 text, PostgreSQL a datetime); None as None."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def second(when: dt.datetime) -> dt.datetime:
    """``when`` in UTC, to the second: the precision the schema keeps for most moments.

    Raises:
        ValueError: ``when`` has no time zone (a moment the store would have to guess).
    """
    if when.tzinfo is None:
        raise ValueError(f"a moment without a time zone: {when}")
    return when.astimezone(dt.UTC).replace(microsecond=0)


def chunks(values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """``values`` in slices of at most ``IN_LIMIT``, for ``IN`` lists."""
    for start in range(0, len(values), IN_LIMIT):
        yield values[start : start + IN_LIMIT]


def marks(count: int) -> str:
    """``?, ?, ?`` for an ``IN`` list of ``count`` values."""
    return ", ".join("?" * count)
