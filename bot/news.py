"""Live news in Telegram: followed feeds (``/feeds``), single pages (``/fetch``) and channel posts.

Feeds are polled from the JobQueue (``poll_feeds``, every minute or sooner when feeds are due more often); new or
changed items become articles under ``ARTICLES_DIR/feeds/`` and an incremental reindex makes them answerable
(bot.polling does the network work). A channel the bot administers sends its posts as ``channel_post`` updates:
each becomes an article (title from the first line, the post's date, a t.me link) and an edited post replaces it;
an admin may also forward a channel post to the bot in private to add it. Telegram does not tell bots about
deleted posts, so a deleted post stays until an admin removes its file. Fetched articles older than
``RETENTION_DAYS`` are removed once a day. Every reindex hands its new stories to the followers (bot.follows).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from html import escape
from pathlib import Path

from telegram import Chat, Message, MessageOriginChannel, Update
from telegram.ext import Application

import index
from bot import jobs, render, uploads
from bot.admin import is_admin
from bot.context import BotContext, services_of
from bot.errors import AlreadyFollowed, NotAFeed, ReindexRunning
from bot.fetcher import FetchError
from bot.polling import Followed, fetch_page, follow_feed, policy_for, poll
from index.polling import PollPolicy
from index.urls import canonical_url

__all__ = [
    "SOURCE_FOLDERS",
    "channel_post",
    "feeds",
    "fetch",
    "forwarded_post",
    "poll_feeds",
    "reindex_soon",
    "schedule",
]

log = logging.getLogger(__name__)

SOURCE_FOLDERS = ("feeds", "pages", "channels")  # under ARTICLES_DIR: what retention may remove
USAGE_FEEDS = (
    "Usage: /feeds lists the feeds; admins: /feeds add URL [name], /feeds remove ID, /feeds pause ID, "
    "/feeds resume ID"
)
MAX_FEEDS = 200


def policy(application: Application) -> PollPolicy:
    """The polling policy the bot's settings ask for."""
    return policy_for(services_of(application).settings)


def schedule(application: Application) -> None:
    """Start the polling and retention jobs."""
    settings = services_of(application).settings
    tick = max(0.2, min(60.0, settings.feed_interval / 2))
    application.job_queue.run_repeating(poll_feeds, interval=tick, first=tick, name="poll-feeds")
    if settings.retention_days:
        application.job_queue.run_repeating(prune_old, interval=86_400, first=60, name="retention")


async def reindex_soon(application: Application, *, delay: float = 1.0) -> None:
    """An incremental reindex shortly (a burst of posts or items makes one reindex, not one each)."""
    if application.job_queue.get_jobs_by_name("reindex-soon"):
        return
    application.job_queue.run_once(_reindex_job, when=delay, name="reindex-soon")


async def _reindex_job(context: BotContext) -> None:
    try:
        await context.services.library.reindex()
    except ReindexRunning:
        await reindex_soon(context.application, delay=5.0)  # the running one may have missed the newest files
    except index.NewsbotError as exc:
        log.warning("reindex after new articles failed (the old index still serves): %s", exc)


async def poll_feeds(context: BotContext) -> None:
    """Job: poll the feeds that are due; index what they bring; tell the admins of newly disabled feeds."""
    svc = context.services
    if svc.fetcher is None or svc.db is None or svc.polling.locked() or not jobs.writes_index(svc.settings):
        return  # the round still running covers what is due
    rounds = []

    async def round_() -> None:
        async with svc.polling:
            polled = await poll(svc.db, svc.fetcher, svc.settings.articles_dir, policy=policy(context.application))
            rounds.append(polled)

    # One process polls at a time; one killed mid-round leaves the feeds it had not saved due for the next holder.
    if not await jobs.once(context.application, "poll-feeds", round_):
        return
    (report,) = rounds
    svc.metrics.feeds_polled.inc(report.polled)
    svc.metrics.feeds_failed.inc(len(report.failed))
    for feed in report.disabled:
        await context.tell_admins(
            f"Feed #{feed.id} ({escape(feed.label)}) is disabled after "
            f"{index.plural(svc.settings.feed_max_failures, 'failure')} in a row: "
            f"{escape(feed.state.last_error or 'see the log')}. /feeds resume {feed.id} tries again.",
        )
    if report.articles:
        log.info("feeds brought %s", index.plural(len(report.articles), "new or changed article"))
        await reindex_soon(context.application, delay=0.0)
    elif report.polled and svc.library.loaded and not svc.library.busy:
        # Stories saved by an earlier round whose reindex failed (or by `newsbot poll`, `/fetch` meanwhile): the
        # served index is compared with the folder at every round that read a feed.
        behind = await asyncio.to_thread(_not_indexed, svc.library.index, svc.settings.articles_dir)
        if behind:
            log.info("the articles folder has files not indexed yet (%s); indexing them", behind.summary())
            await reindex_soon(context.application, delay=0.0)


