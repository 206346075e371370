"""What users are told when the bot itself cannot do what they asked: its database's disk is full, or Telegram
cannot say whether they administer the group. One clear line each, never the generic apology or a traceback.
"""

from __future__ import annotations

import logging

import pytest

from bot.context import services_of

from .bot_harness import ADMIN, USER, make_settings, running
from .conftest import fill_disk, small_filesystem
from .fake_telegram import Chat

GROUP = -100888


@pytest.fixture
def data_disk(tmp_path):
    yield from small_filesystem(tmp_path, "1m")


async def test_a_full_disk_under_the_database_is_said_in_one_line_and_the_admins_are_told_once(
    telegram, tmp_path, data_disk, caplog
):
    settings = make_settings(telegram, tmp_path, data_dir=data_disk)
    telegram.chat_admins[GROUP] = {USER}
    async with running(settings) as app:
        group = Chat(telegram, chat_id=GROUP, user_id=USER, chat_type="supergroup", app=app)
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        filler = fill_disk(data_disk)
        mark = admin.mark()
        with caplog.at_level(logging.WARNING):
            for command in ("/subscribe 08:00 libya", "/follow haftar", "/timezone Europe/Paris"):
                await group.feed(command)
                reply = await group.next_reply()
                assert reply.text.startswith("Sorry, I could not do that: the bot's disk is full."), reply.text
                assert "\n" not in reply.text
        notices = [s.text for s in telegram.sent[mark:] if s.chat_id == ADMIN]
        assert len(notices) == 1
        assert "no space left on the disk holding DATA_DIR" in notices[0]
        assert "Traceback" not in caplog.text
        assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert services_of(app).db.for_chat(GROUP) == [], "nothing half-written"

        filler.unlink()
        await group.feed("/subscribe 08:00 libya")
        assert "Subscribed (#1)" in (await group.next_reply()).text
