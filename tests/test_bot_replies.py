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
        assert await services_of(app).db.subscriptions.for_chat(GROUP) == [], "nothing half-written"

        filler.unlink()
        await group.feed("/subscribe 08:00 libya")
        assert "Subscribed (#1)" in (await group.next_reply()).text


CHANGES = [
    ("/subscribe 08:00 libya", "briefings"),
    ("/unsubscribe all", "briefings"),
    ("/timezone Europe/Paris", "briefings"),
    ("/follow haftar", "followed topics"),
    ("/unfollow all", "followed topics"),
]


@pytest.fixture
def members(telegram, app):
    """A group where USER is an administrator, as seen by a plain member."""
    telegram.chat_admins[GROUP] = {USER}
    return Chat(telegram, chat_id=GROUP, user_id=8008, first_name="Mallory", chat_type="supergroup", app=app)


async def test_a_member_who_is_not_an_administrator_is_told_so(members, caplog):
    with caplog.at_level(logging.WARNING):
        for command, what in CHANGES:
            await members.feed(command)
            assert (await members.next_reply()).text == f"Only this group's administrators can change its {what}."
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.mark.parametrize(
    ("refusal", "said"),
    [
        pytest.param(
            (400, "Bad Request: member list is inaccessible"), "Member list is inaccessible", id="bad-request"
        ),
        pytest.param((502, "Bad Gateway"), "Bad Gateway", id="telegram-down"),
    ],
)
async def test_a_failed_admin_check_says_what_happened(telegram, members, caplog, refusal, said):
    telegram.refused["getChatMember"] = refusal
    with caplog.at_level(logging.WARNING):
        for command, what in CHANGES:
            await members.feed(command)
            reply = (await members.next_reply()).text
            assert reply == (
                f"I could not check whether you are an administrator of this group ({said}), so I did not change "
                f"its {what}. Please try again in a moment."
            )
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR and r.name != "tornado.access"]


async def test_an_anonymous_administrator_may_change_the_group(telegram, members):
    telegram.refused["getChatMember"] = (400, "Bad Request: user not found")  # what Telegram says of the stand-in
    anonymous = members.as_user(1087968824, "Group")  # Telegram's GroupAnonymousBot speaks for anonymous admins
    await anonymous.feed("/follow haftar", sender_chat={"id": GROUP, "type": "supergroup", "title": "Test group"})
    assert "Following <i>haftar</i>" in (await anonymous.next_reply()).html


async def test_a_message_on_behalf_of_a_channel_may_not_change_the_group(telegram, members):
    channel = {"id": -1001234, "type": "channel", "title": "Some channel"}
    speaker = members.as_user(136817688, "Channel")  # Telegram's Channel_Bot speaks for channels
    await speaker.feed("/subscribe 08:00", sender_chat=channel)
    assert (await speaker.next_reply()).text == "Only this group's administrators can change its briefings."
