"""Live news end to end: feeds polled by the real Application's JobQueue from a news site on 127.0.0.1, pages
fetched on request, channel posts, followed topics, restarts, an empty start, failures, and the CLI's commands.

The site (tests/feed_server.py) changes between polls as a real one does; the tests wait for what a user would
see (a reply, a story sent to a follower) or for the bot's own signal that an update is being served, never for
the clock.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import email.utils
import os
import re
import socket
import time

import pytest

from bot import follows
from bot.context import services_of

from .bot_harness import ADMIN, USER, make_settings, running
from .conftest import SEEDS
from .fake_telegram import Chat
from .feed_server import ATOM, EMPTY_PAGE, HTML, RSS, article_page, atom, rss

CHANNEL = -1001234567890
FOLLOWER = 3003

FERRY = ("Ferry timetable changes", ["The winter ferry timetable starts on Monday with two fewer crossings a day."])
TOLLS = (
    "Harbour bridge tolls to rise",
    [
        "The harbour bridge toll will rise from two pounds to three pounds in January, the council said.",
        "Commuters' groups called the rise unfair to people who cannot work from home.",
        "The bridge carries forty thousand cars a day, and its maintenance fund has been short since the storms.",
    ],
)
VOTE = (
    "Council votes on harbour bridge tolls",
    [
        "The council voted 31 to 12 to cap the harbour bridge toll at three pounds for residents.",
        "Visitors will pay the full toll, and lorries twice as much, from the first of February.",
        "The opposition said the cap would cost the maintenance fund two million pounds a year.",
    ],
)
RIVER = ("Valley river floods farmland", ["The Tarn burst its banks near Albi and flooded four hundred hectares."])


def publish(site, path: str, stories: list[tuple[str, str, list[str]]], *, kind: str = "rss") -> None:
    """Serve a feed at ``path`` listing ``stories`` (slug, title, paragraphs), each with its page on the site.

    The items are dated an hour ago: followers are sent recent stories only (FOLLOW_MAX_AGE_HOURS).
    """
    when = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    items = []
    for slug, title, paragraphs in stories:
        link = site.url(f"/news/{slug}.html")
        site.serve(f"/news/{slug}.html", article_page(title, paragraphs, canonical=link), content_type=HTML)
        if kind == "rss":
            items.append({"guid": f"urn:{slug}", "title": title, "link": link, "description": paragraphs[0],
                          "pubDate": email.utils.format_datetime(when, usegmt=True)})
        else:
            items.append({"id": f"urn:{slug}", "title": title, "link": link, "summary": paragraphs[0],
                          "updated": when.isoformat().replace("+00:00", "Z")})
    site.serve(path, rss(items) if kind == "rss" else atom(items, title="Valley News"),
               content_type=RSS if kind == "rss" else ATOM)


def news_settings(telegram, tmp_path, **overrides):
    """Feeds polled every half second from the loopback site (ALLOW_PRIVATE_URLS=1, as the tests need)."""
    return make_settings(telegram, tmp_path, allow_private_urls=True, feed_interval=0.5, **overrides)


def changes_of(app) -> asyncio.Queue:
    """What each reindex swaps in, as it happens (the bot's own signal, also used to tell the followers)."""
    library = services_of(app).library
    queue: asyncio.Queue = asyncio.Queue()
    tell_followers = library.on_change

    def observe(changes, previous):
        queue.put_nowait(changes)
        if tell_followers is not None:
            tell_followers(changes, previous)

    library.on_change = observe
    return queue


async def served(queue: asyncio.Queue, article_id: str | None = None, *, removed: bool = False):
    """Wait until an update that adds or changes (or removes) ``article_id`` (any article when None) is served."""
    async with asyncio.timeout(30):  # a bound on a hang, not a timing
        while True:
            changes = await queue.get()
            touched = changes.removed if removed else (*changes.added, *changes.changed)
            if (article_id is None and touched) or article_id in touched:
                return changes


async def settle(app) -> None:
    """Let the background work already started (sending followed stories, merges) finish."""
    svc = services_of(app)
    await asyncio.gather(*svc.background, *(t for t in (svc.library.merging,) if t is not None))


async def test_an_admin_adds_two_feeds_and_a_follower_gets_each_new_story_once_even_across_a_restart(
    telegram, site, tmp_path
):
    settings = news_settings(telegram, tmp_path)
    publish(site, "/harbour.rss", [("ferry", *FERRY)])
    publish(site, "/valley.atom", [("river", *RIVER)], kind="atom")
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow harbour bridge tolls")
        assert "Following <i>harbour bridge tolls</i> (#1)" in (await follower.next_reply()).html

        await admin.send(f"/feeds add {site.url('/harbour.rss')} Harbour Times")
        assert f"Reading {site.url('/harbour.rss')}" in (await admin.next_reply()).text
        assert "Following feed #1 (Harbour Times): 1 new story;" in (await admin.next_reply()).text
        await admin.send(f"/feeds add {site.url('/valley.atom')}")
        await admin.next_reply()
        assert "Following feed #2 (Valley News): 1 new story;" in (await admin.next_reply()).text

        # A story published after the bot started: picked up within one polling interval.
        publish(site, "/harbour.rss", [("tolls", *TOLLS), ("ferry", *FERRY)])
        sent = await follower.next_reply(seconds=30)
        assert sent.text.startswith("New on harbour bridge tolls")
        assert "The harbour bridge toll will rise from two pounds to three pounds in January" in sent.text
        assert f'href="{site.url("/news/tolls.html")}"' in sent.html

        await follower.send("How much will the harbour bridge toll rise to?")
        answer = await follower.next_reply()
        assert "three pounds in January" in answer.text
        assert "Harbour bridge tolls to rise" in answer.text
        assert f'href="{site.url("/news/tolls.html")}"' in answer.html

        await admin.send("/feeds")
        listing = (await admin.next_reply()).text
        assert "#1 Harbour Times — read" in listing
        assert "#2 Valley News — read" in listing
        mark = follower.mark()
        await settle(app)
        assert follower.silent_since(mark)  # the ferry and the river never matched the topic

    # While the bot is down the council votes; after the restart that story arrives, and only that one.
    publish(site, "/harbour.rss", [("vote", *VOTE), ("tolls", *TOLLS), ("ferry", *FERRY)])
    async with running(settings) as app:
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        sent = await follower.next_reply(seconds=30)
        assert "voted 31 to 12" in sent.text
        assert "two pounds to three pounds" not in sent.text
        # Another round finds nothing new (the site answers 304), and nothing more is sent.
        polls = site.requests["/harbour.rss"]
        await site.wait_until(lambda: site.requests["/harbour.rss"] > polls)
        await settle(app)
        assert [s.text for s in telegram.sent if s.chat_id == FOLLOWER].count(sent.text) == 1
        assert sum("New on" in s.text for s in telegram.sent if s.chat_id == FOLLOWER) == 2


async def test_an_empty_start_is_normal_and_answers_once_the_first_stories_arrive(telegram, site, tmp_path):
    (tmp_path / "articles").mkdir()
    settings = news_settings(telegram, tmp_path)
    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    async with running(settings) as app:
        user = Chat(telegram, chat_id=USER, user_id=USER)
        await user.send("/start")
        assert "no articles yet" in (await user.next_reply()).text
        await user.send("How much will the harbour bridge toll be?")
        assert "Nothing is indexed yet" in (await user.next_reply()).text

        changes = changes_of(app)
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send(f"/feeds add {site.url('/harbour.rss')}")
        await served(changes)
        await user.send("How much will the harbour bridge toll be?")
        assert "three pounds in January" in (await user.next_reply()).text


async def test_a_failing_feed_backs_off_is_disabled_once_and_the_admins_are_told(telegram, site, tmp_path):
    settings = news_settings(telegram, tmp_path, feed_max_failures=2)
    site.serve("/down.rss", rss([]), content_type=RSS)
    site.serve("/broken.rss", rss([]), content_type=RSS)
    async with running(settings):
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        for path, name in (("/broken.rss", "Broken"), ("/down.rss", "Down")):
            await admin.send(f"/feeds add {site.url(path)} {name}")
            await admin.next_reply()
            assert f"({name}): 0 new stories" in (await admin.next_reply()).text
        # Both go wrong after they were followed; their second failures (after backing off) disable them, and the
        # admins hear of each once.
        site.serve("/broken.rss", b"<rss><channel><title>Broken", content_type=RSS)
        site.status("/down.rss", 500)
        notices = [(await admin.next_reply(seconds=30)).text for _ in range(2)]
        assert any("Feed #2 (Down) is disabled after 2 failures in a row" in n for n in notices)
        assert any("Feed #1 (Broken) is disabled" in n for n in notices)
        requests = site.requests["/down.rss"]
        await admin.send("/feeds")
        listing = (await admin.next_reply()).text
        assert "#2 Down — disabled after 2 failures" in listing
        assert "500" in listing
        await admin.send("/stats")
        assert "Sources: 2 feeds (0 active, 0 paused, 2 disabled)" in (await admin.next_reply()).text
        assert site.requests["/down.rss"] == requests  # a disabled feed is not polled

        site.serve("/down.rss", rss([]), content_type=RSS)
        await admin.send("/feeds resume 2")
        assert "Resumed feed #2" in (await admin.next_reply()).text
        await site.wait_until(lambda: site.requests["/down.rss"] > requests)


async def test_stories_whose_reindex_failed_are_indexed_by_a_later_round(telegram, site, tmp_path):
    from index.segments import SegmentedIndex

    settings = news_settings(telegram, tmp_path)
    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    async with running(settings) as app:
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        changes = changes_of(app)
        await admin.send(f"/feeds add {site.url('/harbour.rss')}")
        await admin.next_reply()
        await admin.next_reply()
        await served(changes)
        await settle(app)
        with SegmentedIndex.open(settings.index_dir):  # another writer holds the index: the reindex fails
            publish(site, "/harbour.rss", [("vote", *VOTE), ("tolls", *TOLLS)])
            await site.wait_until(lambda: site.requests["/news/vote.html"] == 1)
            polls = site.requests["/harbour.rss"]
            await site.wait_until(lambda: site.requests["/harbour.rss"] >= polls + 2)  # rounds after the failure
        await served(changes)  # a later round, with nothing new to fetch (304), indexes what is saved
        await admin.send("How did the council vote on the harbour bridge toll?")
        assert "voted 31 to 12" in (await admin.next_reply()).text


async def test_feed_commands_are_for_admins_and_urls_are_checked(telegram, site, tmp_path):
    settings = make_settings(telegram, tmp_path)  # ALLOW_PRIVATE_URLS off: the loopback site is refused
    site.serve("/harbour.rss", rss([]), content_type=RSS)
    async with running(settings):
        user = Chat(telegram, chat_id=USER, user_id=USER)
        await user.send(f"/feeds add {site.url('/harbour.rss')}")
        assert "for the bot's admins only" in (await user.next_reply()).text
        await user.send("/feeds")
        assert "No feeds are followed yet" in (await user.next_reply()).text
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send("/feeds add ftp://example.com/feed")
        assert "Usage: /feeds" in (await admin.next_reply()).text
        await admin.send(f"/feeds add {site.url('/harbour.rss')}")
        await admin.next_reply()
        refused = (await admin.next_reply()).text
        assert refused.startswith("I did not follow that:")
        assert "loopback address" in refused
        assert site.requests["/harbour.rss"] == 0
        await admin.send("/feeds")
        assert "No feeds are followed yet" in (await admin.next_reply()).text  # refused, so not followed
        await admin.send("/feeds remove 1")
        assert "There is no feed #1" in (await admin.next_reply()).text


async def test_fetch_adds_one_page(telegram, site, tmp_path):
    settings = news_settings(telegram, tmp_path)
    site.serve("/news/tolls.html", article_page(TOLLS[0], TOLLS[1]), content_type=HTML)
    site.serve("/news/app.html", EMPTY_PAGE, content_type=HTML)
    site.huge("/news/huge.html", 50_000_000, content_type=HTML)
    async with running(settings) as app:
        changes = changes_of(app)
        user = Chat(telegram, chat_id=USER, user_id=USER)
        await user.send(f"/fetch {site.url('/news/tolls.html')}")
        assert "for the bot's admins only" in (await user.next_reply()).text
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send(f"/fetch {site.url('/news/tolls.html')}")
        assert "Added Harbour bridge tolls to rise" in (await admin.next_reply()).text
        await served(changes)
        await admin.send(f"/fetch {site.url('/news/tolls.html')}")
        assert "I have that page already, unchanged: Harbour bridge tolls to rise" in (await admin.next_reply()).text
        await user.send("What will the harbour bridge toll rise to?")
        answer = await user.next_reply()
        assert "three pounds in January" in answer.text
        assert site.url("/news/tolls.html") in answer.html
        await admin.send(f"/fetch {site.url('/news/app.html')}")
        assert "I could not add that page: no article text found" in (await admin.next_reply()).text
        await admin.send(f"/fetch {site.url('/news/huge.html')}")
        assert "I could not add that page" in (await admin.next_reply()).text
        await admin.send(f"/fetch {site.url('/private/memo.html')}")
        assert "robots.txt" in (await admin.next_reply()).text


def channel_post(message_id: int, text: str, **extra) -> dict:
    chat = {"id": CHANNEL, "type": "channel", "title": "Harbour Watch", "username": "harbourwatch"}
    date = int(time.time()) - 3600  # an hour ago: followers are sent recent stories only
    return {"message_id": message_id, "date": date, "chat": chat, "sender_chat": chat, "text": text, **extra}


async def test_channel_posts_become_articles_and_an_edit_replaces_one(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path)
    async with running(settings) as app:
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow lighthouse keeper")
        await follower.next_reply()
        telegram.push("channel_post", channel_post(
            77, "Lighthouse keeper retires\nThe last lighthouse keeper of Skerry Point retired after 41 years."
        ))
        sent = await follower.next_reply(seconds=30)
        assert "retired after 41 years" in sent.text
        assert 'href="https://t.me/harbourwatch/77"' in sent.html

        mark = follower.mark()
        changes = changes_of(app)
        telegram.push("edited_channel_post", channel_post(
            77, "Lighthouse keeper retires\nThe last lighthouse keeper of Skerry Point retired after 42 years.",
            edit_date=int(time.time()),
        ))
        await served(changes, "tg-1001234567890-77")
        await follower.send("How long did the lighthouse keeper serve?")
        answer = await follower.next_reply()
        assert "after 42 years" in answer.text
        assert "41 years" not in answer.text
        await settle(app)
        assert [s.text for s in telegram.sent[mark:] if s.chat_id == FOLLOWER and "New on" in s.text] == []
        files = list((settings.articles_dir / "channels").rglob("*.json"))
        assert len(files) == 1  # the edit replaced the post's article
        assert all(sent.chat_id != CHANNEL for sent in telegram.sent)  # the bot never writes into the channel


async def test_an_admin_forwards_a_channel_post_to_add_it(telegram, tmp_path):
    settings = make_settings(telegram, tmp_path)
    async with running(settings) as app:
        changes = changes_of(app)
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        origin = {"type": "channel", "date": 1_764_057_600, "message_id": 12,
                  "chat": {"id": -1009876, "type": "channel", "title": "Quay News"}}
        await admin.send("Quay repairs finish\nThe repairs to the north quay finished two weeks early.",
                         forward_origin=origin, forward_date=1_764_057_600)
        added = (await admin.next_reply()).text
        assert "Added the post Quay repairs finish" in added
        await served(changes, "tg-1009876-12")
        await admin.send("When did the north quay repairs finish?")
        answer = await admin.next_reply()
        assert "two weeks early" in answer.text
        assert 'href="https://t.me/c/9876/12"' in answer.html


async def test_followers_get_a_few_messages_an_hour_and_the_rest_as_one_digest(telegram, site, tmp_path):
    settings = news_settings(telegram, tmp_path, follow_per_hour=1)
    stories = [
        (f"tolls-{n}", f"Harbour bridge tolls, part {n}", [f"Part {n}: the harbour bridge tolls rise in January."])
        for n in range(1, 4)
    ]
    publish(site, "/harbour.rss", stories)
    async with running(settings) as app:
        follower = Chat(telegram, chat_id=FOLLOWER, user_id=FOLLOWER)
        await follower.send("/follow harbour bridge tolls")
        await follower.next_reply()
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send(f"/feeds add {site.url('/harbour.rss')}")
        assert (await follower.next_reply(seconds=30)).text.startswith("New on harbour bridge tolls")
        await settle(app)
        mark = follower.mark()
        assert follower.silent_since(mark)
        await follows.flush(app)  # within the hour: the queue waits
        assert follower.silent_since(mark)
        await follows.flush(app, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1, minutes=1))
        digest = await follower.next_reply()
        assert digest.text.startswith("More new stories on your topics (2)")
        await follows.flush(app, now=dt.datetime.now(dt.UTC) + dt.timedelta(hours=3))
        assert follower.silent_since(mark + 1)
        await follower.send("/following")
        assert "#1: harbour bridge tolls" in (await follower.next_reply()).text
        await follower.send("/unfollow all")
        assert "Stopped following #1" in (await follower.next_reply()).text


