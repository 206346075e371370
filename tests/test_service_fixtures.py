"""The fixtures of tests/services.py against the real servers: a fresh PostgreSQL database per test, and nginx
round-robining to two small upstream HTTP servers. Without the services these skip (or fail, in CI)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import httpx
import pytest
import tornado.httpserver
import tornado.netutil
import tornado.web

from .services import DATABASE_URL, REQUIRE, fresh_database, require

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


# -- require --------------------------------------------------------------------------------------------------


def test_require_skips_on_a_developers_machine(monkeypatch):
    monkeypatch.delenv(REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="needs PostgreSQL: it is not running"):
        require("PostgreSQL", "it is not running")


def test_require_fails_when_the_services_are_required(monkeypatch):
    monkeypatch.setenv(REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match=r"nginx is required \(NEWSBOT_REQUIRE_SERVICES=1\) but gone"):
        require("nginx", "gone")


# -- PostgreSQL -----------------------------------------------------------------------------------------------


def test_each_test_gets_a_fresh_database(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url) as connection:
        name = connection.execute("SELECT current_database()").fetchone()[0]
        assert name.startswith("newsbot_test_")
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]
        assert tables == 0
        connection.execute("CREATE TABLE chats (id bigint PRIMARY KEY, title text NOT NULL)")
        connection.execute("INSERT INTO chats VALUES (%s, %s), (%s, %s)", (-100123, "Newsroom", 42, "Ada"))
    # A second connection sees the committed rows.
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT id, title FROM chats ORDER BY id").fetchall()
    assert rows == [(-100123, "Newsroom"), (42, "Ada")]


def test_the_database_is_dropped_even_with_a_connection_left_open():
    import psycopg

    base_url = os.environ.get(DATABASE_URL) or require("PostgreSQL", f"{DATABASE_URL} is not set")
    with fresh_database(base_url) as url:
        left_open = psycopg.connect(url)  # as a bot process killed mid-test would leave it
        name = left_open.execute("SELECT current_database()").fetchone()[0]
    with psycopg.connect(base_url) as connection:
        found = connection.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()[0]
    assert found == 0
    with pytest.raises(psycopg.OperationalError):
        left_open.execute("SELECT 1")  # DROP ... WITH (FORCE) ended it
    left_open.close()


# -- nginx ----------------------------------------------------------------------------------------------------


@dataclass
class Upstream:
    """A tiny HTTP server on 127.0.0.1 that answers every request with its own name and records what came."""

    name: str
    requests: list[dict] = field(default_factory=list)
    server: tornado.httpserver.HTTPServer | None = None
    address: str = ""

    def start(self) -> None:
        upstream = self

        class Handler(tornado.web.RequestHandler):
            def get(self) -> None:
                self.record()

            def post(self) -> None:
                self.record()

            def record(self) -> None:
                request = self.request
                upstream.requests.append({"path": request.path, "headers": dict(request.headers), "body": request.body})
                self.write(upstream.name)

        sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
        self.server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/.*", Handler)]))
        self.server.add_sockets(sockets)
        self.address = f"127.0.0.1:{sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        """Close the listening socket: new connections are refused, as to a replica that was killed."""
        if self.server is not None:
            self.server.stop()
            self.server = None


@pytest.fixture
async def upstreams() -> AsyncIterator[list[Upstream]]:
    servers = [Upstream("replica-a"), Upstream("replica-b")]
    for server in servers:
        server.start()
    yield servers
    for server in servers:
        server.stop()


async def test_nginx_round_robins_and_passes_headers_through(nginx: Callable, upstreams: list[Upstream]):
    async with (
        nginx([server.address for server in upstreams], path="/telegram/") as url,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith("/telegram/")
        answers = []
        for update_id in range(4):
            response = await client.post(
                f"{url}update", headers={SECRET_HEADER: "s3cret-Token_1"}, content=b'{"update_id":%d}' % update_id
            )
            assert response.status_code == 200
            answers.append(response.text)
        outside = await client.get(url.removesuffix("/telegram/") + "/elsewhere")

    assert sorted(answers) == ["replica-a", "replica-a", "replica-b", "replica-b"], "round robin"
    assert outside.status_code == 404, "only the path given to proxy() is proxied"
    for server in upstreams:
        assert len(server.requests) == 2
        for request in server.requests:
            assert request["path"] == "/telegram/update"
            assert request["headers"][SECRET_HEADER] == "s3cret-Token_1"
            assert request["headers"]["Host"] == url.split("/")[2], "Host reaches the upstream unchanged"
    bodies = sorted(request["body"] for server in upstreams for request in server.requests)
    assert bodies == [b'{"update_id":%d}' % update_id for update_id in range(4)]


async def test_nginx_sends_a_killed_replicas_requests_to_another(nginx: Callable, upstreams: list[Upstream]):
    alive, killed = upstreams
    async with (
        nginx([killed.address, alive.address]) as url,
        httpx.AsyncClient(trust_env=False) as client,
    ):
        assert (await client.get(f"{url}before")).status_code == 200
        killed.stop()
        answers = [(await client.post(f"{url}after", content=b"%d" % n)).text for n in range(4)]
    assert answers == ["replica-a"] * 4, "every request after the kill went to the live replica"
    assert [request["path"] for request in killed.requests] in ([], ["/before"])
    assert len(alive.requests) + len(killed.requests) == 5


def test_the_opensearch_cluster_answers_and_indexes(opensearch):
    # What every OpenSearch test stands on: the cluster that services/opensearch.py started, reachable at each URL.
    for url in opensearch.urls:
        health = httpx.get(f"{url}/_cluster/health", timeout=30, trust_env=False).json()
        assert health["status"] in ("green", "yellow")
        assert health["number_of_nodes"] == len(opensearch.urls)
    name = f"newsbot-fixture-{secrets.token_hex(4)}"
    first = opensearch.urls[0]
    created = httpx.put(f"{first}/{name}", json={"settings": {"number_of_replicas": 0}}, timeout=30, trust_env=False)
    assert created.status_code == 200, created.text
    try:
        stored = httpx.put(f"{first}/{name}/_doc/1?refresh=wait_for", json={"t": "harbour"}, timeout=30,
                           trust_env=False)
        assert stored.status_code in (200, 201), stored.text
        found = httpx.post(f"{opensearch.urls[-1]}/{name}/_search", json={"query": {"match": {"t": "harbour"}}},
                           timeout=30, trust_env=False).json()
        assert found["hits"]["total"]["value"] == 1
    finally:
        httpx.delete(f"{first}/{name}", timeout=30, trust_env=False)
