"""The bot's admins: who they are (``is_admin``), and the commands only they may use.

``/reindex`` updates the index from ARTICLES_DIR in the background, editing one status message with its
progress; ``/stats`` shows the index and the bot's counters; ``/add`` saves a document into ARTICLES_DIR and
reindexes. Every other command that admins alone may use asks ``is_admin`` too (``/feeds add``, ``/fetch``), and
so do the rules of who may change a chat's briefings and follows (``bot.chats``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from html import escape

from telegram import Message, Update
from telegram.error import BadRequest

import index
from bot import render, uploads
from bot.context import BotContext
from bot.errors import ReindexRunning
from index.ingest import SUPPORTED_SUFFIXES

__all__ = ["PROGRESS_EVERY", "add", "is_admin", "reindex", "stats"]

log = logging.getLogger(__name__)

PROGRESS_EVERY = 3.0  # seconds between edits of a reindex status message


def is_admin(update: Update, context: BotContext) -> bool:
    """Whether the update comes from one of the bot's admins (ADMIN_USER_IDS)."""
    user = update.effective_user
    return user is not None and user.id in context.services.settings.admin_user_ids


async def _refuse_non_admin(update: Update, context: BotContext) -> bool:
    if is_admin(update, context):
        return False
    if update.effective_message:
        await update.effective_message.reply_text("Sorry, that command is for the bot's admins only.")
    return True


async def _run_reindex(context: BotContext, status: Message, *, done: str = "", full: bool = False) -> None:
    """Reindex in the background, editing ``status`` with progress, then with the report (after ``done``)."""
    svc = context.services
    task = asyncio.create_task(svc.library.reindex(full=full))
    shown = status.text_html
    while not task.done():
        await asyncio.wait({task}, timeout=PROGRESS_EVERY)
        if task.done():
            break
        stage, finished, total = svc.library.progress
        text = f"Reindexing… {stage}" + (f" {finished}/{total}" if total else "")
        if text != shown:
            with contextlib.suppress(BadRequest):
                await status.edit_text(text)
            shown = text
    try:
        report = task.result()
    except ReindexRunning:
        await status.edit_text(done + "A reindex is already running and will pick this up.")
        return
    except index.NewsbotError as exc:
        log.warning("reindex failed: %s", exc)
        await status.edit_text(f"{done}Reindex failed: {render.failure(exc)}.\nThe previous index is still serving.")
        return
    except Exception:
        log.exception("reindex failed")
        await status.edit_text(
            f"{done}Reindex failed with an internal error (see the bot's log). The previous index is still serving."
        )
        return
    log.info("reindexed: %s, %s in %.1f s", index.plural(report.articles, "article"),
             index.plural(report.passages, "passage"), report.seconds)
    await status.edit_text(done + render.reindex_report(report))


async def reindex(update: Update, context: BotContext) -> None:
    """/reindex [full] (admins): update from ARTICLES_DIR in the background, reporting progress in one message."""
    if await _refuse_non_admin(update, context):
        return
    args = [a.lower() for a in context.args or []]
    if args not in ([], ["full"]):
        await update.effective_message.reply_text(
            "Usage: /reindex (read the files that changed) or /reindex full (rebuild from every file)."
        )
        return
    if context.services.library.busy:
        await update.effective_message.reply_text("A reindex is already running; wait for its report.")
        return
    status = await update.effective_message.reply_text("Reindexing… reading articles")
    # A task, not an await: questions keep being answered from the old index meanwhile.
    context.application.create_task(_run_reindex(context, status, full=args == ["full"]), update=update)


async def stats(update: Update, context: BotContext) -> None:
    """/stats (admins): the index and the bot's counters."""
    if await _refuse_non_admin(update, context):
        return
    svc = context.services
    feeds, today = [], 0
    if svc.db is not None:
        midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        feeds = await svc.db.feeds.every()
        today = await svc.db.feeds.fetched_since(midnight)
    await update.effective_message.reply_text(render.stats(svc.library.index, svc.stats, feeds, today))


async def add(update: Update, context: BotContext) -> None:
    """/add (admins): as a document's caption, or as a reply to a document: save it into ARTICLES_DIR and reindex."""
    if await _refuse_non_admin(update, context):
        return
    message = update.effective_message
    svc = context.services
    document = message.document or (message.reply_to_message.document if message.reply_to_message else None)
    if document is None:
        await message.reply_text("Send a document with /add as its caption, or reply /add to a document.")
        return
    name = uploads.safe_name(document.file_name)
    if name is None:
        await message.reply_text(f"I can add {', '.join(SUPPORTED_SUFFIXES)} files only.")
        return
    limit = svc.settings.max_upload_bytes
    if document.file_size and document.file_size > limit:
        await message.reply_text(f"That file is {document.file_size:,} bytes; the limit is {limit:,}.")
        return
    if svc.library.busy:
        await message.reply_text("A reindex is running; send the file again when it has finished.")
        return
    data = bytes(await (await document.get_file()).download_as_bytearray())
    if len(data) > limit:
        await message.reply_text(f"That file is {len(data):,} bytes; the limit is {limit:,}.")
        return
    articles, reason = await asyncio.to_thread(uploads.check_upload, name, data)
    if not articles:
        await message.reply_text(f"I could not add {escape(name)}: {escape(reason)}.")
        return
    target = await asyncio.to_thread(uploads.store_upload, svc.settings.articles_dir, name, data)
    if target is None:
        await message.reply_text(f"{escape(name)} is already in the articles folder; nothing to add.")
        return
    title = escape(articles[0].title[:200])
    count = index.plural(len(articles), "article")
    status = await message.reply_text(f"Saved {escape(target.name)} ({count}: <i>{title}</i>). Reindexing…")
    await _run_reindex(context, status, done=f"Added {escape(target.name)}: <i>{title}</i>.\n")
