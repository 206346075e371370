"""Followed topics: ``/follow TOPIC`` sends each new story that matches it to the chat, once.

After every reindex (new feed items, channel posts, uploads, an admin's /reindex), the stories that first reached
the bot in it and are recent (``arrivals``: published, or when undated first seen, at most ``FOLLOW_MAX_AGE_HOURS``
ago) are matched against every followed topic with the same relevance the answers use
(``index.answers.matching``: a story is sent when its best quote would have answered the topic as a question). A
rebuild, a restart, an index upgrade or a re-fetch of a story (same id) brings nothing that first reached the bot,
so none of them sends anything. A chat gets each story once (each story is claimed in the database before it is
sent, so another bot process, or a retry, that matched it too sends nothing; the digests go out from one process
at a time), near-duplicate wire copies once, and at most ``FOLLOW_MESSAGES_PER_HOUR`` messages an hour: stories beyond
that wait in a queue and go out together as one digest when the hour allows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterable

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import Application

import index
from bot import jobs, render
from bot.chats import ALL, id_or_all, may_manage, topic_too_long
from bot.context import BotContext, services_of
from index.answers import matching, quote_key

__all__ = ["MAX_FOLLOWS", "arrivals", "follow", "following", "notify", "schedule", "unfollow"]

log = logging.getLogger(__name__)

MAX_FOLLOWS = 10  # topics per chat
USAGE_FOLLOW = "Usage: /follow TOPIC, for example /follow opec oil output; /following lists them; /unfollow ID or all"


def schedule(application: Application) -> None:
    """Start the job that sends queued stories as digests when a chat's hour allows."""
    application.job_queue.run_repeating(_flush_job, interval=300, first=300, name="follow-digests")


async def follow(update: Update, context: BotContext) -> None:
    """/follow TOPIC: send new stories on this topic to this chat."""
    message = update.effective_message
    topic = " ".join(context.args or []).strip()
    if not topic:
        await message.reply_text(USAGE_FOLLOW)
        return
    problem = topic_too_long(topic)
    if problem:
        await message.reply_text(problem)
        return
    if not index.analyze(topic):
        await message.reply_text(f"The topic '{render.echo(topic)}' has no words to search for. {USAGE_FOLLOW}")
        return
    if not await may_manage(update, context, "followed topics"):
        return
    db = context.services.db
    if len(await db.follows.for_chat(message.chat_id)) >= MAX_FOLLOWS:
        await message.reply_text(f"This chat follows {MAX_FOLLOWS} topics already; /unfollow one first.")
        return
    added = await db.follows.add(message.chat_id, topic)
    if added is None:
        await message.reply_text(f"This chat follows '{render.echo(topic)}' already.")
        return
    await message.reply_text(
        f"Following <i>{render.echo(topic, 100)}</i> (#{added.id}): each new story that matches it will be sent "
        f"here, at most {index.plural(context.services.settings.follow_per_hour, 'message')} an hour."
    )


async def following(update: Update, context: BotContext) -> None:
    """/following: the topics this chat follows."""
    found = await context.services.db.follows.for_chat(update.effective_message.chat_id)
    if not found:
        await update.effective_message.reply_text(f"This chat follows no topic. {USAGE_FOLLOW}")
        return
    lines = ["<b>Followed topics</b>:", *(f"#{f.id}: <i>{render.echo(f.topic, 100)}</i>" for f in found)]
    lines.append("Stop one with /unfollow ID, or all with /unfollow all.")
    for text in render.split_messages(lines):
        await update.effective_message.reply_text(text)


async def unfollow(update: Update, context: BotContext) -> None:
    """/unfollow ID or /unfollow all."""
    message = update.effective_message
    args = context.args or []
    target = id_or_all(args)
    if target is None:
        await message.reply_text("Usage: /unfollow ID or /unfollow all (see /following for the ids).")
        return
    if not await may_manage(update, context, "followed topics"):
        return
    removed = await context.services.db.follows.remove(message.chat_id, None if target == ALL else target)
    if not removed:
        await message.reply_text("This chat follows no such topic; /following lists them.")
        return
    await message.reply_text("Stopped following " + ", ".join(f"#{i}" for i in removed) + ".")


def arrivals(
    current: index.Index,
    previous: index.Index | None,
    article_ids: Iterable[str],
    *,
    now: dt.datetime,
    max_age: dt.timedelta,
) -> set[str]:
    """The stories among ``article_ids`` (added or changed by the update from ``previous`` to ``current``) that are
    news for followers: they first reached the bot in that update, and they are recent.

    A story first reached the bot when the index served before did not hold it and ``current`` first saw it after
    that index was built (the index keeps an article's first-seen time across re-fetches and rebuilds, by id). It
    is recent when it was published (when undated: first seen) at most ``max_age`` before ``now`` (aware).

    Args:
        current: the index the update made.
        previous: the index served before it; None when there was none (then every story is new to the bot).
        article_ids: the ids the update added or changed.
        now: the present, aware.
        max_age: how old a story may be and still be news.

    Returns:
        The ids to match against the followed topics.
    """
    oldest = index.naive_utc(now) - max_age
    out = set()
    for article_id in article_ids:
        if previous is not None and _holds(previous, article_id):
            continue  # re-read by a rebuild, a restart's reindex or a re-fetch: the bot had it already
        try:
            seen = current.first_seen(article_id)
            published = current.article(article_id).date
        except KeyError:
            continue  # gone again (a later update removed it)
        if previous is not None and seen <= previous.built_at:
            continue
        if index.naive_utc(published or seen) >= oldest:
            out.add(article_id)
    return out