async def test_retention_removes_old_fetched_articles_from_the_folder_and_the_index(telegram, tmp_path):
    import index
    from bot.uploads import save_article

    settings = make_settings(telegram, tmp_path, retention_days=30)
    text = " ".join(f"The old pier number {n} was repaired by the harbour board." for n in range(80))
    old = index.Article(id="old-story", title="Old harbour story", text=text, date=None, url=None,
                        source="Harbour Times")
    save_article(settings.articles_dir, "feeds/1", old, fetched=dt.datetime.now(dt.UTC) - dt.timedelta(days=40))
    async with running(settings) as app:
        changes = changes_of(app)
        assert any(a.id == "old-story" for a in services_of(app).library.index.newest_first)
        (job,) = app.job_queue.get_jobs_by_name("retention")
        await job.run(app)
        await served(changes, "old-story", removed=True)
        assert not (settings.articles_dir / "feeds" / "1" / "old-story.json").exists()
        assert (settings.articles_dir / next(p.name for p in SEEDS.iterdir())).exists()  # the admin's files stay
        await settle(app)  # the merge after the reindex
        # Issue 15, finding 3: its text leaves the disk too (the batch that held it is compacted).
        stored = b"".join(p.read_bytes() for p in settings.index_dir.glob("art-*/text.bin"))
        assert b"The old pier number 7" not in stored
        assert b"Haftar" in stored


