"""The bot's services on their own: answer pages expire, the per-user question limit, and what they open closed."""

from __future__ import annotations

import pytest


def test_answer_buttons_expire_after_a_day():
    from bot.services import AnswerPages

    now = [1000.0]
    pages = AnswerPages(clock=lambda: now[0])
    key = pages.remember("Which air base?", chat_id=5)
    now[0] += 86_399
    assert pages.recall(key, chat_id=5) == "Which air base?"
    now[0] += 2
    assert pages.recall(key, chat_id=5) is None
    assert pages.recall("deadbeef", chat_id=5) is None


def test_question_limit_warns_once_then_stays_silent():
    from bot.services import QuestionLimiter

    now = [0.0]
    limiter = QuestionLimiter(2, clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(4)] == ["ok", "ok", "warn", "drop"]
    assert limiter.check(2) == "ok", "other users are not affected"
    now[0] += 60
    assert limiter.check(1) == "ok"


def test_idle_users_are_forgotten():
    from bot.services import QuestionLimiter

    now = [0.0]
    limiter = QuestionLimiter(5, clock=lambda: now[0])
    for user in range(10_000):
        limiter.check(user)
    assert limiter.tracked == 10_000
    now[0] += 61
    assert limiter.check(1) == "ok"
    assert limiter.tracked <= 1, "users idle for a whole window are not kept"


def test_button_keys_are_bound_to_their_chat():
    from bot.services import AnswerPages

    pages = AnswerPages()
    key = pages.remember("Which air base?", chat_id=1)
    assert pages.recall(key, chat_id=1) == "Which air base?"
    assert pages.recall(key, chat_id=2) is None


# -- What the services open, and how they close it (an AsyncExitStack) ------------------------------------------


def _services(tmp_path, seed_index, **overrides):
    from bot.config import Settings
    from bot.services import Services

    settings = Settings(token="", data_dir=tmp_path / "data", index_dir=tmp_path / "index", **overrides)
    return Services.create(settings, seed_index)


async def test_services_open_the_state_and_the_fetcher_and_close_them(tmp_path, seed_index):
    from .test_state_async import _ended, _state_threads

    before = _state_threads()
    svc = _services(tmp_path, seed_index)
    await svc.open(seed_index)
    await svc.db.subscriptions.set_timezone(5, "Europe/Rome")
    assert await svc.db.subscriptions.timezone(5) == "Europe/Rome"
    fetcher = svc.fetcher
    assert fetcher is not None
    await svc.close()
    assert (svc.db, svc.fetcher) == (None, None)
    assert _ended(before), "the state's thread is stopped and its store closed"
    with pytest.raises(RuntimeError):  # a closed fetcher is used outside its `async with`
        await fetcher.fetch("https://example.com/", kind="page")
    await svc.close()  # twice is harmless


async def test_a_start_that_fails_half_way_closes_what_it_had_opened(tmp_path, seed_index):
    """The fetcher cannot be made (an impossible timeout): the state opened before it is closed again at once."""
    import index

    from .test_state_async import _ended, _state_threads

    before = _state_threads()
    svc = _services(tmp_path, seed_index, fetch_timeout=0.0)
    with pytest.raises(index.NewsbotError, match="timeout"):
        await svc.open(seed_index)
    assert (svc.db, svc.fetcher) == (None, None)
    assert _ended(before)


async def test_a_cancelled_background_task_does_not_keep_the_state_open(tmp_path, seed_index):
    import asyncio

    from .test_state_async import _ended, _state_threads

    before = _state_threads()
    svc = _services(tmp_path, seed_index)
    await svc.open(seed_index)
    task = svc.spawn(asyncio.Event().wait(), "waiting forever")
    task.cancel()
    await svc.close()
    assert task.cancelled()
    assert svc.db is None
    assert _ended(before)
