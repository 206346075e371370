"""The state's schema: its versions, and the ordered steps that make each version from the one before.

The version a database is at is a number (SQLite keeps it in ``PRAGMA user_version``); ``MIGRATIONS`` holds
(version it makes, SQL that makes it) in order, and opening a database applies every step after its version in one
transaction. Append a step, never edit one: a database in the field was made by the steps as they were. The SQL
here is SQLite's (``INTEGER PRIMARY KEY AUTOINCREMENT``, ``ALTER TABLE ... ADD COLUMN`` one at a time, a partial
index); another engine writes its own steps for the same versions, with the same tables, columns and keys (see
the package's docstring).
"""

from __future__ import annotations

import sqlite3

__all__ = ["MIGRATIONS", "RUNNING_TABLES", "SCHEMA_VERSION", "TABLES", "migrate"]

# Version 1: briefing subscriptions and each chat's time zone.
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
# Version 2: followed feeds and the items seen in them; followed topics, what each chat was sent, and its queue.
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
# one the feed dropped is remembered a while more (``feeds.GONE_KEPT_DAYS``, at most ``feeds.GONE_KEPT`` per
# feed), so a feed that drops items for a while and lists them again does not bring them again. An item seen and
# not fetched yet keeps the feed's own data in ``pending`` (JSON) until it is fetched: the backlog. Existing items
# were all fetched already.
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
# Version 4: what several bot processes sharing the database agree on. The question behind each answer's buttons
# ("More", "Context", "Why"), each user's recent questions (the flood limit), leases on jobs (one process runs each
# at a time; another takes it over once the holder stops renewing), claims (a unique key inserted before a message
# is sent: a briefing's occurrence is sent once) and the processes running (a local index is one machine's).
# Moments that only compare with "now" in the same code (the flood limit) are seconds since the epoch, as REAL.
_V4 = """
CREATE TABLE buttons (
    key TEXT PRIMARY KEY,               -- in the buttons' callback data
    chat_id INTEGER NOT NULL,           -- pressed in another chat, the key is unknown there
    question TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',   -- the earlier question's subject a follow-up was read with
    created_at TEXT NOT NULL
);
CREATE INDEX buttons_created ON buttons (created_at);
CREATE TABLE rate_limits (
    scope TEXT NOT NULL,                -- "questions", "inline"
    user_id INTEGER NOT NULL,
    asked TEXT NOT NULL DEFAULT '',     -- the window's questions, seconds since the epoch, oldest first
    warned_at REAL,                     -- when the user was last told to slow down
    last_at REAL NOT NULL,              -- the user's last question: idle users are swept
    PRIMARY KEY (scope, user_id)
);
CREATE TABLE leases (
    job TEXT PRIMARY KEY,               -- "poll-feeds", "retention", ...
    holder TEXT NOT NULL,               -- the process holding it (host:pid:random)
    expires_at TEXT NOT NULL            -- UTC; after it, any process may take the job
);
CREATE TABLE claims (
    key TEXT PRIMARY KEY,               -- "briefing:12:2026-12-06T08:00:00+00:00": claimed once, then sent
    holder TEXT NOT NULL,
    claimed_at TEXT NOT NULL
);
CREATE INDEX claims_claimed ON claims (claimed_at);
CREATE TABLE processes (
    id TEXT PRIMARY KEY,                -- the holder name of its leases and claims
    hostname TEXT NOT NULL,
    backend TEXT NOT NULL,              -- SEARCH_BACKEND ("local" unless set)
    writer INTEGER NOT NULL DEFAULT 0,  -- INDEX_WRITER: the one process on the host that writes a local index
    started_at TEXT NOT NULL,
    seen_at TEXT NOT NULL               -- renewed while it runs; one not seen for a while is gone
)
"""
# Version 5: the conversation's last turns (``turns.py``): which question each of the bot's answers replied to. 
_V5 = """
CREATE TABLE turns (
    chat_id INTEGER NOT NULL,
    message_id INTEGER NOT NULL,        -- the bot's answer, which a reply points to
    user_id INTEGER NOT NULL,
    question TEXT NOT NULL,             -- as asked
    subject TEXT NOT NULL,              -- the words the answer was searched with
    asked_at TEXT NOT NULL,             -- UTC, ISO 8601
    PRIMARY KEY (chat_id, message_id)
);
CREATE INDEX turns_user ON turns (chat_id, user_id, asked_at);
CREATE INDEX turns_asked ON turns (asked_at)
"""
MIGRATIONS: tuple[tuple[int, str], ...] = ((1, _V1), (2, _V2), (3, _V3), (4, _V4), (5, _V5))
SCHEMA_VERSION = MIGRATIONS[-1][0]
# Every table of the current version that holds what the bot keeps, each after the tables its rows refer to (the
# order a copy writes them in). Version 4's tables coordinate running processes (buttons a day old at most,
# leases, claims) and are not copied.
TABLES = ("chats", "subscriptions", "feeds", "feed_items", "follows", "follow_sent", "follow_queue", "turns")
RUNNING_TABLES = ("buttons", "rate_limits", "leases", "claims", "processes")  # what running processes share


def migrate(db: sqlite3.Connection, version: int, *, to: int = SCHEMA_VERSION) -> None:
    """Apply every step after ``version`` up to ``to`` to a SQLite database, in one transaction (all, or none)."""
    steps = [(step, sql) for step, sql in MIGRATIONS if version < step <= to]
    if not steps:
        return
    script = "".join(f"{sql};\nPRAGMA user_version = {step};\n" for step, sql in steps)
    try:
        db.executescript(f"BEGIN;\n{script}COMMIT;")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