class FeedCLI:
    """``await newsbot("poll")``: the command line in-process, with DATA_DIR, ARTICLES_DIR and INDEX_DIR under the
    test's folder and loopback addresses allowed (the test site); ``env`` and ``cwd`` serve a real process too."""

    def __init__(self, tmp_path, cli) -> None:
        self.cwd = tmp_path
        self.cli = cli
        self.env = {
            "ALLOW_PRIVATE_URLS": "1",
            "DATA_DIR": str(tmp_path / "data"),
            "ARTICLES_DIR": str(tmp_path / "articles"),
            "INDEX_DIR": str(tmp_path / "index"),
        }
        (tmp_path / "articles").mkdir(exist_ok=True)

    def __call__(self, *args: str):
        return asyncio.to_thread(self.cli, *args, cwd=self.cwd, env=self.env)

    def make_due(self, feed_id: int) -> None:
        """Make a feed due now, as resuming it does."""
        from bot.state import SQLiteState

        db = SQLiteState(self.cwd / "data" / "newsbot.sqlite3")
        db.feeds.pause(feed_id, False)
        db.close()


@pytest.fixture
def newsbot(tmp_path, cli) -> FeedCLI:
    return FeedCLI(tmp_path, cli)


async def test_the_cli_follows_polls_and_fetches(site, tmp_path, newsbot):
    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    site.serve("/news/vote.html", article_page(VOTE[0], VOTE[1]), content_type=HTML)
    run = newsbot
    result = await run("feeds", "add", site.url("/harbour.rss"), "--name", "Harbour Times")
    assert result.code == 0, result.stderr
    assert "Following feed #1 (Harbour Times): it lists 1 item, 1 new story." in result.stdout
    result = await run("ask", "How much will the harbour bridge toll rise to?")
    assert "three pounds in January" in result.stdout
    assert site.url("/news/tolls.html") in result.stdout
    result = await run("poll")
    assert "Polled 0 feeds" in result.stdout  # not due again before the interval
    result = await run("feeds", "list")
    assert f"#1\t{site.url('/harbour.rss')}\tHarbour Times\tread " in result.stdout
    result = await run("fetch", site.url("/news/vote.html"))
    assert result.code == 0, result.stderr
    assert "Added 'Council votes on harbour bridge tolls'" in result.stdout
    result = await run("ask", "How did the council vote on the harbour bridge toll?")
    assert "voted 31 to 12" in result.stdout
    result = await run("fetch", site.url("/private/page.html"))
    assert result.code == 2
    assert "robots.txt" in result.stderr
    result = await run("feeds", "remove", "1")
    assert "Stopped following feed #1" in result.stdout
    assert (await run("feeds", "remove", "1")).code == 2
    assert os.stat(tmp_path / "data" / "newsbot.sqlite3").st_mode & 0o077 == 0


