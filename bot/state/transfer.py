"""Moving the bot's state from a SQLite file into a PostgreSQL database (``newsbot db copy``), and counting what a
store holds (``newsbot db check``).

``copy_state`` copies every table of the schema (``schema.TABLES``: chats and their settings, subscriptions, feeds
with their validators and polling state, their items seen and waiting, followed topics, the stories sent and the
digest queue) row by row, keeping ids, in one transaction of the target: the target's tables are locked, so a bot
already running on it waits rather than writes in between; a target that holds any row is refused unless
``replace`` (then it is emptied first, in the same transaction). The source is read in one read transaction, so
it is copied as it was at one moment. Moments go from SQLite's ISO text to ``timestamptz``, flags from 1/0 to
``boolean``; the order of the digest queue (SQLite's ``rowid``) becomes ``row_order``; each sequence is moved past
the highest id copied and past SQLite's own counter (``sqlite_sequence``), so ids of rows deleted before the copy
are not given out again. Before committing, the rows of each table are counted on both sides: any difference
rolls the whole copy back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bot.errors import StateError
from bot.state.postgres import PostgresState
from bot.state.schema import TABLES
from bot.state.sql import Engine, moment
from bot.state.sqlite import SQLiteState

__all__ = ["BATCH", "SEQUENCES", "TableCount", "copy_state", "counts"]

BATCH = 5000  # rows read from the source and written to the target at a time
# The columns each sequence gives out (SQLite: AUTOINCREMENT ids, and the rowid of the digest queue).
SEQUENCES = (("subscriptions", "id"), ("feeds", "id"), ("follows", "id"), ("follow_queue", "row_order"))


@dataclass(frozen=True, slots=True)
class TableCount:
    """The rows of one table in the source and in the target after a copy."""

    table: str
    source: int
    target: int


def counts(db: Engine) -> dict[str, int]:
    """The number of rows of each table of the schema, in ``schema.TABLES`` order."""
    return {table: int(db.row(f"SELECT COUNT(*) AS n FROM {table}")["n"]) for table in TABLES}


def _target_columns(target: PostgresState, table: str) -> dict[str, str]:
    rows = target.engine.rows(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return {row["column_name"]: row["data_type"] for row in rows}


def _source_rows(source: SQLiteState, table: str, columns: list[str]) -> Iterator[list[Any]]:
    """The table's rows in insertion order (``rowid``), ``BATCH`` at a time, as lists of ``columns``' values."""
    selected = ", ".join("rowid AS row_order" if c == "row_order" else c for c in columns)
    last = 0
    while True:
        rows = source.engine.rows(
            f"SELECT rowid AS copy_key, {selected} FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?", (last, BATCH)
        )
        if not rows:
            return
        last = rows[-1]["copy_key"]
        yield [[row[c] for c in columns] for row in rows]


def _converter(data_type: str):
    if data_type == "timestamp with time zone":
        return moment
    if data_type == "boolean":
        return lambda value: None if value is None else bool(value)
    return lambda value: value


def _copy_table(source: SQLiteState, target: PostgresState, table: str) -> None:
    types = _target_columns(target, table)
    expected = set(types) - ({"row_order"} if table == "follow_queue" else set())
    found = {row["name"] for row in source.engine.rows(f"SELECT name FROM pragma_table_info('{table}')")}
    if found != expected:
        raise StateError(
            f"cannot copy {table}: its columns differ between {source.path} ({', '.join(sorted(found))}) and "
            f"{target.shown} ({', '.join(sorted(expected))})"
        )
    columns = list(types)
    convert = [_converter(types[c]) for c in columns]
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    for batch in _source_rows(source, table, columns):
        try:
            values = [[f(v) for f, v in zip(convert, row, strict=True)] for row in batch]
        except ValueError as exc:  # a moment SQLite kept that is not one
            raise StateError(f"cannot copy {table} from {source.path}: {exc}") from None
        target.engine.execute_many(insert, values)


def _move_sequences(source: SQLiteState, target: PostgresState) -> None:
    """Each sequence past the highest value copied and past SQLite's counter (ids of deleted rows stay unused)."""
    used = {row["name"]: int(row["seq"]) for row in source.engine.rows("SELECT name, seq FROM sqlite_sequence")}
    for table, column in SEQUENCES:
        highest = int(target.engine.row(f"SELECT COALESCE(MAX({column}), 0) AS m FROM {table}")["m"])
        last = max(highest, used.get(table, 0) if column == "id" else 0)
        # setval(seq, n, true): the next value is n + 1; setval(seq, 1, false): it is 1.
        target.engine.row(
            "SELECT setval(pg_get_serial_sequence(?, ?), ?, ?) AS v", (table, column, max(last, 1), last > 0)
        )


def copy_state(source: SQLiteState, target: PostgresState, *, replace: bool = False) -> list[TableCount]:
    """Copy the whole state in ``source`` into ``target``, in one transaction, and check each table's count.

    Args:
        source: the SQLite store to read (it is not changed).
        target: the PostgreSQL store to fill.
        replace: empty a target that holds a state already (else it is refused).

    Returns:
        Each table's rows in the source and in the target, in ``schema.TABLES`` order (they are equal).

    Raises:
        StateError: the target holds a state and ``replace`` is False, the two stores are at different schema
            versions, a count differs after the copy, or either store failed; the target is left as it was.
    """
    versions = source.schema_version(), target.schema_version()
    if versions[0] != versions[1]:
        raise StateError(f"{source.path} is at schema {versions[0]} and {target.shown} at {versions[1]}")
    with target.engine.transaction(), source.engine.transaction():
        target.engine.execute(f"LOCK TABLE {', '.join(TABLES)} IN ACCESS EXCLUSIVE MODE")
        held = {table: n for table, n in counts(target.engine).items() if n}
        if held and not replace:
            listing = ", ".join(f"{table} {n}" for table, n in held.items())
            raise StateError(
                f"{target.shown} already holds a state ({listing}); pass --replace to overwrite it with the copy"
            )
        if held:
            target.engine.execute(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY")
        for table in TABLES:
            _copy_table(source, target, table)
        _move_sequences(source, target)
        before, after = counts(source.engine), counts(target.engine)
        result = [TableCount(table, before[table], after[table]) for table in TABLES]
        differ = [c for c in result if c.source != c.target]
        if differ:  # raising rolls the target back
            listing = ", ".join(f"{c.table} {c.source} against {c.target}" for c in differ)
            raise StateError(f"the copy into {target.shown} does not hold what {source.path} holds ({listing})")
    return result
