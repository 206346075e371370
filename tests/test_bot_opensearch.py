"""The bot on either search backend, as chats: answers, briefings, follows and feed polls with SEARCH_BACKEND=local
and =opensearch (the real cluster of ``services/opensearch.py``; skipped with the reason without it), and a
cluster that is down when the bot starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets

import pytest

from bot import app as bot_app
from bot import archives

from .bot_harness import ADMIN, USER, running
from .fake_telegram import Chat
from .services import free_port
from .test_bot import QUESTION
from .test_bot_news import FERRY, TOLLS, news_settings, publish

pytest.importorskip("opensearchpy", reason="the opensearch extra is not installed")

from index.opensearch import ClusterConfig, connect

FOLLOWER = 3003


@pytest.fixture
def cluster_config(request):
    """A ClusterConfig under a fresh prefix on the test cluster (its indices deleted after the test)."""
    cluster = request.getfixturevalue("opensearch")
    config = ClusterConfig(
        urls=cluster.urls, prefix=f"bot-{secrets.token_hex(5)}", replicas=0 if len(cluster.urls) == 1 else 1, timeout=30
    )
    yield config
    connect(config).indices.delete(index=f"{config.prefix}-*", ignore_unavailable=True, allow_no_indices=True)


@pytest.fixture(params=["local", "opensearch"])
def backend(request):
    """The settings that choose a backend: nothing for the local index, the cluster's for OpenSearch."""
    if request.param == "local":
        return {}
    return {"search_backend": "opensearch", "opensearch": request.getfixturevalue("cluster_config")}


async def test_a_chat_asks_briefs_follows_and_gets_a_polled_story(backend, telegram, site, tmp_path):
    settings = news_settings(telegram, tmp_path, **backend)
    async with running(settings):
        user = Chat(telegram, chat_id=USER, user_id=USER)
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await user.send(QUESTION)
        assert "Al-Watiya Air Base" in (await user.next_reply()).text
        await user.send("/brief libya")
        assert "Haftar" in (await user.next_reply()).text
        await follower.send("/follow harbour bridge tolls")
        assert "Following <i>harbour bridge tolls</i>" in (await follower.next_reply()).html
        publish(site, "/harbour.rss", [("ferry", *FERRY)])
        await admin.send(f"/feeds add {site.url('/harbour.rss')} Harbour Times")
        await admin.next_reply()
        assert "Following feed #1 (Harbour Times): 1 new story;" in (await admin.next_reply()).text
        publish(site, "/harbour.rss", [("tolls", *TOLLS), ("ferry", *FERRY)])
        sent = await follower.next_reply(seconds=30)
        assert sent.text.startswith("New on harbour bridge tolls")
        await user.send("How much will the harbour bridge toll rise to?")
        assert "three pounds in January" in (await user.next_reply()).text
    if backend:
        cluster = archives.open_cluster_archive(settings)
        ids = [row[1] for row in cluster.catalog()]
        assert len(ids) == len(set(ids)) == cluster.article_count == 3, "the seed and two feed stories, once each"


@contextlib.asynccontextmanager
async def forwarder(port: int, target: str):
    """A TCP relay on 127.0.0.1:``port`` to the node at ``target`` (host:port): the cluster coming back. On exit
    it closes every connection it relayed, both ends."""
    host, target_port = target.rsplit(":", 1)
    writers: list[asyncio.StreamWriter] = []

    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(host, int(target_port))
        writers.extend((writer, upstream_writer))
        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

    server = await asyncio.start_server(relay, "127.0.0.1", port)
    try:
        yield
    finally:
        server.close()
        for writer in writers:
            writer.close()
        for writer in writers:
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
        await server.wait_closed()


async def test_a_cluster_down_at_start_the_bot_says_so_and_serves_once_it_is_back(
    cluster_config, telegram, tmp_path, monkeypatch
):
    seeded = news_settings(telegram, tmp_path, search_backend="opensearch", opensearch=cluster_config)
    archives.update(seeded)  # the archive exists; only the way to it is down
    port = free_port()  # nothing listens there yet: connections are refused, as by a stopped cluster
    down = ClusterConfig(urls=(f"http://127.0.0.1:{port}",), prefix=cluster_config.prefix, timeout=2)
    monkeypatch.setattr(bot_app, "ARCHIVE_RETRY", 0.2)
    settings = news_settings(telegram, tmp_path, search_backend="opensearch", opensearch=down, semantic_answers=False)
    admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
    user = Chat(telegram, chat_id=USER, user_id=USER)
    async with running(settings):
        notice = await admin.next_reply()
        assert notice.text.startswith("The bot started, but the OpenSearch cluster at")
        assert "cannot be reached" in notice.text
        await user.send(QUESTION)
        assert (await user.next_reply()).text == archives.UNREACHABLE
        node = cluster_config.urls[0].removeprefix("http://")
        async with forwarder(port, node):
            back = await admin.next_reply(seconds=30)
            assert back.text == "The archive is reachable again; questions are answered from it."
            await user.send(QUESTION)
            assert "Al-Watiya Air Base" in (await user.next_reply()).text
