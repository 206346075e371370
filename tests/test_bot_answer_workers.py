"""Answers from worker processes (ANSWER_WORKERS): the same replies as threads, and never from an older index."""

from __future__ import annotations

import pytest

from bot.context import services_of

from .bot_harness import ADMIN, USER, make_settings, running
from .fake_telegram import Chat

QUESTION = "Which air base did the GNA seize?"

pytestmark = pytest.mark.slow


async def test_worker_processes_answer_and_follow_each_new_index(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path, answer_workers=2)
    async with running(settings) as app:
        asker = Chat(telegram, chat_id=USER, user_id=USER, app=app)
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN, app=app)
        await asker.send(QUESTION)
        reply = await asker.next_reply(seconds=60)
        assert "Al-Watiya Air Base" in reply.text
        assert [b["text"] for b in reply.buttons] == ["Context", "Why these quotes?"]  # one sentence answers it

        story = b"---\ntitle: Volcano erupts in Iceland\ndate: 2024-03-01\n---\nThe Reykjanes volcano erupted again.\n"
        await admin.send_document("volcano.md", story, caption="/add")
        assert "Saved volcano.md" in (await admin.next_reply()).text
        assert (await admin.next_reply(seconds=30)).text.startswith("Added volcano.md")
        for _ in range(3):  # both workers, whichever takes the question, answer from the new index
            await asker.send("Which volcano erupted?")
            assert "Reykjanes" in (await asker.next_reply(seconds=60)).text
        answers = services_of(app).answers
        assert answers.workers == 2, "no fallback to threads happened"
        assert answers._pool is not None
        assert answers._pool._processes, "the answers came from worker processes"
    assert answers._pool is None, "the workers stop with the bot"
