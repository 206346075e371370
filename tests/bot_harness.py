"""Starting the real Application against the fake Bot API server, the way ``run_polling`` does."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings

from .conftest import SEEDS
from .fake_telegram import TOKEN, FakeTelegram
from .services import free_port

ADMIN = 1001
USER = 2002


def make_settings(fake: FakeTelegram, tmp: Path, **overrides) -> Settings:
    articles = tmp / "articles"
    if not articles.exists():
        shutil.copytree(SEEDS, articles)
    base = Settings(
        token=TOKEN,
        base_url=fake.base_url,
        base_file_url=fake.base_file_url,
        admin_user_ids=frozenset({ADMIN}),
        articles_dir=articles,
        index_dir=tmp / "index",
        data_dir=tmp / "data",
        questions_per_minute=5,
    )
    return dataclasses.replace(base, **overrides)


@contextlib.asynccontextmanager
async def running(settings: Settings, *, webhook: dict | None = None) -> AsyncIterator[Application]:
    """Initialize, post_init, start polling (or the webhook server) and the application; stop it all after."""
    app = build_application(settings)
    try:
        async with app:
            await app.post_init(app)
            if webhook is None:
                await app.updater.start_polling(poll_interval=0.0, timeout=1)
            else:
                await app.updater.start_webhook(**webhook)
            await app.start()
            try:
                yield app
            finally:
                await app.updater.stop()
                await app.stop()
                if app.post_stop:
                    await app.post_stop(app)
    finally:  # also when the test failed: the database is closed, so a test's small disk can be unmounted
        if app.post_shutdown:
            await app.post_shutdown(app)


@dataclasses.dataclass(frozen=True)
class Webhook:
    """The bot's webhook server, as Telegram reaches it: ``post`` delivers one update."""

    url: str
    client: httpx.AsyncClient

    async def post(self, update: dict, *, secret: str | None = None) -> httpx.Response:
        """POST ``update`` to the webhook, with Telegram's secret-token header when ``secret`` is given."""
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post(self.url, json=update, headers=headers)


@contextlib.asynccontextmanager
async def running_webhook(settings: Settings, *, secret: str) -> AsyncIterator[Webhook]:
    """The real Application behind its webhook server on 127.0.0.1 at a free port, checking ``secret``."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/hook"
    webhook = {"listen": "127.0.0.1", "port": port, "url_path": "hook", "secret_token": secret, "webhook_url": url}
    async with running(settings, webhook=webhook), httpx.AsyncClient() as client:
        yield Webhook(url, client)
