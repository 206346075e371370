"""Real PostgreSQL, nginx and OpenSearch for the tests: fixtures and helpers, skipped (or failed, in CI) where missing.

- ``require(name, reason)``: skips the test, or fails it when ``NEWSBOT_REQUIRE_SERVICES=1`` (CI sets it, so a
  service that CI should have started cannot turn into a quiet skip).
- ``postgres_url`` fixture: the URL of a fresh, empty database of its own for each test, dropped afterwards. It
  needs ``NEWSBOT_TEST_DATABASE_URL``, the URL that ``python3 services/postgres.py start`` prints (its role may
  create databases). ``fresh_database(url)`` is the same as a context manager.
- ``nginx`` fixture: the ``proxy`` function with its logs kept in the test's tmp_path, once nginx is found
  (``NEWSBOT_TEST_NGINX``, else PATH, else /usr/sbin/nginx; ``python3 services/nginx.py install`` installs it).
  ``async with nginx(["127.0.0.1:8001", "127.0.0.1:8002"], path="/hook") as url:`` starts an nginx of its own
  on a free port of 127.0.0.1 that sends each request to the next upstream in turn, and to another one when an
  upstream refuses the connection, fails or times out; ``url`` is ``http://127.0.0.1:PORT/hook``.
- ``opensearch`` fixture: the running cluster that ``python3 services/opensearch.py start`` made, as an
  ``OpenSearchCluster`` (its node URLs, and its run folder for the tests that kill and restart a node). It needs
  ``NEWSBOT_TEST_OPENSEARCH_DIR`` (that run folder); each test names its own index prefix, so tests never share
  indices.

The fixtures are made available to every test by tests/conftest.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import secrets
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

REQUIRE = "NEWSBOT_REQUIRE_SERVICES"
OPENSEARCH_DIR = "NEWSBOT_TEST_OPENSEARCH_DIR"
DATABASE_URL = "NEWSBOT_TEST_DATABASE_URL"
NGINX = "NEWSBOT_TEST_NGINX"
START_TIMEOUT = 10.0  # seconds for nginx to accept connections; it takes a few milliseconds


def require(name: str, reason: str) -> NoReturn:
    """Skip the test because ``name`` is missing, or fail it when NEWSBOT_REQUIRE_SERVICES=1."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{name} is required ({REQUIRE}=1) but {reason}", pytrace=False)
    pytest.skip(f"needs {name}: {reason}")


# -- PostgreSQL -----------------------------------------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """The URL of a new empty database for this test (owned by the URL's role), dropped after it."""
    base_url = os.environ.get(DATABASE_URL)
    if not base_url:
        require("PostgreSQL", f"{DATABASE_URL} is not set (see services/README.md)")
    with fresh_database(base_url) as url:
        yield url


