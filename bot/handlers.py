"""Telegram handlers: flat ``async def name(update, context)`` functions, one per command or kind of message.

Handlers catch only what a user can cause and answer it in a sentence; everything else reaches ``error`` and
the user gets a short apology. The admins' commands are in ``bot.admin``; briefings, follows and feeds have
their own modules. The index is only ever called through ``asyncio.to_thread``. Every reply is
``reply_text`` in HTML (``Defaults(parse_mode=HTML)``), so every piece of user or article text is escaped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import re
import time
from html import escape

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import ChatType
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import ApplicationHandlerStop

import index
from bot import conversation, render
from bot.admin import is_admin
from bot.answering import typing_while
from bot.archives import UNREACHABLE
from bot.context import BotContext
from bot.errors import DiskFull, StateError
from index.errors import ArchiveUnavailable

log = logging.getLogger(__name__)

ARCHIVE_NOTICE_EVERY = 600.0  # seconds between two notices to the admins that the archive cannot be reached
STATE_NOTICE_EVERY = 86_400.0  # seconds between two notices to the admins that the bot's database cannot be written
# Telegram sends an inline query on almost every keystroke, so they have a limit of their own.
INLINE_PER_MINUTE = 60


async def gate(update: Update, context: BotContext) -> None:
    """Runs before every handler: chats outside ALLOWED_CHAT_IDS get one polite line, then nothing."""
    allowed = context.services.settings.allowed_chat_ids
    chat = update.effective_chat
    if chat is not None and chat.type == ChatType.CHANNEL:
        if allowed is not None and chat.id not in allowed:
            raise ApplicationHandlerStop  # a channel is not written to; its posts are simply not read
        return
    if allowed is None or chat is None or chat.id in allowed or is_admin(update, context):
        return
    refused = context.services.refused_chats
    if chat.id not in refused:
        refused.add(chat.id)
        log.info("refused chat %s (not in ALLOWED_CHAT_IDS)", chat.id)
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(chat.id, "Sorry, this bot only works in the chats its owner allowed.")
    raise ApplicationHandlerStop


def _buttons(key: str, page: int, more: bool) -> InlineKeyboardMarkup:
    row = [
        InlineKeyboardButton("Context", callback_data=f"c:{key}:{page}"),
        InlineKeyboardButton("Why these quotes?", callback_data=f"w:{key}:{page}"),
    ]
    if more:
        row.insert(0, InlineKeyboardButton("More", callback_data=f"m:{key}:{page + 1}"))
    return InlineKeyboardMarkup([row])


async def _answer(update: Update, context: BotContext, question: str) -> None:
    """Answer ``question`` as a reply to the message that asked it."""
    message = update.effective_message
    user = update.effective_user
    svc = context.services
    if message is None:
        return
    svc.metrics.questions.inc()
    if user is not None:  # the limit is kept in the state: the same whichever process gets the question
        verdict, wait = await svc.db.limits.check("questions", user.id, svc.settings.questions_per_minute)
        if verdict == "drop":
            return
        if verdict == "warn":
            await message.reply_text(
                f"You are asking faster than I can quote. Please wait {index.plural(wait, 'second')}."
            )
            return
    question = question.strip()
    if not question:
        await message.reply_text(render.usage_ask(svc.library.index if svc.library.loaded else None))
        return
    log.debug("question from %s: %r", user.id if user else None, question)
    started = time.monotonic()

    async def answering() -> conversation.Asked:
        now = await _now(context, message.chat_id)
        return await conversation.ask(context, message, question, now=now)

    asked = await typing_while(context.bot, message.chat_id, answering(), after=svc.typing_after)
    result, followed = asked.result, asked.followed
    kind = "briefing" if result.briefing is not None else "quotes" if result.answered else "none"
    svc.answered(kind, time.monotonic() - started)
    if result.briefing is not None:
        for n, text in enumerate(render.briefing(result.briefing)):
            await message.reply_text(text, do_quote=n == 0)
        return
    markup = None
    if result.answered:
        key = await svc.db.buttons.remember(  # in the shared state: any process may get the press
            question, chat_id=message.chat_id, subject=followed.subject if followed else ""
        )
        markup = _buttons(key, 0, more=len(result.quotes) >= 3)
    text = render.answer(result, followed=followed.question if followed else None)
    reply = await message.reply_text(text, reply_markup=markup, do_quote=True)
    await conversation.remember(context, message, reply, question, asked)


async def _now(context: BotContext, chat_id: int | None) -> dt.datetime:
    """The present in the chat's time zone (set with /timezone), so "yesterday" is the chat's yesterday."""
    svc = context.services
    name = svc.settings.default_timezone
    if chat_id is not None and svc.db is not None:
        name = await svc.db.subscriptions.timezone(chat_id)
    return dt.datetime.now(index.zone(name) or dt.UTC)


async def start(update: Update, context: BotContext) -> None:
    """/start and /help: what the bot does, examples, and what is indexed."""
    svc = context.services
    idx = svc.library.index if svc.library.loaded else None
    await update.effective_message.reply_text(render.help_text(idx, bot_username=context.bot.username))


async def ask(update: Update, context: BotContext) -> None:
    """/ask <question>, in any chat."""
    await _answer(update, context, " ".join(context.args or []))


def _mentions_bot(message: Message, username: str) -> str | None:
    """The message text without the bot's @mention, or None when the bot is not mentioned."""
    text = message.text or ""
    for value in message.parse_entities([MessageEntity.MENTION]).values():
        if value.lower() == f"@{username.lower()}":
            # Entity offsets count UTF-16 units; parse_entities already resolved them to the mention's text.
            return text.replace(value, " ", 1).strip()
    return None


