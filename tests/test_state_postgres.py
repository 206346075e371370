"""What only the PostgreSQL store does, against a real server (a fresh database per test, ``tests/services.py``;
skipped without one, failed in CI): processes that migrate at once, a newer schema refused untouched, the same
tables as SQLite's, connections refused, timed out and lost, a full disk (the server's error raised by a trigger,
and a real one: a server of its own on a small tmpfs), the password kept out of every message.
The store's contract, which every engine keeps, is checked by the conformance suite (tests/state_suite.py)."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from bot.errors import DiskFull, StateError
from bot.state import SCHEMA_VERSION, PollRecord, PostgresState, SQLiteState, schema
from bot.state import postgres as pg
from index.feeds import FeedItem
from index.polling import FeedState, plan_items

from .cli_harness import process_env, run_process
from .conftest import ROOT, fill_disk
from .fake_telegram import TOKEN
from .services import DATABASE_URL, free_port, require
from .state_suite import NOW, item

PASSWORD_CHECK = "a password must never be shown"


def with_parts(url: str, *, password: str | None = None, port: int | None = None, database: str | None = None) -> str:
    """``url`` with another password, port or database."""
    parts = urlsplit(url)
    user, host = parts.username, parts.hostname
    netloc = f"{user}:{password if password is not None else parts.password}@{host}:{port or parts.port}"
    return urlunsplit(parts._replace(netloc=netloc, path=f"/{database}" if database else parts.path))


@contextlib.contextmanager
def raw(url: str) -> Iterator[psycopg.Connection]:
    """A connection of the test's own to the database, beside the store's (autocommit)."""
    with psycopg.connect(url, autocommit=True) as connection:
        yield connection


def one_line_without_password(message: str, url: str) -> None:
    password = urlsplit(url).password
    assert "\n" not in message, message
    assert password not in message, PASSWORD_CHECK
    assert urlsplit(url).hostname in message, "names the database"


def everything(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, the version table included, as the database holds them."""
    with raw(url) as db:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            for table in (*schema.TABLES, "schema_version")
        }


def test_the_postgresql_schema_has_the_same_versions_tables_columns_and_keys_as_sqlites(postgres_url, tmp_path):
    assert [v for v, _ in pg.MIGRATIONS] == [v for v, _ in schema.MIGRATIONS]
    sqlite = SQLiteState(tmp_path / "newsbot.sqlite3")
    PostgresState(postgres_url).close()
    with raw(postgres_url) as db:
        for table in schema.TABLES:
            lite_columns = [row["name"] for row in sqlite.engine.rows(f"SELECT name FROM pragma_table_info('{table}')")]
            pg_columns = [
                name
                for (name,) in db.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                    "ORDER BY ordinal_position",
                    (table,),
                )
            ]
            assert [c for c in pg_columns if c != "row_order"] == lite_columns, table
            lite_keys = {
                frozenset(r["name"] for r in sqlite.engine.rows(f"SELECT name FROM pragma_index_info('{i['name']}')"))
                for i in sqlite.engine.rows(f"SELECT name FROM pragma_index_list('{table}') WHERE \"unique\"")
            }
            # SQLite's INTEGER PRIMARY KEY is the rowid itself, not an index: the primary key counts as one.
            lite_keys.add(frozenset(r["name"] for r in sqlite.engine.rows(
                f"SELECT name FROM pragma_table_info('{table}') WHERE pk > 0"
            )))
            pg_keys = {
                frozenset(columns)
                for (columns,) in db.execute(
                    "SELECT array_agg(a.attname) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
                    "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = %s::regclass AND i.indisunique "
                    "GROUP BY i.indexrelid",
                    (table,),
                )
            }
            assert pg_keys == lite_keys, table
    sqlite.close()


