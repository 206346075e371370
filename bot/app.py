"""Wiring: ``build_application(settings)`` assembles the bot; ``run(settings)`` runs it (polling or webhook).

Services live in ``bot_data`` (``bot.handlers.services``): the index is opened in ``post_init``, in a worker
thread, and the command menus are registered for each scope. The bot token is redacted from every log record.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import traceback
from urllib.parse import urlparse

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

import index
from bot import briefings, handlers
from bot.config import Settings
from bot.services import Services
from bot.subscriptions import SubscriptionStore, SubscriptionStoreError

__all__ = ["build_application", "redact_token", "run"]

log = logging.getLogger(__name__)

USER_COMMANDS = [
    BotCommand("ask", "Ask a question about the articles"),
    BotCommand("brief", "A briefing: /brief [topic] [since YYYY-MM-DD]"),
    BotCommand("subscribe", "Daily briefing: /subscribe HH:MM [topic]"),
    BotCommand("subscriptions", "This chat's daily briefings"),
    BotCommand("unsubscribe", "Stop a briefing: /unsubscribe ID or all"),
    BotCommand("timezone", "Time zone for briefings: /timezone Area/City"),
    BotCommand("help", "What I do and how to ask"),
]
ADMIN_COMMANDS = [
    BotCommand("reindex", "Rebuild the index from the articles folder"),
    BotCommand("stats", "Index size and answer statistics"),
    BotCommand("add", "Add the attached article (as a caption or a reply)"),
]


def redact_token(token: str) -> None:
    """Make every log record, from any logger at any level, show ``[token]`` instead of the bot token."""
    if not token:
        return
    previous = logging.getLogRecordFactory()
    if getattr(previous, "redacts", None) == token:
        return

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        if token in message:
            record.msg, record.args = message.replace(token, "[token]"), ()
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters reuse exc_text when it is set, so the traceback is formatted once, already redacted.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            if token in text:
                record.exc_text = text.replace(token, "[token]")
        return record

    factory.redacts = token  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


async def _post_init(application: Application) -> None:
    svc = handlers.services_of(application)
    idx, built = (svc.library.index, False) if svc.library.loaded else await svc.library.open()
    log.info("serving %d articles, %d passages%s", len(idx.articles), len(idx), " (index just built)" if built else "")
    if svc.subscriptions is None:
        svc.subscriptions = await asyncio.to_thread(open_store, svc.settings)
    await briefings.restore(application)
    bot = application.bot
    await bot.set_my_commands(USER_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(USER_COMMANDS, scope=BotCommandScopeAllGroupChats())
    for admin in sorted(svc.settings.admin_user_ids):
        try:
            await bot.set_my_commands(USER_COMMANDS + ADMIN_COMMANDS, scope=BotCommandScopeChat(admin))
        except (BadRequest, Forbidden) as exc:  # the admin has not started a chat with the bot yet
            log.info("admin commands not registered for %s: %s", admin, exc.message)


async def _post_shutdown(application: Application) -> None:
    svc = handlers.services_of(application)
    if svc.subscriptions is not None:
        svc.subscriptions.close()
        svc.subscriptions = None


def open_store(settings: Settings) -> SubscriptionStore:
    """The subscriptions database under DATA_DIR. Raises SubscriptionStoreError when it cannot be used."""
    return SubscriptionStore(settings.data_dir / "newsbot.sqlite3", default_timezone=settings.default_timezone)


def build_application(settings: Settings, *, current: index.Index | None = None) -> Application:
    """Assemble the bot: services, handlers and error handler. Nothing runs until the application starts.

    Args:
        settings: the bot's settings (a token is required).
        current: an index to serve; when None it is loaded (or built) from the settings in ``post_init``.
    """
    redact_token(settings.token)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(AIORateLimiter(max_retries=2))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(True)
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
    if settings.base_file_url:
        builder = builder.base_file_url(settings.base_file_url)
    application = builder.build()
    application.bot_data[handlers.SERVICES] = Services.create(settings, current)

    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    add_caption = filters.Document.ALL & filters.CaptionRegex(r"^/add(@\w+)?(\s|$)")
    application.add_handler(TypeHandler(object, handlers.gate), group=-1)
    application.add_handler(CommandHandler(["start", "help"], handlers.start))
    application.add_handler(CommandHandler("ask", handlers.ask))
    application.add_handler(CommandHandler("reindex", handlers.reindex))
    application.add_handler(CommandHandler("stats", handlers.stats))
    application.add_handler(CommandHandler("add", handlers.add))
    application.add_handler(MessageHandler(add_caption, handlers.add))
    application.add_handler(CommandHandler("brief", briefings.brief))
    application.add_handler(CommandHandler("subscribe", briefings.subscribe))
    application.add_handler(CommandHandler("subscriptions", briefings.subscriptions))
    application.add_handler(CommandHandler("unsubscribe", briefings.unsubscribe))
    application.add_handler(CommandHandler("timezone", briefings.timezone))
    application.add_handler(CallbackQueryHandler(handlers.button))
    application.add_handler(InlineQueryHandler(handlers.inline_query))
    application.add_handler(MessageHandler(private & filters.COMMAND, handlers.unknown_command))
    application.add_handler(MessageHandler(private & filters.TEXT, handlers.private_message))
    application.add_handler(MessageHandler(groups & filters.TEXT & ~filters.COMMAND, handlers.group_message))
    application.add_handler(MessageHandler(private & ~filters.TEXT & ~filters.StatusUpdate.ALL, handlers.not_text))
    application.add_error_handler(handlers.error)
    return application


def run(settings: Settings) -> int:
    """Run the bot until interrupted: long polling, or a webhook server when WEBHOOK_URL is set."""
    try:
        open_store(settings).close()  # fail early, with one line, on a database this version cannot use
    except SubscriptionStoreError as exc:
        log.error("%s", exc)
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    application = build_application(settings)
    if settings.log_level != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(_ShortTelegramFailures(settings.token))
    updates = ["message", "edited_message", "callback_query", "inline_query"]
    try:
        if settings.webhook_url:
            log.info("webhook mode: listening on %s:%d", settings.webhook_listen, settings.webhook_port)
            application.run_webhook(
                listen=settings.webhook_listen,
                port=settings.webhook_port,
                url_path=urlparse(settings.webhook_url).path.lstrip("/"),
                webhook_url=settings.webhook_url,
                secret_token=settings.webhook_secret,
                allowed_updates=updates,
                bootstrap_retries=BOOTSTRAP_RETRIES,
            )
        else:
            log.info("polling for updates")
            application.run_polling(allowed_updates=updates, bootstrap_retries=BOOTSTRAP_RETRIES)
    except InvalidToken:
        print("newsbot: Telegram rejected TELEGRAM_BOT_TOKEN; check it with @BotFather", file=sys.stderr)
        return 2
    except NetworkError as exc:
        where = settings.base_url or "api.telegram.org"
        message = exc.message.replace(settings.token, "[token]")
        print(
            f"newsbot: cannot reach the Telegram Bot API at {where} ({message}); check the network or "
            "TELEGRAM_BASE_URL",
            file=sys.stderr,
        )
        return 2
    return 0


BOOTSTRAP_RETRIES = 3  # a brief network outage at start is retried; a wrong token is not


class _ShortTelegramFailures(logging.Filter):
    """Outside DEBUG, Telegram's network and token failures are logged as one line, without a traceback.

    The exception's message can quote the token (InvalidToken does), so it is redacted here too: this runs
    after the record factory that redacts everything else.
    """

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, NetworkError | InvalidToken):
            line = f"{record.getMessage()} ({type(error).__name__}: {error.message})"
            record.msg, record.args = line.replace(self.token, "[token]") if self.token else line, ()
            record.exc_info = record.exc_text = None
        return True
