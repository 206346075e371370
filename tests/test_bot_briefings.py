"""Briefings in Telegram end to end: /brief, subscriptions, jobs, restarts, time zones, permissions."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from bot.briefings import last_occurrence, missed
from bot.context import services_of
from bot.errors import StateError
from bot.state import SQLiteState

from .bot_harness import ADMIN, USER, running
from .cli_harness import run_process
from .conftest import SEED_TITLE, write
from .fake_telegram import TOKEN, Chat

GROUP = -100777


@pytest.fixture
def group(telegram, app) -> Chat:
    telegram.chat_admins[GROUP] = {USER}
    return Chat(telegram, chat_id=GROUP, user_id=USER, chat_type="supergroup")


def jobs(app, subscription_id: int):
    return app.job_queue.get_jobs_by_name(f"subscription-{subscription_id}")


async def test_brief_on_demand(group):
    await group.send("/brief")
    latest = await group.next_reply()
    assert latest.text.startswith("Latest stories")
    assert f"1. {SEED_TITLE}, 23 May 2020" in latest.text
    assert "<blockquote>" in latest.html
    await group.send("/brief libya")
    topical = await group.next_reply()
    assert topical.text.startswith("Briefing: libya")
    await group.send("/brief libya since 2021-01-01")
    reply = (await group.next_reply()).text
    assert "No stories match that topic published since 1 January 2021." in reply
    assert "The newest articles are from 23 May 2020." in reply
    await group.send("/brief since yesterday-ish")
    assert "can't read" in (await group.next_reply()).text


async def next_day(app) -> None:
    """The job's next run stands for the next day's occurrence: the occurrence claimed today is another's."""
    await services_of(app).db.claims.forget_before(dt.datetime.now(dt.UTC) + dt.timedelta(days=1))


async def test_an_occurrence_fired_by_two_processes_jobs_is_sent_once(group, app):
    await group.send("/subscribe 08:00 libya")
    await group.next_reply()
    (subscription,) = await services_of(app).db.subscriptions.for_chat(GROUP)
    (job,) = jobs(app, subscription.id)
    await job.run(app)
    await job.run(app)  # another process's job for the same subscription, at the same occurrence
    assert (await group.next_reply()).text.startswith("Briefing: libya")
    await group.send("/subscriptions")
    listing = (await group.next_reply()).text
    assert f"#{subscription.id} at 08:00: libya" in listing, "the next message is the listing: no second briefing"


async def test_subscribe_fire_list_unsubscribe(group, app):
    await group.send("/timezone Europe/Istanbul")
    assert "Time zone set to Europe/Istanbul" in (await group.next_reply()).text
    await group.send("/subscribe 08:00 libya")
    confirmation = await group.next_reply()
    assert "every day at 08:00 Europe/Istanbul" in confirmation.text
    store = services_of(app).db
    (subscription,) = await store.subscriptions.for_chat(GROUP)
    (job,) = jobs(app, subscription.id)
    next_run = job.next_t.astimezone(ZoneInfo("Europe/Istanbul"))
    assert (next_run.hour, next_run.minute) == (8, 0)

    await job.run(app)
    briefing = await group.next_reply()
    assert briefing.text.startswith("Briefing: libya")
    assert SEED_TITLE in briefing.text
    await next_day(app)
    await job.run(app)
    assert (await group.next_reply()).text.startswith("No new stories on libya since the last briefing")
    write(services_of(app).settings.articles_dir, "cocoa.txt", "Cocoa prices\n2024-03-07\n\nCocoa rose again.\n")
    await services_of(app).library.reindex()
    await next_day(app)
    await job.run(app)
    assert (await group.next_reply()).text.startswith("No new stories on libya since"), "new, but off topic"

    await group.send("/subscriptions")
    listing = await group.next_reply()
    assert f"#{subscription.id} at 08:00: libya" in listing.text
    assert "(Europe/Istanbul)" in listing.text
    await group.send(f"/unsubscribe {subscription.id}")
    assert f"Stopped 1 briefing: #{subscription.id}." == (await group.next_reply()).text
    assert await store.subscriptions.for_chat(GROUP) == []


