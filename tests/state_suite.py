"""The store conformance suite: what any implementation of ``bot.state.State`` must do (``bot/state/protocols.py``).

Each test takes ``store`` (a store, opened fresh and empty) or ``maker`` (opens the store under test, again after a
close, and makes one at an older schema version). Both are parametrized by ``MAKERS``: SQLite, and PostgreSQL (a
fresh database of its own for each test, from ``tests/services.py``: skipped without one, failed in CI); another
engine adds one ``pytest.param(make_its_maker, id=...)`` and the whole suite runs against it. ``tests/test_state.py``
runs the suite; what only one engine does is in ``tests/test_state_sqlite.py`` (its file's checks, backups, full
disks) and ``tests/test_state_postgres.py`` (concurrent migrations, connections lost and refused).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

import pytest

from bot.errors import StateError
from bot.state import SCHEMA_VERSION, PollRecord, PostgresState, SQLiteState, State, Turn
from bot.state import postgres as pg
from bot.state.feeds import GONE_KEPT_DAYS
from bot.state.schema import migrate
from bot.state.shared import Pressed
from bot.state.sql import IN_LIMIT, Engine
from bot.state.sqlite import SQLiteEngine
from bot.state.turns import TURN_MINUTES, TURNS_KEPT
from index.feeds import FeedItem
from index.polling import FeedState, plan_items

NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)


class Maker(Protocol):
    """How the suite reaches one implementation."""

    def open(self) -> State:
        """Open the store under test (empty the first time; what was saved before on every later call)."""
        ...

    def at_version(self, version: int) -> AbstractContextManager[Engine]:
        """Make the store at an older schema ``version`` (its own migration steps up to it), with an ``Engine`` to
        write rows as that version did; ``open`` then migrates it."""
        ...

    def close(self) -> None:
        """Close every store this maker opened (a store closed already is fine)."""
        ...


class SQLiteMaker:
    """The SQLite implementation: one file in the test's folder."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / "newsbot.sqlite3"
        self._opened: list[SQLiteState] = []

    def open(self) -> State:
        """A ``SQLiteState`` over the file."""
        self._opened.append(SQLiteState(self.path, default_timezone="Europe/Istanbul"))
        return self._opened[-1]

    @contextlib.contextmanager
    def at_version(self, version: int) -> Iterator[Engine]:
        """The file made by the steps up to ``version``."""
        with contextlib.closing(sqlite3.connect(self.path, isolation_level=None)) as db:
            migrate(db, 0, to=version)
            yield SQLiteEngine(db, self.path)

    def close(self) -> None:
        """Close every store opened."""
        for state in self._opened:
            state.close()


class PostgresMaker:
    """The PostgreSQL implementation: a fresh database of the test's own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._opened: list[PostgresState] = []

    def open(self) -> State:
        """A ``PostgresState`` over the database."""
        self._opened.append(PostgresState(self.url, default_timezone="Europe/Istanbul"))
        return self._opened[-1]

    @contextlib.contextmanager
    def at_version(self, version: int) -> Iterator[Engine]:
        """The database made by the PostgreSQL steps up to ``version``."""
        engine = pg.PostgresEngine(self.url)
        try:
            pg.migrate(engine, to=version)
            yield engine
        finally:
            engine.close()

    def close(self) -> None:
        """Close every store opened."""
        for state in self._opened:
            state.close()


def sqlite_maker(request: pytest.FixtureRequest, folder: Path) -> Maker:
    """A file in the test's folder."""
    return SQLiteMaker(folder)


def postgres_maker(request: pytest.FixtureRequest, folder: Path) -> Maker:
    """A database of the test's own (skips without PostgreSQL, fails in CI; see tests/services.py)."""
    return PostgresMaker(request.getfixturevalue("postgres_url"))


MAKERS = [pytest.param(sqlite_maker, id="sqlite"), pytest.param(postgres_maker, id="postgres")]


@pytest.fixture(params=MAKERS)
def maker(request, tmp_path) -> Iterator[Maker]:
    """The implementation under test."""
    made = request.param(request, tmp_path)
    yield made
    made.close()


@pytest.fixture
def store(maker) -> State:
    """A fresh, empty store of the implementation under test (its default time zone: Europe/Istanbul)."""
    return maker.open()


def item(n: int, digest: str = "") -> FeedItem:
    """Item ``n`` of a feed, as parsed."""
    return FeedItem(f"guid:{n}", str(n), f"https://example.com/{n}", f"Story {n}", None, "", "", digest or f"d{n}")


