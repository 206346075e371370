"""Briefing subscriptions, chat time zones and "last sent" times, kept in SQLite under DATA_DIR.

The schema is versioned (``PRAGMA user_version``). An older database is migrated forward; a database written by
a newer newsbot is refused with a clear error rather than being overwritten. Calls are short and synchronous;
the bot makes them through ``asyncio.to_thread``.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "Subscription", "SubscriptionStore", "SubscriptionStoreError"]

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS chats (
    chat_id INTEGER PRIMARY KEY,
    timezone TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    time TEXT NOT NULL,                 -- HH:MM in the chat's time zone
    topic TEXT,                         -- NULL: the latest stories
    created_at TEXT NOT NULL,           -- UTC, ISO 8601
    last_sent_at TEXT,                  -- UTC, ISO 8601; NULL until the first briefing
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT
);
CREATE INDEX IF NOT EXISTS subscriptions_chat ON subscriptions (chat_id);
"""


class SubscriptionStoreError(Exception):
    """The database cannot be used (written by a newer newsbot, or not a database)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One daily briefing of one chat."""

    id: int
    chat_id: int
    time: str
    topic: str | None
    created_at: dt.datetime
    last_sent_at: dt.datetime | None
    enabled: bool
    timezone: str

    @property
    def hour_minute(self) -> tuple[int, int]:
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


def _utc(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


class SubscriptionStore:
    """Subscriptions and chat settings in one SQLite file.

    Args:
        path: the database file (created with its folder when missing).
        default_timezone: the time zone of chats that never set one.

    Raises:
        SubscriptionStoreError: the file is not a newsbot database this version can read.
    """

    def __init__(self, path: str | Path, *, default_timezone: str = "UTC") -> None:
        self.path = Path(path)
        self.default_timezone = default_timezone
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        try:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise SubscriptionStoreError(f"{self.path} is not a usable SQLite database ({exc})") from None
        if version > SCHEMA_VERSION:
            self._db.close()
            raise SubscriptionStoreError(
                f"{self.path} was written by a newer newsbot (schema {version}; this version knows up to "
                f"{SCHEMA_VERSION}); upgrade newsbot or point DATA_DIR elsewhere"
            )
        with self._lock:
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _rows(self, where: str, args: tuple = ()) -> list[Subscription]:
        sql = (
            "SELECT s.id, s.chat_id, s.time, s.topic, s.created_at, s.last_sent_at, s.enabled, c.timezone "
            "FROM subscriptions s LEFT JOIN chats c ON c.chat_id = s.chat_id WHERE " + where + " ORDER BY s.id"
        )
        with self._lock:
            rows = self._db.execute(sql, args).fetchall()
        return [
            Subscription(
                id=r[0],
                chat_id=r[1],
                time=r[2],
                topic=r[3],
                created_at=_utc(r[4]),
                last_sent_at=_utc(r[5]),
                enabled=bool(r[6]),
                timezone=r[7] or self.default_timezone,
            )
            for r in rows
        ]

    def timezone(self, chat_id: int) -> str:
        with self._lock:
            row = self._db.execute("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return row[0] if row else self.default_timezone

    def set_timezone(self, chat_id: int, timezone: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO chats (chat_id, timezone) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone",
                (chat_id, timezone),
            )

    def add(self, chat_id: int, time: str, topic: str | None, *, now: dt.datetime | None = None) -> Subscription:
        created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO subscriptions (chat_id, time, topic, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, time, topic or None, created),
            )
        return self.get(cursor.lastrowid)

    def get(self, subscription_id: int) -> Subscription | None:
        found = self._rows("s.id = ?", (subscription_id,))
        return found[0] if found else None

    def for_chat(self, chat_id: int) -> list[Subscription]:
        return self._rows("s.chat_id = ? AND s.enabled = 1", (chat_id,))

    def enabled(self) -> list[Subscription]:
        return self._rows("s.enabled = 1")

    def remove(self, chat_id: int, subscription_id: int | None = None) -> list[int]:
        """Delete one subscription of a chat (or all when ``subscription_id`` is None); returns the ids removed."""
        targets = [s.id for s in self.for_chat(chat_id) if subscription_id in (None, s.id)]
        with self._lock:
            self._db.executemany("DELETE FROM subscriptions WHERE id = ?", [(i,) for i in targets])
        return targets

    def mark_sent(self, subscription_id: int, when: dt.datetime) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE subscriptions SET last_sent_at = ? WHERE id = ?",
                (when.astimezone(dt.UTC).isoformat(), subscription_id),
            )

    def disable_chat(self, chat_id: int, reason: str) -> list[int]:
        """Disable every subscription of a chat (the bot was removed from it); returns their ids."""
        ids = [s.id for s in self.for_chat(chat_id)]
        with self._lock:
            self._db.execute(
                "UPDATE subscriptions SET enabled = 0, disabled_reason = ? WHERE chat_id = ? AND enabled = 1",
                (reason, chat_id),
            )
        return ids
