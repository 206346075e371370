"""Followed topics end to end: which stories count as new for followers (not a rebuild, a restart or a re-fetch),
and the limits of what a follower is sent.

Stories reach the bot through the articles folder and an admin's /reindex here (the feeds' own tests are in
tests/test_bot_news.py); each test waits for the reindex report and for the background work it started, then looks.
"""

from __future__ import annotations

import datetime as dt
import logging
import os

import pytest

from bot.context import services_of

from .bot_harness import ADMIN, make_settings, running
from .conftest import write
from .fake_telegram import Chat
from .test_bot_news import settle

FOLLOWER = 3003


def story(title: str, when: dt.datetime | dt.date, *paragraphs: str) -> str:
    """A ``.txt`` article: title, date line, paragraphs."""
    stamp = when.isoformat(timespec="minutes") if isinstance(when, dt.datetime) else when.isoformat()
    return f"{title}\n{stamp}\n\n" + "\n\n".join(paragraphs) + "\n"


async def reindex(admin: Chat, *args: str) -> str:
    """An admin's /reindex, to its final report."""
    await admin.send(" ".join(("/reindex", *args)))
    while True:
        text = (await admin.next_reply(seconds=60)).text
        if not text.startswith("Reindexing"):
            return text


def sent_to(telegram, chat_id: int, mark: int = 0) -> list[str]:
    return [s.text for s in telegram.sent[mark:] if s.chat_id == chat_id and s.text.startswith("New on")]


async def test_only_stories_that_first_arrive_and_are_recent_go_to_followers(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path)
    now = dt.datetime.now(dt.UTC)
    # Already indexed before the topic is followed: an old story (the seed, 2020) and one from this morning.
    write(settings.articles_dir, "tripoli.txt", story(
        "Haftar's forces shell Tripoli", now - dt.timedelta(hours=3),
        "General Khalifa Haftar's forces shelled the outskirts of Tripoli overnight, the government said.",
    ))
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow haftar")
        assert "Following <i>haftar</i>" in (await follower.next_reply()).html

        # A full rebuild marks every article changed: none of them reached the bot now.
        mark = follower.mark()
        assert "Reindexed" in await reindex(admin, "full")
        await settle(app)
        assert sent_to(telegram, FOLLOWER, mark) == []

        # A story that first arrives now, published today: sent, once.
        write(settings.articles_dir, "sirte.txt", story(
            "Haftar's forces leave Sirte", now - dt.timedelta(hours=1),
            "General Khalifa Haftar's forces withdrew from Sirte on Friday after a week of talks.",
        ))
        assert "Added 1" in await reindex(admin)
        sent = await follower.next_reply(seconds=30)
        assert sent.text.startswith("New on haftar")
        assert "withdrew from Sirte" in sent.text

        # New to the bot but published years ago (an archive copied in): not news.
        write(settings.articles_dir, "benghazi.txt", story(
            "Haftar takes Benghazi", dt.date(2017, 7, 5),
            "General Khalifa Haftar declared Benghazi liberated after three years of fighting.",
        ))
        # The story sent above, fetched again with a correction (same id): not sent again.
        write(settings.articles_dir, "sirte.txt", story(
            "Haftar's forces leave Sirte", now - dt.timedelta(hours=1),
            "General Khalifa Haftar's forces withdrew from Sirte on Friday after ten days of talks.",
        ))
        mark = follower.mark()
        assert "Added 1, changed 1" in await reindex(admin)
        assert "Reindexed" in await reindex(admin, "full")
        await settle(app)
        assert sent_to(telegram, FOLLOWER, mark) == []

    # While the bot is down, every file is touched (a copy, a restore from backup): the start reindexes them all.
    for path in settings.articles_dir.iterdir():
        os.utime(path)
    async with running(settings) as app:
        report = await services_of(app).startup_reindex
        assert len(report.changes.changed) == 4
        await settle(app)
    assert len(sent_to(telegram, FOLLOWER)) == 1