async def test_scheduled_briefing_covers_only_new_stories(group, app, settings):
    await group.send("/subscribe 07:30")
    await group.next_reply()
    (subscription,) = await services_of(app).db.subscriptions.for_chat(GROUP)
    (job,) = jobs(app, subscription.id)
    await job.run(app)
    assert SEED_TITLE in (await group.next_reply()).text
    write(
        settings.articles_dir,
        "fresh.txt",
        "Volcano erupts in Iceland\n2024-03-07\n\nThe Reykjanes volcano "
        "erupted again overnight, the fourth eruption since December.\n",
    )
    await services_of(app).library.reindex()
    await next_day(app)
    await job.run(app)
    fresh = await group.next_reply()
    assert "Volcano erupts in Iceland" in fresh.text
    assert SEED_TITLE not in fresh.text


async def test_subscriptions_survive_a_restart(telegram, settings):
    async with running(settings) as first:
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        await chat.send("/timezone Europe/Berlin")
        await chat.next_reply()
        await chat.send("/subscribe 06:45 haftar")
        await chat.next_reply()
        (subscription,) = await services_of(first).db.subscriptions.for_chat(USER)
    async with running(settings) as second:
        (job,) = jobs(second, subscription.id)
        local = job.next_t.astimezone(ZoneInfo("Europe/Berlin"))
        assert (local.hour, local.minute) == (6, 45)
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        await job.run(second)
        assert (await chat.next_reply()).text.startswith("Briefing: haftar")


async def test_missed_briefing_is_sent_once_on_start(telegram, settings):
    store = SQLiteState(settings.data_dir / "newsbot.sqlite3")
    now = dt.datetime.now(dt.UTC)
    due = now - dt.timedelta(hours=1)
    store.subscriptions.add(USER, f"{due:%H:%M}", None, now=now - dt.timedelta(days=2))
    long_ago = now - dt.timedelta(hours=6)
    store.subscriptions.add(ADMIN, f"{long_ago:%H:%M}", None, now=now - dt.timedelta(days=2))
    store.close()
    async with running(settings) as app:
        missed_jobs = {job.name for job in app.job_queue.jobs() if job.name.startswith("missed-")}
        assert missed_jobs == {"missed-1"}, "only the briefing less than three hours late is sent, once"
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        chat._seen = 0
        assert (await chat.next_reply()).text.startswith("Latest stories")
        assert not [job for job in app.job_queue.jobs() if job.name.startswith("missed-")], "nothing more is due"
        assert sum(sent.chat_id == USER for sent in telegram.sent) == 1


def test_missed_rule():
    store_row = dict(id=1, chat_id=1, time="08:00", topic=None, enabled=True, timezone="Europe/Istanbul")
    from bot.state import Subscription

    created = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sub = Subscription(created_at=created, last_sent_at=None, **store_row)
    at_ten = dt.datetime(2026, 6, 1, 7, 0, tzinfo=dt.UTC)  # 10:00 in Istanbul (UTC+3)
    assert last_occurrence(sub, at_ten) == dt.datetime(2026, 6, 1, 5, 0, tzinfo=dt.UTC)
    assert missed(sub, at_ten)
    assert not missed(sub, at_ten + dt.timedelta(hours=2))  # more than three hours late
    sent = Subscription(created_at=created, last_sent_at=dt.datetime(2026, 6, 1, 5, 0, 5, tzinfo=dt.UTC), **store_row)
    assert not missed(sent, at_ten)


async def test_daylight_saving_keeps_local_time(group, app):
    await group.send("/timezone Europe/Berlin")
    await group.next_reply()
    await group.send("/subscribe 08:00")
    await group.next_reply()
    (subscription,) = await services_of(app).db.subscriptions.for_chat(GROUP)
    trigger = jobs(app, subscription.id)[0].job.trigger
    berlin = ZoneInfo("Europe/Berlin")
    before = trigger.get_next_fire_time(None, dt.datetime(2026, 3, 28, 0, 0, tzinfo=berlin))
    after = trigger.get_next_fire_time(None, dt.datetime(2026, 3, 30, 0, 0, tzinfo=berlin))
    assert before.astimezone(dt.UTC).hour == 7  # CET, UTC+1
    assert after.astimezone(dt.UTC).hour == 6  # CEST, UTC+2: clocks went forward on 29 March
    assert before.astimezone(berlin).hour == after.astimezone(berlin).hour == 8