async def test_the_cli_poll_says_how_many_items_it_kept_as_headlines_and_why(site, newsbot):
    site.serve("/hn.rss", rss([]), content_type=RSS)
    assert (await newsbot("feeds", "add", site.url("/hn.rss"))).code == 0
    site.status("/news/offline.html", 503)
    site.serve("/hn.rss", rss([{"guid": "urn:hn:1", "title": "Ask HN: who still runs a ferry?",
                                "link": site.url("/news/offline.html")}]), content_type=RSS)
    newsbot.make_due(1)
    result = await newsbot("poll")
    assert "Polled 1 feed: 1 new or changed story, 0 failed." in result.stdout
    assert "1 kept as headlines only (the page answered HTTP 503 Service Unavailable)" in result.stdout
    result = await newsbot("feeds", "list")
    assert "1 new; 1 kept as headlines only (the page answered HTTP 503" in result.stdout


def harbour_home(feed_href: str | None) -> bytes:
    """The site's home page: a web page, naming its feed the way feed readers discover it (when given)."""
    link = f'<link rel="alternate" type="application/rss+xml" href="{feed_href}">' if feed_href else ""
    return (f'<!doctype html><html><head><title>Harbour Times</title>{link}</head>'
            '<body><h1>Harbour Times</h1><p>All the news of the harbour.</p></body></html>').encode()