# -- The store -------------------------------------------------------------------------------------------------


def test_a_new_store_is_at_the_current_schema_version_and_empty(store):
    assert store.schema_version() == SCHEMA_VERSION
    assert (store.subscriptions.enabled(), store.feeds.every(), store.follows.every()) == ([], [], [])
    assert store.follows.queued() == {}


def test_what_was_saved_is_there_after_a_restart(maker):
    store = maker.open()
    store.subscriptions.set_timezone(42, "Europe/Berlin")
    subscription = store.subscriptions.add(42, "07:30", "libya", now=NOW)
    feed = store.feeds.add("https://example.com/rss", "Example", now=NOW)
    state = FeedState(etag='"v2"', failures=2, next_due=NOW + dt.timedelta(hours=1), last_error="HTTP 500")
    plan = plan_items([item(3), item(2), item(1)], {}, per_poll=1)
    store.feeds.save_poll(feed.id, PollRecord(state, when=NOW, title="Example News", new_items=1, plan=plan,
                                              fetched={"guid:3": "story-3"}))
    polled, known = store.feeds.get(feed.id), store.feeds.known_items(feed.id)
    follow = store.follows.add(42, "harbour", now=NOW)
    store.follows.mark_sent(42, [["a1"]], now=NOW)
    store.follows.queue(42, follow.id, ["a2"], now=NOW)
    store.close()
    again = maker.open()
    assert again.subscriptions.get(subscription.id) == subscription
    assert again.subscriptions.timezone(42) == "Europe/Berlin"
    assert again.feeds.get(feed.id) == polled
    assert (polled.state, polled.waiting, polled.last_fetch) == (state, 2, NOW)
    assert again.feeds.known_items(feed.id) == known
    assert again.feeds.waiting_items(feed.id, ["guid:1"]) == {"guid:1": item(1)}
    assert again.follows.for_chat(42) == [follow]
    assert again.follows.already_sent(42, ["a1", "a2"]) == {"a1", "a2"}
    assert again.follows.sent_within(42, NOW - dt.timedelta(minutes=1)) == 1
    assert again.follows.queued() == {42: [("a2", follow.id)]}


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_store_at_an_older_schema_is_migrated_and_keeps_what_it_held(maker, version):
    with maker.at_version(version) as old:
        old.execute("INSERT INTO chats (chat_id, timezone) VALUES (?, ?)", (42, "Europe/Paris"))
        old.execute(
            "INSERT INTO subscriptions (chat_id, time, topic, created_at) VALUES (?, ?, ?, ?)",
            (42, "08:00", "libya", NOW),
        )
        if version >= 2:
            old.execute(
                "INSERT INTO feeds (url, name, added_at, etag, last_new) VALUES (?, ?, ?, ?, ?)",
                ("https://example.com/rss", "Example", NOW, '"v1"', 4),
            )
            old.execute(
                "INSERT INTO feed_items (feed_id, key, digest, article_id, seen_at) VALUES (?, ?, ?, ?, ?)",
                (1, "guid:a", "da", "art-a", NOW),
            )
            if version >= 3:  # the step to version 3 marked the items it found as fetched; later ones say so
                old.execute("UPDATE feed_items SET fetched_at = seen_at")
            old.execute("INSERT INTO follows (chat_id, topic, created_at) VALUES (?, ?, ?)", (42, "haftar", NOW))
    store = maker.open()
    assert store.schema_version() == SCHEMA_VERSION
    (subscription,) = store.subscriptions.enabled()
    assert (subscription.chat_id, subscription.time, subscription.topic, subscription.timezone) == (
        42, "08:00", "libya", "Europe/Paris"
    )
    assert subscription.created_at == NOW
    if version >= 2:
        (feed,) = store.feeds.every()
        assert (feed.label, feed.state.etag, feed.last_new, feed.waiting) == ("Example", '"v1"', 4, 0)
        assert {k: (i.digest, i.waiting, i.listed) for k, i in store.feeds.known_items(feed.id).items()} == {
            "guid:a": ("da", False, True)  # items seen before the backlog existed were all fetched
        }
        assert store.feeds.fetched_since(NOW) == 1
        assert [f.topic for f in store.follows.for_chat(42)] == ["haftar"]
    assert store.feeds.add("https://example.com/other", None) is not None, "writable at the new version"


def test_moments_must_say_their_time_zone(store):
    with pytest.raises(ValueError, match="time zone"):
        store.follows.sent_within(42, NOW.replace(tzinfo=None))


def test_a_closed_store_raises_state_error(maker):
    store = maker.open()
    store.close()
    with pytest.raises(StateError):
        store.feeds.every()


