"""``newsbot db copy`` and ``db check`` against a real PostgreSQL (a fresh database per test; skipped without one,
failed in CI): a SQLite state made through the real repositories moves into PostgreSQL whole, with its ids, its
counts checked and printed, and the command line then reads the copy as it read the file."""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlsplit

import pytest

from bot.state import PollRecord, PostgresState, SQLiteState, State, Turn
from bot.state.schema import RUNNING_TABLES, SCHEMA_VERSION, TABLES
from bot.state.transfer import counts
from index.polling import FeedState, plan_items

from .state_suite import NOW, item


@pytest.fixture
def folder(tmp_path):
    """A working folder whose DATA_DIR holds a SQLite state with a bit of everything, made by the repositories."""
    with SQLiteState(tmp_path / "data" / "newsbot.sqlite3", default_timezone="Europe/Istanbul") as store:
        store.subscriptions.set_timezone(42, "Europe/Berlin")
        first = store.subscriptions.add(42, "07:30", "libya", now=NOW)
        store.subscriptions.add(7, "08:00", None, now=NOW)
        store.subscriptions.add(-1001234567890, "18:00", "ferry", now=NOW)  # a supergroup: a 64-bit id
        store.subscriptions.disable_chat(-1001234567890, "the bot was removed")
        store.subscriptions.mark_sent(first.id, NOW + dt.timedelta(hours=1, microseconds=123456))
        dropped = store.subscriptions.add(42, "09:00", None, now=NOW)
        store.subscriptions.remove(42, dropped.id)  # the highest id so far: SQLite never gives it out again

        feed = store.feeds.add("https://example.com/rss", "Example", now=NOW)
        state = FeedState(etag='"v2"', last_modified="Wed, 25 Nov 2026 09:00:00 GMT",
                          next_due=NOW + dt.timedelta(hours=1))
        plan = plan_items([item(n) for n in (4, 3, 2, 1)], {}, per_poll=1)
        store.feeds.save_poll(feed.id, PollRecord(state, when=NOW, title="Example News", new_items=1, plan=plan,
                                                  fetched={"guid:4": "story-4"}))
        later = NOW + dt.timedelta(hours=1)
        plan = plan_items([item(n) for n in (4, 3, 2)], store.feeds.known_items(feed.id), per_poll=1)  # 1 is gone
        store.feeds.save_poll(feed.id, PollRecord(FeedState(etag='"v3"', failures=1, last_error="HTTP 500"),
                                                  when=later, plan=plan, fetched={"guid:3": None}, headlines=1,
                                                  note="1 kept as headline only (no text)"))
        paused = store.feeds.add("https://example.org/atom", None, now=NOW)
        store.feeds.pause(paused.id, True)

        harbour = store.follows.add(42, "harbour bridge", now=NOW)
        store.follows.add(7, "ferry strike", now=NOW)
        store.follows.mark_sent(42, [["a1"], ["a2", "a3"]], now=NOW)
        store.follows.queue(42, harbour.id, ["a9", "a5", "a7"], now=NOW)
        store.turns.remember(Turn(42, 7, 1005, "Which countries back Haftar?", "Which countries back Haftar?", NOW))
    return tmp_path


def everything(store: State) -> dict[str, object]:
    """All that a store's repositories say about the state in ``folder``."""
    feeds = store.feeds.every()
    return {
        "subscriptions": store.subscriptions.enabled(),
        "every subscription": [store.subscriptions.get(n) for n in range(1, 6)],
        "time zones": [store.subscriptions.timezone(chat) for chat in (42, 7, 99)],
        "feeds": feeds,
        "items": [store.feeds.known_items(feed.id) for feed in feeds],
        "waiting": [store.feeds.waiting_items(feed.id, [f"guid:{n}" for n in range(6)]) for feed in feeds],
        "fetched": store.feeds.fetched_since(NOW),
        "follows": store.follows.every(),
        "sent": store.follows.already_sent(42, ["a1", "a2", "a3", "a4", "a5", "a9"]),
        "messages": store.follows.sent_within(42, NOW - dt.timedelta(hours=1)),
        "queue": store.follows.queued(),
        "turn": store.turns.replied(42, 1005, now=NOW),
    }


def printed_counts(stdout: str) -> dict[str, tuple[int, int]]:
    return {m[1]: (int(m[2]), int(m[3])) for m in re.finditer(r"^\s+(\w+)\s+(\d+)\s+(\d+)$", stdout, re.MULTILINE)}


