"""The state's async face: ``await state.feeds.known_items(feed_id)`` from the bot's event loop.

``AsyncState`` offers every repository of a store with each public method awaited (same arguments, same result,
same exceptions) and runs the call on one worker thread of its own: the one place that decides how the bot's
async code reaches the synchronous store. ``run`` takes several calls to that thread as one unit.

Why one thread: the SQLite store has one connection and serves one statement or transaction at a time, so more
threads would only queue at its lock (more connections would wait on SQLite's single writer, and without WAL a
writer also blocks readers). A thread of its own keeps calls in the order they were made, lets no call wait
behind index work in the default executor's few threads (reindexing, briefings, answers), and makes each
repository method one uninterrupted unit. A PostgreSQL store is served the same way, over one connection: a
process's state calls are a few short round trips per update, far below what one connection carries, and the
calls of several processes meet in the database, each process with its connection.
"""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.state.protocols import State

__all__ = ["AsyncState"]

T = TypeVar("T")


def _thread() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="newsbot-state")


class _Awaited:
    """One repository of a store, each public method awaited on the face's thread."""

    def __init__(self, face: AsyncState, name: str, repository: object) -> None:
        self._face = face
        self._name = name
        self._repository = repository

    def __getattr__(self, name: str) -> Callable[..., Coroutine[Any, Any, Any]]:
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._repository, name)

        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self._face._call(functools.partial(method, *args, **kwargs), f"{self._name}.{name}")

        setattr(self, name, call)  # made once per method
        return call


class AsyncState:
    """A store's async face: ``subscriptions``, ``feeds``, ``follows``, ``buttons``, ``limits``, ``leases``,
    ``claims``, ``processes`` and ``turns`` with every method awaited (the
    ``protocols`` say what each does), called on one worker thread.

    Use ``async with``, or ``aclose()``. A face made over a store (``AsyncState(store)``) leaves the store open
    for its owner to close; one made by ``AsyncState.open`` closes it too.

    Args:
        state: the store.
    """

    def __init__(self, state: State) -> None:
        self._start(state, _thread(), owns=False)

    def _start(self, state: State, executor: ThreadPoolExecutor, *, owns: bool) -> None:
        self.sync = state  # the store itself, for code that runs in a thread of its own
        self._executor = executor
        self._owns = owns
        self.calls: collections.Counter[str] = collections.Counter()  # round trips made, by method ("feeds.get")
        self.subscriptions = _Awaited(self, "subscriptions", state.subscriptions)
        self.feeds = _Awaited(self, "feeds", state.feeds)
        self.follows = _Awaited(self, "follows", state.follows)
        self.buttons = _Awaited(self, "buttons", state.buttons)
        self.limits = _Awaited(self, "limits", state.limits)
        self.leases = _Awaited(self, "leases", state.leases)
        self.claims = _Awaited(self, "claims", state.claims)
        self.processes = _Awaited(self, "processes", state.processes)
        self.turns = _Awaited(self, "turns", state.turns)

    @classmethod
    async def open(cls, opener: Callable[[], State]) -> AsyncState:
        """Open a store on the face's thread (its checks read the whole file) and face it; closing the face
        closes the store.

        Raises:
            StateError: the store cannot be opened (as ``opener`` raises it); no thread is left running.
        """
        executor = _thread()
        try:
            state = await asyncio.get_running_loop().run_in_executor(executor, opener)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        face = cls.__new__(cls)
        face._start(state, executor, owns=True)
        return face

    async def _call(self, work: Callable[[], T], what: str) -> T:
        """``work()`` on the face's thread, after every call made before it; counted in ``calls`` as ``what``."""
        self.calls[what] += 1
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def run(self, work: Callable[[State], T]) -> T:
        """``work(store)`` on the face's thread: several calls as one unit that no other call interleaves with."""
        return await self._call(functools.partial(work, self.sync), "run")

    async def backup(self) -> Path | None:
        """The store's ``backup()``, on the face's thread."""
        return await self._call(self.sync.backup, "backup")

    async def aclose(self) -> None:
        """Let the calls already made finish, close the store if this face opened it, and stop the thread."""
        try:
            if self._owns:
                await self._call(self.sync.close, "close")
        finally:
            self._executor.shutdown(wait=False)  # its one thread ends once its queue is done

    async def __aenter__(self) -> AsyncState:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
