"""Feed polls across replicas for real: two ``newsbot run`` processes in webhook mode behind nginx, one PostgreSQL
database, the archive in the OpenSearch test cluster (SEARCH_BACKEND=opensearch: both replicas write it, as on two
machines sharing the articles volume of deploy/compose.yaml), a short JOB_LEASE_SECONDS, and a news site on
127.0.0.1 whose article page is held until the test lets it answer.

- a poll claimed by a replica that is killed (kill -9) after saving the feed's first story and while it waits on
  the second's page is finished by the other once the lease runs out: each story is in the archive once and sent
  to the follower once;
- after a poll delivered its stories, both are killed and started again at once: the next poll sends nothing
  again and fetches no page again, and the next new story is sent once.

Every wait is on an event (the fake Bot API's messages, the site's requests), never on the clock; the feed's poll
interval (FEED_INTERVAL_MINUTES=1, its least) sets how long the test takes.
"""

from __future__ import annotations

import secrets

import httpx
import pytest

from bot import archives
from bot.config import load_settings
from bot.state import open_url

from .conftest import SEEDS
from .fake_telegram import TOKEN, Chat
from .feed_server import HTML, article_page
from .services import free_port
from .test_bot_news import FERRY, TOLLS, VOTE, publish
from .test_replicas_nginx import SECRET, WAIT, Replica, post, start, until

pytest.importorskip("opensearchpy", reason="the opensearch extra is not installed")
from index.opensearch import connect

psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install '.[test]')")

FOLLOWER = 7201
TOPIC = "harbour bridge tolls"
FEED = "/harbour.rss"


@pytest.fixture
async def cluster_replicas(telegram, tmp_path, postgres_url, nginx, opensearch, site):
    """Two replicas behind nginx on the cluster (a fresh index prefix) and one database, the feed followed there
    already (never polled: due at the first tick); yields them, their env and the database URL."""
    articles = tmp_path / "articles"
    articles.mkdir()
    for seed in SEEDS.iterdir():
        (articles / seed.name).write_bytes(seed.read_bytes())
    prefix = f"replicas-{secrets.token_hex(5)}"
    ports = [free_port(), free_port()]
    async with nginx([f"127.0.0.1:{p}" for p in ports], path="/hook") as url:
        env = {
            "TELEGRAM_BOT_TOKEN": TOKEN, "TELEGRAM_BASE_URL": telegram.base_url,
            "TELEGRAM_BASE_FILE_URL": telegram.base_file_url, "WEBHOOK_URL": url, "WEBHOOK_SECRET_TOKEN": SECRET,
            "DATABASE_URL": postgres_url, "ARTICLES_DIR": str(articles), "DATA_DIR": str(tmp_path / "data"),
            "SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": ",".join(opensearch.urls),
            "OPENSEARCH_INDEX_PREFIX": prefix, "OPENSEARCH_REPLICAS": "0", "OPENSEARCH_TIMEOUT": "30",
            "SEMANTIC_ANSWERS": "0", "REINDEX_ON_START": "0", "JOB_LEASE_SECONDS": "3",
            "FEED_INTERVAL_MINUTES": "1", "ALLOW_PRIVATE_URLS": "1",
        }
        settings = load_settings(env)
        archives.update(settings)  # the seeds, in the cluster before either starts
        with open_url(postgres_url) as store:
            store.feeds.add(site.url(FEED), "Harbour Times")
        a, b = Replica("a", tmp_path, env), Replica("b", tmp_path, env)
        a.port, b.port = ports
        a.env["WEBHOOK_PORT"], b.env["WEBHOOK_PORT"] = str(ports[0]), str(ports[1])
        try:
            yield [a, b], settings
        finally:
            for replica in (a, b):
                await replica.stop()
            connect(settings.opensearch).indices.delete(
                index=f"{prefix}-*", ignore_unavailable=True, allow_no_indices=True
            )


def poll_holder(database_url: str) -> int:
    """The pid of the process holding the "poll-feeds" lease (its holder is host:pid:random)."""
    with psycopg.connect(database_url) as db:
        (holder,) = db.execute("SELECT holder FROM leases WHERE job = 'poll-feeds'").fetchone()
    return int(holder.rsplit(":", 2)[1])


def archived(settings) -> list[str]:
    """The ids of the articles live in the cluster's committed archive."""
    return [row[1] for row in archives.open_cluster_archive(settings).catalog()]


def stories_sent(telegram, title: str) -> int:
    """How many messages the follower got that carry ``title``."""
    return sum(title in s.text for s in telegram.sent if s.chat_id == FOLLOWER)


async def follow(telegram, replicas: list[Replica]) -> None:
    """The follower follows the topic through nginx (whichever replica gets it)."""
    follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
    async with httpx.AsyncClient(timeout=30) as http:
        await post(http, replicas[0].env["WEBHOOK_URL"], "message", follower.message(f"/follow {TOPIC}"))
    assert f"Following <i>{TOPIC}</i>" in (await follower.next_reply(WAIT)).html


async def test_a_poll_whose_replica_is_killed_mid_way_is_finished_by_the_other_once(
    cluster_replicas, telegram, site, postgres_url
):
    replicas, settings = cluster_replicas
    before = len(archived(settings))
    publish(site, FEED, [("tolls", *TOLLS), ("ferry", *FERRY)])
    ferry_page = article_page(FERRY[0], FERRY[1], canonical=site.url("/news/ferry.html"))
    # The feed's second item: the first (tolls) is fetched and saved to the articles folder, then the poll waits.
    site.hold("/news/ferry.html", ferry_page, content_type=HTML)
    await start(replicas, telegram)
    await follow(telegram, replicas)

    await site.wait_until(lambda: sum(site.in_flight.values()) == 1, limit=WAIT)  # a replica's poll is mid-way
    assert site.requests["/news/tolls.html"] == 1
    pid = poll_holder(postgres_url)
    (holder,) = [r for r in replicas if r.process.pid == pid]
    await holder.kill()
    site.release.set()
    await until(telegram, "the other replica to finish the poll", lambda: stories_sent(telegram, TOLLS[0]) >= 1)
    ids = archived(settings)
    assert len(ids) == len(set(ids)) == before + 2, "the feed's two stories, each in the archive once"
    assert site.requests["/news/ferry.html"] == 2, "the killed replica's fetch, and the one that finished its poll"
    assert stories_sent(telegram, TOLLS[0]) == 1


async def test_both_replicas_killed_and_started_at_once_send_no_story_again_and_the_next_one_once(
    cluster_replicas, telegram, site
):
    replicas, settings = cluster_replicas
    before = len(archived(settings))
    publish(site, FEED, [("tolls", *TOLLS), ("ferry", *FERRY)])
    await start(replicas, telegram)
    await follow(telegram, replicas)
    await until(telegram, "the first poll's story", lambda: stories_sent(telegram, TOLLS[0]) >= 1)

    for replica in replicas:  # both down at once: neither stopped cleanly, nothing released
        await replica.kill()
    publish(site, FEED, [("vote", *VOTE), ("tolls", *TOLLS), ("ferry", *FERRY)])
    await start(replicas, telegram)
    await until(telegram, "the next new story", lambda: stories_sent(telegram, VOTE[0]) >= 1)
    ids = archived(settings)
    assert len(ids) == len(set(ids)) == before + 3, "the new story added once, the old ones not again"
    assert stories_sent(telegram, VOTE[0]) == 1
    assert stories_sent(telegram, TOLLS[0]) == 1, "the story sent before the restart is not sent again"
    assert site.requests["/news/tolls.html"] == site.requests["/news/ferry.html"] == 1, "no poll's work redone"
