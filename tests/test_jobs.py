"""Jobs run once across processes (bot/jobs.py): two processes' worth of claimers on one database (two stores, each
with its async face), on SQLite and on PostgreSQL. Each job runs once; the holder renews its lease while the job
runs; a holder that stopped renewing (killed) loses the job to the next claimer once its lease ran out."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from bot.jobs import exclusive
from bot.state import AsyncState

from .state_suite import MAKERS


@pytest.fixture(params=MAKERS)
async def faces(request, tmp_path):
    """Two processes' faces on one database: A and B."""
    maker = request.param(request, tmp_path)
    stores = [maker.open(), maker.open()]
    yield [AsyncState(store) for store in stores]
    maker.close()


async def test_two_processes_ticking_at_once_run_the_job_once(faces):
    a, b = faces
    started, finish = asyncio.Event(), asyncio.Event()
    runs: list[str] = []

    async def job(name: str) -> None:
        runs.append(name)
        started.set()
        await finish.wait()

    first = asyncio.create_task(exclusive(a, "A", "poll-feeds", lambda: job("A")))
    await started.wait()
    assert not await exclusive(b, "B", "poll-feeds", lambda: job("B")), "A holds it: B skips this round"
    finish.set()
    assert await first
    assert runs == ["A"]
    assert await exclusive(b, "B", "poll-feeds", lambda: job("B")), "released at the end: the next round is anyone's"
    assert runs == ["A", "B"]


async def test_the_holder_renews_its_lease_while_the_job_runs(faces):
    a, b = faces
    renewed, finish = asyncio.Event(), asyncio.Event()
    # Leases are kept to the whole second: the first one ends at this second + 3 at the latest.
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)

    async def long_job() -> None:
        await finish.wait()

    running = asyncio.create_task(exclusive(a, "A", "poll-feeds", long_job, seconds=3, renewed=renewed.set))
    await renewed.wait()
    # Past the first lease's end, the renewed lease still holds (B looks with the clock moved on).
    assert await b.leases.holder("poll-feeds", now=before + dt.timedelta(seconds=3)) == "A"
    finish.set()
    assert await running


async def test_a_holder_killed_mid_job_loses_it_to_another_after_its_lease(faces):
    a, b = faces
    now = dt.datetime.now(dt.UTC)
    # A took the job a lease ago and was killed: it never renewed or released it.
    assert await a.leases.claim("poll-feeds", "A", 60, now=now - dt.timedelta(seconds=61))
    runs: list[str] = []

    async def job() -> None:
        runs.append("B")

    assert await exclusive(b, "B", "poll-feeds", job), "the lease ran out: B takes the job over"
    assert runs == ["B"]
    assert await a.leases.claim("daily", "A", 600)
    assert not await exclusive(b, "B", "daily", job, keep=True), "a live holder's lease is respected"
    assert runs == ["B"]
