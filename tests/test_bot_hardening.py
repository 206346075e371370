"""The bot under faults and hostile input: secrets in logs, repairs on start, Telegram's limits, foreign buttons."""

from __future__ import annotations

import dataclasses
import logging

from bot.context import services_of

from .bot_harness import ADMIN, USER, make_settings, running, running_webhook
from .conftest import write
from .fake_telegram import Chat

QUESTION = "Which air base did the GNA seize?"
SECRET = "webhook-secret-Zq81x"


async def test_webhook_secret_never_logged_at_debug(telegram, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = make_settings(telegram, tmp_path, webhook_secret=SECRET)
    async with running_webhook(settings, secret=SECRET) as webhook:
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        await webhook.post({"update_id": 1, "message": chat.message(QUESTION)}, secret=SECRET)
        await chat.next_reply()
    assert "setWebhook" in caplog.text, "the webhook call was logged"
    assert SECRET not in caplog.text
    assert "[secret]" in caplog.text


async def test_start_repairs_what_a_killed_add_left(telegram, tmp_path, caplog):
    settings = make_settings(telegram, tmp_path)
    async with running(settings):
        pass  # the first start builds the index
    articles = settings.articles_dir
    (articles / ".newsbot-upload-k1ll.part").write_bytes(b"half an upload")
    write(articles, "volcano.md", "---\ntitle: Volcano erupts\n---\nThe Reykjanes volcano erupted again.\n")
    with caplog.at_level(logging.INFO):
        async with running(settings) as app:
            await services_of(app).startup_reindex
            admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
            await admin.send("Which volcano erupted?")
            assert "Reykjanes" in (await admin.next_reply()).text
    assert not (articles / ".newsbot-upload-k1ll.part").exists()
    assert "removed 1 partial upload" in caplog.text
    assert "articles changed since the index was built (1 new" in caplog.text


async def test_start_repair_can_be_turned_off(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path, reindex_on_start=False)
    async with running(settings):
        pass
    write(settings.articles_dir, "volcano.md", "---\ntitle: Volcano erupts\n---\nThe Reykjanes volcano erupted.\n")
    async with running(settings) as app:
        assert services_of(app).startup_reindex is None
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send("Which volcano erupted?")
        assert "Reykjanes" not in (await admin.next_reply()).text


async def test_long_arguments_get_short_replies(telegram, app):
    group = Chat(telegram, chat_id=-100555, user_id=ADMIN, chat_type="supergroup")
    long_topic = "libya " * 680
    for command, expected in (
        (f"/subscribe 08:00 {long_topic}", "a topic may have at most 200 characters"),
        ("/subscribe " + "9" * 4000, "I can't read"),
        ("/timezone " + "Europe/" * 600, "is not a time zone I know"),
        ("/unsubscribe " + "7" * 4000, "There is no briefing"),
        ("/brief libya since " + "x" * 4000, "as a date"),
    ):
        await group.send(command[:4096])
        reply = await group.next_reply()
        assert expected in reply.text, reply.text
        assert len(reply.text) < 500
    assert await services_of(app).db.subscriptions.for_chat(-100555) == [], "nothing was stored"


async def test_ten_long_topics_can_be_listed(telegram, app):
    store = services_of(app).db
    for i in range(10):
        await store.subscriptions.add(USER, "08:00", f"topic {i} " + "word " * 130)
    chat = Chat(telegram, chat_id=USER, user_id=USER)
    await chat.send("/subscriptions")
    listing = await chat.next_reply()
    assert "#1 at 08:00" in listing.text
    assert "#10 at 08:00" in listing.text


async def test_a_button_pressed_in_another_chat_does_nothing_there(telegram, app):
    asker = Chat(telegram, chat_id=USER, user_id=USER)
    await asker.send(QUESTION)
    answer = await asker.next_reply()
    stranger = Chat(telegram, chat_id=9009, user_id=9009, app=app)
    forwarded = dataclasses.replace(answer, chat_id=9009)  # the answer, forwarded with its buttons
    mark = stranger.mark()
    await stranger.feed_update("callback_query", stranger.callback(forwarded, "Why"))
    toast = next(params for method, params in reversed(telegram.calls) if method == "answerCallbackQuery")
    assert "expired" in toast["text"]
    assert stranger.silent_since(mark), "the question asked elsewhere is not replayed here"


async def test_uploads_with_foreign_names_are_kept(telegram, app, settings):
    admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
    await admin.send_document("новости.txt", "Новости\n\nThe Volga froze early this year.\n".encode(), caption="/add")
    saved = await admin.next_reply()
    assert saved.text.startswith("Saved upload-")
    await admin.next_reply(seconds=60)
    await admin.send("What froze early?")
    assert "Volga" in (await admin.next_reply()).text


async def test_backups_are_made_at_start(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path)
    async with running(settings) as app:
        assert app.job_queue.get_jobs_by_name("backup")
    assert list((settings.data_dir / "backups").glob("newsbot-*.sqlite3"))


def test_settings_default_reindex_on_start():
    from bot.config import load_settings

    assert load_settings({}).reindex_on_start is True
    assert load_settings({"REINDEX_ON_START": "0"}).reindex_on_start is False
    assert dataclasses.replace(load_settings({}), reindex_on_start=False).reindex_on_start is False


async def test_small_talk_gets_a_friendly_line(telegram, app):
    private = Chat(telegram, chat_id=USER, user_id=USER)
    await private.send("hi")
    assert "I answer questions about the news" in (await private.next_reply()).text
    group = Chat(telegram, chat_id=-100444, user_id=USER, chat_type="supergroup")
    await group.send("/ask " + QUESTION)
    answer = await group.next_reply()
    await group.reply_to(answer, "thanks!")
    reply = await group.next_reply()
    assert "I answer questions about the news" in reply.text
    assert "<blockquote>" not in reply.html


async def test_time_only_questions_get_a_briefing_or_the_newest_date(telegram, app):
    private = Chat(telegram, chat_id=USER, user_id=USER)
    await private.send("What happened yesterday?")
    reply = await private.next_reply()
    assert reply.text == "There are no stories from yesterday. The newest articles are from 23 May 2020."
    await private.send("/brief since last week")
    assert "The newest articles are from 23 May 2020." in (await private.next_reply()).text


async def test_answers_by_words_when_the_model_is_off(telegram, tmp_path, caplog):
    settings = make_settings(telegram, tmp_path, semantic_answers=False)
    async with running(settings) as app:
        assert services_of(app).judge is None
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        await chat.send(QUESTION)
        assert "Al-Watiya" in (await chat.next_reply()).text


async def test_a_model_that_cannot_load_is_logged_once(telegram, tmp_path, caplog, monkeypatch):
    import index.semantic

    def unavailable(**_options):
        raise index.ModelUnavailable("the model file is damaged (sha256 mismatch)")

    monkeypatch.setattr(index.semantic, "load_judge", unavailable)  # what a damaged install looks like
    with caplog.at_level(logging.WARNING):
        async with running(make_settings(telegram, tmp_path)) as app:
            assert services_of(app).judge is None
            chat = Chat(telegram, chat_id=USER, user_id=USER)
            await chat.send(QUESTION)
            assert "Al-Watiya" in (await chat.next_reply()).text
    assert caplog.text.count("semantic answers off: the model file is damaged") == 1
