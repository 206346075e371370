"""The Telegram bot end to end: the real Application over HTTP to a fake Bot API server, read as chats."""

from __future__ import annotations

import logging

import pytest

from .bot_harness import ADMIN, USER, make_settings, running, running_webhook
from .cli_harness import run_bot
from .conftest import SEED_TITLE, SEEDS, write
from .fake_telegram import BOT, TOKEN, Chat, TelegramError
from .services import free_port

GROUP = -100123
QUESTION = "Which air base did the GNA seize?"


@pytest.fixture
def private(telegram, app) -> Chat:
    return Chat(telegram, chat_id=USER, user_id=USER, app=app)


@pytest.fixture
def admin(telegram, app) -> Chat:
    return Chat(telegram, chat_id=ADMIN, user_id=ADMIN, first_name="Admin", app=app)


@pytest.fixture
def group(telegram, app) -> Chat:
    return Chat(telegram, chat_id=GROUP, user_id=USER, chat_type="supergroup", app=app)


async def test_private_question_gets_quotes_sources_and_buttons(private, telegram):
    question = await private.send(QUESTION)
    reply = await private.next_reply()
    assert "<blockquote>" in reply.html
    assert "Al-Watiya Air Base" in reply.text
    assert f"— {SEED_TITLE}, 23 May 2020" in reply.text
    assert reply.reply_to == question["message_id"]
    assert [b["text"] for b in reply.buttons] == ["More", "Context", "Why these quotes?"]
    assert ("sendChatAction", {"chat_id": USER, "action": "typing"}) in [
        (m, {k: p[k] for k in ("chat_id", "action")}) for m, p in telegram.calls if m == "sendChatAction"
    ]


async def test_why_and_more_buttons(private):
    await private.send(QUESTION)
    answer = await private.next_reply()
    await private.press(answer, "Why")
    why = await private.next_reply()
    assert "Search terms" in why.text
    assert "air, base, gna, seiz" in why.text
    assert "1. score" in why.text
    await private.press(answer, "More")
    more = await private.next_reply()
    assert "<blockquote>" in more.html
    quotes = {line for line in answer.text.split("\n") if not line.startswith("— ")}
    assert not quotes & set(more.text.split("\n")), "More shows the next quotes, not the same ones"


async def test_context_button_shows_each_quote_in_its_paragraph(private):
    await private.send(QUESTION)
    answer = await private.next_reply()
    await private.press(answer, "Context")
    shown = await private.next_reply()
    assert shown.text.startswith("In context")
    assert "<b>Last week, the army of Libya’s UN-recognized Government of National Accord" in shown.html
    seed = (SEEDS / "000_1ac90010c147ba5d.txt").read_text(encoding="utf-8")
    paragraphs = [line for line in shown.text.split("\n")[1:] if line and not line.startswith("— ")]
    assert paragraphs
    for paragraph in paragraphs:
        assert paragraph.strip("…") in seed, "each paragraph is verbatim"
    assert len(shown.text) <= 4096


async def test_expired_button_gets_a_toast(private, telegram):
    await private.send(QUESTION)
    answer = await private.next_reply()
    answer.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] = "m:deadbeef:1"
    mark = private.mark()
    await private.feed_update("callback_query", private.callback(answer, "More"))
    toasts = [p for m, p in telegram.calls if m == "answerCallbackQuery"]
    assert "expired" in toasts[-1]["text"]
    assert private.silent_since(mark)


async def test_off_topic_in_private(private):
    await private.send("Who won the football World Cup?")
    reply = await private.next_reply()
    assert "do not" in reply.text
    assert SEED_TITLE in reply.text
    assert not reply.buttons


async def test_start_and_help(private):
    await private.send("/start")
    reply = await private.next_reply()
    assert "quoting them word for word" in reply.text
    assert "1 article (11 passages)" in reply.text
    await private.send("/help extra junk")
    assert "Try:" in (await private.next_reply()).text


async def test_group_answers_only_when_addressed(group):
    mark = group.mark()
    await group.feed("Anyone seen the news about the air base?")
    await group.feed("/ask@other_bot " + QUESTION)
    assert group.silent_since(mark), "chatter and other bots' commands get no answer"
    await group.send("/ask " + QUESTION)
    assert "Al-Watiya" in (await group.next_reply()).text
    await group.send(f"/ask@{BOT['username']} Who is Hami Aksoy?")
    assert "Hami Aksoy" in (await group.next_reply()).text
    await group.send("/ask")
    assert "Usage: /ask" in (await group.next_reply()).text
    await group.send(f"@{BOT['username']} who threatened Turkish targets?")
    answer = await group.next_reply()
    assert "<blockquote>" in answer.html
    await group.as_user(3003).reply_to(answer, "Which air base did the GNA seize?")
    assert "Al-Watiya" in (await group.next_reply()).text


