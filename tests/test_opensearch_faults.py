"""Faults on a real three-node OpenSearch cluster: a node killed (kill -9) while 200 questions and a feed poll run.

Every question gets an answer or the one soft line, none waits past its bound; the feed's new story lands in the
archive exactly once; the cluster turns green again once the node is back. Needs the three-node cluster of
``python3 services/opensearch.py start --nodes 3`` (``NEWSBOT_TEST_OPENSEARCH_DIR``); skips with the reason
without it.
"""

from __future__ import annotations

import asyncio
import collections
import secrets

import pytest

from bot import archives

from .bot_harness import ADMIN, running
from .fake_telegram import Chat
from .services import opensearch_service, require
from .test_bot import QUESTION
from .test_bot_news import FERRY, TOLLS, changes_of, news_settings, publish, served

pytest.importorskip("opensearchpy", reason="the opensearch extra is not installed")

from index.opensearch import ClusterConfig, connect

ASKERS = 20
ROUNDS = 10  # questions per asker: 200 in all
KILLED = 2  # the node killed (1-based)


@pytest.fixture
def three_nodes(opensearch):
    """The test cluster, which must have three nodes; the killed node is started again even if the test fails."""
    if len(opensearch.urls) < 3:
        require("a three-node OpenSearch cluster", f"the cluster in {opensearch.rundir} has {len(opensearch.urls)}")
    service = opensearch_service()
    config = ClusterConfig(urls=opensearch.urls, prefix=f"fault-{secrets.token_hex(5)}", shards=3, replicas=1,
                           timeout=5)  # fmt: skip
    yield opensearch, config
    if service.health(opensearch.rundir)["number_of_nodes"] < 3:
        service.restart_node(opensearch.rundir, KILLED)
    connect(config).indices.delete(index=f"{config.prefix}-*", ignore_unavailable=True, allow_no_indices=True)


@pytest.mark.slow
async def test_a_node_killed_while_200_questions_and_a_feed_poll_run(three_nodes, telegram, site, tmp_path):
    cluster, config = three_nodes
    service = opensearch_service()
    settings = news_settings(telegram, tmp_path, search_backend="opensearch", opensearch=config,
                             questions_per_minute=1000, semantic_answers=False)  # fmt: skip
    publish(site, "/harbour.rss", [("ferry", *FERRY)])
    askers = [Chat(telegram, chat_id=7000 + i, user_id=7000 + i) for i in range(ASKERS)]
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send(f"/feeds add {site.url('/harbour.rss')} Harbour Times")
        await admin.next_reply()
        assert "Following feed #1 (Harbour Times): 1 new story;" in (await admin.next_reply()).text
        changes = changes_of(app)

        for _ in range(ROUNDS):
            for chat in askers:
                await chat.send(QUESTION)
        first = await askers[0].next_reply(seconds=60)
        await asyncio.to_thread(service.kill_node, cluster.rundir, KILLED)
        publish(site, "/harbour.rss", [("tolls", *TOLLS), ("ferry", *FERRY)])  # the next poll finds it
        # A bound on a hang, not a timing: a request times out after 5 s and is tried on two other nodes.
        replies = [first]
        for n, chat in enumerate(askers):
            replies += [await chat.next_reply(seconds=60) for _ in range(ROUNDS - (n == 0))]
        assert len(replies) == ASKERS * ROUNDS
        outcomes = collections.Counter("answer" if "Al-Watiya Air Base" in r.text else r.text for r in replies)
        assert set(outcomes) <= {"answer", archives.UNREACHABLE}, outcomes
        assert outcomes["answer"] > 0
        await served(changes)  # the polled story is in the cluster (a failed round is retried by the next)

    await asyncio.to_thread(service.restart_node, cluster.rundir, KILLED)
    assert service.wait_for_health(cluster.rundir, "green", nodes=3)["status"] == "green"
    archive = archives.open_cluster_archive(settings)
    titles = collections.Counter(archive.article_by_number(number).title for number, *_ in archive.catalog())
    assert titles["Harbour bridge tolls to rise"] == 1, "the polled story, once"
    assert titles["Ferry timetable changes"] == 1
    assert sum(titles.values()) == archive.article_count == 3, titles
