"""The bot on PostgreSQL (DATABASE_URL=postgresql://…), end to end: the real Application against the fake Bot API,
its state in a real PostgreSQL database of the test's own (skipped without one, failed in CI). What users do is
kept in the database, not in DATA_DIR, and is there after a restart; the password never reaches the log."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from bot.context import services_of
from bot.state import PostgresState

from .bot_harness import ADMIN, USER, make_settings, running
from .fake_telegram import Chat
from .test_bot_news import FERRY, publish


async def test_subscriptions_follows_and_feeds_live_in_postgresql_and_survive_a_restart(
    telegram, site, tmp_path, postgres_url, caplog
):
    caplog.set_level(logging.DEBUG)
    settings = make_settings(telegram, tmp_path, database_url=postgres_url, allow_private_urls=True,
                             log_level="DEBUG")
    publish(site, "/harbour.rss", [("ferry", *FERRY)])
    user = Chat(telegram, chat_id=USER, user_id=USER)
    admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
    async with running(settings) as app:
        assert isinstance(services_of(app).db.sync, PostgresState)
        await user.send("/timezone Europe/Berlin")
        assert "Time zone set to Europe/Berlin" in (await user.next_reply()).text
        await user.send("/subscribe 06:45 haftar")
        assert "every day at 06:45 Europe/Berlin" in (await user.next_reply()).text
        await user.send("/follow harbour bridge")
        assert "Following <i>harbour bridge</i> (#1)" in (await user.next_reply()).html
        await admin.send(f"/feeds add {site.url('/harbour.rss')} Harbour Times")
        assert f"Reading {site.url('/harbour.rss')}" in (await admin.next_reply()).text
        assert "Following feed #1 (Harbour Times): 1 new story;" in (await admin.next_reply()).text
    assert not (tmp_path / "data" / "newsbot.sqlite3").exists(), "the state went to PostgreSQL, not DATA_DIR"

    async with running(settings) as app:
        await user.send("/subscriptions")
        listing = (await user.next_reply()).text
        assert "#1 at 06:45: haftar" in listing
        assert "(Europe/Berlin)" in listing
        assert app.job_queue.get_jobs_by_name("subscription-1"), "the briefing is scheduled again"
        await user.send("/following")
        assert "#1: harbour bridge" in (await user.next_reply()).text
        await admin.send("/feeds")
        assert "#1 Harbour Times — read" in (await admin.next_reply()).text
        await user.send("/follow harbour bridge")
        assert "This chat follows 'harbour bridge' already." in (await user.next_reply()).text
    assert caplog.records, "the bot logged at DEBUG"
    assert urlsplit(postgres_url).password not in caplog.text
