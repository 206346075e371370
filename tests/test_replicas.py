"""Several bot processes on one database (bot/replicas.py): each registers with its host, search backend and
whether it writes the index; a start beside a process on another machine with the local (one machine's) index is
refused in one line, as is a second writer of a local index on one machine; a reader (INDEX_WRITER=0) starts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import subprocess
import sys

from bot.context import services_of
from bot.replicas import SILENT_AFTER, check_start
from bot.state import SQLiteState

from .bot_harness import running
from .cli_harness import run_process
from .fake_telegram import TOKEN


def register_other(data, *, host: str, writer: bool = True, seen: dt.timedelta = dt.timedelta(0)) -> None:
    """Another process in the state: on ``host``, seen ``seen`` ago; on this machine, it is the test's own process
    (alive, and not the bot's)."""
    with SQLiteState(data / "newsbot.sqlite3") as store:
        store.processes.register(
            f"{host}:{os.getpid()}:abcdef", host, "local", writer=writer, now=dt.datetime.now(dt.UTC) - seen
        )


def test_a_local_index_beside_a_process_on_another_machine_is_refused_in_one_line(tmp_path):
    register_other(tmp_path / "var", host="bot-b.example")
    out = run_process("run", cwd=tmp_path, env={"TELEGRAM_BOT_TOKEN": TOKEN, "DATA_DIR": "var"})
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("newsbot: refusing to start: this process uses SEARCH_BACKEND=local")
    assert "one machine's" in line
    assert "bot-b.example" in line
    assert TOKEN not in out.stderr


def test_a_second_writer_of_a_local_index_on_one_machine_is_refused_and_told_to_read(tmp_path):
    register_other(tmp_path / "var", host=socket.gethostname(), writer=True)
    out = run_process("run", cwd=tmp_path, env={"TELEGRAM_BOT_TOKEN": TOKEN, "DATA_DIR": "var"})
    assert out.returncode == 2
    (line,) = out.stderr.strip().splitlines()
    assert "writes the local index already (INDEX_WRITER=1)" in line
    assert "start this one with INDEX_WRITER=0" in line


def test_a_process_silent_for_long_is_gone_and_does_not_refuse(tmp_path, settings):
    register_other(tmp_path / "var", host="bot-b.example", seen=SILENT_AFTER + dt.timedelta(seconds=5))
    with SQLiteState(tmp_path / "var" / "newsbot.sqlite3") as store:
        assert check_start(store, dataclasses.replace(settings, data_dir=tmp_path / "var")) is None


async def test_a_reader_starts_beside_the_writer_of_its_machine_and_both_are_registered(settings):
    async with running(settings) as writer:
        reader_settings = dataclasses.replace(settings, index_writer=False)
        assert check_start(services_of(writer).db.sync, reader_settings) is None, "a reader may start"
        (me,) = await services_of(writer).db.processes.alive(dt.datetime.now(dt.UTC) - SILENT_AFTER)
        assert (me.id, me.hostname, me.backend, me.writer) == (
            services_of(writer).process_id, socket.gethostname(), "local", True
        )
    with SQLiteState(settings.data_dir / "newsbot.sqlite3") as store:
        assert store.processes.alive(dt.datetime.now(dt.UTC) - SILENT_AFTER) == [], "it left when it stopped"


def test_a_writer_of_this_machine_that_was_killed_does_not_refuse_its_restart(tmp_path, settings):
    with SQLiteState(tmp_path / "newsbot.sqlite3") as store:
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
        pid = int(dead.stdout)  # a process that ran and ended: its pid is free (unless reused meanwhile)
        store.processes.register(f"{socket.gethostname()}:{pid}:abcdef", socket.gethostname(), "local", writer=True)
        assert check_start(store, settings) is None
