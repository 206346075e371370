"""Health and metrics (bot/health.py), scraped over real HTTP from the running bot: /healthz, /readyz, and the
Prometheus text of /metrics after a chat (questions, answers by kind, latency, Telegram's errors and retries)."""

from __future__ import annotations

import dataclasses

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.context import services_of
from bot.services import Services

from .bot_harness import USER, running
from .fake_telegram import Chat
from .services import free_port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus text page, by name and labels."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


# PTB 22 warns, when it makes a RetryAfter, that retry_after will become a timedelta: not ours to change.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_health_ready_and_metrics_after_a_chat(telegram, settings):
    port = free_port()
    async with running(dataclasses.replace(settings, health_port=port, semantic_answers=False)) as app:
        chat = Chat(telegram, chat_id=USER, user_id=USER)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            assert (await http.get("/healthz")).text == "ok\n"
            ready = await http.get("/readyz")
            assert (ready.status_code, ready.text) == (200, "ready\n")
            await chat.send("Which air base did the GNA seize?")
            answer = await chat.next_reply()
            await chat.press(answer, "Why these quotes?")
            await chat.next_reply()
            telegram.flooded["sendMessage"] = 1  # Telegram says "retry after 1 s" once: the reply is sent again
            await chat.send("Which air base did the GNA seize?")
            await chat.next_reply()
            page = await http.get("/metrics")
            assert page.headers["content-type"].startswith("text/plain")
            got = samples(page.text)
        assert got[("newsbot_questions_total", ())] == 2
        assert got[("newsbot_answers_total", (("kind", "quotes"),))] == 2
        assert got[("newsbot_answers_total", (("kind", "why"),))] == 1
        assert got[("newsbot_answer_seconds_count", ())] == 3
        assert got[("newsbot_telegram_retries_total", ())] == 1
        assert got[("newsbot_telegram_errors_total", (("error", "RetryAfter"),))] == 1
        assert services_of(app).health.port == port


async def test_not_ready_until_the_index_and_the_database_are_open(settings):
    svc = Services.create(settings)
    assert await svc.problems() == [
        "index: not loaded yet", "database: not open yet", "model: not loaded yet"
    ]


async def test_the_health_port_is_off_by_default(telegram, settings):
    async with running(dataclasses.replace(settings, semantic_answers=False)) as app:
        assert services_of(app).health is None
