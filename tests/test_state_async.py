"""The state's async face (``bot.state.AsyncState``): every call on one thread of its own, in the order made; a
face closes the store only when it opened it; a store that cannot be opened leaves no thread behind."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading

import pytest

from bot.errors import StateError
from bot.state import AsyncState, SQLiteState


def _state_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("newsbot-state")}


def _ended(threads: set[threading.Thread]) -> bool:
    """Whether the state threads started since ``threads`` were taken have all ended (waiting for them)."""
    for thread in _state_threads() - threads:
        thread.join(timeout=10)
    return not _state_threads() - threads


async def test_calls_run_on_one_thread_of_their_own_in_the_order_made(tmp_path):
    async with await AsyncState.open(lambda: SQLiteState(tmp_path / "newsbot.sqlite3")) as state:
        names = await asyncio.gather(
            *(state.run(lambda _: threading.current_thread().name) for _ in range(5)),
            *(state.follows.add(7, f"topic {n}") for n in range(20)),
        )
        assert len(set(names[:5])) == 1
        assert names[0].startswith("newsbot-state")
        assert names[0] != threading.current_thread().name
        assert [f.topic for f in await state.follows.for_chat(7)] == [f"topic {n}" for n in range(20)]
        assert [f.id for f in names[5:]] == sorted(f.id for f in names[5:])


async def test_a_repository_method_keeps_its_name_arguments_and_errors(tmp_path):
    async with await AsyncState.open(lambda: SQLiteState(tmp_path / "newsbot.sqlite3")) as state:
        assert state.feeds.every.__name__ == "every"
        assert "oldest first" in state.feeds.every.__doc__
        with pytest.raises(TypeError):
            await state.feeds.get()
        with pytest.raises(AttributeError):
            state.feeds._db  # noqa: B018
        with pytest.raises(AttributeError):
            state.feeds.no_such_method  # noqa: B018


async def test_a_face_over_a_store_leaves_it_open_and_one_that_opened_it_closes_it(tmp_path):
    store = SQLiteState(tmp_path / "newsbot.sqlite3")
    async with AsyncState(store) as state:
        await state.subscriptions.set_timezone(5, "Europe/Rome")
    assert store.subscriptions.timezone(5) == "Europe/Rome", "still open for its owner"
    store.close()

    before = _state_threads()
    async with await AsyncState.open(lambda: SQLiteState(tmp_path / "newsbot.sqlite3")) as state:
        opened = state.sync
    with pytest.raises(StateError, match="closed database"):
        opened.subscriptions.timezone(5)
    assert _ended(before)


async def test_a_store_that_cannot_be_opened_leaves_no_thread(tmp_path):
    path = tmp_path / "newsbot.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("PRAGMA user_version = 99")
    before = _state_threads()
    with pytest.raises(StateError, match="newer newsbot"):
        await AsyncState.open(lambda: SQLiteState(path))
    assert _ended(before)