# -- Subscriptions and chat settings ---------------------------------------------------------------------------


def test_a_chat_has_the_default_time_zone_until_it_sets_one(store):
    assert store.subscriptions.timezone(42) == "Europe/Istanbul"
    store.subscriptions.set_timezone(42, "Europe/Berlin")
    store.subscriptions.set_timezone(42, "America/New_York")
    assert store.subscriptions.timezone(42) == "America/New_York"
    assert store.subscriptions.timezone(7) == "Europe/Istanbul", "other chats keep the default"


def test_subscriptions_are_added_listed_oldest_first_and_carry_their_chats_time_zone(store):
    store.subscriptions.set_timezone(42, "Europe/Berlin")
    first = store.subscriptions.add(42, "07:30", "libya", now=NOW + dt.timedelta(microseconds=700))
    second = store.subscriptions.add(42, "18:00", None, now=NOW)
    other = store.subscriptions.add(7, "08:00", "")
    assert (first.chat_id, first.time, first.topic, first.timezone, first.enabled) == (
        42, "07:30", "libya", "Europe/Berlin", True
    )
    assert first.created_at == NOW, "kept to the second, aware"
    assert first.last_sent_at is None
    assert second.topic is None
    assert (other.topic, other.timezone) == (None, "Europe/Istanbul")
    assert other.hour_minute == (8, 0)
    assert store.subscriptions.for_chat(42) == [first, second]
    assert store.subscriptions.enabled() == [first, second, other]
    assert store.subscriptions.get(first.id) == first
    assert store.subscriptions.get(999) is None


def test_removing_subscriptions_one_or_all_of_a_chat(store):
    ids = [store.subscriptions.add(42, f"0{h}:00", None).id for h in range(1, 4)]
    other = store.subscriptions.add(7, "08:00", None)
    assert store.subscriptions.remove(42, other.id) == [], "another chat's subscription"
    assert store.subscriptions.remove(42, 999) == []
    assert store.subscriptions.remove(42, ids[1]) == [ids[1]]
    assert store.subscriptions.remove(42) == [ids[0], ids[2]]
    assert store.subscriptions.remove(42) == []
    assert store.subscriptions.enabled() == [other]


def test_a_briefing_sent_is_recorded_to_the_moment(store):
    subscription = store.subscriptions.add(42, "08:00", None)
    when = dt.datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    store.subscriptions.mark_sent(subscription.id, when)
    assert store.subscriptions.get(subscription.id).last_sent_at == when


def test_disabling_a_chat_keeps_its_subscriptions_but_not_as_enabled(store):
    ids = [store.subscriptions.add(42, "08:00", None).id, store.subscriptions.add(42, "09:00", None).id]
    other = store.subscriptions.add(7, "08:00", None)
    assert store.subscriptions.disable_chat(42, "the bot was removed") == ids
    assert store.subscriptions.disable_chat(42, "again") == []
    assert store.subscriptions.for_chat(42) == []
    assert store.subscriptions.enabled() == [other]
    assert store.subscriptions.get(ids[0]).enabled is False
    assert store.subscriptions.remove(42) == [], "only enabled ones are listed and removed"


# -- Feeds and their items -------------------------------------------------------------------------------------


def test_feeds_are_added_once_listed_oldest_first_and_removed(store):
    feed = store.feeds.add("https://example.com/rss", "", now=NOW)
    assert (feed.url, feed.name, feed.title, feed.label, feed.added_at) == (
        "https://example.com/rss", None, None, "https://example.com/rss", NOW
    )
    assert (feed.paused, feed.state, feed.last_fetch, feed.last_new, feed.waiting) == (False, FeedState(), None, 0, 0)
    assert store.feeds.add("https://example.com/rss", "again") is None
    named = store.feeds.add("https://example.com/atom", "Example")
    assert named.label == "Example"
    assert store.feeds.every() == [feed, named]
    assert store.feeds.get(feed.id) == feed
    assert store.feeds.get(999) is None
    assert store.feeds.remove(feed.id)
    assert not store.feeds.remove(feed.id)
    assert store.feeds.every() == [named]