@contextlib.contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """CREATE DATABASE newsbot_test_<random> through base_url, yield its URL, then drop it. The drop uses FORCE
    (PostgreSQL 13+), so connections that the test or a bot process left open do not keep it alive."""
    try:
        import psycopg  # the test extra has it; imported here so that tests without PostgreSQL never need it
    except ImportError:
        require("PostgreSQL", "psycopg is not installed (pip install '.[test]')")
    name = f"newsbot_test_{secrets.token_hex(6)}"
    unreachable = None
    try:
        # CREATE and DROP DATABASE cannot run inside a transaction.
        with psycopg.connect(base_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        unreachable = error
    if unreachable is not None:
        # The URL was set, so PostgreSQL was meant to be there: a failure, not a skip.
        pytest.fail(f"{DATABASE_URL} is set but PostgreSQL cannot be reached: {unreachable}", pytrace=False)
    try:
        yield urlunsplit(urlsplit(base_url)._replace(path=f"/{name}"))
    finally:
        _drop(psycopg, base_url, name)


def _drop(psycopg: Any, base_url: str, name: str) -> None:
    """DROP DATABASE ... WITH (FORCE). FORCE may not end a backend of another role, such as an autovacuum worker
    that the server started in the test's database: it ends within moments, so the drop is tried again (a cleanup
    that waits, bounded; nothing a test asserts depends on it)."""
    for attempt in range(100):
        try:
            with psycopg.connect(base_url, autocommit=True, connect_timeout=10) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.errors.InsufficientPrivilege:
            if attempt == 99:
                raise
            time.sleep(0.1)


# -- nginx ----------------------------------------------------------------------------------------------------


def find_nginx() -> str | None:
    """NEWSBOT_TEST_NGINX, else nginx on PATH, else Debian's /usr/sbin/nginx (not on every user's PATH)."""
    configured = os.environ.get(NGINX)
    if configured:
        return configured
    return shutil.which("nginx") or ("/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None)


@pytest.fixture
def nginx(tmp_path: Path) -> Callable[..., contextlib.AbstractAsyncContextManager[str]]:
    """``proxy`` with its configuration and logs under this test's tmp_path (kept to read after a failure)."""
    binary = find_nginx()
    if binary is None:
        require("nginx", f"it is neither in {NGINX}, on PATH nor at /usr/sbin/nginx (see services/README.md)")
    if not os.access(binary, os.X_OK):
        require("nginx", f"{binary} is not an executable file")
    count = 0

    def start(upstreams: list[str], *, path: str = "/") -> contextlib.AbstractAsyncContextManager[str]:
        nonlocal count
        count += 1
        return proxy(upstreams, path=path, directory=tmp_path / f"nginx-{count}", binary=binary)

    return start


@contextlib.asynccontextmanager
async def proxy(
    upstreams: list[str], *, path: str = "/", directory: Path | None = None, binary: str | None = None
) -> AsyncIterator[str]:
    """Run nginx as a reverse proxy to ``upstreams`` ("host:port" each) for requests under ``path``; yield the
    URL of ``path`` on it and stop nginx on exit. Its files go to ``directory`` (a temporary folder removed
    afterwards when None)."""
    binary = binary or find_nginx()
    if binary is None:
        require("nginx", f"it is neither in {NGINX}, on PATH nor at /usr/sbin/nginx (see services/README.md)")
    if not upstreams or not path.startswith("/"):
        raise ValueError(f"proxy needs upstreams and a path starting with /, not {upstreams!r} and {path!r}")
    with contextlib.ExitStack() as cleanup:
        if directory is None:
            directory = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="newsbot-nginx-")))
        directory.mkdir(parents=True, exist_ok=True)
        # The port is free when picked and may be taken before nginx binds it: then nginx exits, and another
        # port is tried.
        for _attempt in range(3):
            port = free_port()
            process = await start_nginx(binary, directory, write_config(directory, port, upstreams, path), port)
            if process is not None:
                break
            if "Address already in use" not in output(directory):
                raise RuntimeError(f"{binary} did not start:\n{output(directory)}")
        else:
            raise RuntimeError(f"nginx found no free port:\n{output(directory)}")
        try:
            yield f"http://127.0.0.1:{port}{path}"
        finally:
            await stop_nginx(process)


def write_config(directory: Path, port: int, upstreams: list[str], path: str) -> Path:
    for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / "temp" / name).mkdir(parents=True, exist_ok=True)
    servers = "\n".join(f"        server {upstream};" for upstream in upstreams)
    # nginx's master runs as whoever starts it; as root its workers would switch to "nobody", who cannot enter
    # pytest's tmp folders (mode 0700) to buffer a large body, so they stay root. The user directive is only
    # allowed (and only meaningful) for root.
    user = "user root root;" if os.geteuid() == 0 else ""
    config = f"""
{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;
events {{
    worker_connections 512;
}}
http {{
    access_log {directory}/access.log;
    # Debian's build points these at /var/lib/nginx; each test's nginx keeps its own.
    client_body_temp_path {directory}/temp/client_body;
    proxy_temp_path {directory}/temp/proxy;
    fastcgi_temp_path {directory}/temp/fastcgi;
    uwsgi_temp_path {directory}/temp/uwsgi;
    scgi_temp_path {directory}/temp/scgi;

    upstream replicas {{
        # Round robin, the default. A server that fails is left out for fail_timeout (10 s by default).
{servers}
    }}

    server {{
        listen 127.0.0.1:{port};
        location {path} {{
            proxy_pass http://replicas;
            # Request headers (X-Telegram-Bot-Api-Secret-Token among them) pass through unchanged; Host would
            # otherwise become the upstream group's name.
            proxy_set_header Host $http_host;
            proxy_http_version 1.1;
            # A replica that is killed or hangs: its requests go to the next one. non_idempotent lets a POST (all
            # webhook updates are POSTs) be retried even after it was sent: an update may then reach two replicas,
            # as it may anyway, since Telegram sends an update again when it gets no answer.
            proxy_next_upstream error timeout non_idempotent;
            proxy_connect_timeout 2s;
        }}
    }}
}}
"""
    conf = directory / "nginx.conf"
    conf.write_text(config)
    return conf