async def test_feeds_add_reads_the_url_once_follows_the_feed_a_page_names_and_refuses_the_rest(
    telegram, site, tmp_path
):
    settings = news_settings(telegram, tmp_path)
    publish(site, "/feeds/harbour.rss", [("tolls", *TOLLS)])
    site.serve("/", harbour_home("/feeds/harbour.rss"), content_type=HTML)
    site.serve("/about.html", harbour_home(None), content_type=HTML)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with running(settings):
        admin = Chat(telegram, chat_id=ADMIN, user_id=ADMIN)
        await admin.send(f"/feeds add {site.url('/')}")
        await admin.next_reply()
        followed = (await admin.next_reply()).text
        assert f"{site.url('/')} is a web page; following the feed it names, {site.url('/feeds/harbour.rss')}" in (
            followed
        )
        assert "Following feed #1 (Harbour Times): 1 new story" in followed

        for url, reason in (
            (site.url("/missing.rss"), "answered HTTP 404"),
            (f"http://127.0.0.1:{port}/feed.rss", "could not fetch"),
            (site.url("/about.html"), "is a web page that names no feed"),
            (site.url("/news/tolls.html"), "is a web page that names no feed"),
        ):
            await admin.send(f"/feeds add {url}")
            await admin.next_reply()
            refused = (await admin.next_reply()).text
            assert refused.startswith("I did not follow that:"), refused
            assert reason in refused
            assert ("/fetch" in refused) == ("web page" in reason)
        await admin.send(f"/feeds add {site.url('/feeds/harbour.rss')}")
        await admin.next_reply()
        assert "is followed already (feed #1)" in (await admin.next_reply()).text
        await admin.send("/feeds")
        listing = (await admin.next_reply()).text
        assert "#1 Harbour Times" in listing
        assert "#2" not in listing


