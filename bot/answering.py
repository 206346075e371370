"""Where the bot's answers are computed: in threads (the default), or in a small pool of worker processes.

On the default semantic path an answer spends 95-97% of its CPU time in onnxruntime, which releases the GIL
(measured at 1M passages and on Reuters, bench/results/throughput.md), so threads can run answers side by side;
the lexical path is pure Python (BM25 candidates, sentence scoring) and holds the GIL, so two threads serve no
more lexical answers than one, and worker processes do (1.9x at 1M, bench/results/growth.md). Each process holds
its own model and its own copy of the index's postings (the article texts are memory-mapped and shared), about
0.7 GB more per worker at that size, so processes are a setting (``ANSWER_WORKERS``) rather than the default.

Workers start with ``forkserver`` (never ``fork``: the bot's process has threads) and load the saved index
themselves. Each question carries the generation of the index the bot serves; a worker holding an older one
loads the index again first, so an answer never comes from an index older than the bot's. When the pool breaks
(a worker killed, say), the bot logs it once and answers in threads from then on.

``typing_while`` shows "typing…" only for an answer that is slow to come: Telegram lets a bot send about 30
requests a second in all, so a "typing" action before every answer halved how many answers a crowd gets a
second (bench/crowd.py); most answers are ready well within ``TYPING_AFTER``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import multiprocessing
from collections.abc import Awaitable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from telegram import Bot
from telegram.constants import ChatAction
from telegram.error import TelegramError

import index
import index.semantic

__all__ = ["TYPING_AFTER", "Answerer", "typing_while"]

log = logging.getLogger(__name__)

TYPING_AFTER = 1.0  # seconds an answer may take before the chat is shown "typing…"
TYPING_EVERY = 5.0  # Telegram shows the action for 5 s, or until the bot's next message arrives

T = TypeVar("T")

_WORKER: dict[str, Any] = {}


def _start_worker(index_dir: str, semantic: bool) -> None:
    _WORKER.update(dir=index_dir, idx=None, generation=None, judge=None)
    if semantic:
        with contextlib.suppress(index.ModelUnavailable):  # the bot logged why: it loaded the same model first
            _WORKER["judge"] = index.semantic.load_judge()


def _load_in_worker(generation: int) -> None:
    if _WORKER["generation"] != generation:
        # Labelled with the generation asked for, even when a newer one was current by then: the bot's next
        # swap asks again, and a bot that lags behind its index folder does not make every question reload.
        _WORKER["idx"] = index.load(_WORKER["dir"])
        _WORKER["generation"] = generation


def _answer_in_worker(generation: int, question: str, options: dict[str, Any]) -> index.Answer:
    _load_in_worker(generation)
    return index.answer(_WORKER["idx"], question, judge=_WORKER["judge"], **options)


class Answerer:
    """Answers questions over the served index without blocking the event loop.

    Args:
        workers: worker processes; 0 answers in threads.
        semantic: whether the workers load the meaning model (the bot's ``SEMANTIC_ANSWERS``).
    """

    def __init__(self, workers: int = 0, *, semantic: bool = True) -> None:
        self.workers = workers
        self.semantic = semantic
        self._pool: ProcessPoolExecutor | None = None
        self._index_dir: str | None = None

    def _pool_for(self, idx: index.Index) -> ProcessPoolExecutor | None:
        if self.workers <= 0 or getattr(idx, "root", None) is None:  # a cluster's archive: answered in threads
            return None
        if self._pool is None or self._index_dir != str(idx.root):
            self.close()
            self._index_dir = str(idx.root)
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("forkserver"),
                initializer=_start_worker,
                initargs=(self._index_dir, self.semantic),
            )
        return self._pool

    def start(self, idx: index.Index) -> None:
        """Start the workers and let them load ``idx`` and the model now, not at the first question (blocking:
        starting processes takes a while, so the bot calls this in a thread at start)."""
        pool = self._pool_for(idx)
        if pool is not None:
            for _ in range(self.workers):
                pool.submit(_load_in_worker, idx.searcher.manifest.generation)

    async def answer(
        self, idx: index.Index, question: str, *, judge: index.semantic.Judge | None, **options: Any
    ) -> index.Answer:
        """``index.answer(idx, question, judge=judge, **options)``, in a worker process or a thread."""
        pool = self._pool_for(idx)
        if pool is not None:
            call = functools.partial(_answer_in_worker, idx.searcher.manifest.generation, question, options)
            try:
                return await asyncio.get_running_loop().run_in_executor(pool, call)
            except BrokenProcessPool:
                log.error("the answer worker processes stopped; answering in threads from now on")
                self.workers = 0
                self.close()
        return await asyncio.to_thread(index.answer, idx, question, judge=judge, **options)

    def close(self) -> None:
        """Stop the worker processes (questions in flight get their answers first)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


async def typing_while(bot: Bot, chat_id: int, work: Awaitable[T], *, after: float = TYPING_AFTER) -> T:
    """Await ``work``; when it is not done after ``after`` seconds, show "typing…" in the chat, again every
    ``TYPING_EVERY`` seconds until it is. A failed action is only logged: the answer matters, not the dots.

    Returns:
        What ``work`` returns (its exception is raised).
    """
    task = asyncio.ensure_future(work)
    wait = after
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=wait)
            if done:
                return task.result()
            try:
                await bot.send_chat_action(chat_id, ChatAction.TYPING)
            except TelegramError as exc:
                log.debug("could not show typing in chat %s: %s", chat_id, exc)
            wait = TYPING_EVERY
    finally:
        task.cancel()  # when the handler itself was cancelled (the bot stopping); a no-op once done