async def start_nginx(binary: str, directory: Path, conf: Path, port: int) -> asyncio.subprocess.Process | None:
    """Start nginx in the foreground and wait until its port accepts connections; None when it exited instead."""
    (directory / "error.log").unlink(missing_ok=True)
    # -e: the error log before the configuration is read (else Debian's /var/log/nginx/error.log).
    with (directory / "stderr.log").open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            binary, "-p", str(directory), "-c", str(conf), "-e", str(directory / "error.log"), "-g", "daemon off;",
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=stderr,
        )  # fmt: skip
    # Ready means nginx has bound the port: it writes its pid file only after that. A connection alone would not
    # tell, since whatever took the port before nginx could bind it would accept it too.
    pid_file = directory / "nginx.pid"
    deadline = time.monotonic() + START_TIMEOUT
    while process.returncode is None:
        with contextlib.suppress(FileNotFoundError):
            if pid_file.read_text().strip() == str(process.pid):
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)  # and it does accept connections
                writer.close()
                await writer.wait_closed()
                return process
        if time.monotonic() > deadline:
            await stop_nginx(process)
            raise RuntimeError(
                f"nginx did not start listening on port {port} in {START_TIMEOUT} s:\n{output(directory)}"
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), 0.01)  # a poll interval that ends early if nginx exits
    return None


async def stop_nginx(process: asyncio.subprocess.Process) -> None:
    """SIGTERM is nginx's fast shutdown: the master stops its workers and exits."""
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 10)
        except TimeoutError:
            process.kill()
            await process.wait()


def output(directory: Path) -> str:
    """What nginx said: its error log, and its stderr (where it reports a configuration it cannot read)."""
    said = []
    for name in ("error.log", "stderr.log"):
        with contextlib.suppress(FileNotFoundError):
            said.append((directory / name).read_text(errors="replace"))
    return "".join(said).strip() or "(nothing)"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# -- OpenSearch -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OpenSearchCluster:
    """The cluster ``services/opensearch.py`` started: its nodes' URLs, and where its state is kept."""

    rundir: Path
    urls: tuple[str, ...]

    @property
    def url(self) -> str:
        """All node URLs, comma-separated, as ``OPENSEARCH_URL`` takes them."""
        return ",".join(self.urls)


@pytest.fixture
def opensearch() -> OpenSearchCluster:
    """The running test cluster (every test gets the same one; index names keep tests apart)."""
    rundir = os.environ.get(OPENSEARCH_DIR)
    if not rundir:
        require("OpenSearch", f"{OPENSEARCH_DIR} is not set (see services/README.md)")
    search_service = opensearch_service()
    try:
        urls = tuple(search_service.urls(rundir))
        health = search_service.wait_for_health(rundir, None, timeout=60)
        if health["status"] == "red":
            raise search_service.ServiceError(f"its health is red: {health}")
    except search_service.ServiceError as error:
        # The folder was named, so a cluster was meant to run there: a failure, not a skip.
        pytest.fail(f"{OPENSEARCH_DIR} is set but its cluster does not answer: {error}", pytrace=False)
    return OpenSearchCluster(Path(rundir), urls)


def opensearch_service():
    """``services/opensearch.py`` as a module (kill, restart and health for the fault tests)."""
    root = str(Path(__file__).resolve().parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    return importlib.import_module("services.opensearch")