async def test_the_cli_feeds_add_reads_the_url_once_and_refuses_what_is_not_a_feed(site, newsbot):
    publish(site, "/feeds/harbour.rss", [("tolls", *TOLLS)])
    site.serve("/", harbour_home("/feeds/harbour.rss"), content_type=HTML)
    site.serve("/about.html", harbour_home(None), content_type=HTML)
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    run = newsbot

    for url, reason in (
        (site.url("/missing.rss"), "answered HTTP 404 Not Found"),
        (f"http://127.0.0.1:{port}/feed.rss", f"could not fetch http://127.0.0.1:{port}/feed.rss"),
        (site.url("/about.html"), "is a web page that names no feed; to add the page's own article, run `newsbot"),
    ):
        result = await run("feeds", "add", url)
        assert result.code == 2, result.stdout
        assert f"did not follow {url}: " in result.stderr
        assert reason in result.stderr
    assert "No feeds are followed yet" in (await run("feeds", "list")).stdout
    result = await run("feeds", "add", site.url("/"))
    assert result.code == 0, result.stderr
    assert f"{site.url('/')} is a web page; following the feed it names, {site.url('/feeds/harbour.rss')}." in (
        result.stdout
    )
    assert "Following feed #1 (Harbour Times): it lists 1 item, 1 new story." in result.stdout
    assert "three pounds in January" in (await run("ask", "How much will the harbour bridge toll rise to?")).stdout
    result = await run("feeds", "add", site.url("/feeds/harbour.rss"))
    assert (result.code, result.stderr.strip()) == (
        2, f"newsbot: {site.url('/feeds/harbour.rss')} is followed already (feed #1)"
    )