def test_pausing_and_resuming_a_feed(store):
    feed = store.feeds.add("https://example.com/rss", None)
    failing = FeedState(failures=5, next_due=NOW + dt.timedelta(days=1), disabled=True, last_error="HTTP 500")
    store.feeds.save_poll(feed.id, PollRecord(failing, when=NOW))
    assert store.feeds.pause(feed.id, True)
    paused = store.feeds.get(feed.id)
    assert paused.paused
    assert paused.state == failing, "pausing changes nothing else"
    assert store.feeds.pause(feed.id, False)
    resumed = store.feeds.get(feed.id)
    assert not resumed.paused
    assert (resumed.state.failures, resumed.state.disabled, resumed.state.next_due) == (0, False, None)
    assert resumed.state.last_error == "HTTP 500", "why it failed stays to be read"
    assert not store.feeds.pause(999, True)


def test_a_poll_records_the_feeds_state_and_none_keeps_what_was_recorded(store):
    feed = store.feeds.add("https://example.com/rss", None)
    state = FeedState(etag='"v2"', last_modified="Wed, 25 Nov 2026 09:00:00 GMT", failures=2,
                      next_due=NOW + dt.timedelta(hours=1, microseconds=5), last_error="HTTP 500")
    store.feeds.save_poll(feed.id, PollRecord(
        state, when=NOW + dt.timedelta(microseconds=900), title="Example News", new_items=3,
        url="https://example.com/feed", headlines=1, skipped=2, note="1 kept as headlines only (no text)",
    ))
    polled = store.feeds.get(feed.id)
    assert polled.state == state
    assert (polled.title, polled.label, polled.url, polled.last_fetch, polled.last_new) == (
        "Example News", "Example News", "https://example.com/feed", NOW, 3
    )
    assert (polled.last_headlines, polled.last_skipped, polled.last_note) == (
        1, 2, "1 kept as headlines only (no text)"
    )
    later = NOW + dt.timedelta(hours=1)
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=later))
    again = store.feeds.get(feed.id)
    assert (again.state, again.last_fetch) == (FeedState(), later)
    assert (again.title, again.url, again.last_new, again.last_headlines, again.last_skipped, again.last_note) == (
        "Example News", "https://example.com/feed", 3, 1, 2, "1 kept as headlines only (no text)"
    )


def test_a_poll_keeps_what_it_did_not_fetch_as_the_backlog_with_the_feeds_own_data(store):
    feed = store.feeds.add("https://example.com/rss", None)
    items = [item(n) for n in (3, 2, 1)]
    plan = plan_items(items, store.feeds.known_items(feed.id), per_poll=1)
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched={"guid:3": "story-3"}))
    assert store.feeds.get(feed.id).waiting == 2
    known = store.feeds.known_items(feed.id)
    assert list(known) == ["guid:3", "guid:2", "guid:1"], "the feed's order: the order waiting items are fetched"
    assert [k for k, i in known.items() if i.waiting] == ["guid:2", "guid:1"]
    assert store.feeds.waiting_items(feed.id, ["guid:1", "guid:3", "guid:9"]) == {"guid:1": items[2]}
    assert store.feeds.fetched_since(NOW) == 1
    assert store.feeds.fetched_since(NOW + dt.timedelta(seconds=1)) == 0

    # The next poll sees a 304: the backlog is fetched all the same, and it stops waiting.
    later = NOW + dt.timedelta(hours=1)
    plan = plan_items(None, store.feeds.known_items(feed.id), per_poll=5)
    assert plan.fetch == ("guid:2", "guid:1")
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=later, plan=plan, fetched={"guid:2": "story-2",
                                                                                           "guid:1": None}))
    assert not any(i.waiting for i in store.feeds.known_items(feed.id).values())
    assert store.feeds.get(feed.id).waiting == 0
    assert store.feeds.fetched_since(later) == 1, "an item that could not be kept is fetched, not an article"


def test_a_failed_poll_keeps_the_items_and_the_backlog(store):
    feed = store.feeds.add("https://example.com/rss", None)
    plan = plan_items([item(2), item(1)], {}, per_poll=1)
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched={"guid:2": "a2"}))
    store.feeds.save_poll(feed.id, PollRecord(FeedState(failures=1, last_error="timeout"), when=NOW))
    assert store.feeds.get(feed.id).waiting == 1
    assert [k for k, i in store.feeds.known_items(feed.id).items() if i.waiting] == ["guid:1"]


def test_changed_items_wait_again_and_count_their_changes(store):
    feed = store.feeds.add("https://example.com/rss", None)
    plan = plan_items([item(2), item(1)], {}, per_poll=5)
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched=dict.fromkeys(plan.fetch)))
    plan = plan_items([item(2, "d2-edited"), item(1)], store.feeds.known_items(feed.id), per_poll=5)
    assert [i.key for i in plan.changed] == ["guid:2"]
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW + dt.timedelta(hours=1), plan=plan))
    known = store.feeds.known_items(feed.id)
    assert (known["guid:2"].digest, known["guid:2"].waiting, known["guid:2"].changes) == ("d2-edited", True, 1)
    assert (known["guid:1"].waiting, known["guid:1"].changes) == (False, 0)
    assert store.feeds.waiting_items(feed.id, ["guid:2"]) == {"guid:2": item(2, "d2-edited")}


