"""Replicas for real: two ``newsbot run`` processes in webhook mode behind nginx (tests/services.py), against the fake
Bot API, sharing one PostgreSQL database and one local index (one writer, one reader: the same machine). Updates
are POSTed to nginx as Telegram would, and spread over the two; every wait is on the fake Bot API's messages or
the processes' own /metrics, never on the clock.

- 300 questions from 50 users, spread over both: each answered once, and both answered some;
- a "More" pressed on the message one replica sent works in the other;
- a user's flood spread over both is limited as by one;
- a subscription made through replica A is sent once at its time while A was killed (kill -9) just before, and
  restarting both sends it again to nobody.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import index

from .cli_harness import process_env
from .conftest import SEEDS
from .fake_telegram import TOKEN, Chat, FakeTelegram
from .services import free_port

SECRET = "replica-secret-7Hq"
QUESTION = "Which air base did the GNA seize?"
WAIT = 120.0  # a bound on a hang, not a timing


class Replica:
    """One ``newsbot run`` process: its webhook port, its health port, its log."""

    def __init__(self, name: str, folder: Path, env: dict[str, str]) -> None:
        self.name = name
        self.port, self.health = free_port(), free_port()
        self.env = {**env, "WEBHOOK_PORT": str(self.port), "HEALTH_PORT": str(self.health)}
        self.folder = folder
        self.log = folder / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", cwd=self.folder, env=process_env(self.env),
                stdout=log, stderr=log,
            )

    async def kill(self) -> None:
        """kill -9: no shutdown, nothing released or unregistered."""
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            async with asyncio.timeout(WAIT):
                await self.process.wait()

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        async with httpx.AsyncClient() as http:
            page = await http.get(f"http://127.0.0.1:{self.health}/metrics")
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(page.text)
            for s in family.samples
        }


async def until(fake: FakeTelegram, what: str, done: Callable[[], bool]) -> None:
    """Wait until ``done()`` (checked whenever the fake Bot API changes, and at least twice a second)."""
    deadline = time.monotonic() + WAIT
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {WAIT:.0f} s for {what}")
        await fake.wait_for_change(0.5)


async def until_metric(fake: FakeTelegram, replicas: list[Replica], name: str, value: float) -> None:
    """Wait until the replicas' ``name`` counters add up to ``value``."""
    total = 0.0
    deadline = time.monotonic() + WAIT
    while True:
        totals = [await r.metrics() for r in replicas]
        total = sum(v for m in totals for (n, _), v in m.items() if n == name)
        if total >= value:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} reached {total}, not {value}")
        await fake.wait_for_change(0.5)