def test_arrivals_are_what_first_entered_the_index_and_is_recent(tmp_path):
    import index
    from bot.follows import arrivals

    articles, where = tmp_path / "articles", tmp_path / "index"
    now = dt.datetime.now(dt.UTC)
    write(articles, "old.txt", story("Pier repaired", dt.date(2015, 3, 1), "The old pier was repaired at last."))
    first = index.update(where, articles)
    write(articles, "ferry.txt", story("Ferry strike", now - dt.timedelta(hours=3), "The ferry crews went on strike."))
    write(articles, "undated.txt", "Harbour closed\n\nThe harbour was closed to yachts.\n")
    write(articles, "archive.txt", story("Lighthouse sold", dt.date(2016, 5, 2), "The lighthouse was sold."))
    second = index.update(where, articles)
    ids = [*second.changed.added, *second.changed.changed]
    assert sorted(ids) == ["archive", "ferry", "undated"]
    assert arrivals(second, first, ids, now=now, max_age=dt.timedelta(hours=2)) == {"undated"}
    assert arrivals(second, first, ids, now=now, max_age=dt.timedelta(hours=4)) == {"ferry", "undated"}
    rebuilt = index.update(where, articles, full=True)
    ids = [*rebuilt.changed.added, *rebuilt.changed.changed]
    assert len(ids) == 4
    assert arrivals(rebuilt, second, ids, now=now, max_age=dt.timedelta(days=36500)) == set()


def test_follow_max_age_is_read_and_checked():
    from bot.config import load_settings
    from bot.errors import ConfigError

    assert load_settings({}).follow_max_age_hours == 48
    assert load_settings({"FOLLOW_MAX_AGE_HOURS": "6"}).follow_max_age_hours == 6
    with pytest.raises(ConfigError, match="FOLLOW_MAX_AGE_HOURS"):
        load_settings({"FOLLOW_MAX_AGE_HOURS": "0"})


async def test_a_story_too_long_to_quote_is_sent_as_its_title_and_link(telegram, tmp_path, caplog):
    settings = make_settings(telegram, tmp_path)
    now = dt.datetime.now(dt.UTC)
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow lighthouse keeper")
        await follower.next_reply()
        endless = "The lighthouse keeper of Skerry Point " + ", and then ".join(
            f"he climbed the {n} steps of the tower again" for n in range(200)
        )
        write(settings.articles_dir, "keeper.txt", story("Lighthouse keeper retires", now, endless + "."))
        with caplog.at_level(logging.ERROR):
            assert "Added 1" in await reindex(admin)
            sent = await follower.next_reply(seconds=30)
            await settle(app)
        assert sent.text.startswith("New on lighthouse keeper")
        assert "Lighthouse keeper retires" in sent.text
        assert "failed" not in caplog.text


async def test_stories_for_a_follower_take_a_few_round_trips_to_the_state_not_a_few_per_story(telegram, tmp_path):
    """Issue 15 found ``notify`` asking the database once per matching story whether it was sent, and writing each
    sent or queued story on its own; a chat's candidates are read and written in batches now."""
    settings = make_settings(telegram, tmp_path, follow_per_hour=2)
    now = dt.datetime.now(dt.UTC)
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow ferry strike")
        await follower.next_reply()
        piers = ["North Pier", "South Quay", "Old Harbour", "Fish Market", "Lighthouse Steps", "Customs House"]
        for n, pier in enumerate(piers):
            write(settings.articles_dir, f"strike-{n}.txt", story(
                f"Ferry strike reaches {pier}", now - dt.timedelta(minutes=30 + n),
                f"The ferry strike closed the {pier} landing on day {n + 2}, with {n * 40 + 120} passengers stranded.",
            ))
        state = services_of(app).db
        before = state.calls.copy()
        assert "Added 6" in await reindex(admin)
        await settle(app)
        follows = {what: n for what, n in (state.calls - before).items() if what.startswith("follows.")}
        assert follows == {
            "follows.every": 1,  # the followed topics
            "follows.already_sent": 1,  # which of the chat's six candidates it had: one read
            "follows.sent_within": 1,  # its messages this hour
            "follows.claim": 1,  # the two it was sent now, claimed before they were sent: one write
            "follows.queue": 1,  # the four beyond its hourly share, for the digest: one write
        }
        assert len(sent_to(telegram, FOLLOWER)) == 2
        assert len((await state.follows.queued())[FOLLOWER]) == 4
