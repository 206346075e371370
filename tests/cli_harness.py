"""The one way tests run newsbot's command line: in-process through ``main(argv)``, or as a real process.

In-process is fast and is how most CLI behaviour is checked. A real process is kept for what only a process
shows: its exit status and stderr as a user sees them when the bot starts, a closed pipe, a kill.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.cli import main

from .conftest import ROOT

# Settings the tests control; a developer's own environment must not leak into them.
SETTINGS = (
    "ARTICLES_DIR", "INDEX_DIR", "DATA_DIR", "LOG_LEVEL", "TELEGRAM_BOT_TOKEN", "ADMIN_USER_IDS", "ALLOW_PRIVATE_URLS",
    "SEMANTIC_ANSWERS", "DATABASE_URL", "SEARCH_BACKEND", "OPENSEARCH_URL", "OPENSEARCH_USERNAME",
    "OPENSEARCH_PASSWORD", "OPENSEARCH_CA_CERTS", "OPENSEARCH_VERIFY_CERTS", "OPENSEARCH_INDEX_PREFIX",
    "OPENSEARCH_SHARDS", "OPENSEARCH_REPLICAS", "OPENSEARCH_TIMEOUT",
)


@dataclass(frozen=True)
class Result:
    """What a run printed and its exit status."""

    code: int
    stdout: str
    stderr: str


class InProcess:
    """``cli("ask", "question", cwd=folder, env={...})`` runs ``main(argv)`` with that folder and environment."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
        self.monkeypatch = monkeypatch
        self.capsys = capsys

    def __call__(self, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Result:
        with self.monkeypatch.context() as patch:
            patch.chdir(cwd)
            for name in SETTINGS:
                patch.delenv(name, raising=False)
            for name, value in (env or {}).items():
                patch.setenv(name, value)
            self.capsys.readouterr()
            code = main(list(args))
            out = self.capsys.readouterr()
        return Result(code, out.out, out.err)


def process_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a real newsbot process: this one, without our settings, plus ``env``."""
    environment = {k: v for k, v in os.environ.items() if k not in SETTINGS}
    environment["PYTHONPATH"] = str(ROOT)
    environment.update(env or {})
    return environment


def run_process(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 120, **options
) -> subprocess.CompletedProcess[str]:
    """``python -m bot.cli ARGS`` as a user runs ``newsbot ARGS``; ``options`` go to ``subprocess.run``."""
    options.setdefault("capture_output", "stdout" not in options)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,
        env=process_env(env),
        text=True,
        timeout=timeout,
        check=False,
        **options,
    )


async def run_bot(*, cwd: Path, env: dict[str, str]) -> tuple[int, str]:
    """``newsbot run`` as a real process, without blocking the event loop (a fake server may need to answer it).

    Returns its exit status and stderr.
    """
    import asyncio

    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        cwd=cwd,
        env=process_env(env),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(90):  # a bound on a hang, not a timing: the bot exits within seconds
        _, err = await process.communicate()
    return process.returncode, err.decode()
