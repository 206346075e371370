"""Questions in a conversation: a reply to one of the bot's answers, or in a private chat a short follow-up within
a few minutes, is answered with the earlier question's subject, and the answer says which question it followed.

The turns live in the bot's state (``bot.state.turns``: a few per chat and user, forgotten after half an hour),
so they survive a restart and are shared by the processes of one bot. In a group only a reply to the bot's own
message is a follow-up; everywhere the message must read as one (``index.followups.is_follow_up``: short, and
pointing back), so a reply that asks a question of its own is answered on its own. A follow-up the earlier
subject does not help with is answered on its own too.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from telegram import Message
from telegram.constants import ChatType

import index
from bot.context import BotContext
from bot.state import Turn
from index.followups import is_follow_up, subject_of
from index.talk import is_small_talk

__all__ = ["FOLLOW_UP_MINUTES", "Asked", "ask", "remember"]

FOLLOW_UP_MINUTES = 5  # in a private chat, a follow-up without a reply continues the last question this recent


@dataclass(frozen=True, slots=True)
class Asked:
    """A question's answer, the earlier turn it followed (None: none), and the subject to carry on."""

    result: index.Answer
    followed: Turn | None
    subject: str


async def _earlier(context: BotContext, message: Message, question: str, now: dt.datetime) -> Turn | None:
    """The earlier turn ``message`` follows up on, or None."""
    db, user = context.services.db, message.from_user
    if db is None or user is None or not is_follow_up(question) or is_small_talk(question):
        return None
    replied = message.reply_to_message
    if replied is not None and replied.from_user is not None and replied.from_user.id == context.bot.id:
        return await db.turns.replied(message.chat_id, replied.message_id, now=now)
    if message.chat.type != ChatType.PRIVATE:
        return None  # in a group, only a reply to the bot continues a question
    return await db.turns.latest(message.chat_id, user.id, since=now - dt.timedelta(minutes=FOLLOW_UP_MINUTES))


async def ask(context: BotContext, message: Message, question: str, *, now: dt.datetime) -> Asked:
    """Answer ``question`` (the text of ``message``), as a follow-up when it is one."""
    svc = context.services
    idx = svc.library.index
    earlier = await _earlier(context, message, question, now.astimezone(dt.UTC))
    if earlier is not None:
        result = await svc.answers.answer(idx, question, judge=svc.judge, now=now, subject=earlier.subject)
        if result.answered:
            return Asked(result, earlier, subject_of(question, earlier.subject))
    result = await svc.answers.answer(idx, question, judge=svc.judge, now=now)
    return Asked(result, None, subject_of(question))


async def remember(context: BotContext, message: Message, reply: Message, question: str, asked: Asked) -> None:
    """Keep the turn an answer ``reply`` gave to ``message``, for follow-ups (nothing without a state)."""
    db, user = context.services.db, message.from_user
    if db is None or user is None or not asked.result.answered or asked.result.kind != "answer":
        return
    await db.turns.remember(
        Turn(message.chat_id, user.id, reply.message_id, question, asked.subject, dt.datetime.now(dt.UTC))
    )
