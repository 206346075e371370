"""Rules shared by the commands that change what a chat receives (briefings, followed topics).

In groups only the chat's administrators (asked from Telegram) and the bot's admins may change them; ``/unsubscribe``
and ``/unfollow`` take an id or ``all`` the same way; a topic (``/brief``, ``/subscribe``, ``/follow``) has at most
``render.MAX_TOPIC`` characters.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import Forbidden, TelegramError

from bot import render
from bot.admin import is_admin
from bot.context import BotContext

__all__ = ["ALL", "id_or_all", "may_manage", "topic_too_long"]

log = logging.getLogger(__name__)

ALL = "all"


def topic_too_long(topic: str | None) -> str | None:
    """The one line that refuses a topic longer than ``render.MAX_TOPIC`` characters; None when it fits."""
    if topic is None or len(topic) <= render.MAX_TOPIC:
        return None
    return f"That topic is {len(topic):,} characters; a topic may have at most {render.MAX_TOPIC} characters."


async def may_manage(update: Update, context: BotContext, what: str) -> bool:
    """Whether the sender may change this chat's ``what`` ("briefings"); when not, says why in one line.

    In a group the sender must be one of its administrators (asked from Telegram) or one of the bot's admins. A
    message an anonymous administrator sends on behalf of the group may; one sent on behalf of a channel may not.
    When Telegram cannot answer, the sender is told so and nothing changes.
    """
    chat, user, message = update.effective_chat, update.effective_user, update.effective_message
    if chat.type == ChatType.PRIVATE or is_admin(update, context):
        return True
    sender_chat = message.sender_chat
    if sender_chat is not None and sender_chat.id == chat.id:
        return True  # only the group's administrators can write as the group
    refusal = f"Only this group's administrators can change its {what}."
    if sender_chat is not None or user is None:
        await message.reply_text(refusal)
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user.id)
    except Forbidden:
        raise  # the bot is no longer in the chat: there is no one to tell
    except TelegramError as exc:
        log.warning("could not check the administrators of chat %s: %s", chat.id, exc.message)
        await message.reply_text(
            f"I could not check whether you are an administrator of this group ({render.echo(exc.message, 100)}), "
            f"so I did not change its {what}. Please try again in a moment."
        )
        return False
    if member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
        return True
    await message.reply_text(refusal)
    return False


def id_or_all(args: list[str]) -> int | str | None:
    """``ALL``, an id (``#3`` or ``3``; a number too long for SQLite is -1, which matches nothing), or None."""
    target = args[0].lstrip("#").lower() if len(args) == 1 else ""
    if target == ALL:
        return ALL
    if not target.isdigit():
        return None
    return int(target) if len(target) <= 18 else -1