async def test_stories_a_cli_poll_saved_but_could_not_index_are_indexed_by_the_next_poll(site, tmp_path, newsbot):
    from index.segments import SegmentedIndex

    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    run = newsbot
    assert (await run("feeds", "add", site.url("/harbour.rss"))).code == 0
    publish(site, "/harbour.rss", [("vote", *VOTE), ("tolls", *TOLLS)])
    newsbot.make_due(1)
    with SegmentedIndex.open(tmp_path / "index"):  # another writer (a running bot's reindex) holds the index
        result = await run("poll")
    assert result.code == 0, result.stderr
    assert "Polled 1 feed: 1 new or changed story, 0 failed." in result.stdout
    assert "the next `newsbot poll` indexes them" in result.stderr
    assert "Traceback" not in result.stderr

    result = await run("poll")  # no feed is due: what was saved is indexed all the same
    assert result.code == 0, result.stderr
    assert "Polled 0 feeds" in result.stdout
    assert "1 added" in result.stdout
    assert "voted 31 to 12" in (await run("ask", "How did the council vote on the bridge toll?")).stdout
    assert "added" not in (await run("poll")).stdout  # nothing left to index: no update, no line


async def test_the_cli_fetch_of_an_unchanged_page_says_so(site, newsbot):
    site.serve("/news/vote.html", article_page(VOTE[0], VOTE[1]), content_type=HTML)
    first = await newsbot("fetch", site.url("/news/vote.html"))
    assert first.stdout.startswith(f"Added 'Council votes on harbour bridge tolls' ({site.url('/news/vote.html')}).")
    again = await newsbot("fetch", site.url("/news/vote.html"))
    assert again.code == 0, again.stderr
    assert again.stdout == (
        f"Already added: 'Council votes on harbour bridge tolls' ({site.url('/news/vote.html')}) is unchanged.\n"
    )
    site.serve("/news/vote.html", article_page(VOTE[0], [*VOTE[1], "The vote was held again on Friday."]),
               content_type=HTML)
    edited = await newsbot("fetch", site.url("/news/vote.html"))
    assert edited.stdout.startswith("Updated 'Council votes on harbour bridge tolls'")
    assert "1 changed" in edited.stdout


