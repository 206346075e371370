"""The bot's own state in SQLite under DATA_DIR: briefing subscriptions, chat time zones, followed feeds with
their polling state and seen items, and followed topics with what each chat was sent.

The schema is versioned (``PRAGMA user_version``) and moved forward by an ordered list of steps (``MIGRATIONS``);
a database written by a newer newsbot is refused rather than overwritten. Before anything is written, an existing
file is opened read-only and checked (``PRAGMA integrity_check``): an emptied or damaged file is refused untouched,
with one line that names the newest backup to restore. Backups are made with SQLite's online backup API into
``DATA_DIR/backups`` (the newest ``BACKUPS_KEPT`` are kept). A new database is created under a temporary name and
renamed into place once its schema exists, so an empty ``newsbot.sqlite3`` is never one of ours. Files are
readable by their owner only. Calls are short and synchronous; the bot makes them through ``asyncio.to_thread``.
Any call that fails in SQLite raises ``StateError`` (``DiskFull`` when the disk is full: SQLite rolls the statement
back, so what the database held is intact); only a constraint violation is a normal result ("followed already").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.errors import DiskFull, StateError
from index.feeds import FeedItem, FeedState, ItemPlan, KnownItem, item_from_record, item_record
from index.store import private_dir

__all__ = [
    "BACKUPS_KEPT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Database",
    "Feed",
    "Follow",
    "Subscription",
]

BACKUPS_KEPT = 7
_V1 = """
CREATE TABLE chats (
    chat_id INTEGER PRIMARY KEY,
    timezone TEXT NOT NULL
);
CREATE TABLE subscriptions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    time TEXT NOT NULL,                 -- HH:MM in the chat's time zone
    topic TEXT,                         -- NULL: the latest stories
    created_at TEXT NOT NULL,           -- UTC, ISO 8601
    last_sent_at TEXT,                  -- UTC, ISO 8601; NULL until the first briefing
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT
);
CREATE INDEX subscriptions_chat ON subscriptions (chat_id);
"""
# (version it makes, SQL that makes it from the version before), in order. Append, never edit.
_V2 = """
CREATE TABLE feeds (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    url TEXT NOT NULL UNIQUE,
    name TEXT,                          -- what the admin called it; else the feed's own title
    title TEXT,
    added_at TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    etag TEXT,
    last_modified TEXT,
    failures INTEGER NOT NULL DEFAULT 0,
    next_due TEXT,                      -- UTC; NULL: due now
    disabled INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT '',
    last_fetch TEXT,
    last_new INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE feed_items (
    feed_id INTEGER NOT NULL,
    key TEXT NOT NULL,                  -- GUID, else the link, else a hash of title and content
    digest TEXT NOT NULL,               -- changes when the item's title or text change
    article_id TEXT,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (feed_id, key)
);
CREATE TABLE follows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (chat_id, topic)
);
CREATE TABLE follow_sent (
    chat_id INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, article_id)
);
CREATE TABLE follow_queue (
    chat_id INTEGER NOT NULL,
    article_id TEXT NOT NULL,
    follow_id INTEGER NOT NULL,
    queued_at TEXT NOT NULL,
    PRIMARY KEY (chat_id, article_id)
)
"""
# Version 3: the feed reader's memory. An item is remembered for as long as its feed lists it (no fixed count);
# one the feed dropped is remembered GONE_KEPT_DAYS more (at most GONE_KEPT per feed), so a feed that drops items
# for a while and lists them again does not bring them again. An item seen and not fetched yet keeps the feed's
# own data in ``pending`` (JSON) until it is fetched: the backlog. Existing items were all fetched already.
_V3 = """
ALTER TABLE feed_items ADD COLUMN pending TEXT;          -- the item as the feed gave it, while it waits; else NULL
ALTER TABLE feed_items ADD COLUMN position INTEGER NOT NULL DEFAULT 0;  -- its place in the feed when first seen
ALTER TABLE feed_items ADD COLUMN listed INTEGER NOT NULL DEFAULT 1;    -- the feed listed it when last read
ALTER TABLE feed_items ADD COLUMN left_at TEXT;          -- UTC; when the feed stopped listing it
ALTER TABLE feed_items ADD COLUMN fetched_at TEXT;       -- UTC; when its page was last fetched (NULL: never)
ALTER TABLE feed_items ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;   -- fetched again after its text changed
UPDATE feed_items SET fetched_at = seen_at;
CREATE INDEX feed_items_waiting ON feed_items (feed_id, seen_at) WHERE pending IS NOT NULL;
ALTER TABLE feeds ADD COLUMN waiting INTEGER NOT NULL DEFAULT 0;          -- items seen and not fetched yet
ALTER TABLE feeds ADD COLUMN last_headlines INTEGER NOT NULL DEFAULT 0;   -- kept as headlines by the last poll
ALTER TABLE feeds ADD COLUMN last_skipped INTEGER NOT NULL DEFAULT 0;     -- items the last poll could not keep
-- why some were kept as headlines or not at all (one line)
ALTER TABLE feeds ADD COLUMN last_note TEXT NOT NULL DEFAULT ''
"""
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3))
GONE_KEPT = 5000  # items a feed no longer lists, remembered per feed (the most recently dropped)
GONE_KEPT_DAYS = 30  # ... and for at most this long
SCHEMA_VERSION = MIGRATIONS[-1][0]
_NO_SPACE = ("database or disk is full", "disk i/o error", "no space")


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
class Follow:
    """A topic a chat follows: matching new stories are sent to it."""

    id: int
    chat_id: int
    topic: str
    created_at: dt.datetime


def _utc(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def _migrate(db: sqlite3.Connection, version: int) -> None:
    """Apply every step after ``version`` in one transaction."""
    steps = [(to, sql) for to, sql in MIGRATIONS if to > version]
    if not steps:
        return
    script = "".join(f"{sql};\nPRAGMA user_version = {to};\n" for to, sql in steps)
    try:
        db.executescript(f"BEGIN;\n{script}COMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _state_error(exc: Exception, path: Path, doing: str = "open") -> StateError:
    """A failure of SQLite or of the file system as one line that says what to do (``DiskFull`` for no space)."""
    text = str(exc)
    if any(marker in text.lower() for marker in _NO_SPACE):
        return DiskFull(
            f"cannot {doing} {path}: no space left on the disk holding DATA_DIR ({text}); free some space"
        )
    return StateError(f"cannot {doing} {path} ({text})")


class _Connection(sqlite3.Connection):
    """The database's connection: a failing statement raises ``StateError``, except a constraint violation."""

    def __init__(self, database: str | Path, *args, **kwargs) -> None:
        super().__init__(database, *args, **kwargs)
        self.path = Path(database)

    def execute(self, *args) -> sqlite3.Cursor:
        return self._checked(super().execute, args)

    def executemany(self, *args) -> sqlite3.Cursor:
        return self._checked(super().executemany, args)

    def _checked(self, run: Callable[..., sqlite3.Cursor], args: tuple) -> sqlite3.Cursor:
        try:
            return run(*args)
        except sqlite3.IntegrityError:
            raise  # "followed already" and the like: the caller's normal result
        except sqlite3.Error as exc:
            raise _state_error(exc, self.path, "write to" if _writes(args) else "read") from None


