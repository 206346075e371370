"""Shared fixtures: the seed corpus, small corpora written to temporary folders, and the shared data path."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

# Real PostgreSQL and nginx for the tests that need them (skipped where they are missing): see tests/services.py.
from .services import nginx, opensearch, postgres_url  # noqa: F401

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED_TITLE = "Libya’s Haftar forces threaten Turkish targets"


@pytest.fixture(scope="session")
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(scope="session")
def seed_index():
    import index

    return index.build(SEEDS)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs the shared evaluation data at {SHARED_DATA} (not part of a clone)")
    return SHARED_DATA


@pytest.fixture
async def telegram():
    """A fake Bot API server on 127.0.0.1 (see tests/fake_telegram.py)."""
    from .fake_telegram import FakeTelegram, start_server

    fake = FakeTelegram()
    server = await start_server(fake)
    yield fake
    server.stop()


@pytest.fixture
async def site():
    """A feed and news site on 127.0.0.1 at a free port (see tests/feed_server.py)."""
    from .feed_server import FeedSite, start_server, stop_server

    feed_site = FeedSite()
    server = await start_server(feed_site)
    yield feed_site
    await stop_server(feed_site, server)


@pytest.fixture
def settings(telegram, tmp_path):
    """Bot settings pointing at the fake server, a copy of seeds/ and fresh index and data folders."""
    from .bot_harness import make_settings

    return make_settings(telegram, tmp_path)


@pytest.fixture
async def app(settings):
    """The real Application, started and polling the fake server."""
    from .bot_harness import running

    async with running(settings) as application:
        yield application


def write(folder: Path, name: str, content: str | bytes) -> Path:
    """Write a file (text as UTF-8) under folder, creating parents, and return its path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


@pytest.fixture
def cli(monkeypatch, capsys):
    """Run ``newsbot`` in-process: ``cli("ask", "...", cwd=folder, env={...})`` -> code, stdout, stderr."""
    from .cli_harness import InProcess

    return InProcess(monkeypatch, capsys)


def small_filesystem(tmp_path: Path, size: str) -> Iterator[Path]:
    """A real file system of ``size`` (tmpfs) for what only a full disk shows; skips unless root may mount it."""
    mount = tmp_path / "disk"
    mount.mkdir()
    command = ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)]
    if os.geteuid() != 0 or subprocess.run(command, capture_output=True, check=False).returncode:
        pytest.skip("needs root to mount a small tmpfs")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def fill_disk(mount: Path) -> Path:
    """Fill the file system at ``mount`` to the last block with one file, and return that file."""
    stat = os.statvfs(mount)
    filler = mount / "filler"
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize))
    return filler