async def group_message(update: Update, context: BotContext) -> None:
    """Text in a group: answered only when it mentions the bot or replies to the bot; other chatter is ignored."""
    message = update.effective_message
    question = _mentions_bot(message, context.bot.username)
    if question is None:
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != context.bot.id:
            return
        question = message.text or ""
    await _answer(update, context, question)


async def private_message(update: Update, context: BotContext) -> None:
    """Any text in a private chat is a question."""
    await _answer(update, context, update.effective_message.text or "")


async def not_text(update: Update, context: BotContext) -> None:
    """Stickers, photos and other messages without text, in a private chat."""
    text = "I can only read text. Send me a question in words, or /help."
    if update.effective_message.document and is_admin(update, context):
        text += " To add this document to the articles, reply /add to it."
    await update.effective_message.reply_text(text)


async def unknown_command(update: Update, context: BotContext) -> None:
    """A command the bot does not have, in a private chat."""
    await update.effective_message.reply_text("I don't know that command. /help lists what I can do.")


async def button(update: Update, context: BotContext) -> None:
    """The "More", "Context" and "Why" buttons under an answer."""
    query = update.callback_query
    svc = context.services
    match = re.fullmatch(r"([mwc]):([0-9a-f]{8}):(\d{1,3})", query.data or "")
    chat_id = query.message.chat.id if query.message else None
    pressed = None
    if match and chat_id is not None:
        pressed = await svc.db.buttons.recall(match.group(2), chat_id=chat_id)
    if pressed is None:
        await query.answer("This button has expired. Please ask the question again.", show_alert=False)
        return
    kind, key, page = match.group(1), match.group(2), int(match.group(3))
    limit = 3
    now, started = await _now(context, chat_id), time.monotonic()
    result = await svc.answers.answer(
        svc.library.index, pressed.question, limit=limit, skip=page * limit, judge=svc.judge, now=now,
        subject=pressed.subject,
    )
    svc.answered({"m": "more", "c": "context", "w": "why"}[kind], time.monotonic() - started)
    if kind in "wc":
        await query.answer()
        await query.message.reply_text(render.why(result) if kind == "w" else render.context(result), do_quote=False)
        return
    if not result.quotes:
        await query.answer("No more quotes for this question.")
        return
    await query.answer()
    await query.message.reply_text(
        render.answer(result, page=page),
        reply_markup=_buttons(key, page, more=len(result.quotes) >= limit),
    )


