"""The bot's services on their own: what they open, closed (answer pages and flood limits are the state's:
tests/state_suite.py)."""

from __future__ import annotations

import pytest

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
