"""Wiring: ``build_application(settings)`` assembles the bot; ``run(settings)`` runs it (polling or webhook).

Services live in ``bot_data`` (``bot.context.services_of``, ``context.services`` in handlers). ``post_init`` loads
the index (in a worker thread) and the meaning model, opens the services' resources (answer workers, the bot's
state, the fetcher), backs the state up, schedules the jobs and registers the command menus for each scope;
``post_shutdown`` closes the resources in reverse order. The bot token is redacted from every log record.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import sys
import time
import traceback
from html import escape
from urllib.parse import unquote, urlparse

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    LinkPreviewOptions,
    Message,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    Defaults,
    InlineQueryHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

import index
import index.semantic
from bot import admin, briefings, follows, handlers, jobs, news, replicas, uploads
from bot.config import Settings, database_password
from bot.context import SERVICES, BotContext, services_of, tell_admins
from bot.errors import StateError
from bot.health import CountingRateLimiter, HealthServer
from bot.services import Services
from bot.state import open_state
from index.errors import ArchiveUnavailable

__all__ = ["build_application", "redact_secrets", "run"]

log = logging.getLogger(__name__)

USER_COMMANDS = [
    BotCommand("ask", "Ask a question about the articles"),
    BotCommand("brief", "A briefing: /brief [topic] [since DATE or yesterday]"),
    BotCommand("subscribe", "Daily briefing: /subscribe HH:MM [topic]"),
    BotCommand("subscriptions", "This chat's daily briefings"),
    BotCommand("unsubscribe", "Stop a briefing: /unsubscribe ID or all"),
    BotCommand("timezone", "Time zone for briefings: /timezone Area/City"),
    BotCommand("follow", "New stories on a topic as they arrive: /follow TOPIC"),
    BotCommand("following", "The topics this chat follows"),
    BotCommand("unfollow", "Stop following: /unfollow ID or all"),
    BotCommand("feeds", "The news feeds followed"),
    BotCommand("help", "What I do and how to ask"),
]
ADMIN_COMMANDS = [
    BotCommand("reindex", "Read the changed article files (/reindex full: all)"),
    BotCommand("stats", "Index, sources and answer statistics"),
    BotCommand("add", "Add the attached article (as a caption or a reply)"),
    BotCommand("fetch", "Add the article of a web page: /fetch URL"),
]


_SECRETS: dict[str, str] = {}  # secret -> what is shown instead


def redact_secrets(
    *,
    token: str = "",
    webhook_secret: str | None = None,
    database_url: str | None = None,
    search_password: str | None = None,
) -> None:
    """Make every log record, from any logger at any level, show ``[token]``, ``[secret]`` and ``[password]``
    instead of the bot token, the webhook secret, the database's password (as written in DATABASE_URL, and
    decoded) and the search cluster's (OPENSEARCH_PASSWORD).

    Installed once per process; later calls only add secrets.
    """
    password = database_password(database_url) if database_url else None
    passwords = [(p, "[password]") for p in ((password, unquote(password)) if password else ())]
    if search_password:
        passwords.append((search_password, "[password]"))
    for secret, label in ((token, "[token]"), (webhook_secret or "", "[secret]"), *passwords):
        if secret:
            _SECRETS[secret] = label
    previous = logging.getLogRecordFactory()
    if not _SECRETS or getattr(previous, "redacts", False):
        return

    def redact(text: str) -> str:
        for secret, label in _SECRETS.items():
            text = text.replace(secret, label)
        return text

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        if record.exc_info and record.exc_info[1] is not None:
            # Formatters reuse exc_text when it is set, so the traceback is formatted once, already redacted.
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            cleaned = redact(text)
            if cleaned != text:
                record.exc_text = cleaned
        return record

    factory.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


async def _post_init(application: Application) -> None:
    svc = services_of(application)
    settings = svc.settings
    if settings.health_port:
        # Up before the index loads: /healthz answers and /readyz says what is still loading.
        svc.health = HealthServer(svc.problems, svc.metrics, settings.health_listen, settings.health_port)
    removed = await asyncio.to_thread(uploads.remove_partial_uploads, settings.articles_dir)
    if removed:
        log.info("removed %s left by an interrupted /add", index.plural(len(removed), "partial upload"))
    try:
        idx, built = (svc.library.index, False) if svc.library.loaded else await svc.library.open()
        log.info("serving %s, %s%s", index.plural(idx.article_count, "article"), index.plural(len(idx), "passage"),
                 " (index just built)" if built else "")  # fmt: skip
    except ArchiveUnavailable as exc:  # the bot starts anyway, says so, and serves once the cluster is back
        idx, built = None, False
        log.warning("the archive cannot be opened (%s); trying again every %.0f s", exc, ARCHIVE_RETRY)
        application.job_queue.run_repeating(_reopen_archive, interval=ARCHIVE_RETRY, first=ARCHIVE_RETRY,
                                            name="reopen-archive")  # fmt: skip
    if settings.semantic_answers and svc.judge is None:
        # Loaded now rather than at the first question, which would otherwise wait a second for it.
        try:
            svc.judge = await asyncio.to_thread(_load_judge)
            log.info("semantic answers on (%s)", svc.judge.embedder)
        except index.ModelUnavailable as exc:
            log.warning("semantic answers off: %s; answering by words alone", exc)
    svc.model_tried = True
    await svc.open(idx)  # answer workers, the bot's state, the fetcher: closed by post_shutdown (svc.close)
    await replicas.register(application)
    await _backup(svc)
    svc.library.on_change = lambda changes, previous: svc.spawn(
        follows.notify(application, [*changes.added, *changes.changed], previous=previous),
        "sending followed stories",
    )
    application.job_queue.run_repeating(_backup_job, interval=BACKUP_EVERY, first=BACKUP_EVERY, name="backup")
    if idx is None:
        svc.archive_noticed = time.monotonic()  # this notice covers the questions that fail meanwhile
        await tell_admins(application, f"The bot started, but {escape(str(svc.library.unavailable))}. Questions "
                           "get a one-line apology until it is back; the bot keeps trying.")  # fmt: skip
    elif not built and settings.reindex_on_start and jobs.writes_index(settings):
        changes = await asyncio.to_thread(_changes, idx, settings)
        if changes:
            log.info("the articles changed since the index was built (%s); rebuilding in the background",
                     changes.summary())
            svc.startup_reindex = asyncio.create_task(svc.library.reindex())
    await briefings.restore(application)
    news.schedule(application)
    follows.schedule(application)
    bot = application.bot
    await bot.set_my_commands(USER_COMMANDS, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(USER_COMMANDS, scope=BotCommandScopeAllGroupChats())
    for admin_id in sorted(settings.admin_user_ids):
        try:
            await bot.set_my_commands(USER_COMMANDS + ADMIN_COMMANDS, scope=BotCommandScopeChat(admin_id))
        except (BadRequest, Forbidden) as exc:  # the admin has not started a chat with the bot yet
            log.info("admin commands not registered for %s: %s", admin_id, exc.message)


ARCHIVE_RETRY = 15.0  # seconds between attempts to open an archive whose cluster could not be reached


async def _reopen_archive(context: BotContext) -> None:
    """Try the archive again; once it opens, serve it, tell the admins and stop trying."""
    svc = context.services
    if svc.library.loaded:
        context.job.schedule_removal()
        return
    try:
        idx, _built = await svc.library.open()
    except ArchiveUnavailable as exc:
        log.info("the archive still cannot be opened: %s", exc)
        return
    context.job.schedule_removal()
    log.info("serving %s, %s", index.plural(idx.article_count, "article"), index.plural(len(idx), "passage"))
    await context.tell_admins("The archive is reachable again; questions are answered from it.")


def _load_judge() -> index.semantic.Judge:
    judge = index.semantic.load_judge()
    judge.similarities("warm up", ["the first call allocates what later calls reuse"])
    return judge


BACKUP_EVERY = 86_400.0  # seconds between backups of the bot's database (one is also made at every start)


def _changes(idx: index.Index, settings: Settings) -> index.Changes | None:
    try:
        return idx.changes(settings.articles_dir)
    except index.NewsbotError:
        return None


async def _backup(svc: Services) -> None:
    try:
        path = await svc.db.backup()
    except StateError as exc:
        log.warning("no backup of the bot's database was made: %s", exc)
        return
    if path is not None:  # None: a PostgreSQL database, backed up with pg_dump outside the bot
        log.debug("backed up the bot's database to %s", path)


async def _backup_job(context: BotContext) -> None:
    svc = services_of(context.application)
    await jobs.once(context.application, "daily-upkeep", lambda: _upkeep(svc), daily=True)


CLAIMS_KEPT = dt.timedelta(days=2)  # a briefing's claim is made within MISSED_GRACE of its occurrence, never later


async def _upkeep(svc: Services) -> None:
    """Once a day, in one process: a backup (SQLite's), and the buttons and claims too old to be used forgotten."""
    await _backup(svc)
    await svc.db.buttons.forget()
    await svc.db.claims.forget_before(dt.datetime.now(dt.UTC) - CLAIMS_KEPT)


async def _post_shutdown(application: Application) -> None:
    svc = services_of(application)
    try:
        await replicas.leave(application)
        if svc.health is not None:
            await svc.health.close()
    finally:
        await svc.close()


class _FromChannel(filters.MessageFilter):
    """A message forwarded from a channel (its origin is a channel post)."""

    def filter(self, message: Message) -> bool:
        return message.forward_origin is not None and message.forward_origin.type == "channel"


_FROM_CHANNEL = _FromChannel()


def build_application(settings: Settings, *, current: index.Index | None = None) -> Application:
    """Assemble the bot: services, handlers and error handler. Nothing runs until the application starts.

    Args:
        settings: the bot's settings (a token is required).
        current: an index to serve; when None it is loaded (or built) from the settings in ``post_init``.
    """
    redact_secrets(
        token=settings.token,
        webhook_secret=settings.webhook_secret,
        database_url=settings.database_url,
        search_password=settings.opensearch.password if settings.opensearch else None,
    )
    services = Services.create(settings, current)
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
        .rate_limiter(CountingRateLimiter(services.metrics, max_retries=2))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .concurrent_updates(True)
        .context_types(ContextTypes(context=BotContext))
    )
    if settings.base_url:
        builder = builder.base_url(settings.base_url)
    if settings.base_file_url:
        builder = builder.base_file_url(settings.base_file_url)
    application = builder.build()
    application.bot_data[SERVICES] = services

    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS
    add_caption = filters.Document.ALL & filters.CaptionRegex(r"^/add(@\w+)?(\s|$)")
    application.add_handler(TypeHandler(Update, handlers.gate), group=-1)
    application.add_handler(CommandHandler(["start", "help"], handlers.start))
    application.add_handler(CommandHandler("ask", handlers.ask))
    application.add_handler(CommandHandler("reindex", admin.reindex))
    application.add_handler(CommandHandler("stats", admin.stats))
    application.add_handler(CommandHandler("add", admin.add))
    application.add_handler(MessageHandler(add_caption, admin.add))
    application.add_handler(CommandHandler("brief", briefings.brief))
    application.add_handler(CommandHandler("subscribe", briefings.subscribe))
    application.add_handler(CommandHandler("subscriptions", briefings.subscriptions))
    application.add_handler(CommandHandler("unsubscribe", briefings.unsubscribe))
    application.add_handler(CommandHandler("timezone", briefings.timezone))
    application.add_handler(CommandHandler("follow", follows.follow))
    application.add_handler(CommandHandler("following", follows.following))
    application.add_handler(CommandHandler("unfollow", follows.unfollow))
    application.add_handler(CommandHandler("feeds", news.feeds))
    application.add_handler(CommandHandler("fetch", news.fetch))
    application.add_handler(MessageHandler(filters.UpdateType.CHANNEL_POSTS, news.channel_post))
    if settings.admin_user_ids:
        admins = filters.User(user_id=sorted(settings.admin_user_ids))
        forwarded = private & admins & filters.FORWARDED & filters.ForwardedFrom(allow_empty=True)
        application.add_handler(MessageHandler(forwarded & _FROM_CHANNEL, news.forwarded_post))
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
        store = open_state(settings)  # fail early, with one line, on a database this version cannot use
        try:
            refused = replicas.check_start(store, settings)  # a local index beside processes elsewhere, say
        finally:
            store.close()
    except StateError as exc:
        print(f"newsbot: {exc}", file=sys.stderr)
        return 2
    if refused:
        print(f"newsbot: {refused}", file=sys.stderr)
        return 2
    application = build_application(settings)
    if settings.log_level != "DEBUG":
        for handler in logging.getLogger().handlers:
            handler.addFilter(_ShortTelegramFailures(settings.token))
    updates = ["message", "edited_message", "callback_query", "inline_query", "channel_post", "edited_channel_post"]
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
