"""The callback context every handler and job receives: python-telegram-bot's, plus typed access to our services.

Registered with ``ContextTypes(context=BotContext)`` (as PTB's ``contexttypesbot.py`` example does), so a handler
reads ``context.services`` instead of digging in ``bot_data`` by key.
"""

from __future__ import annotations

import contextlib
from typing import Any

from telegram.error import TelegramError
from telegram.ext import Application, CallbackContext, ExtBot

from bot.services import Services

__all__ = ["SERVICES", "BotContext", "services_of", "tell_admins"]

SERVICES = "newsbot"


def services_of(application: Application[Any, Any, Any, Any, Any, Any]) -> Services:
    """The shared services of an application (for wiring code and tests that have no context)."""
    return application.bot_data[SERVICES]


class BotContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """PTB's context with ``services``: the index being served, limits, pages, stats and the bot's state."""

    @property
    def services(self) -> Services:
        """The application's shared services."""
        return services_of(self.application)

    async def tell_admins(self, text: str) -> None:
        """Send ``text`` (HTML) to every one of the bot's admins; one who never started the bot is skipped."""
        await tell_admins(self.application, text)


async def tell_admins(application: Application[Any, Any, Any, Any, Any, Any], text: str) -> None:
    """Send ``text`` (HTML) to every one of the bot's admins; one who never started the bot is skipped."""
    for admin in sorted(services_of(application).settings.admin_user_ids):
        with contextlib.suppress(TelegramError):  # an admin who never started the bot cannot be written to
            await application.bot.send_message(admin, text)
