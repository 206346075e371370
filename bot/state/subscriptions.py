"""Daily briefing subscriptions and each chat's settings (its time zone), kept in the ``subscriptions`` and
``chats`` tables.

A chat's subscriptions are listed enabled ones only; a chat the bot was removed from keeps its subscriptions,
disabled with the reason, so they are not scheduled again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.state.sql import Engine, Row, moment, second

__all__ = ["SQLSubscriptions", "Subscription"]

_SELECT = (
    "SELECT s.id, s.chat_id, s.time, s.topic, s.created_at, s.last_sent_at, s.enabled, c.timezone "
    "FROM subscriptions s LEFT JOIN chats c ON c.chat_id = s.chat_id"
)


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
        """The briefing time as (hour, minute)."""
        hour, minute = self.time.split(":")
        return int(hour), int(minute)


class SQLSubscriptions:
    """The ``Subscriptions`` repository over any ``Engine``.

    Args:
        db: the engine.
        default_timezone: the time zone of chats that never set one.
    """

    def __init__(self, db: Engine, *, default_timezone: str = "UTC") -> None:
        self._db = db
        self.default_timezone = default_timezone

    def _subscription(self, row: Row) -> Subscription:
        return Subscription(
            id=row["id"],
            chat_id=row["chat_id"],
            time=row["time"],
            topic=row["topic"],
            created_at=moment(row["created_at"]),
            last_sent_at=moment(row["last_sent_at"]),
            enabled=bool(row["enabled"]),
            timezone=row["timezone"] or self.default_timezone,
        )

    def _where(self, condition: str, params: tuple = ()) -> list[Subscription]:
        rows = self._db.rows(f"{_SELECT} WHERE {condition} ORDER BY s.id", params)
        return [self._subscription(row) for row in rows]

    def timezone(self, chat_id: int) -> str:
        """The chat's time zone (the default when it never set one)."""
        row = self._db.row("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,))
        return row["timezone"] if row else self.default_timezone

    def set_timezone(self, chat_id: int, timezone: str) -> None:
        """Set the chat's time zone (an IANA name, already checked)."""
        self._db.execute(
            "INSERT INTO chats (chat_id, timezone) VALUES (?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone",
            (chat_id, timezone),
        )

    def add(self, chat_id: int, time: str, topic: str | None, *, now: dt.datetime | None = None) -> Subscription:
        """A new daily briefing for ``chat_id`` at ``time`` (HH:MM, the chat's zone) on ``topic`` (None: latest)."""
        row = self._db.row(
            "INSERT INTO subscriptions (chat_id, time, topic, created_at) VALUES (?, ?, ?, ?) RETURNING id",
            (chat_id, time, topic or None, second(now or dt.datetime.now(dt.UTC))),
        )
        return self.get(row["id"])

    def get(self, subscription_id: int) -> Subscription | None:
        """The subscription with this id, enabled or not; None when there is none."""
        found = self._where("s.id = ?", (subscription_id,))
        return found[0] if found else None

    def for_chat(self, chat_id: int) -> list[Subscription]:
        """The chat's enabled subscriptions, oldest first."""
        return self._where("s.chat_id = ? AND s.enabled = TRUE", (chat_id,))

    def enabled(self) -> list[Subscription]:
        """Every enabled subscription (to schedule on start), oldest first."""
        return self._where("s.enabled = TRUE")

    def remove(self, chat_id: int, subscription_id: int | None = None) -> list[int]:
        """Delete one enabled subscription of a chat (all when ``subscription_id`` is None); the ids removed."""
        one, params = (" AND id = ?", (chat_id, subscription_id)) if subscription_id is not None else ("", (chat_id,))
        rows = self._db.rows(
            f"DELETE FROM subscriptions WHERE chat_id = ? AND enabled = TRUE{one} RETURNING id", params
        )
        return sorted(row["id"] for row in rows)

    def mark_sent(self, subscription_id: int, when: dt.datetime) -> None:
        """Record when a subscription's briefing was sent (``when`` aware)."""
        self._db.execute("UPDATE subscriptions SET last_sent_at = ? WHERE id = ?", (when, subscription_id))

    def disable_chat(self, chat_id: int, reason: str) -> list[int]:
        """Disable every subscription of a chat (the bot was removed from it); the ids disabled."""
        rows = self._db.rows(
            "UPDATE subscriptions SET enabled = FALSE, disabled_reason = ? WHERE chat_id = ? AND enabled = TRUE "
            "RETURNING id",
            (reason, chat_id),
        )
        return sorted(row["id"] for row in rows)
