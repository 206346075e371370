"""The bot's long-lived services: the index being served, reindexing, stats, and what they open (the answer
workers, the bot's state, the fetcher). Per-user flood limits and the questions behind answers' buttons are kept
in the bot's state (``bot.state.shared``), so that every process of a bot sees the same.

They live in ``application.bot_data`` under one key and are reached through ``context.services``. The index a
question sees is immutable; a reindex builds a new one in a worker thread and swaps the reference, so questions
asked meanwhile are answered from the old index and a failed build leaves it serving. ``Services.open`` opens
the resources onto one ``AsyncExitStack`` and ``Services.close`` closes them in reverse order, each one even when
another fails; a start that fails half-way closes what it had opened.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import secrets
import socket
import statistics
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import index
import index.semantic
from bot import archives
from bot.answering import TYPING_AFTER, Answerer
from bot.config import Settings
from bot.errors import ReindexRunning, StateError
from bot.fetcher import Fetcher
from bot.health import HealthServer, Metrics
from bot.polling import open_fetcher
from bot.state import AsyncState, open_state
from index.backend import Archive
from index.errors import ArchiveUnavailable

log = logging.getLogger(__name__)

__all__ = ["Library", "ReindexReport", "Services", "Stats"]


@dataclass(frozen=True, slots=True)
class ReindexReport:
    """What a reindex changed."""

    changes: index.Changes
    report: index.IngestReport
    articles: int
    passages: int
    seconds: float


class Library:
    """Holds the index being served and rebuilds it on request, one rebuild at a time."""

    def __init__(self, settings: Settings, current: Archive | None = None) -> None:
        self.settings = settings
        self._index = current
        self.unavailable: ArchiveUnavailable | None = None  # why the archive could not be opened, until it is
        self._lock = asyncio.Lock()  # one writer at a time: a reindex or a merge
        self._reindexing = False
        self.progress: tuple[str, int, int] = ("starting", 0, 0)
        self.merging: asyncio.Task[None] | None = None  # the background merge after the latest reindex
        # Called with what each reindex changed and the index served before it, once the new index serves (the
        # followers hear of the stories that first reached the bot).
        self.on_change: Callable[[index.Changes, Archive | None], None] | None = None

    @property
    def index(self) -> Archive:
        """The archive being served.

        Raises:
            ArchiveUnavailable: the cluster holding it could not be reached so far (the bot retries).
            RuntimeError: before the first load.
        """
        if self._index is None:
            if self.unavailable is not None:
                raise self.unavailable
            raise RuntimeError("the index is not loaded yet")
        return self._index

    @property
    def loaded(self) -> bool:
        """Whether an index is being served yet."""
        return self._index is not None

    @property
    def busy(self) -> bool:
        """Whether a reindex is running (a background merge does not count: a reindex waits for it)."""
        return self._reindexing

    async def open(self) -> tuple[Archive, bool]:
        """Load the archive, building it from the articles when there is none (in a worker thread).

        Raises:
            ArchiveUnavailable: the cluster cannot be reached (kept in ``unavailable`` until an open succeeds).
        """
        try:
            idx, built = await asyncio.to_thread(archives.open_or_build, self.settings)
        except ArchiveUnavailable as exc:
            self.unavailable = exc
            raise
        self._index = idx
        self.unavailable = None
        return idx, built

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.progress = (stage, done, total)  # read by the event loop; a tuple swap is atomic


    async def reindex(self, *, full: bool = False) -> ReindexReport:
        """Bring the index up to date with the articles folder (only what changed, unless ``full``) and swap it in.

        Segments are then merged in the background when the merge policy asks for it, and the merged index is
        swapped in too; questions are answered from the current index all along.

        Raises:
            ReindexRunning: another reindex is in progress.
            index.NewsbotError: the update failed; the old index keeps serving.
        """
        if self._reindexing:
            raise ReindexRunning
        self._reindexing = True
        try:
            return await self._reindex(full)
        finally:
            self._reindexing = False

    async def _reindex(self, full: bool) -> ReindexReport:
        async with self._lock:
            started = time.monotonic()
            self.progress = ("reading articles", 0, 0)
            new = await asyncio.to_thread(archives.update, self.settings, full=full, progress=self._progress)
            previous = self._index
            unchanged = new is previous or (previous is not None and new.info == previous.info)
            self._index = new
            self.merging = asyncio.create_task(self._maintain())
            if not unchanged and new.changed and self.on_change is not None:
                self.on_change(new.changed, previous)
            return ReindexReport(
                changes=index.Changes() if unchanged else new.changed,
                report=new.report,
                articles=new.article_count,
                passages=len(new),
                seconds=time.monotonic() - started,
            )

    async def _maintain(self) -> None:
        """Merge segments in a worker thread, then serve the merged index (unless a newer one came meanwhile)."""
        async with self._lock:
            try:
                merged = await asyncio.to_thread(archives.maintain, self.settings)
            except index.NewsbotError as exc:
                log.warning("merging the index's segments failed (the index is still served): %s", exc)
                return
            if merged is not None:
                self._index = merged


@dataclass
class Stats:
    """Counters for /stats."""

    started: float = field(default_factory=time.monotonic)
    answered: int = 0
    times: collections.deque[float] = field(default_factory=lambda: collections.deque(maxlen=1000))

    def record(self, seconds: float) -> None:
        """Count one answered question and how long it took."""
        self.answered += 1
        self.times.append(seconds)

    @property
    def median_ms(self) -> float | None:
        """Median answer time over the last 1,000 questions, in milliseconds (None before the first)."""
        return statistics.median(self.times) * 1000 if self.times else None

    @property
    def uptime(self) -> float:
        """Seconds since the bot started."""
        return time.monotonic() - self.started


@dataclass
class Services:
    """Everything the handlers share; one instance per application."""

    settings: Settings
    library: Library
    # This process's name in the state's leases, claims and processes (host:pid:random, new at every start).
    process_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}")
    stats: Stats = field(default_factory=Stats)
    refused_chats: set[int] = field(default_factory=set)
    db: AsyncState | None = None  # the bot's own state (bot.state), opened by ``open``
    startup_reindex: asyncio.Task[ReindexReport] | None = None  # when the articles changed while the bot was down
    judge: index.semantic.Judge | None = None  # the meaning model, loaded in post_init; None: lexical answers
    answers: Answerer = field(default_factory=Answerer)  # threads, or worker processes (ANSWER_WORKERS)
    typing_after: float = TYPING_AFTER  # seconds before a slow answer or briefing shows "typing…"
    fetcher: Fetcher | None = None  # the safe HTTP client for feeds and pages, opened by ``open``
    polling: asyncio.Lock = field(default_factory=asyncio.Lock)  # one round of feed polling at a time
    background: set[asyncio.Task[None]] = field(default_factory=set)  # awaited at shutdown
    metrics: Metrics = field(default_factory=Metrics)  # /metrics (bot.health)
    health: HealthServer | None = None  # HEALTH_PORT's server, started by post_init
    model_tried: bool = False  # the meaning model was loaded, or given up on (/readyz waits for that)
    state_noticed: float | None = None  # when the admins were last told the database cannot be written (monotonic)
    archive_noticed: float | None = None  # when the admins were last told the archive cannot be reached (monotonic)
    _resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack, repr=False)

    async def open(self, idx: Archive | None) -> None:
        """Start the answer workers for ``idx`` (worker processes when ANSWER_WORKERS asks for them; none while the
        archive cannot be reached), then open the bot's state and the fetcher; ``close`` closes them in reverse
        order.

        Raises:
            StateError: the state cannot be used (or whatever else failed); what was opened before is closed.
        """
        try:
            self._resources.callback(self.answers.close)
            if idx is not None:
                await asyncio.to_thread(self.answers.start, idx)
            self.db = await self._resources.enter_async_context(
                await AsyncState.open(lambda: open_state(self.settings))
            )
            self.metrics.watch_database(getattr(self.db.sync, "engine", None))
            self.fetcher = await self._resources.enter_async_context(open_fetcher(self.settings))
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Let the background work finish (its threads cannot be stopped), then close what ``open`` opened, the
        newest first, each one even when closing another fails."""
        tasks = (self.startup_reindex, self.library.merging, *self.background)
        running = [task for task in tasks if task is not None and not task.done()]
        await asyncio.gather(*running, return_exceptions=True)  # their failures were logged where they happened
        try:
            await self._resources.aclose()
        finally:
            self.db = self.fetcher = None

    async def problems(self) -> list[str]:
        """What keeps the process from serving, one line each (none: ready); ``/readyz`` says them."""
        problems = []
        if not self.library.loaded:
            problems.append("index: not loaded yet")
        if self.db is None:
            problems.append("database: not open yet")
        else:
            try:
                await self.db.run(lambda store: store.schema_version())  # one round trip
            except StateError as exc:
                problems.append(f"database: {exc}")
        if self.settings.semantic_answers and self.judge is None and not self.model_tried:
            problems.append("model: not loaded yet")
        return problems

    def answered(self, kind: str, seconds: float) -> None:
        """Count an answer of ``kind`` (quotes, none, briefing, more, context, why) computed in ``seconds``."""
        self.stats.record(seconds)
        self.metrics.answered(kind, seconds)

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``work`` in the background (also before the application runs); failures are logged."""
        task = asyncio.get_running_loop().create_task(work, name=name)
        self.background.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.background.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if isinstance(task.exception(), StateError):  # a full disk under the database: expected, said in one line
            log.warning("%s failed: %s", task.get_name(), task.exception())
            return
        log.error("%s failed", task.get_name(), exc_info=task.exception())

    @classmethod
    def create(cls, settings: Settings, current: index.Index | None = None) -> Services:
        """The services for one application, serving ``current`` (or loading the index in post_init)."""
        return cls(
            settings=settings,
            library=Library(settings, current),
            answers=Answerer(settings.answer_workers, semantic=settings.semantic_answers),
        )