def test_items_a_feed_dropped_are_forgotten_after_a_while_and_listed_ones_never(store):
    feed = store.feeds.add("https://example.com/rss", None)
    items = [item(n) for n in range(1500)]

    def read(listing, now):
        plan = plan_items(listing, store.feeds.known_items(feed.id), per_poll=len(listing) or 1)
        store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=now, plan=plan, fetched=dict.fromkeys(plan.fetch)))
        return plan

    assert len(read(items, NOW).new) == 1500
    assert len(read(items[:1000], NOW + dt.timedelta(hours=1)).gone) == 500
    known = store.feeds.known_items(feed.id)
    assert len(known) == 1500, "dropped ones are remembered a while"
    assert sum(not i.listed for i in known.values()) == 500
    plan = read(items, NOW + dt.timedelta(hours=2))
    assert (len(plan.new), len(plan.relisted), plan.fetch) == (0, 500, ()), "and not fetched again"
    read(items[:1000], NOW + dt.timedelta(hours=3))
    read(items[:1000], NOW + dt.timedelta(days=GONE_KEPT_DAYS + 1))
    read(items[:999], NOW + dt.timedelta(days=GONE_KEPT_DAYS + 1, hours=1))
    assert len(store.feeds.known_items(feed.id)) == 1000, "the long-gone forgotten; every listed one kept"


def test_many_waiting_items_are_read_back_in_one_call(store):
    feed = store.feeds.add("https://example.com/rss", None)
    items = [item(n) for n in range(IN_LIMIT * 2 + 7)]
    plan = plan_items(items, {}, per_poll=1)
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched={}))
    found = store.feeds.waiting_items(feed.id, [i.key for i in items])
    assert found == {i.key: i for i in items}


def test_removing_a_feed_forgets_its_items_and_a_poll_that_ends_after_keeps_none(store):
    feed = store.feeds.add("https://example.com/rss", None)
    plan = plan_items([item(1)], {}, per_poll=1)
    assert store.feeds.remove(feed.id)  # an admin's /feeds remove, while the poll fetched pages
    store.feeds.save_poll(feed.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched={"guid:1": "a1"}))
    assert store.feeds.known_items(feed.id) == {}
    assert store.feeds.fetched_since(NOW) == 0
    again = store.feeds.add("https://example.com/rss", None)
    store.feeds.save_poll(again.id, PollRecord(FeedState(), when=NOW, plan=plan, fetched={"guid:1": "a1"}))
    assert store.feeds.remove(again.id)
    assert store.feeds.known_items(again.id) == {}


# -- Follows and the stories sent ------------------------------------------------------------------------------


def test_topics_are_followed_once_per_chat_and_listed_oldest_first(store):
    first = store.follows.add(42, "harbour bridge", now=NOW + dt.timedelta(microseconds=300))
    assert (first.chat_id, first.topic, first.created_at) == (42, "harbour bridge", NOW)
    assert store.follows.add(42, "harbour bridge") is None
    other_chat = store.follows.add(7, "harbour bridge")
    second = store.follows.add(42, "ferry strike")
    assert store.follows.for_chat(42) == [first, second]
    assert store.follows.every() == [first, other_chat, second]


def test_unfollowing_one_topic_or_all_drops_what_was_queued_for_them(store):
    bridge, ferry = store.follows.add(42, "bridge"), store.follows.add(42, "ferry")
    other = store.follows.add(7, "bridge")
    store.follows.queue(42, bridge.id, ["a1"], now=NOW)
    store.follows.queue(42, ferry.id, ["a2"], now=NOW)
    store.follows.queue(7, other.id, ["a1"], now=NOW)
    assert store.follows.remove(42, other.id) == [], "another chat's topic"
    assert store.follows.remove(42, bridge.id) == [bridge.id]
    assert store.follows.queued() == {42: [("a2", ferry.id)], 7: [("a1", other.id)]}
    assert store.follows.remove(42) == [ferry.id]
    assert store.follows.remove(42) == []
    assert store.follows.queued() == {7: [("a1", other.id)]}
    assert store.follows.every() == [other]