async def test_group_members_cannot_change_subscriptions(telegram, group):
    member = group.as_user(8008, "Mallory")
    for command in ("/subscribe 08:00", "/unsubscribe all", "/timezone Europe/Paris"):
        await member.send(command)
        assert (await member.next_reply()).text == "Only this group's administrators can change its briefings."
    await group.send("/subscribe 09:15 turkey")
    assert "Subscribed" in (await group.next_reply()).text
    await member.send("/subscriptions")
    assert "#" in (await member.next_reply()).text, "anyone may list them"
    bot_admin = group.as_user(ADMIN, "Admin")
    await bot_admin.send("/unsubscribe all")
    assert (await bot_admin.next_reply()).text.startswith("Stopped 1 briefing")


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        pytest.param(
            "/subscribe",
            "Usage: /subscribe HH:MM [topic], for example /subscribe 08:00 for a briefing of all news",
            id="no-time",
        ),
        pytest.param("/subscribe 25:00 libya", "I can't read '25:00' as a time.", id="bad-hour"),
        pytest.param("/subscribe 8h libya", "I can't read '8h' as a time.", id="bad-format"),
        pytest.param("/subscribe 08:00 the of", "has no words to search for", id="empty-topic"),
        pytest.param("/timezone Mars/Olympus_Mons", "is not a time zone I know", id="unknown-zone"),
        pytest.param("/timezone ../../etc/passwd", "is not a time zone I know", id="path-zone"),
        pytest.param("/timezone", "This chat's time zone is UTC", id="show-zone"),
        pytest.param("/unsubscribe 999", "There is no briefing #999 in this chat", id="unknown-id"),
        pytest.param("/unsubscribe now please", "Usage: /unsubscribe ID or /unsubscribe all", id="junk"),
        pytest.param("/subscriptions", "No briefings in this chat.", id="none-yet"),
    ],
)
async def test_bad_subscription_input(group, command, expected):
    await group.send(command)
    assert expected in (await group.next_reply()).text


async def test_forbidden_disables_the_chat(telegram, group, app, caplog):
    await group.send("/subscribe 10:00")
    await group.next_reply()
    store = services_of(app).db
    (subscription,) = await store.subscriptions.for_chat(GROUP)
    (job,) = jobs(app, subscription.id)
    telegram.blocked_chats.add(GROUP)
    with caplog.at_level(logging.WARNING):
        await job.run(app)
    assert await store.subscriptions.for_chat(GROUP) == []
    assert not (await store.subscriptions.get(subscription.id)).enabled
    assert f"removed from chat {GROUP}" in caplog.text
    assert all(j.removed for j in jobs(app, subscription.id)) or not jobs(app, subscription.id)


def test_newer_database_is_refused(tmp_path):
    path = tmp_path / "newsbot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 99")
    with pytest.raises(StateError, match="newer newsbot \\(schema 99"):
        SQLiteState(path)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == 99, "left as it was"


def test_run_refuses_a_newer_database(tmp_path):
    (tmp_path / "var").mkdir()
    with contextlib.closing(sqlite3.connect(tmp_path / "var" / "newsbot.sqlite3")) as db, db:
        db.execute("PRAGMA user_version = 99")
    out = run_process("run", cwd=tmp_path, env={"TELEGRAM_BOT_TOKEN": TOKEN, "DATA_DIR": "var"})
    assert out.returncode == 2
    assert "newer newsbot (schema 99" in out.stderr
    assert TOKEN not in out.stderr + out.stdout


def test_not_a_database_is_refused(tmp_path):
    path = tmp_path / "newsbot.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StateError, match="is damaged or not a database"):
        SQLiteState(path)


@pytest.mark.parametrize(
    "topic",
    [
        pytest.param("libya " * 680, id="4080-characters"),
        pytest.param("turkey libya haftar " * 50, id="1000-characters"),
        pytest.param("x" * 201, id="one-too-many"),
    ],
)
async def test_brief_refuses_a_topic_longer_than_promised(group, topic, caplog):
    with caplog.at_level(logging.ERROR):
        await group.send(f"/brief {topic}".strip()[:4096])
        reply = await group.next_reply()
        await group.send(f"/brief {topic.strip()[:4000]} since 2020-01-01")
        with_date = await group.next_reply()
    for refusal in (reply, with_date):
        assert refusal.text.startswith("That topic is ")
        assert "a topic may have at most 200 characters" in refusal.text
        assert len(refusal.text) < 200
    assert "error while handling" not in caplog.text


async def test_a_briefing_echoes_a_topic_of_200_characters_at_most(group):
    topic = ("haftar " * 40)[:200]
    await group.send(f"/brief {topic}")
    head = (await group.next_reply()).text.split("\n", 1)[0]
    assert head.startswith("Briefing: haftar haftar")
    assert len(head) <= len("Briefing: ") + 200