async def test_the_cli_poll_prints_a_failure_once(site, tmp_path, newsbot):
    from .cli_harness import run_process

    site.serve("/harbour.rss", rss([]), content_type=RSS)
    assert (await newsbot("feeds", "add", site.url("/harbour.rss"))).code == 0
    site.status("/harbour.rss", 500)
    newsbot.make_due(1)
    result = await asyncio.to_thread(run_process, "poll", cwd=tmp_path, env=newsbot.env)  # its logging, as cron's
    assert result.returncode == 1  # every feed polled failed: cron mails
    output = result.stdout + result.stderr
    assert output.count("answered HTTP 500") == 1, output
    assert f"  feed #1 (Harbour Times): {site.url('/harbour.rss')} answered HTTP 500" in result.stdout


async def test_the_cli_poll_says_when_the_next_feed_is_due(site, newsbot):
    assert (await newsbot("poll")).stdout == "Polled 0 feeds: no feed is followed; `newsbot feeds add URL` adds one.\n"
    site.serve("/harbour.rss", rss([]), content_type=RSS)
    site.serve("/valley.rss", rss([], ttl=120), content_type=RSS)
    assert (await newsbot("feeds", "add", site.url("/harbour.rss"), "--name", "Harbour Times")).code == 0
    assert (await newsbot("feeds", "add", site.url("/valley.rss"), "--name", "Valley News")).code == 0
    result = await newsbot("poll")
    assert re.fullmatch(
        r"Polled 0 feeds: none is due; the next is #1 \(Harbour Times\) at \d{4}-\d\d-\d\d \d\d:\d\d UTC "
        r"\(in (29|30|31|32|33) min\)\.\n",
        result.stdout,
    ), result.stdout
    assert (await newsbot("feeds", "pause", "1")).stdout == "Paused feed #1.\n"
    result = await newsbot("poll")
    assert "the next is #2 (Valley News)" in result.stdout
    assert re.search(r"\(in 1[23]\d min\)", result.stdout), result.stdout  # its ttl of 120 min, plus jitter


async def test_the_cli_pauses_resumes_and_polls_every_feed_now(site, newsbot):
    publish(site, "/harbour.rss", [("tolls", *TOLLS)])
    site.serve("/valley.rss", rss([]), content_type=RSS)
    assert (await newsbot("feeds", "add", site.url("/harbour.rss"))).code == 0
    assert (await newsbot("feeds", "add", site.url("/valley.rss"))).code == 0
    reads = site.requests["/harbour.rss"], site.requests["/valley.rss"]
    result = await newsbot("poll", "--all")
    assert result.stdout.startswith("Polled 2 feeds: 0 new or changed stories, 0 failed.")
    assert (site.requests["/harbour.rss"], site.requests["/valley.rss"]) == (reads[0] + 1, reads[1] + 1)

    assert (await newsbot("feeds", "pause", "#2")).stdout == "Paused feed #2.\n"
    assert "\tpaused" in (await newsbot("feeds", "list")).stdout
    assert (await newsbot("poll", "--all")).stdout.startswith("Polled 1 feed:")  # a paused feed stays paused
    assert site.requests["/valley.rss"] == reads[1] + 1
    assert (await newsbot("feeds", "resume", "2")).stdout == "Resumed feed #2.\n"
    assert (await newsbot("poll")).stdout.startswith("Polled 1 feed:")  # resuming makes it due now
    assert site.requests["/valley.rss"] == reads[1] + 2
    result = await newsbot("feeds", "pause", "7")
    assert (result.code, result.stderr) == (2, "newsbot: there is no feed '7'; `newsbot feeds list` shows the ids\n")


def test_feed_settings_are_read_and_checked():
    from bot.config import load_settings

    settings = load_settings({"FEED_INTERVAL_MINUTES": "5", "RETENTION_DAYS": "30", "FOLLOW_MESSAGES_PER_HOUR": "2",
                              "ALLOW_PRIVATE_URLS": "1"})
    assert (settings.feed_interval, settings.retention_days, settings.follow_per_hour) == (300.0, 30, 2)
    assert settings.allow_private_urls
    with pytest.raises(Exception, match="FEED_INTERVAL_MINUTES"):
        load_settings({"FEED_INTERVAL_MINUTES": "0"})
    assert dataclasses.replace(settings, feed_interval=0.5).feed_interval == 0.5
