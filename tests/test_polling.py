"""bot.polling without Telegram: rounds of polling against the test news site on 127.0.0.1, with a real database,
a real fetcher and real files, the clock passed in. Page GETs are counted on the server: every item's page is
fetched once, whatever the feed answers (a 304 included) and however long the feed is.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot import render
from bot.fetcher import Fetcher
from bot.polling import ITEMS_PER_POLL, poll
from bot.state import AsyncState, SQLiteState
from index.polling import PollPolicy

from .feed_server import HTML, RSS, article_page, rss

START = dt.datetime(2026, 11, 25, 8, 0, tzinfo=dt.UTC)
POLICY = PollPolicy(interval=dt.timedelta(minutes=30), jitter=0.0)


@pytest.fixture
async def db(tmp_path):
    async with await AsyncState.open(lambda: SQLiteState(tmp_path / "data" / "newsbot.sqlite3")) as state:
        yield state


@pytest.fixture
async def fetcher():
    async with Fetcher(allow_loopback=True, timeout=10) as client:
        yield client


def story(n: int) -> tuple[str, list[str]]:
    """Story ``n``: a title and three paragraphs, enough main text for trafilatura to keep the page's."""
    return (
        f"Harbour story number {n}",
        [
            f"Story number {n} tells how the harbour council voted on berth {n} after a long debate in the town hall.",
            "The mayor said the decision would stand for years to come and nobody should expect another vote soon.",
            "Opponents promised to keep campaigning and to raise the matter again at the next election in spring.",
        ],
    )


def page_path(n: int) -> str:
    return f"/news/{n}.html"


def serve_pages(site, numbers) -> None:
    for n in numbers:
        title, paragraphs = story(n)
        site.serve(page_path(n), article_page(title, paragraphs), content_type=HTML)


def serve_feed(site, path: str, numbers, **options) -> None:
    """A feed listing stories ``numbers`` in the order given (newest first, as feeds do)."""
    items = [{"guid": f"urn:story:{n}", "title": story(n)[0], "link": site.url(page_path(n))} for n in numbers]
    site.serve(path, rss(items, **options), content_type=RSS)


def page_gets(site, numbers) -> dict[int, int]:
    """How many times each story's page was requested."""
    return {n: site.requests[page_path(n)] for n in numbers}


async def rounds(db, fetcher, articles, count: int, *, start: dt.datetime, before=None) -> dt.datetime:
    """``count`` rounds, each when the feeds are due again (``before(round)`` runs first); returns the next time."""
    now = start
    for number in range(count):
        if before is not None:
            before(number)
        await poll(db, fetcher, articles, policy=POLICY, now=now)
        now += POLICY.interval
    return now


# --- Finding 6: a backlog, fetched whatever the feed answers ---------------------------------------------------


