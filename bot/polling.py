"""Polling followed feeds, and fetching single pages: the network half of live news, Telegram-free.

One round (``poll``) visits every feed that is due (``index.polling.is_due``), as the good feed readers do: a
conditional GET with the ETag and Last-Modified it was given (a 304 costs nothing) and the feed parsed with
feedparser in a worker thread. What to fetch is then decided the ``reader`` library's way: one read of what the
database knows of the feed's items, a pure plan (``index.polling.plan_items``: new, changed, backlog, gone), the
pages fetched (robots.txt obeyed) and their articles extracted with trafilatura, the feed's own content standing
in when a page cannot be had, and one transaction that records it all. At most ``ITEMS_PER_POLL`` pages are
fetched per feed and round; the rest wait in the database, with the feed's own data, and are fetched on the
next rounds whatever the feed answers (a 304 included). Each article is saved as a JSON record under
``ARTICLES_DIR/feeds/<feed id>/`` (a changed item replaces its file), so the next incremental update indexes it.
Failures back off exponentially and, after ``max_failures`` in a row, disable the feed: the round reports it
once so the admins can be told.

``follow_feed`` adds a feed (``/feeds add`` and ``newsbot feeds add``) only after reading it once: a web page that
names its feed (``<link rel="alternate" type="application/rss+xml">``) gets that feed followed, as feed readers'
autodiscovery does; anything else is refused with the reason. That first read is the feed's first poll.
``fetch_page`` adds one page by URL (``/fetch`` and ``newsbot fetch``). The bot runs rounds from its JobQueue;
``newsbot poll`` runs one from cron.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import index
from bot.config import Settings
from bot.errors import AlreadyFollowed, NotAFeed
from bot.fetcher import PAGE_CONTENT_TYPES, Fetcher, FetchError, FetchResult, HTTPStatusError
from bot.state import AsyncState, Feed, PollRecord
from bot.uploads import save_article
from index.feeds import FeedItem, ParsedFeed, feed_links, parse_feed
from index.pages import extract_article
from index.polling import PollPolicy, after_failure, after_success, is_due, plan_items
from index.urls import canonical_url

__all__ = [
    "ITEMS_PER_POLL",
    "FeedPoll",
    "Followed",
    "Page",
    "PollReport",
    "fetch_page",
    "follow_feed",
    "open_fetcher",
    "policy_for",
    "poll",
]

log = logging.getLogger(__name__)

ITEMS_PER_POLL = 50  # pages fetched for one feed in one round; the rest wait for the next rounds


def policy_for(settings: Settings) -> PollPolicy:
    """The polling policy the settings ask for (FEED_INTERVAL_MINUTES, FEED_MAX_FAILURES)."""
    return PollPolicy(interval=dt.timedelta(seconds=settings.feed_interval), max_failures=settings.feed_max_failures)


def open_fetcher(settings: Settings) -> Fetcher:
    """The safe HTTP client for feeds and pages, as the settings configure it (enter it with ``async with``)."""
    return Fetcher(
        allow_private=settings.allow_private_urls, max_bytes=settings.fetch_max_bytes, timeout=settings.fetch_timeout
    )


@dataclass
class FeedPoll:
    """What a round did with one feed."""

    feed: Feed
    saved: list[str] = field(default_factory=list)  # ids of the articles saved (new or changed)
    problem: str = ""  # why the feed could not be read ("" when it was)
    disabled: bool = False  # this failure disabled it
    waiting: int = 0  # items left for the next rounds
    headlines: int = 0  # items kept as headlines only (among ``saved``)
    skipped: int = 0  # items that could not be kept at all
    note: str = ""  # how many were kept as headlines or skipped, and why, in one line


@dataclass
class PollReport:
    """What one round did."""

    polled: int = 0
    articles: list[str] = field(default_factory=list)  # ids of the articles saved (new or changed)
    failed: list[tuple[Feed, str]] = field(default_factory=list)
    disabled: list[Feed] = field(default_factory=list)  # feeds this round disabled (tell the admins once)
    feeds: list[FeedPoll] = field(default_factory=list)


async def poll(
    db: AsyncState,
    fetcher: Fetcher,
    articles_dir: Path,
    *,
    policy: PollPolicy,
    now: dt.datetime | None = None,
    feed_ids: set[int] | None = None,
    per_poll: int = ITEMS_PER_POLL,
) -> PollReport:
    """Poll every due, unpaused feed (or just ``feed_ids``, due or not) once; see the module docstring."""
    now = now or dt.datetime.now(dt.UTC)
    feeds = await db.feeds.every()
    report = PollReport()
    chosen = [
        f
        for f in feeds
        if (f.id in feed_ids if feed_ids is not None else not f.paused and is_due(f.state, now=now))
    ]
    # Different hosts in parallel; the fetcher keeps to a couple of connections per host.
    results = await asyncio.gather(*(_poll_one(db, fetcher, articles_dir, f, policy, now, per_poll) for f in chosen))
    for result in results:
        report.polled += 1
        report.feeds.append(result)
        report.articles.extend(result.saved)
        if result.problem:
            report.failed.append((result.feed, result.problem))
        if result.disabled:
            report.disabled.append(result.feed)
    return report


async def _poll_one(
    db: AsyncState, fetcher: Fetcher, articles_dir: Path, feed: Feed, policy: PollPolicy, now: dt.datetime,
    per_poll: int,
) -> FeedPoll:
    """Poll one feed: read it (a 304 reads nothing), then take what it lists."""
    try:
        response = await fetcher.fetch(
            feed.url, kind="feed", etag=feed.state.etag, last_modified=feed.state.last_modified
        )
    except FetchError as exc:
        return await _failed(db, feed, str(exc), exc, policy, now)
    parsed = None
    if not response.not_modified:
        parsed = await asyncio.to_thread(
            parse_feed, response.body, url=response.url, headers=response.headers, now=now
        )
        if parsed.problem and not parsed.items:
            return await _failed(db, feed, parsed.problem, None, policy, now)
    return await _take(db, fetcher, articles_dir, feed, response, parsed, policy, now, per_poll)


async def _take(
    db: AsyncState,
    fetcher: Fetcher,
    articles_dir: Path,
    feed: Feed,
    response: FetchResult,
    parsed: ParsedFeed | None,
    policy: PollPolicy,
    now: dt.datetime,
    per_poll: int,
) -> FeedPoll:
    """One read of what is known, the plan, the pages fetched, and one write of what was learnt."""
    # A 304 with no backlog has nothing to plan: the item table is not even read.
    known = {} if parsed is None and not feed.waiting else await db.feeds.known_items(feed.id)
    plan = plan_items(parsed.items if parsed is not None else None, known, per_poll=per_poll)
    items: dict[str, FeedItem] = {item.key: item for item in parsed.items} if parsed is not None else {}
    missing = [key for key in plan.fetch if key not in items]
    if missing:
        items.update(await db.feeds.waiting_items(feed.id, missing))
    source = feed.name or (parsed.title if parsed is not None else "") or feed.title or response.url
    fetched: dict[str, str | None] = {}
    saved: list[str] = []
    headlines: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    for key in plan.fetch:
        item = items.get(key)
        if item is None:  # its stored record could not be read back
            article, why = None, "the item as the feed gave it could not be read back from the database"
        else:
            article, why = await _article(fetcher, feed, item, source)
        if article is not None:
            kept = await asyncio.to_thread(save_article, articles_dir, f"feeds/{feed.id}", article, fetched=now)
            if kept.outcome != "unchanged":
                saved.append(article.id)
            if not article.text:
                headlines[why] += 1
        else:
            skipped[why] += 1
        fetched[key] = article.id if article is not None else None
    note = "; ".join(
        f"{sum(reasons.values())} {what} ({_reasons(reasons)})"
        for what, reasons in (("kept as headlines only", headlines), ("skipped", skipped))
        if reasons
    )
    if parsed is None:  # a 304: the validators sent stay unless the server gave new ones
        etag, last_modified = response.etag or feed.state.etag, response.last_modified or feed.state.last_modified
    else:
        etag, last_modified = response.etag, response.last_modified
    state = after_success(
        feed.state, now=now, headers=response.headers, etag=etag, last_modified=last_modified,
        ttl=parsed.ttl if parsed is not None else None, policy=policy, random=random.random,
    )
    await db.feeds.save_poll(feed.id, PollRecord(
        state, when=now, title=(parsed.title or None) if parsed is not None else None,
        new_items=len(saved), url=response.moved_to, plan=plan, fetched=fetched,
        headlines=headlines.total(), skipped=skipped.total(), note=note,
    ))
    return FeedPoll(
        feed, saved=saved, waiting=plan.waiting, headlines=headlines.total(), skipped=skipped.total(), note=note
    )


def _reasons(reasons: Counter[str]) -> str:
    """The commonest reason, and how many others there were."""
    (reason, _), *others = reasons.most_common()
    return reason + (f"; {len(others)} other reasons" if len(others) > 1 else f"; {others[0][0]}" if others else "")


async def _article(fetcher: Fetcher, feed: Feed, item: FeedItem, source: str) -> tuple[index.Article | None, str]:
    """The item's article: its page's, else the feed's own text, else its title alone (a headline); None when it
    has neither text nor title. The second value says why a headline is all there is, or why nothing is."""
    page, page_url, why = None, item.link or "", "no link to a page"
    if item.link:
        try:
            fetched = await fetcher.fetch(item.link, kind="page")
            page, page_url, why = fetched.body, fetched.url, "no article text on the page"
        except FetchError as exc:  # the feed's own text stands in
            log.debug("feed %d: page %s not fetched: %s", feed.id, item.link, exc)
            # Said of "the page", so that one cause shared by many items is counted as one reason.
            why = str(exc).replace(exc.url, "the page").replace(item.link, "the page")
    article = await asyncio.to_thread(extract_article, page, url=page_url, item=item, source=source)
    if article is None:
        return None, f"no title or text of their own, {why}"
    return article, "" if article.text else why


@dataclass(frozen=True)
class Followed:
    """A feed just followed: the feed, the page it was discovered from (None when given directly), how many items
    it lists, and what its first read took."""

    feed: Feed
    discovered_from: str | None
    items: int
    first: FeedPoll


async def follow_feed(
    db: AsyncState,
    fetcher: Fetcher,
    articles_dir: Path,
    url: str,
    name: str | None,
    *,
    policy: PollPolicy,
    now: dt.datetime | None = None,
    per_poll: int = ITEMS_PER_POLL,
) -> Followed:
    """Read ``url`` once and follow the feed it is, or the feed the web page it is names; that read is its first poll.

    Args:
        db, fetcher, articles_dir: where the feed is recorded, how it is fetched, where its stories are saved.
        url: an http(s) URL: a feed, or a page naming one in ``<link rel="alternate" type=...>``.
        name: what to call the feed (None: its own title).
        policy, now, per_poll: as for ``poll``.

    Returns:
        The feed followed and what its first read brought.

    Raises:
        AlreadyFollowed: the feed is followed already.
        NotAFeed: the URL answered with neither a feed nor a page naming one (``page`` says which it was).
        FetchError: the URL could not be fetched (the reason: unsafe, unreachable, HTTP 404, ...).
    """
    now = now or dt.datetime.now(dt.UTC)
    url = canonical_url(url)
    await _not_followed(db, url)
    response = await fetcher.fetch(url, kind="feed")
    parsed = await asyncio.to_thread(parse_feed, response.body, url=response.url, headers=response.headers, now=now)
    discovered_from = None
    if parsed.problem and not parsed.items:
        page = response.content_type in PAGE_CONTENT_TYPES or response.body.lstrip()[:15].lower().startswith(
            (b"<!doctype html", b"<html")
        )
        links = await asyncio.to_thread(feed_links, response.body, url=response.url) if page else []
        if not links:
            if page:
                raise NotAFeed(f"{url} is a web page that names no feed", page=True)
            raise NotAFeed(f"{url} is {parsed.problem}", page=False)
        discovered_from, url = url, canonical_url(links[0])
        await _not_followed(db, url)
        try:
            response = await fetcher.fetch(url, kind="feed")
        except FetchError as exc:
            raise NotAFeed(f"{discovered_from} names the feed {url}, but {exc}", page=True) from None
        parsed = await asyncio.to_thread(
            parse_feed, response.body, url=response.url, headers=response.headers, now=now
        )
        if parsed.problem and not parsed.items:
            raise NotAFeed(f"{discovered_from} names the feed {url}, but it is {parsed.problem}", page=True)
    feed = await db.feeds.add(canonical_url(response.moved_to or url), name, now=now)
    if feed is None:  # followed meanwhile, or under the address it moved to
        raise AlreadyFollowed(f"{url} is followed already", feed_id=0)
    first = await _take(db, fetcher, articles_dir, feed, response, parsed, policy, now, per_poll)
    feed = await db.feeds.get(feed.id) or feed
    return Followed(feed=feed, discovered_from=discovered_from, items=len(parsed.items), first=first)


async def _not_followed(db: AsyncState, url: str) -> None:
    followed = next((f for f in await db.feeds.every() if f.url == url), None)
    if followed is not None:
        raise AlreadyFollowed(f"{url} is followed already (feed #{followed.id})", feed_id=followed.id)


async def _failed(
    db: AsyncState, feed: Feed, reason: str, exc: FetchError | None, policy: PollPolicy, now: dt.datetime
) -> FeedPoll:
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    state = after_failure(
        feed.state, now=now, error=reason, status=status, retry_after=retry_after, policy=policy,
        random=random.random,
    )
    await db.feeds.save_poll(feed.id, PollRecord(state, when=now))
    log.info("feed %d (%s) failed (%d in a row): %s", feed.id, feed.url, state.failures, reason)
    return FeedPoll(
        feed, problem=reason, disabled=state.disabled and not feed.state.disabled, waiting=feed.waiting
    )


class Page(NamedTuple):
    """A page ``fetch_page`` added: its article, and whether it was ``"added"``, ``"replaced"`` (its text changed
    since it was last fetched) or ``"unchanged"``."""

    article: index.Article
    outcome: str


async def fetch_page(fetcher: Fetcher, articles_dir: Path, url: str, *, now: dt.datetime | None = None) -> Page:
    """Fetch one page, extract its article and save it under ``pages/`` (an unchanged article is left alone).

    Raises:
        FetchError: the page could not be fetched (unsafe URL, too large, refused by robots.txt, ...) or has
            no article text.
    """
    now = now or dt.datetime.now(dt.UTC)
    response = await fetcher.fetch(url, kind="page")
    article = await asyncio.to_thread(extract_article, response.body, url=response.url, item=None, source="")
    if article is None:
        raise FetchError(f"no article text found at {response.url}", url=response.url)
    saved = await asyncio.to_thread(save_article, articles_dir, "pages", article, fetched=now)
    return Page(article, saved.outcome)