async def test_admin_commands_refuse_non_admins(private, admin):
    for command in ("/stats", "/reindex", "/add"):
        await private.send(command)
        assert (await private.next_reply()).text == "Sorry, that command is for the bot's admins only."
    await private.send(QUESTION)
    await private.next_reply()
    await admin.send("/stats please")
    stats = await admin.next_reply()
    assert "1 article, 11 passages" in stats.text
    assert "Questions answered since start: 1" in stats.text
    assert "Uptime" in stats.text


async def test_commands_registered_per_scope(telegram, app):
    scopes = {
        p["scope"]["type"]: [c["command"] for c in p["commands"]] for m, p in telegram.calls if m == "setMyCommands"
    }
    assert "ask" in scopes["all_private_chats"]
    assert "ask" in scopes["all_group_chats"]
    assert "reindex" not in scopes["all_group_chats"]
    assert {"reindex", "stats", "add"} <= set(scopes["chat"])


def _many_articles(folder, n: int) -> None:
    for i in range(n):
        write(
            folder,
            f"bulk/story{i:04d}.txt",
            f"Story {i} about harbour number {i}\n\n"
            + " ".join(f"The harbour {i} authority said ships number {j} arrived on time." for j in range(30)),
        )


@pytest.mark.slow
async def test_reindex_while_questions_are_in_flight(admin, telegram, tmp_path):
    _many_articles(tmp_path / "articles", 1500)
    asker = Chat(telegram, chat_id=4004, user_id=4004)
    asker_two = Chat(telegram, chat_id=5005, user_id=5005)
    await admin.send("/reindex")
    status = await admin.next_reply()
    assert status.text.startswith("Reindexing")
    await admin.send("/reindex")
    assert "already running" in (await admin.next_reply()).text
    for chat in (asker, asker_two):
        for _ in range(3):
            await chat.send(QUESTION)
    replies = [await chat.next_reply() for chat in (asker, asker_two) for _ in range(3)]
    assert all("Al-Watiya" in r.text for r in replies), "every question was answered during the reindex"
    while True:
        update = await admin.next_reply(seconds=60)
        if not update.text.startswith("Reindexing"):
            break
    assert update.text.startswith("Reindexed in")
    assert (update.method, update.message_id) == ("editMessageText", status.message_id), "one status message"
    assert "1501 articles" in update.text
    assert "Added 1500, changed 0, removed 0" in update.text
    await asker.send("what arrived at harbour 17?")
    assert "harbour 17" in (await asker.next_reply()).text


async def test_failed_reindex_keeps_the_old_index(admin, tmp_path):
    articles = tmp_path / "articles"
    for path in articles.iterdir():
        path.unlink()
    write(articles, "broken.json", "{")
    await admin.send("/reindex")
    await admin.next_reply()
    final = await admin.next_reply(seconds=30)
    assert final.text.startswith("Reindex failed: no article could be read")
    assert "still serving" in final.text
    await admin.send(QUESTION)
    assert "Al-Watiya" in (await admin.next_reply()).text


async def test_add_good_bad_and_traversal(admin, private, tmp_path):
    articles = tmp_path / "articles"
    story = b"---\ntitle: Volcano erupts in Iceland\ndate: 2024-03-01\n---\nThe Reykjanes volcano erupted again.\n"
    await admin.send_document("volcano.md", story, caption="/add")
    saved = await admin.next_reply()
    assert "Saved volcano.md" in saved.text
    assert "Volcano erupts in Iceland" in saved.text
    done = await admin.next_reply(seconds=30)
    assert done.text.startswith("Added volcano.md")
    assert (articles / "volcano.md").read_bytes() == story
    await admin.send("Which volcano erupted?")
    assert "Reykjanes" in (await admin.next_reply()).text

    await admin.send_document("garbage.txt", b"\x00\x01\x02binary", caption="/add")
    assert "could not add garbage.txt: binary" in (await admin.next_reply()).text
    assert not (articles / "garbage.txt").exists()

    await admin.send_document("../../escape.txt", b"Escaped\n\nA story about tunnels.\n", caption="/add")
    assert "Saved escape.txt" in (await admin.next_reply()).text
    await admin.next_reply(seconds=30)
    assert (articles / "escape.txt").is_file()
    assert not (tmp_path.parent / "escape.txt").exists()

    document = await admin.send_document("volcano.md", b"Different\n\nAnother volcano text.\n")
    assert "reply /add" in (await admin.next_reply()).text
    await admin.send("/add", reply_to_message=document)
    assert "Saved volcano-1.md" in (await admin.next_reply()).text
    await admin.next_reply(seconds=30)
    assert (articles / "volcano.md").read_bytes() == story, "a different file is never overwritten"

    await private.send_document("x.txt", b"Title\n\nBody.\n", caption="/add")
    assert "admins only" in (await private.next_reply()).text