def test_a_story_is_sent_to_a_chat_once_and_marking_it_twice_is_fine(store):
    store.follows.mark_sent(42, [["a1"], ["a2"]], now=NOW)
    store.follows.mark_sent(42, [["a1"]], now=NOW + dt.timedelta(minutes=5))
    assert store.follows.already_sent(42, ["a1", "a2", "a3", "a1"]) == {"a1", "a2"}
    assert store.follows.already_sent(7, ["a1"]) == set(), "sent to another chat"
    assert store.follows.already_sent(42, []) == set()
    assert store.follows.sent_within(42, NOW) == 2, "marking again keeps the story's first moment"


def test_the_hourly_count_counts_messages_not_stories(store):
    store.follows.mark_sent(42, [["a1"], ["a2"], ["a3"]], now=NOW)  # three messages, a second apart
    store.follows.mark_sent(42, [["b1", "b2", "b3"]], now=NOW + dt.timedelta(minutes=10))  # one digest
    assert store.follows.sent_within(42, NOW - dt.timedelta(hours=1)) == 4
    assert store.follows.sent_within(42, NOW + dt.timedelta(seconds=1)) == 3
    assert store.follows.sent_within(42, NOW + dt.timedelta(minutes=11)) == 0
    assert store.follows.sent_within(7, NOW - dt.timedelta(hours=1)) == 0


def test_the_digest_queue_keeps_stories_in_the_order_queued_until_they_are_sent(store):
    bridge, ferry = store.follows.add(42, "bridge"), store.follows.add(42, "ferry")
    store.follows.queue(42, bridge.id, ["a3", "a1", "a2"], now=NOW)
    store.follows.queue(42, ferry.id, ["a1", "a4"], now=NOW)  # a1 is queued already: it stays where it was
    store.follows.queue(7, ferry.id, ["a9"], now=NOW - dt.timedelta(minutes=1))
    assert store.follows.queued() == {
        7: [("a9", ferry.id)],
        42: [("a3", bridge.id), ("a1", bridge.id), ("a2", bridge.id), ("a4", ferry.id)],
    }
    assert list(store.follows.queued()) == [7, 42], "the oldest first"
    assert store.follows.already_sent(42, ["a4", "a5"]) == {"a4"}, "queued counts as sent: not matched again"
    store.follows.mark_sent(42, [["a3", "a1", "a2", "a4"]], now=NOW + dt.timedelta(hours=1))
    assert store.follows.queued() == {7: [("a9", ferry.id)]}


def test_a_chats_sent_set_is_read_for_many_candidates(store):
    sent = [f"story-{n}" for n in range(0, IN_LIMIT * 3, 2)]
    store.follows.mark_sent(42, [sent], now=NOW)
    candidates = [f"story-{n}" for n in range(IN_LIMIT * 3)]
    assert store.follows.already_sent(42, candidates) == set(sent)


# -- What several processes share (schema 4): buttons, flood limits, leases, claims, processes -------------------
# Two stores opened on one database are two processes' worth of connections.


def test_a_buttons_question_is_recalled_in_its_chat_by_another_process_for_a_day(maker):
    first, second = maker.open(), maker.open()
    key = first.buttons.remember("Which air base?", chat_id=5, now=NOW)
    followed = first.buttons.remember("and when?", chat_id=5, subject="air base seized", now=NOW)
    assert second.buttons.recall(followed, chat_id=5, now=NOW) == Pressed("and when?", "air base seized")
    assert re.fullmatch("[0-9a-f]{8}", key), "fits the buttons' callback data"
    assert second.buttons.recall(key, chat_id=5, now=NOW + dt.timedelta(hours=23)) == Pressed("Which air base?")
    assert second.buttons.recall(key, chat_id=6, now=NOW) is None, "a forwarded button is unknown elsewhere"
    assert second.buttons.recall("deadbeef", chat_id=5, now=NOW) is None
    assert second.buttons.recall(key, chat_id=5, now=NOW + dt.timedelta(days=1, seconds=1)) is None
    other = first.buttons.remember("Who?", chat_id=5, now=NOW + dt.timedelta(hours=12))
    assert second.buttons.forget(now=NOW + dt.timedelta(days=1, seconds=1)) == 2
    assert first.buttons.recall(other, chat_id=5, now=NOW + dt.timedelta(days=1, seconds=1)) == Pressed("Who?")