@pytest.fixture
async def replicas(telegram, tmp_path, postgres_url, nginx) -> AsyncIterator[tuple[list[Replica], str]]:
    """Two replicas behind nginx: A writes the local index, B reads it; yields them and nginx's webhook URL."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for seed in SEEDS.iterdir():
        (articles / seed.name).write_bytes(seed.read_bytes())
    index.open_or_build(tmp_path / "index", articles)  # built once, before either starts
    ports = [free_port(), free_port()]
    async with nginx([f"127.0.0.1:{p}" for p in ports], path="/hook") as url:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": telegram.base_file_url, "WEBHOOK_URL": url, "WEBHOOK_SECRET_TOKEN": SECRET,
            "DATABASE_URL": postgres_url, "ARTICLES_DIR": str(articles), "INDEX_DIR": str(tmp_path / "index"),
            "DATA_DIR": str(tmp_path / "data"), "SEMANTIC_ANSWERS": "0", "QUESTIONS_PER_MINUTE": "6",
            "REINDEX_ON_START": "0", "JOB_LEASE_SECONDS": "3",
        }
        a = Replica("a", tmp_path, {**env, "INDEX_WRITER": "1"})
        b = Replica("b", tmp_path, {**env, "INDEX_WRITER": "0"})
        a.port, b.port = ports
        a.env["WEBHOOK_PORT"], b.env["WEBHOOK_PORT"] = str(ports[0]), str(ports[1])
        try:
            await start([a, b], telegram)
            yield [a, b], url
        finally:
            for replica in (a, b):
                await replica.stop()


async def start(replicas: list[Replica], fake: FakeTelegram) -> None:
    """Start replicas one after the other (a reader starts once the writer registered) until each set its webhook."""
    for replica in replicas:
        before = sum(method == "setWebhook" for method, _ in fake.calls)
        await replica.start()
        await until(fake, f"{replica.name} to start", lambda before=before: sum(
            method == "setWebhook" for method, _ in fake.calls
        ) > before)


_updates = itertools.count(10_000)


async def post(http: httpx.AsyncClient, url: str, kind: str, payload: dict) -> None:
    """One update as Telegram POSTs it."""
    response = await http.post(
        url, json={"update_id": next(_updates), kind: payload}, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status_code == 200, response.text


async def test_300_questions_from_50_users_over_two_replicas_are_each_answered_once(replicas, telegram):
    (a, b), url = replicas
    chats = [Chat(telegram, chat_id=5000 + n, user_id=5000 + n) for n in range(50)]
    asked = [chat.message(QUESTION) for chat in chats for _ in range(6)]
    limit = asyncio.Semaphore(16)

    async def ask(message: dict) -> None:
        async with limit:
            await post(http, url, "message", message)

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(ask(m) for m in asked))
    wanted = {(m["chat"]["id"], m["message_id"]) for m in asked}

    def replies() -> Counter:
        return Counter((s.chat_id, s.reply_to) for s in telegram.sent if (s.chat_id, s.reply_to) in wanted)

    await until(telegram, "300 answers", lambda: len(replies()) == len(wanted))
    assert set(replies().values()) == {1}, "each question answered once"
    assert all("Al-Watiya" in s.text for s in telegram.sent if (s.chat_id, s.reply_to) in wanted)
    served = [(await r.metrics())[("newsbot_questions_total", ())] for r in (a, b)]
    assert sum(served) == 300
    assert min(served) > 0, f"nginx spread them: {served}"


async def test_a_button_pressed_on_another_replicas_message_and_a_flood_over_both(replicas, telegram):
    (a, b), url = replicas
    chat = Chat(telegram, chat_id=7001, user_id=7001)
    async with httpx.AsyncClient(timeout=30) as http:
        await post(http, f"http://127.0.0.1:{a.port}/hook", "message", chat.message(QUESTION))  # to A only
        answer = await chat.next_reply(WAIT)
        assert "Al-Watiya" in answer.text
        await post(http, f"http://127.0.0.1:{b.port}/hook", "callback_query", chat.callback(answer, "Why"))
        why = await chat.next_reply(WAIT)
        assert "expired" not in why.text
        assert "score" in why.text.lower(), "B found the question behind A's button"

        flooder = Chat(telegram, chat_id=7002, user_id=7002)
        for _ in range(9):  # over nginx: spread over both replicas
            await post(http, url, "message", flooder.message(QUESTION))
    await until_metric(telegram, [a, b], "newsbot_questions_total", 1 + 9)
    await until_metric(telegram, [a, b], "newsbot_answers_total", 1 + 1 + 6)  # A's, the why, the flooder's six
    got = [s.text for s in telegram.sent if s.chat_id == flooder.chat_id]
    assert sum("Al-Watiya" in text for text in got) == 6, "QUESTIONS_PER_MINUTE across both, as on one"
    assert sum("faster than I can quote" in text for text in got) == 1, "one notice, then silence"
    assert len(got) == 7


async def test_a_subscription_made_through_a_killed_replica_is_sent_once_and_not_again_after_a_restart(
    replicas, telegram
):
    (a, b), url = replicas
    chat = Chat(telegram, chat_id=7101, user_id=7101)
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    async with httpx.AsyncClient(timeout=30) as http:
        await post(http, f"http://127.0.0.1:{a.port}/hook", "message", chat.message(f"/subscribe {soon:%H:%M}"))
        assert "every day at" in (await chat.next_reply(WAIT)).text
    await a.kill()  # before its time: its job for the subscription dies with it
    briefing = await chat.next_reply(WAIT)
    assert briefing.text.startswith("Latest stories"), "B sent the briefing A had scheduled"
    for replica in (a, b):
        await replica.stop()
    await start([a, b], telegram)  # both restart at once, within the briefing's grace: neither sends it again
    async with httpx.AsyncClient(timeout=30) as http:
        await post(http, url, "message", chat.message("/subscriptions"))
        await post(http, url, "message", chat.message("/subscriptions"))
    for _ in range(2):
        assert f"at {soon:%H:%M}" in (await chat.next_reply(WAIT)).text, "no second briefing came first"
    assert sum(s.text.startswith("Latest stories") for s in telegram.sent if s.chat_id == chat.chat_id) == 1
