"""Conversations with the bot in Telegram (issue 19): a reply to one of its answers, or in a private chat a short
follow-up, continues the earlier question's topic and says so; /help teaches questions about the news the bot
actually has. Real news pages (tests/data/pages) are served from the test site on 127.0.0.1 and added with the
admin's /fetch, as a user would; the chats go through the real Application and the fake Bot API.
"""

from __future__ import annotations

from .bot_harness import ADMIN, USER, running
from .fake_telegram import BOT, Chat
from .feed_server import HTML
from .test_bot_news import changes_of, news_settings, served
from .test_conversation import EMISSIONS, IOS, PAGES, PARASITE

GROUP = -1001234500000
FACETIME = "how did iOS 13 fix FaceTime eye contact?"
VERGE_TITLE = "iOS 13 will fix the FaceTime eye contact problem"


async def fetch_pages(app, admin: Chat, site, *names: str) -> None:
    """The admin adds each real page with /fetch; returns once each is served."""
    changes = changes_of(app)
    for name in names:
        site.serve(f"/{name}", (PAGES / name).read_bytes(), content_type=HTML)
        await admin.send(f"/fetch {site.url(f'/{name}')}")
        assert "Added" in (await admin.next_reply()).text
        await served(changes)


async def test_a_reply_to_an_answer_in_a_group_continues_its_question(telegram, site, tmp_path):
    async with running(news_settings(telegram, tmp_path)) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN, app=app)
        await fetch_pages(app, admin, site, IOS, PARASITE)
        group = Chat(telegram, chat_id=GROUP, user_id=USER, chat_type="supergroup", app=app)
        await group.send(f"@{BOT['username']} {FACETIME}")
        answer = await group.next_reply()
        assert VERGE_TITLE in answer.text

        await group.reply_to(answer, "and when was that announced?")
        follow_up = await group.next_reply()
        assert follow_up.text.startswith(f"Following your question “{FACETIME}”.")
        assert VERGE_TITLE in follow_up.text, "about iOS 13, not some other announcement"

        # Not a reply: in a group, a mention alone starts afresh (someone else's topic may be meant).
        await group.send(f"@{BOT['username']} and when was that announced?")
        assert "Following your question" not in (await group.next_reply()).text
        # A reply that asks a question of its own is answered on its own.
        await group.reply_to(follow_up, "Which Korean movie did the actors' guild honour?")
        own = await group.next_reply()
        assert "Following your question" not in own.text
        assert "Parasite" in own.text
        # Another member replying to the first answer continues it too: the turn belongs to the answer.
        await group.as_user(3003).reply_to(answer, "who spotted it?")
        other = await group.next_reply()
        assert other.text.startswith(f"Following your question “{FACETIME}”.")
        assert "Mike Rundle" in other.text


async def test_a_short_follow_up_in_a_private_chat_continues_the_last_question(telegram, site, tmp_path):
    async with running(news_settings(telegram, tmp_path)) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN, app=app)
        await fetch_pages(app, admin, site, IOS, EMISSIONS)
        private = Chat(telegram, chat_id=USER, user_id=USER, app=app)
        await private.send(FACETIME)
        assert VERGE_TITLE in (await private.next_reply()).text
        await private.send("who spotted it?")
        follow_up = await private.next_reply()
        assert follow_up.text.startswith(f"Following your question “{FACETIME}”.")
        assert "Mike Rundle" in follow_up.text
        await private.send("How much did US emissions fall in 2019?")  # a new question, not a follow-up
        new = await private.next_reply()
        assert "Following your question" not in new.text
        assert "No story dated 2019 answers that; these are from stories of any date." in new.text
        assert "total emissions fell 2 percent" in new.text


async def test_help_teaches_questions_about_the_news_the_bot_has(telegram, site, tmp_path):
    (tmp_path / "articles").mkdir()  # no seeds: this bot reads other news than Libya's
    async with running(news_settings(telegram, tmp_path)) as app:
        private = Chat(telegram, chat_id=USER, user_id=USER, app=app)
        await private.send("/help")
        generic = await private.next_reply()
        assert "Haftar" not in generic.text
        assert "GNA" not in generic.text
        assert "What did the minister say about the budget?" in generic.text

        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN, app=app)
        await fetch_pages(app, admin, site, PARASITE)
        await private.send("/help")
        shown = await private.next_reply()
        assert "Haftar" not in shown.text
        assert "GNA" not in shown.text
        example = "'Parasite' scores historic upset at SAG awards, boosting Oscar chances"
        assert f"• {example}" in shown.text
        await private.send(example)
        assert "“Parasite”" in (await private.next_reply()).text, "the example is answered"
        group = Chat(telegram, chat_id=GROUP, user_id=USER, chat_type="supergroup", app=app)
        await group.send("/ask")
        assert (await group.next_reply()).text == f"Usage: /ask your question, for example /ask {example}"