def test_a_flood_limit_warns_once_then_stays_silent_and_frees_after_the_window(store):
    t = 1_000_000.0
    assert [store.limits.check("questions", 1, 2, now=t + n) for n in range(4)] == [
        ("ok", 0), ("ok", 0), ("warn", 59), ("drop", 58)
    ]
    assert store.limits.check("questions", 2, 2, now=t + 4) == ("ok", 0), "other users are not affected"
    assert store.limits.check("inline", 1, 2, now=t + 4) == ("ok", 0), "each scope has its own limit"
    assert store.limits.check("questions", 1, 2, now=t + 60) == ("ok", 0), "the first question left the window"
    assert store.limits.check("questions", 1, 2, now=t + 60.5) == ("warn", 1), "full again: told once more"


def test_a_flood_spread_over_processes_is_limited_as_on_one(maker):
    stores = [maker.open(), maker.open(), maker.open()]
    t = 1_000_000.0
    verdicts = [stores[n % 3].limits.check("questions", 7, 5, now=t + n / 10)[0] for n in range(9)]
    assert verdicts == ["ok"] * 5 + ["warn"] + ["drop"] * 3


def test_a_flood_from_two_processes_at_once_lets_through_exactly_the_limit(maker):
    stores = [maker.open(), maker.open()]
    t = 1_000_000.0
    verdicts: list[str] = []
    lock = threading.Lock()

    def ask(store: State, offset: float) -> None:
        for n in range(20):
            verdict, _ = store.limits.check("questions", 9, 10, now=t + offset + n / 100)
            with lock:
                verdicts.append(verdict)

    threads = [threading.Thread(target=ask, args=(s, i / 1000)) for i, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert verdicts.count("ok") == 10, "no question counted twice or not at all"
    assert verdicts.count("warn") == 1


def test_idle_users_are_swept_from_the_flood_limit(store):
    t = 1_000_000.0
    for user in range(50):
        store.limits.check("questions", user, 5, now=t)
    assert store.limits.tracked("questions") == 50
    store.limits.check("questions", 1, 5, now=t + 61)
    assert store.limits.tracked("questions") <= 1, "users idle for a whole window are not kept"


def test_a_lease_has_one_holder_until_it_expires_and_then_another_takes_the_job(maker):
    a, b = maker.open(), maker.open()
    assert a.leases.claim("poll-feeds", "A", 30, now=NOW)
    assert not b.leases.claim("poll-feeds", "B", 30, now=NOW + dt.timedelta(seconds=10))
    assert a.leases.renew("poll-feeds", "A", 30, now=NOW + dt.timedelta(seconds=20)), "renewed while running"
    assert not b.leases.claim("poll-feeds", "B", 30, now=NOW + dt.timedelta(seconds=45))
    assert b.leases.holder("poll-feeds", now=NOW + dt.timedelta(seconds=45)) == "A"
    # A stops renewing (killed): its lease runs out and B takes the job over.
    assert b.leases.claim("poll-feeds", "B", 30, now=NOW + dt.timedelta(seconds=50))
    assert not a.leases.renew("poll-feeds", "A", 30, now=NOW + dt.timedelta(seconds=51)), "A lost it"
    b.leases.release("poll-feeds", "A")
    assert a.leases.holder("poll-feeds", now=NOW + dt.timedelta(seconds=52)) == "B", "only the holder releases"
    b.leases.release("poll-feeds", "B")
    assert a.leases.holder("poll-feeds", now=NOW + dt.timedelta(seconds=52)) is None
    assert a.leases.claim("poll-feeds", "A", 30, now=NOW + dt.timedelta(seconds=53)), "released: anyone may"


def test_two_processes_claiming_the_same_jobs_at_once_run_each_once(maker):
    stores = {"A": maker.open(), "B": maker.open()}
    won: dict[str, list[str]] = {"A": [], "B": []}
    keys = [f"briefing:{n}:{NOW.isoformat()}" for n in range(60)]

    def claim(holder: str) -> None:
        for key in keys:
            if stores[holder].claims.claim(key, holder, now=NOW):
                won[holder].append(key)
            if stores[holder].leases.claim(f"job:{key}", holder, 60, now=NOW):
                won[holder].append(f"job:{key}")

    threads = [threading.Thread(target=claim, args=(holder,)) for holder in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = won["A"] + won["B"]
    assert sorted(everything) == sorted([*keys, *(f"job:{key}" for key in keys)]), "each once, none lost"
    assert stores["A"].claims.forget_before(NOW + dt.timedelta(seconds=1)) == len(keys)
    assert stores["B"].claims.claim(keys[0], "B", now=NOW), "a forgotten claim can be made again"


def test_processes_register_are_seen_while_they_run_and_leave(store):
    store.processes.register("h1:10:aa", "h1", "local", writer=True, now=NOW)
    store.processes.register("h2:11:bb", "h2", "opensearch", writer=False, now=NOW + dt.timedelta(seconds=1))
    assert [(p.id, p.hostname, p.backend, p.writer) for p in store.processes.alive(NOW)] == [
        ("h1:10:aa", "h1", "local", True), ("h2:11:bb", "h2", "opensearch", False)
    ]
    store.processes.seen("h2:11:bb", now=NOW + dt.timedelta(minutes=2))
    assert [p.id for p in store.processes.alive(NOW + dt.timedelta(minutes=1))] == ["h2:11:bb"], "h1 went silent"
    store.processes.leave("h2:11:bb")
    assert store.processes.alive(NOW) == [p for p in store.processes.alive(NOW) if p.id == "h1:10:aa"]


def test_stories_claimed_before_sending_go_to_a_chat_once_whichever_process_claims(maker):
    a, b = maker.open(), maker.open()
    follow = a.follows.add(42, "haftar", now=NOW)
    a.follows.queue(42, follow.id, ["q1", "q2"], now=NOW)
    assert a.follows.claim(42, [["s1"], ["q1", "s1"]], now=NOW) == [["s1"], ["q1"]]
    later = NOW + dt.timedelta(seconds=5)
    assert b.follows.claim(42, [["s1", "s2"], ["q1"], ["q2"]], now=later) == [["s2"], [], ["q2"]]
    assert b.follows.claim(7, [["s1"]], now=NOW) == [["s1"]], "another chat is another key"
    assert a.follows.queued() == {}, "claimed stories left the queue"
    assert a.follows.already_sent(42, ["s1", "s2", "s3"]) == {"s1", "s2"}
    assert a.follows.sent_within(42, NOW) == 4, "each message that claimed a story counts, as if sent"
# -- The conversation's last turns -----------------------------------------------------------------------------


def turn(message_id: int, *, chat_id: int = 42, user_id: int = 7, minutes: float = 0, question: str = "") -> Turn:
    """The bot's answer ``message_id`` to ``question``, asked ``minutes`` after NOW."""
    asked = question or f"question {message_id}"
    return Turn(chat_id, user_id, message_id, asked, f"subject of {asked}", NOW + dt.timedelta(minutes=minutes))


def test_a_reply_finds_the_question_its_answer_replied_to_until_it_expires(store):
    store.turns.remember(turn(100, question="How did iOS 13 fix FaceTime eye contact?"))
    found = store.turns.replied(42, 100, now=NOW + dt.timedelta(minutes=1))
    assert found == turn(100, question="How did iOS 13 fix FaceTime eye contact?")
    assert store.turns.replied(43, 100, now=NOW) is None, "another chat's message 100"
    assert store.turns.replied(42, 101, now=NOW) is None
    assert store.turns.replied(42, 100, now=NOW + dt.timedelta(minutes=TURN_MINUTES + 1)) is None


def test_the_latest_turn_is_the_users_own_in_that_chat(store):
    store.turns.remember(turn(100, minutes=0))
    store.turns.remember(turn(101, minutes=1))
    store.turns.remember(turn(102, user_id=8, minutes=2))  # someone else in the same group
    store.turns.remember(turn(103, chat_id=43, minutes=3))  # the same user elsewhere
    assert store.turns.latest(42, 7, since=NOW).message_id == 101
    assert store.turns.latest(42, 8, since=NOW).message_id == 102
    assert store.turns.latest(42, 7, since=NOW + dt.timedelta(minutes=2)) is None, "too long ago"
    assert store.turns.latest(44, 7, since=NOW) is None


def test_only_a_few_turns_are_kept_and_expired_ones_are_forgotten(store, maker):
    for n in range(TURNS_KEPT + 2):
        store.turns.remember(turn(100 + n, minutes=n / 10))
    store.turns.remember(turn(200, chat_id=43, minutes=0))
    kept = [n for n in range(100, 100 + TURNS_KEPT + 2) if store.turns.replied(42, n, now=NOW)]
    assert kept == list(range(102, 100 + TURNS_KEPT + 2)), "the oldest are forgotten first"
    store.turns.remember(turn(300, chat_id=44, minutes=TURN_MINUTES + 5))  # much later, anywhere
    assert store.engine.row("SELECT COUNT(*) AS n FROM turns")["n"] == 1, "expired turns are deleted, not kept"
    store.close()
    assert maker.open().turns.replied(44, 300, now=NOW + dt.timedelta(minutes=TURN_MINUTES + 5)) is not None
