"""Followed topics, the stories each chat was sent, and each chat's digest queue (the ``follows``, ``follow_sent``
and ``follow_queue`` tables).

A chat is sent a story once: ``already_sent`` answers for a whole batch of candidates in one read, and a story
queued for the chat's next digest counts as sent. The hourly limit counts messages, not stories: every story of
one message is recorded at that message's moment, and ``sent_within`` counts the distinct moments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from bot.state.sql import Engine, Row, chunks, marks, moment, second

__all__ = ["Follow", "SQLFollows"]


@dataclass(frozen=True, slots=True)
class Follow:
    """A topic a chat follows: matching new stories are sent to it."""

    id: int
    chat_id: int
    topic: str
    created_at: dt.datetime


def _follow(row: Row) -> Follow:
    return Follow(row["id"], row["chat_id"], row["topic"], moment(row["created_at"]))


class SQLFollows:
    """The ``Follows`` repository over any ``Engine``."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def add(self, chat_id: int, topic: str, *, now: dt.datetime | None = None) -> Follow | None:
        """Follow a topic in a chat; None when the chat follows it already."""
        if self._db.row("SELECT id FROM follows WHERE chat_id = ? AND topic = ?", (chat_id, topic)):
            return None  # read first: on a full disk even a write that would change nothing fails
        created = second(now or dt.datetime.now(dt.UTC))
        row = self._db.row(
            "INSERT INTO follows (chat_id, topic, created_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id, topic) DO NOTHING RETURNING id",
            (chat_id, topic, created),
        )
        return Follow(row["id"], chat_id, topic, created) if row else None

    def for_chat(self, chat_id: int) -> list[Follow]:
        """The topics a chat follows, oldest first."""
        rows = self._db.rows(
            "SELECT id, chat_id, topic, created_at FROM follows WHERE chat_id = ? ORDER BY id", (chat_id,)
        )
        return [_follow(row) for row in rows]

    def every(self) -> list[Follow]:
        """Every chat's followed topics, oldest first."""
        return [_follow(row) for row in self._db.rows("SELECT id, chat_id, topic, created_at FROM follows ORDER BY id")]

    def remove(self, chat_id: int, follow_id: int | None = None) -> list[int]:
        """Stop following one topic of a chat (all when ``follow_id`` is None), and drop what was queued for it;
        the ids removed."""
        one, params = (" AND id = ?", (chat_id, follow_id)) if follow_id is not None else ("", (chat_id,))
        with self._db.transaction():
            removed = sorted(
                row["id"] for row in self._db.rows(f"DELETE FROM follows WHERE chat_id = ?{one} RETURNING id", params)
            )
            self._db.execute_many("DELETE FROM follow_queue WHERE follow_id = ?", [(i,) for i in removed])
        return removed

    def already_sent(self, chat_id: int, article_ids: Sequence[str]) -> set[str]:
        """The stories among ``article_ids`` that were sent to (or are queued for) this chat, in one read."""
        found: set[str] = set()
        for chunk in chunks(list(dict.fromkeys(article_ids))):
            among = marks(len(chunk))
            rows = self._db.rows(
                f"SELECT article_id FROM follow_sent WHERE chat_id = ? AND article_id IN ({among}) UNION "
                f"SELECT article_id FROM follow_queue WHERE chat_id = ? AND article_id IN ({among})",
                (chat_id, *chunk, chat_id, *chunk),
            )
            found.update(row["article_id"] for row in rows)
        return found

    def sent_within(self, chat_id: int, since: dt.datetime) -> int:
        """How many follow messages the chat was sent since ``since`` (aware)."""
        row = self._db.row(
            "SELECT COUNT(DISTINCT sent_at) AS messages FROM follow_sent WHERE chat_id = ? AND sent_at >= ?",
            (chat_id, second(since)),
        )
        return int(row["messages"])

    def mark_sent(self, chat_id: int, messages: Sequence[Sequence[str]], *, now: dt.datetime) -> None:
        """Record messages sent to a chat, each a list of story ids, in one write, and take them off its queue.

        The messages count as sent one second apart from ``now`` on (the hourly limit counts moments); a story
        recorded already keeps its first moment.
        """
        start = second(now)
        sent = [
            (chat_id, article_id, start + dt.timedelta(seconds=n))
            for n, article_ids in enumerate(messages)
            for article_id in article_ids
        ]
        with self._db.transaction():
            self._db.execute_many(
                "INSERT INTO follow_sent (chat_id, article_id, sent_at) VALUES (?, ?, ?) "
                "ON CONFLICT (chat_id, article_id) DO NOTHING",
                sent,
            )
            self._db.execute_many(
                "DELETE FROM follow_queue WHERE chat_id = ? AND article_id = ?", [(c, a) for c, a, _ in sent]
            )

    def claim(self, chat_id: int, messages: Sequence[Sequence[str]], *, now: dt.datetime) -> list[list[str]]:
        """Record messages as sent to the chat, *before* they are sent, in one write, and take their stories off
        its queue: each message a list of story ids, counted one second apart from ``now`` on (as ``mark_sent``).
        Returns each message's stories that this call recorded, in order: a story recorded already, by this process
        or another, is left out (it was or is being sent), so no two processes send it. A process that dies between
        the claim and the send loses the message; none sends it twice."""
        start = second(now)
        claimed: list[list[str]] = []
        taken: set[str] = set()
        with self._db.transaction():
            for n, article_ids in enumerate(messages):
                claimed.append([])
                for article_id in dict.fromkeys(article_ids):
                    if article_id not in taken and self._db.row(
                        "INSERT INTO follow_sent (chat_id, article_id, sent_at) VALUES (?, ?, ?) "
                        "ON CONFLICT (chat_id, article_id) DO NOTHING RETURNING article_id",
                        (chat_id, article_id, start + dt.timedelta(seconds=n)),
                    ):
                        claimed[-1].append(article_id)
                    taken.add(article_id)
            self._db.execute_many(
                "DELETE FROM follow_queue WHERE chat_id = ? AND article_id = ?", [(chat_id, a) for a in taken]
            )
        return claimed

    def queue(self, chat_id: int, follow_id: int, article_ids: Sequence[str], *, now: dt.datetime) -> None:
        """Keep matching stories for the chat's next digest (it had its share of messages this hour), in one write;
        a story queued already stays where it was."""
        self._db.execute_many(
            "INSERT INTO follow_queue (chat_id, article_id, follow_id, queued_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (chat_id, article_id) DO NOTHING",
            [(chat_id, article_id, follow_id, second(now)) for article_id in article_ids],
        )

    def queued(self) -> dict[int, list[tuple[str, int]]]:
        """Queued stories by chat: (article id, follow id), in the order they were queued."""
        rows = self._db.rows(
            f"SELECT chat_id, article_id, follow_id FROM follow_queue ORDER BY queued_at, {self._db.row_order}"
        )
        out: dict[int, list[tuple[str, int]]] = {}
        for row in rows:
            out.setdefault(row["chat_id"], []).append((row["article_id"], row["follow_id"]))
        return out