def _holds(idx: index.Index, article_id: str) -> bool:
    try:
        idx.first_seen(article_id)
    except KeyError:
        return False
    return True


async def notify(application: Application, article_ids: list[str], *, previous: index.Index | None) -> None:
    """Send the stories among ``article_ids`` that are news (``arrivals``) to the chats whose topics they match.

    Args:
        application: the running bot.
        article_ids: what the latest update added or changed.
        previous: the index served before that update (None: none was).
    """
    svc = services_of(application)
    if not article_ids or svc.db is None or not svc.library.loaded:
        return
    follows = await svc.db.follows.every()
    if not follows:
        return
    idx = svc.library.index
    now = dt.datetime.now(dt.UTC)
    max_age = dt.timedelta(hours=svc.settings.follow_max_age_hours)
    new = await asyncio.to_thread(arrivals, idx, previous, article_ids, now=now, max_age=max_age)
    if not new:
        return
    for follow_ in follows:
        quotes = await asyncio.to_thread(matching, idx, follow_.topic, only=new, judge=svc.judge)
        if not quotes:
            continue
        sent = await svc.db.follows.already_sent(follow_.chat_id, [quote.article.id for quote in quotes])
        fresh = [quote for quote in quotes if quote.article.id not in sent]
        if fresh:
            await _deliver(application, follow_.chat_id, follow_.id, follow_.topic, fresh, now)


async def _deliver(
    application: Application, chat_id: int, follow_id: int, topic: str, quotes: list[index.Quote], now: dt.datetime
) -> None:
    """Send what the hour allows (one message a story), queue the rest for the next digest."""
    svc = services_of(application)
    seen_keys: set[str] = set()
    unique = []
    for quote in quotes:
        key = quote_key(quote.text)
        if key not in seen_keys:  # two copies of one wire story: one message
            seen_keys.add(key)
            unique.append(quote)
    sent = await svc.db.follows.sent_within(chat_id, now - dt.timedelta(hours=1))
    room = max(0, svc.settings.follow_per_hour - sent)
    # Claimed before they are sent, in one write: another process, or a retry, that matched the same stories finds
    # them claimed and sends nothing.
    claimed = await svc.db.follows.claim(chat_id, [[quote.article.id] for quote in unique[:room]], now=now)
    for quote, mine in zip(unique[:room], claimed, strict=True):
        if not mine:
            continue
        head = f"<b>New on {render.echo(topic, 100)}</b>"
        text = render.fit(head, [render.quote_block(quote)])
        if text == head:  # a sentence longer than a message: the story's title and link say it
            text = f"{head}\n\n{render.source_line(quote.article)}"
        if not await _send(application, chat_id, text):
            return
    if unique[room:]:
        await svc.db.follows.queue(chat_id, follow_id, [quote.article.id for quote in unique[room:]], now=now)


async def _send(application: Application, chat_id: int, text: str) -> bool:
    try:
        await application.bot.send_message(chat_id, text)
    except Forbidden as exc:
        removed = await services_of(application).db.follows.remove(chat_id)
        log.warning("removed from chat %s (%s): its followed topics %s are dropped", chat_id, exc.message, removed)
        return False
    return True


async def _flush_job(context: BotContext) -> None:
    await jobs.once(context.application, "follow-digests", lambda: flush(context.application))


async def flush(application: Application, *, now: dt.datetime | None = None) -> None:
    """Send each chat's queued stories as one digest when its hour has room for a message."""
    svc = services_of(application)
    if svc.db is None or not svc.library.loaded:
        return
    now = now or dt.datetime.now(dt.UTC)
    queued = await svc.db.follows.queued()
    idx = svc.library.index
    for chat_id, items in queued.items():
        sent = await svc.db.follows.sent_within(chat_id, now - dt.timedelta(hours=1))
        if sent >= svc.settings.follow_per_hour:
            continue
        # Claimed before the digest is sent: what another process claimed meanwhile is left out of it.
        (ids,) = await svc.db.follows.claim(chat_id, [[article_id for article_id, _ in items]], now=now)
        blocks = []
        for article_id in ids:
            try:
                article = idx.article(article_id)
            except KeyError:
                continue  # removed since it was queued
            blocks.append(f"• {render.source_line(article).removeprefix('— ')}")
        if blocks:
            text = render.fit(f"<b>More new stories on your topics</b> ({len(blocks)})", blocks)
            await _send(application, chat_id, text)