def _not_indexed(idx: index.Index, articles_dir: Path) -> index.Changes:
    """What differs between the articles folder and the index being served (nothing when the folder is gone)."""
    try:
        return idx.changes(articles_dir)
    except index.ArticlesNotFound:
        return index.Changes()


async def prune_old(context: BotContext) -> None:
    """Job: remove fetched articles older than RETENTION_DAYS, then reindex."""
    svc = context.services
    if not jobs.writes_index(svc.settings):
        return
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=svc.settings.retention_days)
    removed: list[Path] = []

    async def remove() -> None:
        removed.extend(
            await asyncio.to_thread(uploads.remove_older_than, svc.settings.articles_dir, SOURCE_FOLDERS, cutoff)
        )

    await jobs.once(context.application, "retention", remove, daily=True)  # once a day, whichever process
    if removed:
        log.info("retention: removed %s older than %s", index.plural(len(removed), "fetched article"),
                 index.plural(svc.settings.retention_days, "day"))
        await reindex_soon(context.application, delay=0.0)


async def feeds(update: Update, context: BotContext) -> None:
    """/feeds [add URL [name] | remove ID | pause ID | resume ID]: the followed feeds (changes: admins)."""
    message = update.effective_message
    svc = context.services
    args = context.args or []
    if not args:
        found = await svc.db.feeds.every()
        for text in render.split_messages(render.feed_lines(found, svc.settings.feed_interval)):
            await message.reply_text(text)
        return
    action = args[0].lower()
    if action not in ("add", "remove", "pause", "resume"):
        await message.reply_text(USAGE_FEEDS)
        return
    if not is_admin(update, context):
        await message.reply_text("Sorry, that command is for the bot's admins only.")
        return
    if action == "add":
        await _add_feed(message, context, args[1:])
        return
    if len(args) != 2 or not args[1].lstrip("#").isdigit() or len(args[1]) > 18:
        await message.reply_text(USAGE_FEEDS)
        return
    feed_id = int(args[1].lstrip("#"))
    if action == "remove":
        done = await svc.db.feeds.remove(feed_id)
        text = f"Stopped following feed #{feed_id}; its articles stay." if done else f"There is no feed #{feed_id}."
    else:
        done = await svc.db.feeds.pause(feed_id, action == "pause")
        verb = "Paused" if action == "pause" else "Resumed"
        text = f"{verb} feed #{feed_id}." if done else f"There is no feed #{feed_id}."
    await message.reply_text(text)


async def _add_feed(message: Message, context: BotContext, args: list[str]) -> None:
    svc = context.services
    if not args or not args[0].lower().startswith(("http://", "https://")) or len(args[0]) > 2048:
        await message.reply_text(USAGE_FEEDS)
        return
    url = canonical_url(args[0])
    name = " ".join(args[1:]).strip()[:100] or None
    if len(await svc.db.feeds.every()) >= MAX_FEEDS:
        await message.reply_text(f"There are {MAX_FEEDS} feeds already; remove one first.")
        return
    if svc.fetcher is None:
        await message.reply_text("Reading feeds is not available right now; try again in a moment.")
        return
    status = await message.reply_text(f"Reading {render.echo(url, 80)}…")
    try:
        async with svc.polling:
            followed = await follow_feed(
                svc.db, svc.fetcher, svc.settings.articles_dir, url, name, policy=policy(context.application)
            )
    except AlreadyFollowed as exc:
        await status.edit_text(f"{render.echo(str(exc), 200)}; /feeds lists the feeds.")
        return
    except NotAFeed as exc:
        hint = f" To add the page's own article, use /fetch {render.echo(url, 200)}" if exc.page else ""
        await status.edit_text(f"I did not follow that: {render.echo(str(exc), 300)}.{hint}")
        return
    except FetchError as exc:
        await status.edit_text(f"I did not follow that: {render.echo(str(exc), 300)}.")
        return
    await status.edit_text(_followed_text(followed))
    if followed.first.saved:
        await reindex_soon(context.application, delay=0.0)