async def test_one_user_flooding_while_another_is_served(telegram, private):
    other = Chat(telegram, chat_id=6006, user_id=6006)
    for _ in range(6):
        await private.send(QUESTION)
    await other.send("Who is Hami Aksoy?")
    replies = [await private.next_reply() for _ in range(6)]
    assert sum("Al-Watiya" in r.text for r in replies) == 5
    assert sum("faster than I can quote" in r.text for r in replies) == 1
    mark = private.mark()
    await private.feed(QUESTION)
    assert private.silent_since(mark), "after one notice, further questions in the minute get silence"
    assert "Hami Aksoy" in (await other.next_reply()).text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("<b>Which air base</b> did the <u>GNA</u> &amp; seize?", "Al-Watiya", id="html-tags"),
        pytest.param("<script>alert('x')</script> & <img src=x>", "do not", id="html-script"),
        pytest.param("*Which* _air_ base did the `GNA` seize?", "Al-Watiya", id="markdown"),
        pytest.param("[click](http://evil.example) **now**", "do not", id="markdown-link"),
        pytest.param(("GNA seize air base " * 300)[:4096], "Al-Watiya", id="4096-characters"),
        pytest.param("Which air\u200b base did the G\u200dNA\u200f seize\u202e?", "Al-Watiya", id="zero-width-rtl"),
        pytest.param("🔥🔥🔥", "I answer questions about the news", id="emoji-only-is-small-talk"),
        pytest.param("what is the and of it", "no words to search for", id="stopwords-only"),
        pytest.param("/start <b>junk</b> &amp; ../../etc/passwd", "quoting them word for word", id="command-junk"),
        pytest.param("/nosuchcommand", "I don't know that command", id="unknown-command"),
        pytest.param('<i>unclosed & < > "quotes"', "do not", id="broken-html"),
    ],
)
async def test_hostile_input(private, text, expected):
    assert len(text) <= 4096, "Telegram delivers at most 4096 characters"
    await private.send(text)
    reply = await private.next_reply()
    assert expected in reply.text
    assert "Traceback" not in reply.text


async def test_edited_question_is_answered_again(private):
    message = await private.send("Who is Hami Aksoy?")
    await private.next_reply()
    await private.edit(message, QUESTION)
    assert "Al-Watiya" in (await private.next_reply()).text