def _writes(args: tuple) -> bool:
    return bool(args) and not str(args[0]).lstrip().upper().startswith("SELECT")


def _owner_only(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


class Database:
    """Subscriptions and chat settings in one SQLite file.

    Args:
        path: the database file (created with its folder when missing).
        default_timezone: the time zone of chats that never set one.

    Raises:
        StateError: the file cannot be used as it is (the message says what to do); it is left untouched.
    """

    def __init__(self, path: str | Path, *, default_timezone: str = "UTC") -> None:
        self.path = Path(path)
        self.backups = self.path.parent / "backups"
        self.default_timezone = default_timezone
        self._lock = threading.Lock()
        try:
            private_dir(self.path.parent)
            if not self.path.exists():
                self._create()
            self._check()
            _owner_only(self.path)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, factory=_Connection)
        except sqlite3.Error as exc:
            raise _state_error(exc, self.path) from None
        except OSError as exc:
            raise StateError(f"cannot open {self.path} ({exc.strerror or exc})") from None

    def _create(self) -> None:
        """A new database, made under a temporary name and renamed into place with its schema complete."""
        fresh = self.path.with_name(self.path.name + ".new")
        fresh.unlink(missing_ok=True)
        os.close(os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            with contextlib.closing(sqlite3.connect(fresh, isolation_level=None)) as db:
                _migrate(db, 0)
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
                _migrate(db, version)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

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
            with contextlib.closing(sqlite3.connect(partial)) as copy, self._lock:
                self._db.backup(copy)
            os.replace(partial, target)
        except (sqlite3.Error, OSError) as exc:
            partial.unlink(missing_ok=True)
            raise _state_error(exc, self.path, "back up") from None
        for old in sorted(self.backups.glob("newsbot-*.sqlite3"))[:-BACKUPS_KEPT]:
            old.unlink(missing_ok=True)
        return target

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
        """The chat's time zone (the default when it never set one)."""
        with self._lock:
            row = self._db.execute("SELECT timezone FROM chats WHERE chat_id = ?", (chat_id,)).fetchone()
        return row[0] if row else self.default_timezone

    def set_timezone(self, chat_id: int, timezone: str) -> None:
        """Set the chat's time zone (an IANA name, already checked)."""
        with self._lock:
            self._db.execute(
                "INSERT INTO chats (chat_id, timezone) VALUES (?, ?) "
                "ON CONFLICT (chat_id) DO UPDATE SET timezone = excluded.timezone",
                (chat_id, timezone),
            )

    def add(self, chat_id: int, time: str, topic: str | None, *, now: dt.datetime | None = None) -> Subscription:
        """A new daily briefing for ``chat_id`` at ``time`` (HH:MM, the chat's zone) on ``topic`` (None: latest)."""
        created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO subscriptions (chat_id, time, topic, created_at) VALUES (?, ?, ?, ?)",
                (chat_id, time, topic or None, created),
            )
        return self.get(cursor.lastrowid)

    def get(self, subscription_id: int) -> Subscription | None:
        """The subscription with this id, enabled or not; None when there is none."""
        found = self._rows("s.id = ?", (subscription_id,))
        return found[0] if found else None

    def for_chat(self, chat_id: int) -> list[Subscription]:
        """The chat's enabled subscriptions, oldest first."""
        return self._rows("s.chat_id = ? AND s.enabled = 1", (chat_id,))

    def enabled(self) -> list[Subscription]:
        """Every enabled subscription (to schedule on start)."""
        return self._rows("s.enabled = 1")

    def remove(self, chat_id: int, subscription_id: int | None = None) -> list[int]:
        """Delete one subscription of a chat (or all when ``subscription_id`` is None); returns the ids removed."""
        targets = [s.id for s in self.for_chat(chat_id) if subscription_id in (None, s.id)]
        with self._lock:
            self._db.executemany("DELETE FROM subscriptions WHERE id = ?", [(i,) for i in targets])
        return targets

    def mark_sent(self, subscription_id: int, when: dt.datetime) -> None:
        """Record when a subscription's briefing was sent."""
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

    # -- feeds
    _FEED_COLUMNS = (
        "id, url, name, title, added_at, paused, etag, last_modified, failures, next_due, disabled, last_error, "
        "last_fetch, last_new, waiting, last_headlines, last_skipped, last_note"
    )

    @staticmethod
    def _feed(row: tuple) -> Feed:
        state = FeedState(
            etag=row[6],
            last_modified=row[7],
            failures=row[8],
            next_due=_utc(row[9]),
            disabled=bool(row[10]),
            last_error=row[11] or "",
        )
        return Feed(
            id=row[0],
            url=row[1],
            name=row[2],
            title=row[3],
            added_at=_utc(row[4]),
            paused=bool(row[5]),
            state=state,
            last_fetch=_utc(row[12]),
            last_new=row[13],
            waiting=row[14],
            last_headlines=row[15],
            last_skipped=row[16],
            last_note=row[17],
        )

    def add_feed(self, url: str, name: str | None, *, now: dt.datetime | None = None) -> Feed | None:
        """Follow a feed; None when it is followed already."""
        added = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO feeds (url, name, added_at) VALUES (?, ?, ?)", (url, name or None, added)
                )
            except sqlite3.IntegrityError:
                return None
        return self.feed(cursor.lastrowid)

    def feeds(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        with self._lock:
            rows = self._db.execute(f"SELECT {self._FEED_COLUMNS} FROM feeds ORDER BY id").fetchall()
        return [self._feed(r) for r in rows]

    def feed(self, feed_id: int) -> Feed | None:
        """The feed with this id, or None."""
        with self._lock:
            row = self._db.execute(f"SELECT {self._FEED_COLUMNS} FROM feeds WHERE id = ?", (feed_id,)).fetchone()
        return self._feed(row) if row else None

    def remove_feed(self, feed_id: int) -> bool:
        """Stop following a feed (its articles stay in the articles folder); False when there is no such feed."""
        with self._lock:
            cursor = self._db.execute("DELETE FROM feeds WHERE id = ?", (feed_id,))
            self._db.execute("DELETE FROM feed_items WHERE feed_id = ?", (feed_id,))
        return cursor.rowcount > 0

    def pause_feed(self, feed_id: int, paused: bool) -> bool:
        """Pause or resume a feed (resuming also re-enables a disabled one); False when there is none."""
        with self._lock:
            cursor = self._db.execute(
                "UPDATE feeds SET paused = ?, disabled = CASE WHEN ? THEN disabled ELSE 0 END, "
                "failures = CASE WHEN ? THEN failures ELSE 0 END, next_due = CASE WHEN ? THEN next_due ELSE NULL END "
                "WHERE id = ?",
                (int(paused), int(paused), int(paused), int(paused), feed_id),
            )
        return cursor.rowcount > 0

    def save_poll(
        self,
        feed_id: int,
        state: FeedState,
        *,
        when: dt.datetime,
        title: str | None = None,
        new_items: int | None = None,
        url: str | None = None,
        plan: ItemPlan | None = None,
        fetched: Mapping[str, str | None] | None = None,
        headlines: int | None = None,
        skipped: int | None = None,
        note: str | None = None,
    ) -> None:
        """Record a poll in one transaction: the feed's new state, and what it learnt of the items.

        Args:
            feed_id: the feed.
            state: its polling state after the poll.
            when: when the poll ended (aware).
            title: the feed's own title, when it was read.
            new_items: how many stories the poll saved.
            url: the feed's new address after a permanent redirect.
            plan: the poll's plan (``index.feeds.plan_items``): new, changed and refreshed items are kept as
                waiting, gone ones marked so, relisted ones listed again. None after a failure.
            fetched: the items fetched, by key, with the id of the article saved for each (None: nothing could
                be kept); they stop waiting.
            headlines, skipped, note: items the poll kept as headlines only, items it could not keep, and why.
        """
        stamp = when.astimezone(dt.UTC)
        rows_feed = (
            state.etag,
            state.last_modified,
            state.failures,
            state.next_due.astimezone(dt.UTC).isoformat() if state.next_due else None,
            int(state.disabled),
            state.last_error,
            stamp.isoformat(timespec="seconds"),
            title,
            new_items,
            url,
            None if plan is None else plan.waiting,
            headlines,
            skipped,
            note,
            feed_id,
        )
        with self._lock:
            self._db.execute("BEGIN")
            try:
                cursor = self._db.execute(
                    "UPDATE feeds SET etag = ?, last_modified = ?, failures = ?, next_due = ?, disabled = ?, "
                    "last_error = ?, last_fetch = ?, title = COALESCE(?, title), last_new = COALESCE(?, last_new), "
                    "url = COALESCE(?, url), waiting = COALESCE(?, waiting), "
                    "last_headlines = COALESCE(?, last_headlines), last_skipped = COALESCE(?, last_skipped), "
                    "last_note = COALESCE(?, last_note) WHERE id = ?",
                    rows_feed,
                )
                if plan is not None and cursor.rowcount:  # a feed removed during its poll keeps no items
                    self._save_items(feed_id, plan, fetched or {}, stamp)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def _save_items(self, feed_id: int, plan: ItemPlan, fetched: Mapping[str, str | None], when: dt.datetime) -> None:
        """The item half of ``save_poll``: a few ``executemany`` inside its transaction."""
        now = when.isoformat(timespec="microseconds")
        self._db.executemany(
            "INSERT INTO feed_items (feed_id, key, digest, article_id, seen_at, pending, position, listed) "
            "VALUES (?, ?, ?, NULL, ?, ?, ?, 1) ON CONFLICT (feed_id, key) DO UPDATE SET digest = excluded.digest, "
            "pending = excluded.pending, listed = 1, left_at = NULL",
            [
                (feed_id, item.key, item.digest, now, json.dumps(item_record(item), ensure_ascii=False), position)
                for position, item in enumerate(plan.new)
            ],
        )
        for items, change in ((plan.changed, 1), (plan.refreshed, 0)):
            self._db.executemany(
                "UPDATE feed_items SET digest = ?, pending = ?, changes = changes + ? WHERE feed_id = ? AND key = ?",
                [
                    (item.digest, json.dumps(item_record(item), ensure_ascii=False), change, feed_id, item.key)
                    for item in items
                ],
            )
        self._db.executemany(
            "UPDATE feed_items SET pending = NULL, article_id = ?, fetched_at = ? WHERE feed_id = ? AND key = ?",
            [(article_id, now, feed_id, key) for key, article_id in fetched.items()],
        )
        self._db.executemany(
            "UPDATE feed_items SET listed = 1, left_at = NULL WHERE feed_id = ? AND key = ?",
            [(feed_id, key) for key in plan.relisted],
        )
        self._db.executemany(
            "UPDATE feed_items SET listed = 0, left_at = ? WHERE feed_id = ? AND key = ?",
            [(now, feed_id, key) for key in plan.gone],
        )
        if plan.gone:
            cutoff = (when - dt.timedelta(days=GONE_KEPT_DAYS)).isoformat(timespec="microseconds")
            self._db.execute(
                "DELETE FROM feed_items WHERE feed_id = ? AND listed = 0 AND (left_at < ? OR key NOT IN "
                "(SELECT key FROM feed_items WHERE feed_id = ? AND listed = 0 ORDER BY left_at DESC LIMIT ?))",
                (feed_id, cutoff, feed_id, GONE_KEPT),
            )

    def known_items(self, feed_id: int) -> dict[str, KnownItem]:
        """Everything remembered of a feed's items, by key, in one read: the most recently seen first (each
        poll's new items in feed order), the order in which waiting items are fetched."""
        with self._lock:
            rows = self._db.execute(
                "SELECT key, digest, pending IS NOT NULL, listed, changes FROM feed_items WHERE feed_id = ? "
                "ORDER BY seen_at DESC, position",
                (feed_id,),
            ).fetchall()
        return {
            key: KnownItem(key=key, digest=digest, waiting=bool(waiting), listed=bool(listed), changes=changes)
            for key, digest, waiting, listed, changes in rows
        }

    def waiting_items(self, feed_id: int, keys: Sequence[str]) -> dict[str, FeedItem]:
        """The waiting items among ``keys``, as the feed gave them (a damaged record is left out)."""
        found: dict[str, FeedItem] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                rows = self._db.execute(
                    f"SELECT key, pending FROM feed_items WHERE feed_id = ? AND pending IS NOT NULL "
                    f"AND key IN ({', '.join('?' * len(chunk))})",
                    (feed_id, *chunk),
                ).fetchall()
                for key, pending in rows:
                    with contextlib.suppress(ValueError, KeyError, TypeError):
                        found[key] = item_from_record(json.loads(pending))
        return found

    def fetched_since(self, when: dt.datetime) -> int:
        """How many feed items became articles since ``when``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM feed_items WHERE article_id IS NOT NULL AND fetched_at >= ?",
                (when.astimezone(dt.UTC).isoformat(timespec="seconds"),),
            ).fetchone()
        return int(row[0])

    # -- follows
    def add_follow(self, chat_id: int, topic: str, *, now: dt.datetime | None = None) -> Follow | None:
        """Follow a topic in a chat; None when the chat follows it already."""
        created = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
        with self._lock:
            try:
                cursor = self._db.execute(
                    "INSERT INTO follows (chat_id, topic, created_at) VALUES (?, ?, ?)", (chat_id, topic, created)
                )
            except sqlite3.IntegrityError:
                return None
        return Follow(cursor.lastrowid, chat_id, topic, _utc(created))

    def follows(self, chat_id: int | None = None) -> list[Follow]:
        """The topics a chat follows (every chat's when None), oldest first."""
        where, args = ("WHERE chat_id = ?", (chat_id,)) if chat_id is not None else ("", ())
        with self._lock:
            rows = self._db.execute(
                f"SELECT id, chat_id, topic, created_at FROM follows {where} ORDER BY id", args
            ).fetchall()
        return [Follow(r[0], r[1], r[2], _utc(r[3])) for r in rows]

    def remove_follows(self, chat_id: int, follow_id: int | None = None) -> list[int]:
        """Stop following one topic of a chat (all when ``follow_id`` is None); the ids removed."""
        targets = [f.id for f in self.follows(chat_id) if follow_id in (None, f.id)]
        with self._lock:
            self._db.executemany("DELETE FROM follows WHERE id = ?", [(i,) for i in targets])
            self._db.executemany("DELETE FROM follow_queue WHERE follow_id = ?", [(i,) for i in targets])
        return targets

    def was_sent(self, chat_id: int, article_id: str) -> bool:
        """Whether this story was already sent to (or queued for) this chat."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM follow_sent WHERE chat_id = ? AND article_id = ? UNION "
                "SELECT 1 FROM follow_queue WHERE chat_id = ? AND article_id = ?",
                (chat_id, article_id, chat_id, article_id),
            ).fetchone()
        return row is not None

    def sent_within(self, chat_id: int, since: dt.datetime) -> int:
        """How many follow messages the chat was sent since ``since``."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(DISTINCT sent_at) FROM follow_sent WHERE chat_id = ? AND sent_at >= ?",
                (chat_id, since.astimezone(dt.UTC).isoformat(timespec="seconds")),
            ).fetchone()
        return int(row[0])

    def mark_follow_sent(self, chat_id: int, article_ids: list[str], *, now: dt.datetime) -> None:
        """Record stories as sent to a chat in one message (and take them off its queue)."""
        when = now.astimezone(dt.UTC).isoformat(timespec="seconds")
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO follow_sent (chat_id, article_id, sent_at) VALUES (?, ?, ?)",
                [(chat_id, a, when) for a in article_ids],
            )
            self._db.executemany(
                "DELETE FROM follow_queue WHERE chat_id = ? AND article_id = ?", [(chat_id, a) for a in article_ids]
            )

    def queue_follow(self, chat_id: int, article_id: str, follow_id: int, *, now: dt.datetime) -> None:
        """Keep a matching story for the chat's next digest (it had its share of messages this hour)."""
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO follow_queue (chat_id, article_id, follow_id, queued_at) VALUES (?, ?, ?, ?)",
                (chat_id, article_id, follow_id, now.astimezone(dt.UTC).isoformat(timespec="seconds")),
            )

    def queued(self) -> dict[int, list[tuple[str, int]]]:
        """Queued stories by chat: (article id, follow id), oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT chat_id, article_id, follow_id FROM follow_queue ORDER BY queued_at, rowid"
            ).fetchall()
        out: dict[int, list[tuple[str, int]]] = {}
        for chat_id, article_id, follow_id in rows:
            out.setdefault(chat_id, []).append((article_id, follow_id))
        return out