def test_db_copy_moves_a_sqlite_state_into_postgresql_whole_and_the_cli_reads_the_copy(folder, postgres_url, cli):
    env = {"DATA_DIR": str(folder / "data")}
    with SQLiteState(folder / "data" / "newsbot.sqlite3", default_timezone="Europe/Istanbul") as source:
        held, before = counts(source.engine), everything(source)
    assert all(held.values()), f"every table has rows to copy: {held}"

    out = cli("db", "copy", "--to", postgres_url, cwd=folder, env=env)
    assert out.code == 0, out.stderr
    assert printed_counts(out.stdout) == {table: (n, n) for table, n in held.items()}
    assert "Every count matches" in out.stdout
    assert urlsplit(postgres_url).password not in out.stdout + out.stderr

    with PostgresState(postgres_url, default_timezone="Europe/Istanbul") as copy:
        assert everything(copy) == before
        assert counts(copy.engine) == held

    # The command line reads the copy as it read the file.
    from_file = cli("feeds", "list", cwd=folder, env=env)
    from_copy = cli("feeds", "list", cwd=folder, env={**env, "DATABASE_URL": postgres_url})
    assert from_copy.code == 0, from_copy.stderr
    assert "#1\thttps://example.com/rss\tExample\tread" in from_copy.stdout
    assert from_copy.stdout == from_file.stdout
    check = cli("db", "check", cwd=folder, env={**env, "DATABASE_URL": postgres_url})
    assert check.code == 0, check.stderr
    assert check.stdout.startswith(f"postgresql://newsbot@{urlsplit(postgres_url).netloc.split('@')[1]}")
    assert f"schema {SCHEMA_VERSION}" in check.stdout
    assert all(re.search(rf"^\s+{table}\s+{n}$", check.stdout, re.MULTILINE) for table, n in held.items())

    # Ids go on where SQLite's would have: past the rows copied, and past those SQLite deleted before.
    with SQLiteState(folder / "data" / "newsbot.sqlite3") as source, PostgresState(postgres_url) as copy:
        for store in (source, copy):
            store.follows.queue(42, 1, ["a0"], now=NOW)  # queued last, though it sorts first
        made = [
            (
                store.subscriptions.add(7, "21:00", None, now=NOW).id,
                store.feeds.add("https://example.net/feed", None, now=NOW).id,
                store.follows.add(7, "tolls", now=NOW).id,
                store.follows.queued()[42],
            )
            for store in (source, copy)
        ]
    assert made[0] == made[1]
    assert made[1][0] == 5, "id 4 was deleted in SQLite before the copy"


def test_db_copy_refuses_a_database_that_holds_a_state_unless_told_to_replace_it(folder, postgres_url, cli):
    env = {"DATA_DIR": str(folder / "data")}
    with PostgresState(postgres_url) as target:
        target.subscriptions.add(555, "06:00", "held already", now=NOW)
    out = cli("db", "copy", "--to", postgres_url, cwd=folder, env=env)
    assert out.code == 2
    assert out.stderr.count("\n") == 1, out.stderr
    assert "already holds a state (subscriptions 1); pass --replace" in out.stderr
    assert urlsplit(postgres_url).password not in out.stderr
    with PostgresState(postgres_url) as target:
        assert [s.chat_id for s in target.subscriptions.enabled()] == [555], "left as it was"

    out = cli("db", "copy", "--replace", "--to", postgres_url, cwd=folder, env=env)
    assert out.code == 0, out.stderr
    with PostgresState(postgres_url) as target:
        assert [s.chat_id for s in target.subscriptions.enabled()] == [42, 7]


def test_db_copy_takes_the_target_from_database_url_and_the_source_from_from(folder, postgres_url, cli, tmp_path):
    moved = folder / "elsewhere.sqlite3"
    (folder / "data" / "newsbot.sqlite3").rename(moved)
    out = cli("db", "copy", "--from", f"sqlite:///{moved}", cwd=folder, env={"DATABASE_URL": postgres_url})
    assert out.code == 0, out.stderr
    assert printed_counts(out.stdout)["feeds"] == (2, 2)


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        pytest.param(["--to", "sqlite:///other.sqlite3"], {}, "needs --to postgresql://", id="to-sqlite"),
        pytest.param([], {}, "needs --to postgresql://", id="no-target"),
        pytest.param(["--from", "postgresql://u:secret@h/db", "--to", "postgresql://u:secret@h/db"], {},
                     "--from takes a sqlite:///PATH URL", id="from-postgres"),
        pytest.param(["--from", "sqlite:///missing.sqlite3", "--to", "postgresql://u:secret@h/db"], {},
                     "there is no SQLite state at missing.sqlite3", id="no-source"),
    ],
)
def test_db_copy_refuses_what_it_cannot_copy_in_one_line(tmp_path, cli, args, env, expected):
    out = cli("db", "copy", *args, cwd=tmp_path, env=env)
    assert out.code == 2
    assert out.stderr.count("\n") == 1, out.stderr
    assert expected in out.stderr
    assert "secret" not in out.stderr


def test_the_tables_copied_are_the_schemas(folder):
    with SQLiteState(folder / "data" / "newsbot.sqlite3") as source:
        names = {row["name"] for row in source.engine.rows("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert names - {"sqlite_sequence"} == {*TABLES, *RUNNING_TABLES}, "every table is copied, or is the running's"


def test_db_check_shows_the_schema_version_and_the_rows_of_each_table(folder, cli):
    out = cli("db", "check", cwd=folder, env={"DATA_DIR": "data"})
    assert out.code == 0, out.stderr
    assert out.stdout.startswith(f"sqlite:///data/newsbot.sqlite3: schema {SCHEMA_VERSION} (this newsbot's), 19 rows")
    assert re.search(r"^\s+follow_queue\s+3$", out.stdout, re.MULTILINE)
