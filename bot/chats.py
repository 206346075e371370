"""Rules shared by the commands that change what a chat receives (briefings, followed topics).

In groups only the chat's administrators (asked from Telegram) and the bot's admins may change them; ``/unsubscribe``
and ``/unfollow`` take an id or ``all`` the same way; a topic (``/brief``, ``/subscribe``, ``/follow``) has at most
``MAX_TOPIC`` characters.
"""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType

from bot.context import BotContext

__all__ = ["ALL", "MAX_TOPIC", "id_or_all", "may_manage", "topic_too_long"]

ALL = "all"
MAX_TOPIC = 200  # characters: a topic is a few words; a longer one is refused, not stored or echoed


def topic_too_long(topic: str | None) -> str | None:
    """The one line that refuses a topic longer than ``MAX_TOPIC`` characters; None when it fits."""
    if topic is None or len(topic) <= MAX_TOPIC:
        return None
    return f"That topic is {len(topic):,} characters; a topic may have at most {MAX_TOPIC} characters."


async def may_manage(update: Update, context: BotContext, what: str) -> bool:
    """Whether the sender may change this chat's ``what`` ("briefings"); says why not when they may not."""
    chat, user = update.effective_chat, update.effective_user
    if chat.type == ChatType.PRIVATE or user.id in context.services.settings.admin_user_ids:
        return True
    member = await context.bot.get_chat_member(chat.id, user.id)
    if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        return True
    await update.effective_message.reply_text(f"Only this group's administrators can change its {what}.")
    return False


def id_or_all(args: list[str]) -> int | str | None:
    """``ALL``, an id (``#3`` or ``3``; a number too long for SQLite is -1, which matches nothing), or None."""
    target = args[0].lstrip("#").lower() if len(args) == 1 else ""
    if target == ALL:
        return ALL
    if not target.isdigit():
        return None
    return int(target) if len(target) <= 18 else -1
