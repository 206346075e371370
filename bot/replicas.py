"""Several bot processes on one database: each registers in the state (``processes``: its id, host, search backend,
whether it writes the index) when it starts, is seen again every ``SEEN_EVERY`` while it runs, and leaves when it
stops; one not seen for ``SILENT_AFTER`` is taken for gone (killed).

The local search backend (the segmented index under ``INDEX_DIR``) is one machine's files, written by one process:
a process on another machine cannot read it, and two writers would corrupt it. So ``refusal`` refuses a start,
with one line that says why, when the database is shared with a live process on another machine and either uses
the local backend, or when another process of this machine writes the local index already (``INDEX_WRITER=1``).
Processes of one machine may share a local index when exactly one writes it (the others start with
``INDEX_WRITER=0``: they answer and send, and leave feed polls, retention and reindexing to the writer).
``SEARCH_BACKEND`` (the search server of issue 17) unset counts as ``local``.

A process of this machine that was killed is not waited for: its pid is free. Two processes that start in the same
instant both find the other not registered yet; the check is for the usual
mistake (a second machine, a second writer), not a lock.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
from typing import TYPE_CHECKING

from bot.context import BotContext, services_of
from bot.errors import StateError

if TYPE_CHECKING:
    from telegram.ext import Application

    from bot.config import Settings
    from bot.state import State
    from bot.state.shared import Process

__all__ = ["SEEN_EVERY", "SILENT_AFTER", "backend", "leave", "refusal", "register"]

log = logging.getLogger(__name__)

SEEN_EVERY = 20.0  # seconds between a process's "still running" in the state
SILENT_AFTER = dt.timedelta(seconds=90)  # a process not seen for this long is gone


def backend(settings: Settings) -> str:
    """The search backend the settings name (``local`` when SEARCH_BACKEND is unset)."""
    return getattr(settings, "search_backend", None) or "local"


def _gone(other: Process, hostname: str) -> bool:
    """Whether a process registered on this machine is known to be gone although it was seen lately: killed, its
    pid is free (or is this very process: a container restarted under its own pid)."""
    if other.hostname != hostname:
        return False
    try:
        pid = int(other.id.rsplit(":", 2)[1])
    except (IndexError, ValueError):
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


def refusal(alive: list[Process], settings: Settings, *, hostname: str) -> str | None:
    """Why this process must not start beside the live processes ``alive`` (None: it may), in one line. A process
    of this machine that was killed does not count (its pid is free), so a restart is not refused."""
    mine = backend(settings)
    alive = [other for other in alive if not _gone(other, hostname)]
    for other in alive:
        if other.hostname != hostname and "local" in (mine, other.backend):
            local = "this process uses" if mine == "local" else f"process {other.id} uses"
            return (
                f"refusing to start: {local} SEARCH_BACKEND=local, whose segmented index is one machine's files, "
                f"but process {other.id} on host {other.hostname} shares this database; run the bot's processes "
                "on one machine (one with INDEX_WRITER=1), or give them all a search server (SEARCH_BACKEND)"
            )
    if mine == "local" and settings.index_writer:
        for other in alive:
            if other.writer and other.backend == "local":
                return (
                    f"refusing to start: process {other.id} on this machine writes the local index already "
                    "(INDEX_WRITER=1); start this one with INDEX_WRITER=0 (it answers and sends, and leaves feed "
                    "polls and reindexing to the writer)"
                )
    return None


def check_start(store: State, settings: Settings) -> str | None:
    """``refusal`` for a process about to start on ``store``, from the processes seen lately."""
    now = dt.datetime.now(dt.UTC)
    return refusal(store.processes.alive(now - SILENT_AFTER), settings, hostname=socket.gethostname())


async def register(application: Application) -> None:
    """Register this process in the state and keep it seen while it runs (a job every ``SEEN_EVERY``)."""
    svc = services_of(application)
    await svc.db.processes.register(
        svc.process_id, socket.gethostname(), backend(svc.settings), writer=svc.settings.index_writer
    )
    application.job_queue.run_repeating(_seen, interval=SEEN_EVERY, first=SEEN_EVERY, name="process-seen")
    log.info("process %s registered (search backend %s%s)", svc.process_id, backend(svc.settings),
             ", writes the index" if svc.settings.index_writer else ", reads the index")


async def _seen(context: BotContext) -> None:
    svc = context.services
    await svc.db.processes.seen(svc.process_id)


async def leave(application: Application) -> None:
    """This process stops: its row goes (a process killed leaves it, and is gone once silent)."""
    svc = services_of(application)
    if svc.db is not None:
        try:
            await svc.db.processes.leave(svc.process_id)
        except StateError as exc:
            log.warning("could not unregister process %s: %s", svc.process_id, exc)
