"""Briefings in Telegram: ``/brief`` on demand, and daily subscriptions run by PTB's JobQueue.

Subscriptions live in the bot's state (``bot.state``) and are re-created as jobs on every start; a briefing
missed while the bot was down is sent once on start if it is less than ``MISSED_GRACE`` late. Several bot
processes may share the state: each occurrence of a briefing is claimed in it before it is sent (``claims``), so
it goes out once, and every ``DUE_EVERY`` seconds each process sends what is due and unclaimed, so a subscription
made through a process that was since killed still gets its briefing, from another. A scheduled
briefing covers only stories that entered the index since that subscription's previous briefing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import re
from html import escape

from telegram import Update
from telegram.error import Forbidden
from telegram.ext import Application

import index
from bot import render
from bot.answering import typing_while
from bot.chats import ALL, id_or_all, may_manage, topic_too_long
from bot.context import BotContext, services_of
from bot.state import Subscription
from index.dates import zone

log = logging.getLogger(__name__)

MISSED_GRACE = dt.timedelta(hours=3)
DUE_EVERY = 30.0  # seconds between two looks for briefings due that no job of this process sends
CLOCK_SLACK = dt.timedelta(seconds=1)  # a daily job that fires a moment early still names its own occurrence
MAX_PER_CHAT = 10
STORIES = 5
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
# The syntax, not a topic of the seeds: a bot run on other news would teach a topic it has nothing on.
USAGE_SUBSCRIBE = "Usage: /subscribe HH:MM [topic], for example /subscribe 08:00 for a briefing of all news"
USAGE_BRIEF = (
    "Usage: /brief [topic] [since DATE], for example /brief libya since 2020-05-01, /brief since yesterday or "
    "/brief oil since last week"
)


def _job_name(subscription_id: int) -> str:
    return f"subscription-{subscription_id}"


def schedule(application: Application, subscription: Subscription) -> None:
    """(Re)create the daily job of a subscription at its time in its chat's time zone."""
    unschedule(application, subscription.id)
    hour, minute = subscription.hour_minute
    application.job_queue.run_daily(
        send_scheduled,
        time=dt.time(hour, minute, tzinfo=zone(subscription.timezone) or dt.UTC),
        name=_job_name(subscription.id),
        data=subscription.id,
        chat_id=subscription.chat_id,
    )


def unschedule(application: Application, subscription_id: int) -> None:
    """Remove the daily job of a subscription (if any)."""
    for job in application.job_queue.get_jobs_by_name(_job_name(subscription_id)):
        job.schedule_removal()


def last_occurrence(subscription: Subscription, now: dt.datetime) -> dt.datetime:
    """The most recent moment, at or before ``now``, when this subscription was due (aware, UTC)."""
    tz = zone(subscription.timezone) or dt.UTC
    local = now.astimezone(tz)
    hour, minute = subscription.hour_minute
    due = dt.datetime.combine(local.date(), dt.time(hour, minute), tzinfo=tz)
    if due > local:
        due = dt.datetime.combine(local.date() - dt.timedelta(days=1), dt.time(hour, minute), tzinfo=tz)
    return due.astimezone(dt.UTC)


def missed(subscription: Subscription, now: dt.datetime) -> bool:
    """Whether a briefing was due while the bot was down and is still recent enough to send."""
    due = last_occurrence(subscription, now)
    if due < subscription.created_at:
        return False
    if subscription.last_sent_at is not None and subscription.last_sent_at >= due:
        return False
    return now - due <= MISSED_GRACE


async def restore(application: Application) -> None:
    """Re-create every enabled subscription's job; send briefings missed while the bot was down."""
    store = services_of(application).db
    now = dt.datetime.now(dt.UTC)
    subscriptions = await store.subscriptions.enabled()
    for subscription in subscriptions:
        schedule(application, subscription)
        if missed(subscription, now):
            log.info("sending the missed briefing of subscription %d", subscription.id)
            application.job_queue.run_once(
                send_scheduled,
                when=1,
                data=subscription.id,
                chat_id=subscription.chat_id,
                name=f"missed-{subscription.id}",
            )
    log.info("restored %s", index.plural(len(subscriptions), "briefing subscription"))
    application.job_queue.run_repeating(send_due, interval=DUE_EVERY, first=DUE_EVERY, name="briefings-due")


async def _send_briefing(
    context: BotContext, chat_id: int, briefing: index.Briefing, *, reply_to: int | None = None
) -> None:
    for n, text in enumerate(render.briefing(briefing)):
        await context.bot.send_message(chat_id, text, reply_to_message_id=reply_to if n == 0 else None)