def _followed_text(followed: Followed) -> str:
    """What an admin is told after adding a feed."""
    feed, first = followed.feed, followed.first
    lines = []
    if followed.discovered_from:
        lines.append(
            f"{render.echo(followed.discovered_from, 200)} is a web page; following the feed it names, "
            f"{render.echo(feed.url, 200)}."
        )
    stories = index.plural(len(first.saved), "new story", "new stories")
    text = f"Following feed #{feed.id} ({render.echo(feed.label, 80)}): {stories}"
    text += "; they are being indexed." if first.saved else "."
    if first.waiting:
        text += f" It lists {index.plural(followed.items, 'item')}; the other {first.waiting} come in the next polls."
    if first.note:
        text += f" {render.echo(first.note, 200)}."
    lines.append(text)
    return "\n".join(lines)


async def fetch(update: Update, context: BotContext) -> None:
    """/fetch URL (admins): add the article of one web page."""
    message = update.effective_message
    svc = context.services
    if not is_admin(update, context):
        await message.reply_text("Sorry, that command is for the bot's admins only.")
        return
    args = context.args or []
    if len(args) != 1 or not args[0].lower().startswith(("http://", "https://")) or len(args[0]) > 2048:
        await message.reply_text("Usage: /fetch URL, for example /fetch https://example.com/news/story.html")
        return
    if svc.fetcher is None:
        await message.reply_text("Fetching is not available right now; try again in a moment.")
        return
    try:
        page = await fetch_page(svc.fetcher, svc.settings.articles_dir, args[0])
    except FetchError as exc:
        await message.reply_text(f"I could not add that page: {render.echo(str(exc), 200)}.")
        return
    described = render.source_line(page.article).removeprefix("— ")
    if page.outcome == "unchanged":
        await message.reply_text(f"I have that page already, unchanged: {described}.")
        return
    verb = "Added" if page.outcome == "added" else "Updated"
    await message.reply_text(f"{verb} {described}; indexing it now.")
    await reindex_soon(context.application, delay=0.0)


def _post_article(message: Message, chat: Chat, message_id: int, date: dt.datetime) -> index.Article | None:
    """A channel post as an article: the first line its title, the rest its text, a t.me link."""
    text = (message.text or message.caption or "").strip()
    if not text:
        return None
    first, _, rest = text.partition("\n")
    username = getattr(chat, "username", None)
    if username:
        url = f"https://t.me/{username}/{message_id}"
    else:  # a private channel: t.me/c/ takes the id without its -100 prefix
        url = f"https://t.me/c/{str(chat.id).removeprefix('-100')}/{message_id}"
    return index.Article(
        id=f"tg-{str(chat.id).lstrip('-')}-{message_id}",
        title=first.strip()[:300],
        text=rest.strip() or first.strip(),
        date=date,
        url=url,
        source=getattr(chat, "title", None) or username or "Telegram channel",
    )


async def _save_post(context: BotContext, article: index.Article, chat_id: int) -> None:
    svc = context.services
    folder = f"channels/{str(chat_id).lstrip('-')}"
    await asyncio.to_thread(
        uploads.save_article, svc.settings.articles_dir, folder, article, fetched=dt.datetime.now(dt.UTC)
    )
    await reindex_soon(context.application)


async def channel_post(update: Update, context: BotContext) -> None:
    """A post (or an edit) in a channel the bot administers: it becomes (or replaces) an article."""
    message = update.effective_message
    if message is None or update.effective_chat is None:
        return  # the gate has already ignored channels outside ALLOWED_CHAT_IDS
    article = _post_article(message, message.chat, message.message_id, message.date)
    if article is not None:
        await _save_post(context, article, message.chat_id)


async def forwarded_post(update: Update, context: BotContext) -> None:
    """An admin forwards a channel post to the bot in private: it is added as an article."""
    message = update.effective_message
    origin = message.forward_origin
    if not isinstance(origin, MessageOriginChannel):
        return
    article = _post_article(message, origin.chat, origin.message_id, origin.date)
    if article is None:
        await message.reply_text("That post has no text to add.")
        return
    await _save_post(context, article, origin.chat.id)
    await message.reply_text(f"Added the post {render.source_line(article).removeprefix('— ')}; indexing it now.")
