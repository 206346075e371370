"""Jobs that run once across every bot process sharing the state: each is claimed in the database first.

python-telegram-bot's ``JobQueue`` runs every job in every process, so a job's callback first takes the job's
lease (``bot.state.shared.SQLLeases``); the process that gets it runs the job and renews the lease while it runs
(every third of the lease), and the others skip that round. A process killed mid-job stops renewing: its lease
runs out and the next process whose tick comes takes the job over, finishing what was left (a feed not saved as
polled is still due). A job that should run once per period (retention, once a day) keeps its lease for the period
instead of releasing it at the end.

What must happen once per occurrence (a briefing at its time, a story sent to a chat) is claimed by a unique key
inserted before the message is sent (``claims``, ``follow_sent``): see ``bot.state.shared``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from bot.context import services_of
from bot.errors import StateError
from bot.state import AsyncState

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.config import Settings

__all__ = ["DAY_LEASE", "LEASE_SECONDS", "exclusive", "once", "writes_index"]

log = logging.getLogger(__name__)

LEASE_SECONDS = 60.0  # how long a job's holder may go silent before another process takes the job
DAY_LEASE = 86_400.0 - 60.0  # a daily job's lease, kept: the next day's tick of any process finds it expired


def writes_index(settings: Settings) -> bool:
    """Whether this process may write the index (feed polls, retention, reindexing): with a local index only the
    one process of the machine with INDEX_WRITER=1; with a search server (SEARCH_BACKEND) every process."""
    return getattr(settings, "search_backend", "local") != "local" or settings.index_writer


async def once(
    application: Application, job: str, work: Callable[[], Awaitable[object]], *, daily: bool = False
) -> bool:
    """``exclusive`` for a job of the running bot: its state, its process id, its lease (JOB_LEASE_SECONDS), or a
    day's kept lease when ``daily``; whether it ran here."""
    svc = services_of(application)
    if svc.db is None:
        return False
    seconds = DAY_LEASE if daily else svc.settings.job_lease
    ran = await exclusive(svc.db, svc.process_id, job, work, seconds=seconds, keep=daily)
    if ran:
        svc.metrics.jobs.labels(job).inc()
    return ran


async def exclusive(
    db: AsyncState,
    holder: str,
    job: str,
    work: Callable[[], Awaitable[object]],
    *,
    seconds: float = LEASE_SECONDS,
    keep: bool = False,
    renewed: Callable[[], None] | None = None,
) -> bool:
    """Run ``work()`` if ``holder`` gets the lease on ``job``; whether it ran.

    Args:
        db: the state every process shares.
        holder: this process's id (``Services.process_id``).
        job: the job's name, the same in every process.
        work: the job.
        seconds: the lease: renewed every third of it while the job runs.
        keep: keep the lease when the job ends (it runs once per ``seconds`` across processes); else release it.
        renewed: called after each renewal (the tests wait on it).
    """
    if not await db.leases.claim(job, holder, seconds):
        log.debug("%s runs in another process", job)
        return False
    renewing = asyncio.create_task(_renew(db, holder, job, seconds, renewed), name=f"renewing {job}")
    try:
        await work()
    finally:
        renewing.cancel()
        with contextlib.suppress(asyncio.CancelledError, StateError):  # a renewal failed: the job's end says more
            await renewing
        if not keep:
            await db.leases.release(job, holder)
    return True


async def _renew(db: AsyncState, holder: str, job: str, seconds: float, renewed: Callable[[], None] | None) -> None:
    while True:
        await asyncio.sleep(seconds / 3)
        if not await db.leases.renew(job, holder, seconds):
            # Silent longer than the lease (a stalled event loop): another process may run the job too now.
            log.warning("lost the lease on %s to another process while running it", job)
            return
        if renewed is not None:
            renewed()
