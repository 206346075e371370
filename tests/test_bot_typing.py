""" "typing…" only for an answer that keeps the user waiting: a quick answer is just sent, a slow one shows it."""

from __future__ import annotations

import asyncio

import pytest

from bot.answering import Answerer
from bot.context import services_of

from .fake_telegram import Chat

QUESTION = "Which air base did the GNA seize?"


class HeldAnswerer(Answerer):
    """The bot's own answerer, holding every answer back until ``release`` is set (a slow answer on cue)."""

    def __init__(self) -> None:
        super().__init__(0)
        self.release = asyncio.Event()

    async def answer(self, *args, **kwargs):
        await self.release.wait()
        return await super().answer(*args, **kwargs)


@pytest.fixture
def private(telegram, app) -> Chat:
    return Chat(telegram, chat_id=2002, user_id=2002, app=app)


async def test_a_quick_answer_is_sent_without_typing(private, app):
    services_of(app).typing_after = 60.0  # far longer than any answer here takes: "quick" does not hang on the clock
    await private.send(QUESTION)
    reply = await private.next_reply()
    assert "Al-Watiya Air Base" in reply.text
    await private.send("/brief")
    assert "<blockquote>" in (await private.next_reply()).html
    assert private.actions() == []


async def test_a_slow_answer_shows_typing_then_arrives(private, app, telegram):
    held = HeldAnswerer()
    services_of(app).answers = held
    await private.send(QUESTION)
    assert await private.next_action() == "typing"
    mark = private.mark()
    assert private.silent_since(mark), "no reply while the answer is held back"
    held.release.set()
    reply = await private.next_reply()
    assert "Al-Watiya Air Base" in reply.text
    assert private.actions() == ["typing"]


async def test_a_failed_typing_action_does_not_lose_the_answer(private, app, telegram):
    held = HeldAnswerer()
    services_of(app).answers = held
    telegram.refused["sendChatAction"] = (400, "Bad Request: simulated failure")
    await private.send(QUESTION)
    await private.next_action()
    held.release.set()
    assert "Al-Watiya Air Base" in (await private.next_reply()).text
