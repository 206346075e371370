"""Followed feeds with their polling state, and the items seen in them (the ``feeds`` and ``feed_items`` tables).

Polls are recorded the ``reader`` library's way: ``known_items`` reads everything remembered of a feed's items in
one query, ``index.polling.plan_items`` decides (new, changed, refreshed, gone, relisted, what to fetch), and
``save_poll`` writes the feed's new state and the whole plan in one transaction of a few batched statements.
An item is remembered for as long as its feed lists it; one the feed dropped is remembered ``GONE_KEPT_DAYS``
more (the ``GONE_KEPT`` most recently dropped per feed). An item seen and not fetched yet keeps the feed's own
data (JSON) until it is fetched: the backlog, read back with ``waiting_items``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bot.state.sql import Engine, Row, chunks, marks, moment, second
from index.feeds import FeedItem, item_from_record, item_record
from index.polling import FeedState, ItemPlan, KnownItem

__all__ = ["GONE_KEPT", "GONE_KEPT_DAYS", "Feed", "PollRecord", "SQLFeeds"]

GONE_KEPT = 5000  # items a feed no longer lists, remembered per feed (the most recently dropped)
GONE_KEPT_DAYS = 30  # ... and for at most this long

_COLUMNS = (
    "id, url, name, title, added_at, paused, etag, last_modified, failures, next_due, disabled, last_error, "
    "last_fetch, last_new, waiting, last_headlines, last_skipped, last_note"
)


@dataclass(frozen=True, slots=True)
class Feed:
    """A followed RSS or Atom feed, with its polling state."""

    id: int
    url: str
    name: str | None
    title: str | None
    added_at: dt.datetime
    paused: bool
    state: FeedState
    last_fetch: dt.datetime | None
    last_new: int
    waiting: int = 0  # items seen and not fetched yet (the backlog)
    last_headlines: int = 0  # items the last poll kept as headlines only
    last_skipped: int = 0  # items the last poll could not keep at all
    last_note: str = ""  # why, in one line

    @property
    def label(self) -> str:
        """How the feed is named to people: its given name, its own title, else its URL."""
        return self.name or self.title or self.url


@dataclass(frozen=True, slots=True)
class PollRecord:
    """What one poll of a feed learnt, as ``save_poll`` records it; None leaves what was recorded before.

    Attributes:
        state: the feed's polling state after the poll.
        when: when the poll ended (aware).
        title: the feed's own title, when it was read.
        new_items: how many stories the poll saved.
        url: the feed's new address after a permanent redirect.
        plan: the poll's plan (``index.polling.plan_items``): new, changed and refreshed items are kept as waiting,
            gone ones marked so, relisted ones listed again. None after a failure.
        fetched: the items fetched, by key, with the id of the article saved for each (None: nothing could be
            kept); they stop waiting.
        headlines, skipped, note: items the poll kept as headlines only, items it could not keep, and why.
    """

    state: FeedState
    when: dt.datetime
    title: str | None = None
    new_items: int | None = None
    url: str | None = None
    plan: ItemPlan | None = None
    fetched: Mapping[str, str | None] | None = None
    headlines: int | None = None
    skipped: int | None = None
    note: str | None = None


def _feed(row: Row) -> Feed:
    state = FeedState(
        etag=row["etag"],
        last_modified=row["last_modified"],
        failures=row["failures"],
        next_due=moment(row["next_due"]),
        disabled=bool(row["disabled"]),
        last_error=row["last_error"] or "",
    )
    return Feed(
        id=row["id"],
        url=row["url"],
        name=row["name"],
        title=row["title"],
        added_at=moment(row["added_at"]),
        paused=bool(row["paused"]),
        state=state,
        last_fetch=moment(row["last_fetch"]),
        last_new=row["last_new"],
        waiting=row["waiting"],
        last_headlines=row["last_headlines"],
        last_skipped=row["last_skipped"],
        last_note=row["last_note"],
    )


def _record(item: FeedItem) -> str:
    return json.dumps(item_record(item), ensure_ascii=False)


class SQLFeeds:
    """The ``Feeds`` repository over any ``Engine``."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def add(self, url: str, name: str | None, *, now: dt.datetime | None = None) -> Feed | None:
        """Follow a feed; None when it is followed already."""
        if self._db.row("SELECT id FROM feeds WHERE url = ?", (url,)):
            return None  # read first: on a full disk even a write that would change nothing fails
        row = self._db.row(
            "INSERT INTO feeds (url, name, added_at) VALUES (?, ?, ?) ON CONFLICT (url) DO NOTHING RETURNING id",
            (url, name or None, second(now or dt.datetime.now(dt.UTC))),
        )
        return self.get(row["id"]) if row else None

    def every(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        return [_feed(row) for row in self._db.rows(f"SELECT {_COLUMNS} FROM feeds ORDER BY id")]

    def get(self, feed_id: int) -> Feed | None:
        """The feed with this id, or None."""
        row = self._db.row(f"SELECT {_COLUMNS} FROM feeds WHERE id = ?", (feed_id,))
        return _feed(row) if row else None

    def remove(self, feed_id: int) -> bool:
        """Stop following a feed and forget its items (its articles stay); False when there is no such feed."""
        with self._db.transaction():
            removed = self._db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            self._db.execute("DELETE FROM feed_items WHERE feed_id = ?", (feed_id,))
        return removed > 0

    def pause(self, feed_id: int, paused: bool) -> bool:
        """Pause or resume a feed (resuming also re-enables a disabled one, due now); False when there is none."""
        if paused:
            return self._db.execute("UPDATE feeds SET paused = TRUE WHERE id = ?", (feed_id,)) > 0
        return (
            self._db.execute(
                "UPDATE feeds SET paused = FALSE, disabled = FALSE, failures = 0, next_due = NULL WHERE id = ?",
                (feed_id,),
            )
            > 0
        )

    def save_poll(self, feed_id: int, poll: PollRecord) -> None:
        """Record a poll in one transaction: the feed's new state, and what it learnt of the items (a feed removed
        during its poll keeps no items)."""
        with self._db.transaction():
            updated = self._db.execute(
                "UPDATE feeds SET etag = ?, last_modified = ?, failures = ?, next_due = ?, disabled = ?, "
                "last_error = ?, last_fetch = ?, title = COALESCE(?, title), last_new = COALESCE(?, last_new), "
                "url = COALESCE(?, url), waiting = COALESCE(?, waiting), "
                "last_headlines = COALESCE(?, last_headlines), last_skipped = COALESCE(?, last_skipped), "
                "last_note = COALESCE(?, last_note) WHERE id = ?",
                (
                    poll.state.etag,
                    poll.state.last_modified,
                    poll.state.failures,
                    poll.state.next_due,
                    poll.state.disabled,
                    poll.state.last_error,
                    second(poll.when),
                    poll.title,
                    poll.new_items,
                    poll.url,
                    None if poll.plan is None else poll.plan.waiting,
                    poll.headlines,
                    poll.skipped,
                    poll.note,
                    feed_id,
                ),
            )
            if poll.plan is not None and updated:
                self._save_items(feed_id, poll.plan, poll.fetched or {}, poll.when.astimezone(dt.UTC))

    def _save_items(self, feed_id: int, plan: ItemPlan, fetched: Mapping[str, str | None], now: dt.datetime) -> None:
        """The item half of ``save_poll``: one batched statement for each kind of change, inside its transaction."""
        self._db.execute_many(
            "INSERT INTO feed_items (feed_id, key, digest, article_id, seen_at, pending, position, listed) "
            "VALUES (?, ?, ?, NULL, ?, ?, ?, TRUE) ON CONFLICT (feed_id, key) DO UPDATE SET digest = excluded.digest, "
            "pending = excluded.pending, listed = TRUE, left_at = NULL",
            [(feed_id, item.key, item.digest, now, _record(item), position) for position, item in enumerate(plan.new)],
        )
        for items, change in ((plan.changed, 1), (plan.refreshed, 0)):
            self._db.execute_many(
                "UPDATE feed_items SET digest = ?, pending = ?, changes = changes + ? WHERE feed_id = ? AND key = ?",
                [(item.digest, _record(item), change, feed_id, item.key) for item in items],
            )
        self._db.execute_many(
            "UPDATE feed_items SET pending = NULL, article_id = ?, fetched_at = ? WHERE feed_id = ? AND key = ?",
            [(article_id, now, feed_id, key) for key, article_id in fetched.items()],
        )
        self._db.execute_many(
            "UPDATE feed_items SET listed = TRUE, left_at = NULL WHERE feed_id = ? AND key = ?",
            [(feed_id, key) for key in plan.relisted],
        )
        self._db.execute_many(
            "UPDATE feed_items SET listed = FALSE, left_at = ? WHERE feed_id = ? AND key = ?",
            [(now, feed_id, key) for key in plan.gone],
        )
        if plan.gone:
            self._db.execute(
                "DELETE FROM feed_items WHERE feed_id = ? AND listed = FALSE AND (left_at < ? OR key NOT IN "
                "(SELECT key FROM feed_items WHERE feed_id = ? AND listed = FALSE ORDER BY left_at DESC LIMIT ?))",
                (feed_id, now - dt.timedelta(days=GONE_KEPT_DAYS), feed_id, GONE_KEPT),
            )

    def known_items(self, feed_id: int) -> dict[str, KnownItem]:
        """Everything remembered of a feed's items, by key, in one read: the most recently seen first (each
        poll's new items in feed order), the order in which waiting items are fetched."""
        rows = self._db.rows(
            "SELECT key, digest, pending IS NOT NULL AS waiting, listed, changes FROM feed_items WHERE feed_id = ? "
            "ORDER BY seen_at DESC, position",
            (feed_id,),
        )
        return {
            row["key"]: KnownItem(
                key=row["key"],
                digest=row["digest"],
                waiting=bool(row["waiting"]),
                listed=bool(row["listed"]),
                changes=row["changes"],
            )
            for row in rows
        }

    def waiting_items(self, feed_id: int, keys: Sequence[str]) -> dict[str, FeedItem]:
        """The waiting items among ``keys``, as the feed gave them (a damaged record is left out)."""
        found: dict[str, FeedItem] = {}
        for chunk in chunks(keys):
            rows = self._db.rows(
                f"SELECT key, pending FROM feed_items WHERE feed_id = ? AND pending IS NOT NULL "
                f"AND key IN ({marks(len(chunk))})",
                (feed_id, *chunk),
            )
            for row in rows:
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    found[row["key"]] = item_from_record(json.loads(row["pending"]))
        return found

    def fetched_since(self, when: dt.datetime) -> int:
        """How many feed items became articles since ``when`` (aware)."""
        row = self._db.row(
            "SELECT COUNT(*) AS fetched FROM feed_items WHERE article_id IS NOT NULL AND fetched_at >= ?",
            (second(when),),
        )
        return int(row["fetched"])