def test_two_stores_starting_at_once_migrate_once_and_both_work(postgres_url, caplog):
    caplog.set_level(logging.INFO, logger="bot.state.postgres")
    opened: dict[str, PostgresState | BaseException] = {}

    def start(name: str) -> None:
        try:
            opened[name] = PostgresState(postgres_url)
        except BaseException as exc:
            opened[name] = exc

    with raw(postgres_url) as holder, holder.transaction():
        # Hold the migration lock, so that both starts find schema 0 and queue for the lock together.
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (pg.MIGRATION_LOCK,))
        threads = [threading.Thread(target=start, args=(name,)) for name in ("first", "second")]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30  # a bound on a hang, not a timing
        while holder.execute(
            "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchone()[0] < 2:
            assert time.monotonic() < deadline, "both starts should be waiting for the migration lock"
            assert all(thread.is_alive() for thread in threads), opened
            time.sleep(0.01)  # polling the server's lock table for the moment both wait
    for thread in threads:
        thread.join()
    first, second = opened["first"], opened["second"]
    assert isinstance(first, PostgresState), first
    assert isinstance(second, PostgresState), second
    assert [r.getMessage() for r in caplog.records if "migrated" in r.getMessage()] == [
        f"migrated {first.shown} from schema 0 to {SCHEMA_VERSION}"
    ], "one of them migrated, the other found nothing left to do"
    a = first.subscriptions.add(42, "07:30", "libya", now=NOW)
    b = second.subscriptions.add(7, "08:00", None, now=NOW)
    assert second.subscriptions.get(a.id) == a
    assert first.subscriptions.enabled() == [a, b]
    assert (first.schema_version(), second.schema_version()) == (SCHEMA_VERSION, SCHEMA_VERSION)
    first.close()
    second.close()


def test_a_newer_schema_is_refused_untouched(postgres_url):
    with PostgresState(postgres_url) as store:
        store.subscriptions.add(42, "07:30", "libya", now=NOW)
    with raw(postgres_url) as db:
        db.execute("UPDATE schema_version SET version = 99")
    before = everything(postgres_url)
    with pytest.raises(StateError, match="newer newsbot") as info:
        PostgresState(postgres_url)
    assert f"schema 99; this version knows up to {SCHEMA_VERSION}" in str(info.value)
    one_line_without_password(str(info.value), postgres_url)
    assert everything(postgres_url) == before


def test_opening_a_database_at_the_current_schema_writes_nothing(postgres_url):
    PostgresState(postgres_url).close()
    with raw(postgres_url) as db:
        db.execute("ALTER DATABASE " + urlsplit(postgres_url).path[1:] + " SET default_transaction_read_only = on")
    with PostgresState(postgres_url) as store:  # a write (a migration, say) would fail on a read-only session
        assert store.schema_version() == SCHEMA_VERSION
        assert store.feeds.every() == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda url: with_parts(url, password="not-the-password"), "password authentication failed",
                     id="wrong-password"),
        pytest.param(lambda url: with_parts(url, database="no_such_database"),
                     'database "no_such_database" does not exist', id="no-database"),
        pytest.param(lambda url: with_parts(url, port=free_port()), "Connection refused", id="refused"),
    ],
)
def test_a_database_that_cannot_be_reached_is_one_line_without_the_password(postgres_url, change, expected):
    url = change(postgres_url)
    with pytest.raises(StateError) as info:
        PostgresState(url)
    message = str(info.value)
    assert message.startswith("cannot connect to postgresql://newsbot@")
    assert expected in message
    one_line_without_password(message, url)
    assert "not-the-password" not in message


def test_a_server_that_never_answers_times_out_in_one_line(postgres_url):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts the connection (the kernel does) and never says a word
        url = with_parts(postgres_url, port=silent.getsockname()[1]) + "?connect_timeout=2"
        with pytest.raises(StateError, match="no answer in time") as info:
            PostgresState(url)
    one_line_without_password(str(info.value), url)


@pytest.mark.parametrize("command", [["feeds", "list"], ["run"], ["db", "check"]], ids=" ".join)
def test_the_command_line_says_one_line_without_the_password_when_the_database_is_unreachable(
    postgres_url, tmp_path, command
):
    url = with_parts(postgres_url, password="not-the-password")
    out = run_process(*command, cwd=tmp_path, env={"DATABASE_URL": url, "TELEGRAM_BOT_TOKEN": TOKEN})
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1, out.stderr
    assert "password authentication failed" in out.stderr
    assert "not-the-password" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_without_psycopg_a_postgresql_url_is_one_line_naming_the_extra(postgres_url, tmp_path):
    code = (
        "import sys; sys.modules['psycopg'] = None  # as if the postgres extra were not installed\n"
        "from bot.cli import main; sys.exit(main(['feeds', 'list']))"
    )
    out = run_process_code(code, tmp_path, {"DATABASE_URL": postgres_url})
    assert out.returncode == 2, out.stderr
    assert out.stderr.count("\n") == 1, out.stderr
    assert "psycopg is not installed" in out.stderr
    assert "newsbot[postgres]" in out.stderr
    assert urlsplit(postgres_url).password not in out.stderr


