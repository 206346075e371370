"""Pages: turn a fetched web page, and the feed item that linked it, into an article.

Pure and synchronous, like ``index.feeds``: ``bot.fetcher`` gets the page's bytes, this module decides what they
hold::

    article = extract_article(page_html, url=page_url, item=item, source=parsed.title)   # -> Article | None

trafilatura finds the page's main text, title, date and canonical URL (its own fetchers are never used). A page
with too little text gives way to the feed item's own content, and an item with only a title is kept as a
headline. An article's id is a short hash of its canonical URL (``index.urls``), so the same page keeps its id
wherever it is linked from; a canonical URL on another host is not believed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from .feeds import FeedItem
from .ingest import clean_paragraphs
from .model import Article
from .urls import canonical_url, host_of, is_web_url

__all__ = ["extract_article"]


def _article_id(url: str) -> str:
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def _page_canonical(declared: str | None, fetched: str) -> str:
    """The page's own canonical URL when it stays on the fetched host, else the fetched URL.

    A page may claim any canonical URL; accepting another site's would let one feed replace another feed's
    articles (ids follow canonical URLs), so a claim for a different host is ignored.
    """
    if declared and is_web_url(declared) and host_of(declared) == host_of(fetched):
        return canonical_url(declared)
    return canonical_url(fetched)


def extract_article(
    page: bytes | str | None,
    *,
    url: str,
    item: FeedItem | None,
    source: str,
    min_chars: int = 200,
    min_item_chars: int = 40,
) -> Article | None:
    """Turn a fetched page (and the feed item that linked it) into an article.

    The page's main text, title, date and canonical URL come from trafilatura's ``bare_extraction`` (never its
    fetchers). When the page has less than ``min_chars`` of main text, or there is no page (it could not be
    fetched, or robots.txt forbids it), the feed item's own content is used if it has ``min_item_chars`` (a
    feed's summary is the story's own words, so a sentence is enough; a page's short text may be boilerplate).
    When neither has enough, an item with a title is kept as a headline: an article with no text, whose title is
    what gets quoted (as headline-only records are read).

    Args:
        page: the page's HTML, or None when it could not be had.
        url: the page's URL after redirects (else the item's link).
        item: the feed item that linked the page, or None for a page followed on its own.
        source: the feed's or site's name, shown as the article's source; the page's site name (else its
            host) when empty.
        min_chars: the least main text a page must have to be used.
        min_item_chars: the least text the feed item must have to stand in for the page.

    Returns:
        The article, its id a short hash of its canonical URL so that the same page keeps the same id; the
        feed's date (it carries a time) before the page's; its text "" for a headline; None when there is
        neither enough text nor an item with a title.
    """
    doc = _extract_page(page, url) if page else None
    page_text = _page_text(doc) if doc is not None else ""
    item_text = item.text if item is not None else ""
    if len(page_text) >= min_chars:
        text = page_text
    elif len(item_text) >= min_item_chars:
        text = item_text
    elif item is not None and item.title:
        text = ""  # a headline; the page's own title may be a placeholder ("Loading"), the feed's is the story's
    else:
        return None
    declared_url = doc.url if doc is not None else None
    link = url or (item.link if item is not None else "") or ""
    canonical = _page_canonical(declared_url, link) if link else None
    page_title = " ".join(doc.title.split()) if doc is not None and doc.title else ""
    title = (page_title if text else "") or (item.title if item is not None else "")
    date = item.published if item is not None and item.published else _page_date(doc)
    # Without any URL the item's key is what stays the same from poll to poll.
    article_id = _article_id(canonical or (item.key if item is not None else text))
    name = source.strip() or (doc.sitename if doc is not None and doc.sitename else "") or host_of(link)
    return Article(
        id=article_id,
        title=title or " ".join(text.split()[:12]),
        text=text,
        date=date,
        url=canonical,
        source=name,
    )


def _extract_page(page: bytes | str, url: str) -> Any:
    import trafilatura  # heavy import, only for pages

    # Bytes go in as they are: trafilatura reads the page's declared or detected encoding itself.
    return trafilatura.bare_extraction(
        page, url=url or None, with_metadata=True, include_comments=False, include_tables=False
    )


def _page_text(doc: Any) -> str:
    lines = [line for line in (doc.text or "").split("\n") if line.strip()]
    if doc.title and lines and lines[0].strip() == doc.title.strip():
        lines = lines[1:]
    return "\n\n".join(clean_paragraphs("\n\n".join(lines).split("\n")))


def _page_date(doc: Any) -> dt.datetime | None:
    if doc is None or not doc.date:
        return None
    try:
        day = dt.date.fromisoformat(str(doc.date)[:10])
    except ValueError:
        return None
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