def _occurrence(subscription: Subscription, due: dt.datetime) -> str:
    """The key that claims one occurrence of a subscription's briefing, the same in every process."""
    return f"briefing:{subscription.id}:{due.isoformat()}"


async def send_scheduled(context: BotContext) -> None:
    """Job callback: the briefing of one subscription, covering only stories new since its previous one; sent by
    the one process that claims its occurrence (every process schedules every subscription it knows)."""
    svc = context.services
    subscription = await svc.db.subscriptions.get(context.job.data)
    if subscription is None or not subscription.enabled:
        return
    due = last_occurrence(subscription, dt.datetime.now(dt.UTC) + CLOCK_SLACK)
    if not await svc.db.claims.claim(_occurrence(subscription, due), svc.process_id):
        return  # another process sends it (or did: claimed, then sent)
    await _send_scheduled(context, subscription)


async def send_due(context: BotContext) -> None:
    """Job, every ``DUE_EVERY``: send each briefing due and not sent, whichever process the subscription was made
    in (one made in another process, or whose process was killed, has no job here)."""
    svc = context.services
    if svc.db is None or not svc.library.loaded:
        return
    now = dt.datetime.now(dt.UTC)
    for subscription in await svc.db.subscriptions.enabled():
        if missed(subscription, now) and await svc.db.claims.claim(
            _occurrence(subscription, last_occurrence(subscription, now)), svc.process_id
        ):
            log.info("sending the briefing of subscription %d, due at %s", subscription.id,
                     last_occurrence(subscription, now).isoformat())
            await _send_scheduled(context, subscription)


async def _send_scheduled(context: BotContext, subscription: Subscription) -> None:
    svc = context.services
    svc.metrics.jobs.labels("briefing").inc()
    idx = svc.library.index
    since = subscription.last_sent_at
    fresh = None if since is None else await asyncio.to_thread(idx.added_since, since)
    started = dt.datetime.now(dt.UTC)
    briefing = None
    if fresh != []:
        briefing = await asyncio.to_thread(index.brief, idx, subscription.topic, n=STORIES, only=fresh)
    try:
        if briefing is None or (since is not None and not briefing.stories):
            about = f" on {render.echo(subscription.topic, render.MAX_TOPIC)}" if subscription.topic else ""
            await context.bot.send_message(
                subscription.chat_id, f"No new stories{about} since the last briefing ({index.date_text(since)})."
            )
        else:
            await _send_briefing(context, subscription.chat_id, briefing)
    except Forbidden as exc:
        ids = await svc.db.subscriptions.disable_chat(subscription.chat_id, exc.message)
        for subscription_id in ids:
            unschedule(context.application, subscription_id)
        log.warning("removed from chat %s (%s): disabled its subscriptions %s", subscription.chat_id, exc.message, ids)
        return
    await svc.db.subscriptions.mark_sent(subscription.id, started)


def _parse_brief_args(
    args: list[str], now: dt.datetime
) -> tuple[str | None, dt.datetime | None, str | None]:
    """``(topic, since, error)`` from ``/brief`` arguments such as ``libya since yesterday``.

    Everything after "since" is the date: ``2020-05-01``, ``1 May 2020``, ``yesterday``, ``last week``, ``May``...
    """
    words = list(args)
    lowered = [w.lower() for w in words]
    if "since" not in lowered:
        return " ".join(words).strip() or None, None, None
    at = lowered.index("since")
    value = " ".join(words[at + 1 :])
    since = index.read_since(value, now=now) if value else None
    if since is None:
        return None, None, f"I can't read {render.echo(value) or 'an empty date'} as a date. {USAGE_BRIEF}"
    return " ".join(words[:at]).strip() or None, since, None


async def brief(update: Update, context: BotContext) -> None:
    """/brief [topic] [since DATE]: the most relevant (or the latest) stories, quoted with sources."""
    message = update.effective_message
    svc = context.services
    now = dt.datetime.now(zone(await svc.db.subscriptions.timezone(message.chat_id)) or dt.UTC)
    topic, since, problem = _parse_brief_args(context.args or [], now)
    problem = problem or topic_too_long(topic)
    if problem:
        await message.reply_text(problem)
        return
    briefing = await typing_while(
        context.bot,
        message.chat_id,
        asyncio.to_thread(index.brief, svc.library.index, topic, since=since, n=STORIES),
        after=svc.typing_after,
    )
    await _send_briefing(context, message.chat_id, briefing, reply_to=message.message_id)