@pytest.mark.slow
async def test_a_3000_item_feed_is_fetched_in_full_although_the_feed_answers_304(site, db, fetcher, tmp_path):
    numbers = range(3000, 0, -1)
    serve_pages(site, numbers)
    serve_feed(site, "/big.rss", numbers)
    feed = await db.feeds.add(site.url("/big.rss"), None)
    articles = tmp_path / "articles"
    later = await rounds(db, fetcher, articles, 1, start=START)
    assert (await db.feeds.get(feed.id)).waiting == 3000 - ITEMS_PER_POLL
    assert f"{3000 - ITEMS_PER_POLL} waiting to be fetched" in render.feed_lines([await db.feeds.get(feed.id)], 1800)[1]
    await rounds(db, fetcher, articles, 3000 // ITEMS_PER_POLL + 1, start=later)
    assert (await db.feeds.get(feed.id)).waiting == 0
    gets = page_gets(site, numbers)
    assert sum(gets.values()) == 3000, f"{sum(gets.values())} pages fetched of 3000"
    assert set(gets.values()) == {1}, "a page fetched twice"
    assert len(list((articles / "feeds" / str(feed.id)).glob("*.json"))) == 3000
    conditional = [r for r in site.seen if r.path == "/big.rss"][1:]
    assert conditional
    assert all("if-none-match" in r.headers for r in conditional)  # the feed answered 304 after its first read
    # The newest stories came first: the first round fetched the top of the feed.
    first_round = [r.path for r in site.seen if r.path.startswith("/news/")][:ITEMS_PER_POLL]
    assert first_round == [page_path(n) for n in range(3000, 3000 - ITEMS_PER_POLL, -1)]


# --- Finding 7: remember what the feed still lists -------------------------------------------------------------


@pytest.mark.slow
async def test_a_feed_longer_than_1000_items_that_changes_every_poll_fetches_each_page_once(
    site, db, fetcher, tmp_path
):
    numbers = range(1050, 0, -1)
    serve_pages(site, numbers)
    await db.feeds.add(site.url("/long.rss"), None)

    def republish(number: int) -> None:  # a new lastBuildDate, a new ETag: never a 304
        serve_feed(site, "/long.rss", numbers, last_build_date=f"Wed, 25 Nov 2026 08:{number:02d}:00 GMT")

    await rounds(db, fetcher, tmp_path / "articles", 1050 // ITEMS_PER_POLL + 2, start=START, before=republish)
    gets = page_gets(site, numbers)
    assert sum(gets.values()) == 1050, f"{sum(gets.values())} page GETs for 1050 pages"
    assert set(gets.values()) == {1}


async def test_a_feed_that_changes_every_poll_gets_every_item_fetched_once(site, db, fetcher, tmp_path):
    """Each poll the feed lists 20 new stories on top and drops its 20 oldest, some before they were fetched."""
    window, step, changes = 100, 20, 12
    newest = window + step * (changes - 1)
    serve_pages(site, range(1, newest + 1))
    feed = await db.feeds.add(site.url("/busy.rss"), None)

    def republish(number: int) -> None:
        if number < changes:
            top = window + step * number
            serve_feed(site, "/busy.rss", range(top, top - window, -1))

    await rounds(db, fetcher, tmp_path / "articles", changes + 6, start=START, before=republish)
    gets = page_gets(site, range(1, newest + 1))
    assert set(gets.values()) == {1}, {n: c for n, c in gets.items() if c != 1}
    assert (await db.feeds.get(feed.id)).waiting == 0
    assert len(list((tmp_path / "articles" / "feeds" / str(feed.id)).glob("*.json"))) == newest


# --- Finding 9: the body decides, not the label ----------------------------------------------------------------


@pytest.mark.parametrize("content_type", ["text/plain; charset=utf-8", "application/octet-stream"])
async def test_a_valid_feed_served_as_plain_text_or_bytes_is_followed(site, db, fetcher, tmp_path, content_type):
    serve_pages(site, [1, 2])
    items = [{"guid": f"urn:story:{n}", "title": story(n)[0], "link": site.url(page_path(n))} for n in (2, 1)]
    site.serve("/plain.rss", rss(items), content_type=content_type)
    feed = await db.feeds.add(site.url("/plain.rss"), None)
    report = await poll(db, fetcher, tmp_path / "articles", policy=POLICY, now=START)
    assert (report.failed, len(report.articles)) == ([], 2)
    assert (await db.feeds.get(feed.id)).state.failures == 0


# --- Finding 13: feed dates are checked ------------------------------------------------------------------------


async def test_a_story_dated_in_year_9999_is_dated_when_it_was_fetched_and_year_1_is_no_date(
    site, db, fetcher, tmp_path
):
    import json

    serve_pages(site, [1, 2])
    items = [
        {"guid": "urn:story:2", "title": story(2)[0], "link": site.url(page_path(2)), "pubDate": "9" * 5000},
        {"guid": "urn:story:1", "title": story(1)[0], "link": site.url(page_path(1)),
         "pubDate": "Mon, 01 Jan 0001 +1400"},
    ]
    site.serve("/dated.rss", rss(items), content_type=RSS)
    await db.feeds.add(site.url("/dated.rss"), None)
    await poll(db, fetcher, tmp_path / "articles", policy=POLICY, now=START)
    dates = {
        record["title"]: record["date"]
        for record in (json.loads(p.read_text()) for p in (tmp_path / "articles" / "feeds").rglob("*.json"))
    }
    assert dates == {story(2)[0]: START.isoformat(), story(1)[0]: None}


# --- Finding 12: headlines kept, skips counted and explained ----------------------------------------------------


async def test_items_whose_pages_cannot_be_had_are_kept_as_headlines_and_skips_are_explained(
    site, db, fetcher, tmp_path
):
    import json

    from bot import render

    for n in (1, 2):
        site.status(page_path(n), 503)
    items = [
        {"guid": "urn:hn:2", "title": "Show HN: a harbour tide table in 200 lines", "link": site.url(page_path(2))},
        {"guid": "urn:hn:1", "title": "Ask HN: who still runs a ferry?", "link": site.url(page_path(1))},
        {"guid": "urn:hn:0", "link": site.url(page_path(1))},  # neither title nor text: nothing to keep
    ]
    site.serve("/hn.rss", rss(items), content_type=RSS)
    feed = await db.feeds.add(site.url("/hn.rss"), "Hacker News")
    report = await poll(db, fetcher, tmp_path / "articles", policy=POLICY, now=START)
    records = [json.loads(p.read_text()) for p in (tmp_path / "articles" / "feeds").rglob("*.json")]
    assert sorted((r["title"], r["text"]) for r in records) == [
        ("Ask HN: who still runs a ferry?", ""),  # a headline record: its title is what gets quoted
        ("Show HN: a harbour tide table in 200 lines", ""),
    ]
    (result,) = report.feeds
    assert (len(result.saved), result.headlines, result.skipped) == (2, 2, 1)
    assert result.note == (
        "2 kept as headlines only (the page answered HTTP 503 Service Unavailable); "
        "1 skipped (no title or text of their own, the page answered HTTP 503 Service Unavailable)"
    )
    stored = await db.feeds.get(feed.id)
    assert (stored.last_new, stored.last_headlines, stored.last_skipped) == (2, 2, 1)
    (_, line) = render.feed_lines([stored], 1800)
    assert "2 kept as headlines only" in line
    assert "1 skipped" in line
    assert "HTTP 503" in line


# --- Finding 15: one batched read, one batched write -----------------------------------------------------------


async def _statements_of_one_poll(site, tmp_path, fetcher, count: int) -> list[str]:
    """The SQL statements one first poll of a ``count``-item feed makes (executemany shows one per row)."""
    numbers = range(count, 0, -1)
    serve_pages(site, numbers)
    serve_feed(site, f"/feed-{count}.rss", numbers)
    store = SQLiteState(tmp_path / f"db-{count}" / "newsbot.sqlite3")
    try:
        store.feeds.add(site.url(f"/feed-{count}.rss"), None)
        statements: list[str] = []
        store.engine.connection.set_trace_callback(statements.append)  # observed, not replaced: the real connection
        async with AsyncState(store) as state:
            report = await poll(state, fetcher, tmp_path / f"articles-{count}", policy=POLICY, now=START)
        store.engine.connection.set_trace_callback(None)
    finally:
        store.close()
    assert len(report.articles) == count
    return statements


async def test_a_poll_reads_the_feeds_items_once_and_writes_them_in_one_transaction(site, tmp_path, fetcher):
    small = await _statements_of_one_poll(site, tmp_path, fetcher, 5)
    large = await _statements_of_one_poll(site, tmp_path, fetcher, 40)

    def starting(statements, word):
        return [n for n, s in enumerate(statements) if s.lstrip().upper().startswith(word)]

    assert len(starting(small, "SELECT")) == len(starting(large, "SELECT")), "reads grow with the number of items"
    for statements in (small, large):
        reads = starting(statements, "SELECT")
        writes = [n for n, s in enumerate(statements) if "feed_items" in s and n not in reads]
        begins, commits = starting(statements, "BEGIN"), starting(statements, "COMMIT")
        assert len(begins) == len(commits) == 1, "the poll's writes are not one transaction"
        assert writes
        assert all(begins[0] < n < commits[0] for n in writes)