async def inline_query(update: Update, context: BotContext) -> None:
    """``@bot question`` in any chat: up to 10 quotes, each sending the quote with its source."""
    query = update.inline_query
    svc = context.services
    text = query.query.strip()
    if not text or (await svc.db.limits.check("inline", query.from_user.id, INLINE_PER_MINUTE))[0] != "ok":
        await query.answer([], cache_time=5, is_personal=True)
        return
    now = await _now(context, None)
    result = await svc.answers.answer(svc.library.index, text, limit=10, judge=svc.judge, now=now)
    results = [
        InlineQueryResultArticle(
            id=f"{n}",
            title=quote.article.title[:200],
            description=quote.text[:200],
            input_message_content=InputTextMessageContent(render.fit("", [render.quote_block(quote)])),
        )
        for n, quote in enumerate(result.quotes)
        if len(render.quote_block(quote)) <= render.MAX_MESSAGE
    ]
    await query.answer(results, cache_time=60)


async def _state_failure(update: object, context: BotContext, err: StateError) -> None:
    """The bot's database cannot be written: one line to the user, one notice a day to the admins, no traceback."""
    log.warning("the bot's database cannot be used: %s", err)
    if isinstance(update, Update) and update.effective_message and update.effective_chat:
        cause = "the bot's disk is full" if isinstance(err, DiskFull) else "the bot's database cannot be used right now"
        fix = "free some space" if isinstance(err, DiskFull) else "look at the bot's log"
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(
                f"Sorry, I could not do that: {cause}. Please try again later; the bot's admins need to {fix}."
            )
    svc = context.services
    now = time.monotonic()
    if svc.state_noticed is not None and now - svc.state_noticed < STATE_NOTICE_EVERY:
        return
    svc.state_noticed = now  # before the await: concurrent failures send one notice
    await context.tell_admins(
        f"The bot cannot save its state: {escape(str(err))}. Users who ask for something that needs saving are "
        "told so in one line; this notice comes at most once a day."
    )


async def _archive_failure(update: object, context: BotContext, err: ArchiveUnavailable) -> None:
    """The search cluster cannot be reached: the soft line to the user, a notice to the admins every 10 minutes."""
    log.warning("the archive cannot be reached: %s", err)
    if isinstance(update, Update) and update.effective_message:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text(UNREACHABLE)
    svc = context.services
    now = time.monotonic()
    if svc.archive_noticed is None or now - svc.archive_noticed >= ARCHIVE_NOTICE_EVERY:
        svc.archive_noticed = now  # before the await: concurrent failures send one notice
        await context.tell_admins(f"Questions fail: {escape(str(err))}. Users are told to try again shortly.")


async def error(update: object, context: BotContext) -> None:
    """Log every unexpected error with its traceback; the user gets a short apology, never the exception.

    The bot's database failing (a full disk) is expected: one line to the user and one notice to the admins.
    """
    err = context.error
    if isinstance(err, StateError):
        await _state_failure(update, context, err)
        return
    if isinstance(err, ArchiveUnavailable):
        await _archive_failure(update, context, err)
        return
    if isinstance(err, Forbidden):
        log.info("not allowed to write to a chat (blocked or removed): %s", err.message)
        return
    if isinstance(err, RetryAfter):
        log.warning("Telegram asked to slow down for %s s", err.retry_after)
        return
    if isinstance(err, NetworkError) and not isinstance(err, BadRequest):  # TimedOut included
        log.warning("network problem talking to Telegram: %s", err.__class__.__name__)
        return
    log.error("error while handling an update", exc_info=err)
    if isinstance(update, Update) and update.effective_message and update.effective_chat:
        with contextlib.suppress(TelegramError):
            await update.effective_message.reply_text("Sorry, something went wrong on my side. Please try again.")