async def test_messages_without_text(private):
    await private.send(
        sticker={
            "file_id": "s1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
    )
    assert "only read text" in (await private.next_reply()).text
    await private.send(photo=[{"file_id": "p1", "file_unique_id": "p1", "width": 90, "height": 90}])
    assert "only read text" in (await private.next_reply()).text


async def test_inline_query_offers_quotes(private):
    results = await private.inline("air base GNA")
    assert 1 <= len(results) <= 10
    first = results[0]
    assert first["type"] == "article"
    assert first["title"] == SEED_TITLE
    assert "<blockquote>" in first["input_message_content"]["message_text"]
    assert await private.inline("") == []


async def test_internal_error_gets_an_apology(private, telegram, caplog):
    original = telegram.call

    def failing(method, params):
        if method == "sendChatAction":
            raise TelegramError(400, "Bad Request: simulated bug")
        return original(method, params)

    telegram.call = failing
    with caplog.at_level(logging.ERROR):
        await private.send(QUESTION)
        reply = await private.next_reply()
    assert reply.text == "Sorry, something went wrong on my side. Please try again."
    assert "error while handling an update" in caplog.text


async def test_removed_from_chat_is_logged_not_fatal(telegram, group, caplog):
    telegram.blocked_chats.add(GROUP)
    with caplog.at_level(logging.INFO):
        await group.feed("/ask " + QUESTION)
    assert "blocked or removed" in caplog.text
    telegram.blocked_chats.clear()
    await group.send("/ask " + QUESTION)
    assert "Al-Watiya" in (await group.next_reply()).text


async def test_allowed_chats_get_one_polite_line(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path, allowed_chat_ids=frozenset({USER}))
    async with running(settings) as app:
        stranger = Chat(telegram, chat_id=7007, user_id=7007, app=app)
        await stranger.send(QUESTION)
        assert "only works in the chats its owner allowed" in (await stranger.next_reply()).text
        mark = stranger.mark()
        await stranger.feed(QUESTION)
        assert stranger.silent_since(mark), "one polite line, then silence"
        friend = Chat(telegram, chat_id=USER, user_id=USER)
        await friend.send(QUESTION)
        assert "Al-Watiya" in (await friend.next_reply()).text


async def test_token_never_logged_at_debug(telegram, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("httpx").setLevel(logging.DEBUG)
    logging.getLogger("httpcore").setLevel(logging.DEBUG)
    async with running(make_settings(telegram, tmp_path)):
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        await chat.send(QUESTION)
        await chat.next_reply()
    assert "getUpdates" in caplog.text, "httpx request lines were captured"
    assert TOKEN not in caplog.text
    assert TOKEN.split(":")[1] not in caplog.text
    assert "[token]" in caplog.text


async def test_webhook_with_and_without_secret(telegram, tmp_path):
    async with running_webhook(make_settings(telegram, tmp_path), secret="s3cret") as webhook:
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        update = {"update_id": 1, "message": chat.message(QUESTION)}
        refused = await webhook.post(update)
        assert refused.status_code == 403  # refused before it reaches the application's queue
        accepted = await webhook.post(update, secret="s3cret")
        assert accepted.status_code == 200
        assert "Al-Watiya" in (await chat.next_reply()).text
        assert sum(sent.chat_id == USER for sent in telegram.sent) == 1, "only the accepted update was answered"


async def test_add_refuses_files_over_the_limit(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path, max_upload_bytes=100)
    async with running(settings):
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send_document("big.txt", b"Big\n\n" + b"word " * 100, caption="/add")
        assert "the limit is 100" in (await admin.next_reply()).text
        await admin.send_document("notes.exe", b"MZ", caption="/add")
        assert (await admin.next_reply()).text.startswith("I can add .txt, .md, .markdown, .html, .htm, .json, .jsonl")
    assert not (settings.articles_dir / "big.txt").exists()


async def test_inline_typing_does_not_use_up_questions(private):
    for prefix in ("a", "ai", "air", "air b", "air ba", "air bas", "air base"):
        await private.inline(prefix)
    await private.send(QUESTION)
    assert "Al-Watiya" in (await private.next_reply()).text


async def test_mention_after_emoji(group):
    await group.send(f"🔥🔥 @{BOT['username']} which air base did the GNA seize?")
    assert "Al-Watiya" in (await group.next_reply()).text


async def test_questions_are_not_logged_above_debug(private, caplog, app):
    from telegram.ext import AIORateLimiter

    assert isinstance(app.bot.rate_limiter, AIORateLimiter), "outgoing messages respect flood limits"
    with caplog.at_level(logging.INFO):
        await private.send("Which air base did the secret-agent-Zed GNA seize?")
        await private.next_reply()
    assert "secret-agent-Zed" not in caplog.text


async def _run_bot(tmp_path, env: dict[str, str]) -> tuple[int, str]:
    from .conftest import ROOT

    where = {"ARTICLES_DIR": str(ROOT / "seeds"), "INDEX_DIR": str(tmp_path / "index"), "DATA_DIR": str(tmp_path)}
    return await run_bot(cwd=tmp_path, env={**where, **env})


async def test_run_with_a_rejected_token(telegram, tmp_path):
    wrong = "987654321:AAH-this-token-is-not-the-one-the-server-knows"
    code, err = await _run_bot(tmp_path, {"TELEGRAM_BOT_TOKEN": wrong, "TELEGRAM_BASE_URL": telegram.base_url})
    assert code == 2
    assert "newsbot: Telegram rejected TELEGRAM_BOT_TOKEN" in err
    assert "Traceback" not in err
    assert wrong.split(":")[1] not in err


@pytest.mark.slow
async def test_run_without_a_connection(tmp_path):
    code, err = await _run_bot(
        tmp_path, {"TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": f"http://127.0.0.1:{free_port()}/bot"}
    )
    assert code == 2
    assert "newsbot: cannot reach the Telegram Bot API at http://127.0.0.1:" in err
    assert "Traceback" not in err
    assert TOKEN.split(":")[1] not in err
