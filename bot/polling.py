"""Polling followed feeds, and fetching single pages: the network half of live news, Telegram-free.

One round (``poll``) visits every feed that is due (``index.feeds.is_due``), as the good feed readers do: a
conditional GET with the ETag and Last-Modified it was given (a 304 costs nothing), the feed parsed with
feedparser in a worker thread, and for each item not seen before, or whose content changed, its page fetched
(robots.txt obeyed) and its article extracted with trafilatura, the feed's own content standing in when the page
cannot be had. Each article is saved as a JSON record under ``ARTICLES_DIR/feeds/<feed id>/`` (a changed item
replaces its file), so the next incremental update indexes it. Failures back off exponentially and, after
``max_failures`` in a row, disable the feed: the round reports it once so the admins can be told.

``fetch_page`` adds one page by URL (``/fetch`` and ``newsbot fetch``). The bot runs rounds from its JobQueue;
``newsbot poll`` runs one from cron.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from dataclasses import dataclass, field
from pathlib import Path

import index
from bot.config import Settings
from bot.database import Database, Feed
from bot.fetcher import Fetcher, FetchError, HTTPStatusError
from bot.uploads import save_article
from index.feeds import PollPolicy, after_failure, after_success, extract_article, is_due, parse_feed

__all__ = ["ITEMS_PER_POLL", "PollReport", "fetch_page", "open_fetcher", "policy_for", "poll"]

log = logging.getLogger(__name__)

ITEMS_PER_POLL = 50  # new items fetched from one feed in one round; the rest wait for the next round


def policy_for(settings: Settings) -> PollPolicy:
    """The polling policy the settings ask for (FEED_INTERVAL_MINUTES, FEED_MAX_FAILURES)."""
    return PollPolicy(interval=dt.timedelta(seconds=settings.feed_interval), max_failures=settings.feed_max_failures)


def open_fetcher(settings: Settings) -> Fetcher:
    """The safe HTTP client for feeds and pages, as the settings configure it (enter it with ``async with``)."""
    return Fetcher(
        allow_private=settings.allow_private_urls, max_bytes=settings.fetch_max_bytes, timeout=settings.fetch_timeout
    )


@dataclass
class PollReport:
    """What one round did."""

    polled: int = 0
    articles: list[str] = field(default_factory=list)  # ids of the articles saved (new or changed)
    failed: list[tuple[Feed, str]] = field(default_factory=list)
    disabled: list[Feed] = field(default_factory=list)  # feeds this round disabled (tell the admins once)


async def poll(
    db: Database,
    fetcher: Fetcher,
    articles_dir: Path,
    *,
    policy: PollPolicy,
    now: dt.datetime | None = None,
    feed_ids: set[int] | None = None,
) -> PollReport:
    """Poll every due, unpaused feed (or just ``feed_ids``, due or not) once; see the module docstring."""
    now = now or dt.datetime.now(dt.UTC)
    feeds = await asyncio.to_thread(db.feeds)
    report = PollReport()
    chosen = [
        f
        for f in feeds
        if (f.id in feed_ids if feed_ids is not None else not f.paused and is_due(f.state, now=now))
    ]
    # Different hosts in parallel; the fetcher keeps to a couple of connections per host.
    results = await asyncio.gather(*(_poll_one(db, fetcher, articles_dir, f, policy, now) for f in chosen))
    for feed, (saved, problem, disabled) in zip(chosen, results, strict=True):
        report.polled += 1
        report.articles.extend(saved)
        if problem:
            report.failed.append((feed, problem))
        if disabled:
            report.disabled.append(feed)
    return report


async def _poll_one(
    db: Database, fetcher: Fetcher, articles_dir: Path, feed: Feed, policy: PollPolicy, now: dt.datetime
) -> tuple[list[str], str, bool]:
    """Poll one feed: ``(article ids saved, the failure's reason or "", disabled by this failure)``."""
    try:
        response = await fetcher.fetch(
            feed.url, kind="feed", etag=feed.state.etag, last_modified=feed.state.last_modified
        )
    except FetchError as exc:
        return [], str(exc), await _failed(db, feed, str(exc), exc, policy, now)
    if response.not_modified:
        state = after_success(
            feed.state, now=now, headers=response.headers, etag=response.etag or feed.state.etag,
            last_modified=response.last_modified or feed.state.last_modified, policy=policy, random=random.random,
        )
        await asyncio.to_thread(db.save_poll, feed.id, state, when=now, new_items=0, url=response.moved_to)
        return [], "", False
    parsed = await asyncio.to_thread(parse_feed, response.body, url=response.url, headers=response.headers)
    if parsed.problem and not parsed.items:
        return [], parsed.problem, await _failed(db, feed, parsed.problem, None, policy, now)
    saved: list[str] = []
    source = feed.name or parsed.title or response.url
    fresh = []
    for item in parsed.items:
        if await asyncio.to_thread(db.item_digest, feed.id, item.key) != item.digest:
            fresh.append(item)
    for item in fresh[:ITEMS_PER_POLL]:
        page, page_url = None, item.link or ""
        if item.link:
            try:
                fetched = await fetcher.fetch(item.link, kind="page")
                page, page_url = fetched.body, fetched.url
            except FetchError as exc:  # the feed's own text stands in
                log.info("feed %d: page %s not fetched: %s", feed.id, item.link, exc)
        article = await asyncio.to_thread(extract_article, page, url=page_url, item=item, source=source)
        if article is not None:
            await asyncio.to_thread(save_article, articles_dir, f"feeds/{feed.id}", article, fetched=now)
            saved.append(article.id)
        await asyncio.to_thread(
            db.remember_item, feed.id, item.key, item.digest, article.id if article else None, now=now
        )
    state = after_success(
        feed.state, now=now, headers=response.headers, etag=response.etag, last_modified=response.last_modified,
        ttl=parsed.ttl, policy=policy, random=random.random,
    )
    await asyncio.to_thread(
        db.save_poll, feed.id, state, when=now, title=parsed.title or None, new_items=len(saved),
        url=response.moved_to,
    )
    return saved, "", False


async def _failed(
    db: Database, feed: Feed, reason: str, exc: FetchError | None, policy: PollPolicy, now: dt.datetime
) -> bool:
    status = exc.status if isinstance(exc, HTTPStatusError) else None
    retry_after = exc.retry_after if isinstance(exc, HTTPStatusError) else None
    state = after_failure(
        feed.state, now=now, error=reason, status=status, retry_after=retry_after, policy=policy,
        random=random.random,
    )
    await asyncio.to_thread(db.save_poll, feed.id, state, when=now)
    log.info("feed %d (%s) failed (%d in a row): %s", feed.id, feed.url, state.failures, reason)
    return state.disabled and not feed.state.disabled


async def fetch_page(
    fetcher: Fetcher, articles_dir: Path, url: str, *, now: dt.datetime | None = None
) -> index.Article:
    """Fetch one page, extract its article and save it under ``pages/``.

    Raises:
        FetchError: the page could not be fetched (unsafe URL, too large, refused by robots.txt, ...) or has
            no article text.
    """
    now = now or dt.datetime.now(dt.UTC)
    response = await fetcher.fetch(url, kind="page")
    article = await asyncio.to_thread(extract_article, response.body, url=response.url, item=None, source="")
    if article is None:
        raise FetchError(f"no article text found at {response.url}", url=response.url)
    await asyncio.to_thread(save_article, articles_dir, "pages", article, fetched=now)
    return article