def run_process_code(code: str, cwd, env):
    """``python -c code`` in a newsbot process's environment."""
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=process_env(env), capture_output=True, text=True, timeout=120
    )


def terminate(pid: int) -> None:
    """End a server process (a session) as an administrator would, and wait until it is gone."""
    with raw(os.environ[DATABASE_URL]) as db:
        assert db.execute("SELECT pg_terminate_backend(%s, 30000)", (pid,)).fetchone()[0]


def test_a_connection_the_server_ended_while_idle_is_replaced_before_the_next_call(postgres_url, caplog):
    store = PostgresState(postgres_url)
    before = store.subscriptions.add(42, "07:30", "libya", now=NOW)
    terminate(store.engine.connection.info.backend_pid)
    added = store.subscriptions.add(42, "08:00", None, now=NOW)  # a write: it must not be lost, nor made twice
    assert store.subscriptions.for_chat(42) == [before, added]
    assert "was lost; connected again" in caplog.text
    store.close()


def test_a_read_whose_connection_breaks_is_run_again_once_then_fails_in_one_line(postgres_url):
    store = PostgresState(postgres_url)
    first = store.engine.connection.info.backend_pid
    with pytest.raises(StateError, match="the connection was lost") as info:
        store.engine.rows("SELECT pg_terminate_backend(pg_backend_pid())")  # ends its own session, every time
    assert store.engine.connection.info.backend_pid != first, "connected again once"
    one_line_without_password(str(info.value), postgres_url)
    assert store.feeds.every() == [], "and the next call connects again"
    store.close()


def test_a_write_whose_connection_breaks_is_not_repeated_and_the_next_call_connects_again(postgres_url):
    store = PostgresState(postgres_url)
    with pytest.raises(StateError, match="may or may not have been saved") as info:
        store.engine.execute(
            "INSERT INTO chats (chat_id, timezone) SELECT ?, ? FROM (SELECT pg_terminate_backend(pg_backend_pid())) t",
            (5, "Europe/Paris"),
        )
    one_line_without_password(str(info.value), postgres_url)
    assert everything(postgres_url)["chats"] == [], "the session ended before the insert committed"
    store.subscriptions.set_timezone(7, "Europe/Berlin")
    assert everything(postgres_url)["chats"] == [(7, "Europe/Berlin")]
    store.close()


def test_when_connecting_again_fails_the_call_fails_in_one_line(postgres_url):
    store = PostgresState(postgres_url)
    name = urlsplit(postgres_url).path[1:]
    with raw(os.environ[DATABASE_URL]) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
        terminate(store.engine.connection.info.backend_pid)
        with pytest.raises(StateError, match="is not currently accepting connections") as info:
            store.feeds.every()
        one_line_without_password(str(info.value), postgres_url)
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
    assert store.feeds.every() == [], "the next call connects"
    store.close()


def test_a_full_disk_on_the_server_is_disk_full_in_one_line_and_changes_nothing(postgres_url):
    store = PostgresState(postgres_url)
    feed = store.feeds.add("https://example.com/rss", "Example", now=NOW)
    # The error PostgreSQL gives when it cannot extend a table's file ("could not extend file …: No space left on
    # device"), raised by the server itself when feed items are written.
    with raw(postgres_url) as db:
        db.execute(
            "CREATE FUNCTION no_space() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
            "'could not extend file \"base/16384/16500\": No space left on device' USING ERRCODE = 'disk_full'; "
            "END $$"
        )
        db.execute("CREATE TRIGGER full_disk BEFORE INSERT ON feed_items FOR EACH ROW EXECUTE FUNCTION no_space()")
    plan = plan_items([item(2), item(1)], {}, per_poll=1)
    with pytest.raises(DiskFull) as info:
        store.feeds.save_poll(feed.id, PollRecord(FeedState(etag='"v2"'), when=NOW, title="Example News", plan=plan))
    message = str(info.value)
    assert "no space left on the database server's disk" in message
    one_line_without_password(message, postgres_url)
    assert store.feeds.get(feed.id) == feed, "the poll's transaction was rolled back whole"
    assert store.feeds.known_items(feed.id) == {}
    assert store.follows.add(42, "harbour") is not None, "what does not need the full disk goes on"
    store.close()


