"""The conversation's last turns: which question each of the bot's answers replied to (the ``turns`` table), so a
reply to an answer, or a short follow-up in a private chat, is read with that question's subject.

The memory is short on purpose: a few turns per chat and user (``TURNS_KEPT``), each forgotten after
``TURN_MINUTES``; older turns are deleted whenever a new one is kept. A turn holds the question as asked (shown
back to the user) and its subject (the words the answer was searched with, carried on to the next follow-up).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.state.sql import Engine, Row, moment, second

__all__ = ["TURNS_KEPT", "TURN_MINUTES", "SQLTurns", "Turn"]

TURNS_KEPT = 3  # per chat and user: a follow-up continues one of the last few questions, never an old one
TURN_MINUTES = 30  # a reply to an answer older than this is a new question


@dataclass(frozen=True, slots=True)
class Turn:
    """One question the bot answered in a chat, and the message that answered it."""

    chat_id: int
    user_id: int
    message_id: int  # the bot's answer: what a reply points to
    question: str  # as the user asked it
    subject: str  # the words the answer was searched with (the earlier subject's too, for a follow-up)
    asked_at: dt.datetime


def _turn(row: Row) -> Turn:
    return Turn(
        row["chat_id"], row["user_id"], row["message_id"], row["question"], row["subject"], moment(row["asked_at"])
    )


_COLUMNS = "chat_id, user_id, message_id, question, subject, asked_at"


class SQLTurns:
    """The ``Turns`` repository over any ``Engine``."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def remember(self, turn: Turn) -> None:
        """Keep ``turn``, and forget the chat user's turns past the last ``TURNS_KEPT`` and every expired turn."""
        with self._db.transaction():
            self._db.execute(
                f"INSERT INTO turns ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id) DO "
                "UPDATE SET user_id = excluded.user_id, question = excluded.question, subject = excluded.subject, "
                "asked_at = excluded.asked_at",
                (turn.chat_id, turn.user_id, turn.message_id, turn.question, turn.subject, second(turn.asked_at)),
            )
            kept = self._db.rows(
                "SELECT message_id FROM turns WHERE chat_id = ? AND user_id = ? "
                "ORDER BY asked_at DESC, message_id DESC",
                (turn.chat_id, turn.user_id),
            )
            for row in kept[TURNS_KEPT:]:
                self._db.execute(
                    "DELETE FROM turns WHERE chat_id = ? AND message_id = ?", (turn.chat_id, row["message_id"])
                )
            expired = turn.asked_at - dt.timedelta(minutes=TURN_MINUTES)
            self._db.execute("DELETE FROM turns WHERE asked_at < ?", (second(expired),))

    def replied(self, chat_id: int, message_id: int, *, now: dt.datetime) -> Turn | None:
        """The turn the bot's message ``message_id`` answered, unless it expired by ``now``; else None."""
        row = self._db.row(
            f"SELECT {_COLUMNS} FROM turns WHERE chat_id = ? AND message_id = ? AND asked_at >= ?",
            (chat_id, message_id, second(now - dt.timedelta(minutes=TURN_MINUTES))),
        )
        return _turn(row) if row else None

    def latest(self, chat_id: int, user_id: int, *, since: dt.datetime) -> Turn | None:
        """The user's most recent turn in the chat asked at ``since`` or later; else None."""
        row = self._db.row(
            f"SELECT {_COLUMNS} FROM turns WHERE chat_id = ? AND user_id = ? AND asked_at >= ? "
            "ORDER BY asked_at DESC, message_id DESC LIMIT 1",
            (chat_id, user_id, second(since)),
        )
        return _turn(row) if row else None
