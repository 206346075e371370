"""What only the SQLite store does: damaged or emptied files refused untouched, backups, private files, full disks,
and the migrations of files written by older versions. The store's contract, which every engine keeps, is checked
by the conformance suite (tests/state_suite.py, run by tests/test_state.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import sqlite3

import pytest

from bot.errors import DiskFull, StateError
from bot.state import BACKUPS_KEPT, SQLiteState

from .cli_harness import run_process
from .conftest import fill_disk, small_filesystem
from .fake_telegram import TOKEN


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def filled(tmp_path):
    """A database with three subscriptions, and one backup of it."""
    path = tmp_path / "data" / "newsbot.sqlite3"
    store = SQLiteState(path)
    for hhmm in ("07:00", "08:00", "09:00"):
        store.subscriptions.add(42, hhmm, "libya")
    store.backup(now=dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC))
    store.close()
    return path


def test_an_emptied_database_is_refused_with_the_way_back(filled):
    filled.write_bytes(b"")
    with pytest.raises(StateError) as info:
        SQLiteState(filled)
    message = str(info.value)
    assert "\n" not in message
    assert "is empty" in message
    assert "cp " in message
    assert "newsbot-20261120T080000Z.sqlite3" in message
    assert filled.stat().st_size == 0, "never written into"


def test_a_damaged_database_is_refused_untouched(filled):
    data = bytearray(filled.read_bytes())
    page = 4096
    data[page:] = os.urandom(len(data) - page)  # the header page survives, the rest is garbage
    filled.write_bytes(bytes(data))
    before = _digest(filled)
    with pytest.raises(StateError, match="is damaged") as info:
        SQLiteState(filled)
    assert "cp " in str(info.value)
    assert _digest(filled) == before, "never written into"


def test_restoring_from_the_backup(filled):
    backup = filled.parent / "backups" / "newsbot-20261120T080000Z.sqlite3"
    filled.write_bytes(b"")
    filled.write_bytes(backup.read_bytes())  # what the refusal message tells the user to do
    store = SQLiteState(filled)
    assert [s.time for s in store.subscriptions.for_chat(42)] == ["07:00", "08:00", "09:00"]
    store.close()


def test_backups_rotate(tmp_path):
    store = SQLiteState(tmp_path / "newsbot.sqlite3")
    store.subscriptions.add(1, "08:00", None)
    start = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    for day in range(BACKUPS_KEPT + 3):
        store.backup(now=start + dt.timedelta(days=day))
    store.close()
    kept = sorted(p.name for p in (tmp_path / "backups").iterdir())
    assert len(kept) == BACKUPS_KEPT
    assert kept[-1] == f"newsbot-202611{BACKUPS_KEPT + 3:02d}T000000Z.sqlite3"


def test_state_is_private(tmp_path):
    data = tmp_path / "data"
    store = SQLiteState(data / "newsbot.sqlite3")
    store.subscriptions.add(1, "08:00", "secret topic")
    store.backup()
    store.close()
    assert data.stat().st_mode & 0o077 == 0
    assert (data / "newsbot.sqlite3").stat().st_mode & 0o077 == 0
    assert (data / "backups").stat().st_mode & 0o077 == 0
    for backup in (data / "backups").iterdir():
        assert backup.stat().st_mode & 0o077 == 0


def test_an_old_world_readable_database_is_made_private(tmp_path):
    path = tmp_path / "newsbot.sqlite3"
    SQLiteState(path).close()
    path.chmod(0o644)
    SQLiteState(path).close()
    assert path.stat().st_mode & 0o077 == 0


def test_a_newer_schema_is_refused_untouched(tmp_path):
    path = tmp_path / "newsbot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 99")
    before = _digest(path)
    with pytest.raises(StateError, match="newer newsbot"):
        SQLiteState(path)
    assert _digest(path) == before


def test_opening_an_existing_database_writes_nothing(filled):
    before = (_digest(filled), filled.stat().st_mtime_ns)
    SQLiteState(filled).close()
    assert (_digest(filled), filled.stat().st_mtime_ns) == before


@pytest.fixture
def full_disk(tmp_path):
    yield from small_filesystem(tmp_path, "1m")


def test_an_existing_database_opens_on_a_full_disk(full_disk):
    store = SQLiteState(full_disk / "newsbot.sqlite3")
    store.subscriptions.add(7, "08:00", None)
    store.close()
    fill_disk(full_disk)
    store = SQLiteState(full_disk / "newsbot.sqlite3")
    assert len(store.subscriptions.for_chat(7)) == 1
    with pytest.raises(StateError, match="disk"):
        store.backup()
    store.close()


def test_run_on_a_full_disk_says_one_line(full_disk):
    fill_disk(full_disk)
    out = run_process("run", cwd=full_disk.parent, env={"TELEGRAM_BOT_TOKEN": TOKEN, "DATA_DIR": str(full_disk)})
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1
    assert "no space left" in out.stderr
    assert "Traceback" not in out.stderr


def test_a_write_on_a_full_disk_raises_disk_full_and_loses_nothing(full_disk):
    store = SQLiteState(full_disk / "newsbot.sqlite3")
    store.subscriptions.add(7, "08:00", "libya")
    assert store.follows.add(7, "haftar") is not None
    fill_disk(full_disk)
    for write in (lambda: store.subscriptions.add(7, "09:00", "x" * 50_000), lambda: store.follows.add(7, "y" * 50_000),
                  lambda: store.subscriptions.set_timezone(7, "Europe/Paris"), lambda: store.subscriptions.remove(7)):
        with pytest.raises(DiskFull, match="no space left on the disk holding DATA_DIR") as info:
            write()
        assert isinstance(info.value, StateError)
        assert "\n" not in str(info.value)
    assert store.follows.add(7, "haftar") is None, "a constraint is still a normal result"
    assert [(s.time, s.topic) for s in store.subscriptions.for_chat(7)] == [("08:00", "libya")]
    assert [f.topic for f in store.follows.for_chat(7)] == ["haftar"]
    store.close()
    (full_disk / "filler").unlink()
    store = SQLiteState(full_disk / "newsbot.sqlite3")
    assert [(s.time, s.topic) for s in store.subscriptions.for_chat(7)] == [("08:00", "libya")]
    store.close()


def test_a_version_1_database_is_migrated_and_keeps_its_subscriptions(tmp_path):
    from bot.state import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "newsbot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(MIGRATIONS[0][1] + ";\nPRAGMA user_version = 1;")
        db.execute(
            "INSERT INTO subscriptions (chat_id, time, topic, created_at) VALUES (42, '08:00', 'libya', ?)",
            ("2026-11-01T08:00:00+00:00",),
        )
    store = SQLiteState(path)
    assert [(s.chat_id, s.time, s.topic) for s in store.subscriptions.enabled()] == [(42, "08:00", "libya")]
    assert store.feeds.add("https://example.com/rss", "Example") is not None
    store.close()
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_version_2_database_keeps_its_feeds_and_seen_items(tmp_path):
    from bot.state import MIGRATIONS

    path = tmp_path / "newsbot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.executescript(MIGRATIONS[0][1] + ";\n" + MIGRATIONS[1][1] + ";\nPRAGMA user_version = 2;")
        db.execute(
            "INSERT INTO feeds (url, name, added_at, etag, last_fetch, last_new) "
            "VALUES ('https://example.com/rss', 'Example', '2026-11-01T08:00:00+00:00', '\"v1\"', "
            "'2026-11-20T08:00:00+00:00', 4)"
        )
        db.executemany(
            "INSERT INTO feed_items (feed_id, key, digest, article_id, seen_at) VALUES (1, ?, ?, ?, ?)",
            [  # item b could not become an article
                ("guid:a", "da", "art-a", "2026-11-20T08:00:00+00:00"),
                ("guid:b", "db", None, "2026-11-20T09:00:00+00:00"),
            ],
        )
    store = SQLiteState(path)
    (feed,) = store.feeds.every()
    assert (feed.label, feed.state.etag, feed.last_new, feed.waiting) == ("Example", '"v1"', 4, 0)
    known = store.feeds.known_items(feed.id)
    assert {k: (i.digest, i.waiting, i.listed) for k, i in known.items()} == {
        "guid:a": ("da", False, True),
        "guid:b": ("db", False, True),
    }
    assert store.feeds.fetched_since(dt.datetime(2026, 11, 20, tzinfo=dt.UTC)) == 1  # what became an article
    store.close()