def test_a_closed_store_says_so(postgres_url):
    store = PostgresState(postgres_url)
    store.close()
    with pytest.raises(StateError, match="the store was closed"):
        store.subscriptions.enabled()


def test_a_batch_that_fails_part_way_changes_nothing(postgres_url):
    store = PostgresState(postgres_url)
    follow = store.follows.add(42, "harbour", now=NOW)
    with raw(postgres_url) as db:
        db.execute(
            "CREATE FUNCTION refuse_a3() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.article_id = 'a3' THEN "
            "RAISE EXCEPTION 'No space left on device' USING ERRCODE = 'disk_full'; END IF; RETURN NEW; END $$"
        )
        db.execute("CREATE TRIGGER refuse BEFORE INSERT ON follow_queue FOR EACH ROW EXECUTE FUNCTION refuse_a3()")
    with pytest.raises(DiskFull):
        store.follows.queue(42, follow.id, ["a1", "a2", "a3", "a4"], now=NOW)  # a batch of its own
    assert store.follows.queued() == {}, "the rows before the failing one were not kept either"
    store.follows.queue(42, follow.id, ["a1", "a2"], now=NOW)
    assert store.follows.queued() == {42: [("a1", follow.id), ("a2", follow.id)]}
    store.close()


@pytest.fixture
def server_on_a_small_disk() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL server of its own (services/postgres.py) whose data lives on a 120 MB tmpfs: its URL, and the
    mount. Needs root (to mount) and the server's binaries."""
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs")
    if not Path("/usr/lib/postgresql").is_dir() and not any(
        (Path(d) / "initdb").exists() for d in os.environ.get("PATH", "").split(os.pathsep)
    ):
        require("PostgreSQL", "its server binaries are not installed (python3 services/postgres.py install)")
    # Under /tmp and open to the server's own user, as CI's services folder is (pytest's tmp folders are closed).
    mount = Path(tempfile.mkdtemp(prefix="newsbot-small-disk-"))
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=120m,mode=755", "tmpfs", str(mount)],
                      capture_output=True, check=False).returncode:
        mount.rmdir()
        pytest.skip("cannot mount a small tmpfs here")
    script = [sys.executable, str(ROOT / "services" / "postgres.py")]
    try:
        started = subprocess.run([*script, "start", "--dir", str(mount / "pg")], capture_output=True, text=True,
                                 check=False, timeout=120)
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip().splitlines()[-1].removeprefix("DATABASE_URL="), mount
    finally:
        subprocess.run([*script, "stop", "--dir", str(mount / "pg")], capture_output=True, check=False, timeout=120)
        subprocess.run(["umount", str(mount)], capture_output=True, check=False)
        mount.rmdir()


@pytest.mark.slow
def test_a_really_full_disk_under_the_server_is_disk_full_and_loses_no_poll_half_written(server_on_a_small_disk):
    url, mount = server_on_a_small_disk
    store = PostgresState(url)
    store.subscriptions.add(42, "07:30", "libya", now=NOW)
    feed = store.feeds.add("https://example.com/rss", None, now=NOW)
    filler = fill_disk(mount)
    filler.write_bytes(b"\0" * (filler.stat().st_size - 1_500_000))  # leave the server about 1.5 MB

    def poll(number: int) -> None:
        items = [
            FeedItem(f"guid:{number}-{n}", str(n), f"https://example.com/{number}/{n}", f"Story {n}", None, "x" * 2000,
                     "", f"d{number}-{n}")
            for n in range(200)
        ]
        plan = plan_items(items, {}, per_poll=1)
        store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW + dt.timedelta(minutes=number), plan=plan))

    polls, failure = 0, None
    while failure is None and polls < 1000:  # about 80 polls of 200 items fill 1.5 MB; a bound, not a number expected
        try:
            poll(polls)
            polls += 1
        except DiskFull as exc:
            failure = exc
    assert failure is not None
    message = str(failure)
    assert "no space left on the database server's disk" in message
    assert "No space left on device" in message
    one_line_without_password(message, url)
    assert polls > 0
    assert len(store.feeds.known_items(feed.id)) == 200 * polls, "the poll that failed kept nothing"
    assert len(store.subscriptions.enabled()) == 1, "what was saved before is intact and readable"
    filler.unlink()
    store.subscriptions.add(7, "08:00", None, now=NOW)
    assert len(store.subscriptions.enabled()) == 2, "once space is freed, writes go on"
    store.close()