async def subscribe(update: Update, context: BotContext) -> None:
    """/subscribe HH:MM [topic]: a daily briefing at that time in the chat's time zone."""
    message = update.effective_message
    args = context.args or []
    match = _TIME.match(args[0]) if args else None
    if not match:
        problem = f"I can't read '{render.echo(args[0], 20)}' as a time. " if args else ""
        await message.reply_text(problem + USAGE_SUBSCRIBE)
        return
    if not await may_manage(update, context, "briefings"):
        return
    store = context.services.db
    chat_id = message.chat_id
    if len(await store.subscriptions.for_chat(chat_id)) >= MAX_PER_CHAT:
        await message.reply_text(f"This chat already has {MAX_PER_CHAT} subscriptions; /unsubscribe one first.")
        return
    hhmm = f"{int(match.group(1)):02d}:{match.group(2)}"
    topic = " ".join(args[1:]).strip() or None
    problem = topic_too_long(topic)
    if problem:
        await message.reply_text(problem)
        return
    if topic and not index.analyze(topic):
        await message.reply_text(f"The topic '{render.echo(topic)}' has no words to search for. {USAGE_SUBSCRIBE}")
        return
    subscription = await store.subscriptions.add(chat_id, hhmm, topic)
    schedule(context.application, subscription)
    what = f"on <i>{escape(topic)}</i>" if topic else "of the latest stories"
    await message.reply_text(
        f"Subscribed (#{subscription.id}): a briefing {what} every day at {hhmm} {escape(subscription.timezone)}. "
        "Change the time zone with /timezone Area/City."
    )


async def subscriptions(update: Update, context: BotContext) -> None:
    """/subscriptions: this chat's daily briefings, with their ids."""
    store = context.services.db
    chat_id = update.effective_message.chat_id
    found = await store.subscriptions.for_chat(chat_id)
    if not found:
        await update.effective_message.reply_text(f"No briefings in this chat. {USAGE_SUBSCRIBE}")
        return
    lines = [f"<b>Daily briefings</b> ({escape(found[0].timezone)}):"]
    for s in found:
        what = f"<i>{render.echo(s.topic, 100)}</i>" if s.topic else "latest stories"
        last = f", last sent {s.last_sent_at:%Y-%m-%d %H:%M} UTC" if s.last_sent_at else ""
        lines.append(f"#{s.id} at {s.time}: {what}{last}")
    lines.append("Stop one with /unsubscribe ID, or all with /unsubscribe all.")
    for text in render.split_messages(lines):
        await update.effective_message.reply_text(text)


async def unsubscribe(update: Update, context: BotContext) -> None:
    """/unsubscribe ID or /unsubscribe all."""
    message = update.effective_message
    args = context.args or []
    target = id_or_all(args)
    if target is None:
        await message.reply_text("Usage: /unsubscribe ID or /unsubscribe all (see /subscriptions for the ids).")
        return
    if not await may_manage(update, context, "briefings"):
        return
    store = context.services.db
    removed = await store.subscriptions.remove(message.chat_id, None if target == ALL else target)
    for subscription_id in removed:
        unschedule(context.application, subscription_id)
    if not removed:
        await message.reply_text(
            "This chat has no briefings."
            if target == ALL
            else f"There is no briefing #{render.echo(args[0].lstrip('#'), 20)} in this chat; "
            "/subscriptions lists them."
        )
        return
    await message.reply_text(
        f"Stopped {index.plural(len(removed), 'briefing')}: "
        + ", ".join(f"#{i}" for i in removed)
        + "."
    )


async def timezone(update: Update, context: BotContext) -> None:
    """/timezone Area/City: the time zone of this chat's briefings (IANA names)."""
    message = update.effective_message
    store = context.services.db
    args = context.args or []
    if not args:
        current = await store.subscriptions.timezone(message.chat_id)
        await message.reply_text(
            f"This chat's time zone is {current}. Change it with /timezone Area/City, "
            "for example /timezone Europe/Istanbul."
        )
        return
    name = args[0]
    if len(args) != 1 or zone(name) is None:
        await message.reply_text(
            f"'{render.echo(' '.join(args), 40)}' is not a time zone I know. Use an IANA name, "
            "for example /timezone Europe/Istanbul or /timezone America/New_York."
        )
        return
    if not await may_manage(update, context, "briefings"):
        return
    await store.subscriptions.set_timezone(message.chat_id, name)
    for subscription in await store.subscriptions.for_chat(message.chat_id):
        schedule(context.application, subscription)
    await message.reply_text(f"Time zone set to {name}; briefings follow its local time, daylight saving included.")
