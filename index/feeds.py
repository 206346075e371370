"""Feeds: read RSS/Atom bytes into items, as the good feed readers read them, and find a page's feeds.

Everything here is pure and synchronous (no network, no clock of its own), so the bot runs it in a worker thread
and the tests drive it with fixed times. ``bot.fetcher`` gets the bytes; this module decides what they mean::

    parsed = parse_feed(body, url=feed_url, headers=response_headers)    # -> ParsedFeed
    for item in parsed.items: ...                                         # item.key, item.digest
    feed_links(page_html, url=page_url)                                   # the feeds a web page names

The encoding is decided as feed readers and browsers decide it (``decode_feed``), and item dates before 1970 or
after the fetch are not believed. Item identity (``FeedItem.key``) is the GUID or Atom id, else the link without
tracking parameters (``index.urls``), else a hash of title and text; ``FeedItem.digest`` changes when the title
or the text changes, so a known key with a new digest is an edited item whose article should be replaced.
``index.polling`` decides when to read a feed again and which items to fetch; ``index.pages`` makes the pages
they link to into articles.
"""

from __future__ import annotations

import calendar
import codecs
import contextlib
import datetime as dt
import hashlib
import html
import io
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin

from .ingest import BOMS, clean_paragraphs, decode_legacy
from .urls import canonical_url, is_web_url

__all__ = [
    "EARLIEST_DATE",
    "FeedItem",
    "ParsedFeed",
    "decode_feed",
    "feed_links",
    "html_to_text",
    "item_from_record",
    "item_record",
    "parse_feed",
]

_HTML_TYPES = ("text/html", "application/xhtml+xml")

# Minutes in one syndication-module update period (RSS 1.0 sy:updatePeriod), for feeds without <ttl>.
_SY_PERIOD_MINUTES = {"hourly": 60, "daily": 1440, "weekly": 10080, "monthly": 43200, "yearly": 525600}


class _TextCollector(HTMLParser):
    """Collects the visible text of an HTML fragment, a blank line at each block element."""

    _BLOCKS = frozenset(
        {
            *("address", "article", "aside", "blockquote", "dd", "div", "dl", "dt", "figcaption", "figure"),
            *("footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p"),
            *("pre", "section", "table", "tbody", "thead", "tfoot", "tr", "td", "th", "ul"),
        }
    )
    _HIDDEN = frozenset({"script", "style", "template", "noscript", "head", "title", "svg", "math"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            # Whitespace in HTML is not significant: runs of it (line breaks included) are one space.
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(fragment: str) -> str:
    """The visible text of an HTML fragment (a feed item's content), in paragraphs.

    Args:
        fragment: HTML such as ``<p>One</p><p>Two &amp; three</p>``; plain text passes through.

    Returns:
        Paragraphs separated by a blank line (``"One\\n\\nTwo & three"``), lines inside a paragraph kept
        (``<br>``), entities decoded, scripts and styles dropped; ``""`` when there is no text.
    """
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    lines = [line.strip() for line in "".join(collector.parts).replace("\xa0", " ").split("\n")]
    return "\n\n".join(clean_paragraphs(lines))


def _one_line(text: str) -> str:
    return " ".join(text.split())


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One entry of a feed, as the feed states it.

    ``key`` identifies the item across polls (``guid:...``, ``link:...`` or ``hash:...``); ``digest`` changes
    when its title or text changes. ``summary_html`` and ``content_html`` are HTML (plain-text fields escaped),
    sanitised by feedparser; ``published`` is an aware UTC datetime.
    """

    key: str
    guid: str | None
    link: str | None
    title: str
    published: dt.datetime | None
    summary_html: str
    content_html: str
    digest: str

    @property
    def text(self) -> str:
        """The item's own text: its content, else its summary, as plain paragraphs."""
        return html_to_text(self.content_html or self.summary_html)


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document: its title, site link, ``ttl`` in minutes, items, a ``problem`` when unreadable, and the
    encoding its bytes were read in (``decode_feed``)."""

    title: str
    link: str | None
    ttl: int | None
    items: tuple[FeedItem, ...]
    problem: str | None = None
    encoding: str = "utf-8"


def _detail_html(value: str, detail: Mapping[str, Any] | None) -> str:
    """feedparser's text constructs as HTML: plain-text ones escaped, HTML and XHTML ones as given."""
    kind = (detail or {}).get("type", "text/html")
    return value if kind in _HTML_TYPES else html.escape(value, quote=False)


def _entry_title(entry: Mapping[str, Any]) -> str:
    title = entry.get("title") or ""
    kind = (entry.get("title_detail") or {}).get("type", "text/plain")
    # RSS titles are declared HTML by feedparser, so "&amp;amp;" in the XML is the text "&".
    return _one_line(html_to_text(title) if kind in _HTML_TYPES else title)


# No feed item predates the web; 1 January 1970 (Unix time 0) is what a missing date often becomes.
EARLIEST_DATE = dt.datetime(1970, 1, 2, tzinfo=dt.UTC)


def _entry_published(entry: Mapping[str, Any], now: dt.datetime | None) -> dt.datetime | None:
    """The entry's date: published, else updated, else created; an impossible one is skipped, a future one is now."""
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        # dict.get, not FeedParserDict's: that one maps a missing "updated" to "published" with a warning.
        parsed = dict.get(entry, name) if isinstance(entry, dict) else entry.get(name)
        if parsed:
            try:
                when = dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
            except (OverflowError, ValueError, OSError):
                continue
            if when < EARLIEST_DATE:
                continue
            # A date ahead of the clock (a wrong time zone, "9999") would pin the story atop every "latest" list.
            return min(when, now) if now is not None else when
    return None


def _entry_content(entry: Mapping[str, Any]) -> str:
    blocks = [
        _detail_html(block.get("value") or "", block) for block in entry.get("content") or () if block.get("value")
    ]
    # Feeds that give several content blocks usually give the same text in several types: keep the longest.
    return max(blocks, key=len, default="")


def _hash(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def _item(entry: Mapping[str, Any], now: dt.datetime | None) -> FeedItem:
    guid = (entry.get("id") or "").strip() or None
    link = (entry.get("link") or "").strip() or None
    title = _entry_title(entry)
    summary_html = _detail_html(entry.get("summary") or "", entry.get("summary_detail"))
    content_html = _entry_content(entry)
    # Markup-only changes (a new tracking pixel, re-wrapped lines) do not make an item "changed".
    text_hash = _hash(title, html_to_text(content_html or summary_html))
    if guid:
        key = f"guid:{guid}"
    elif link:
        key = f"link:{canonical_url(link)}"
    else:
        key = f"hash:{text_hash}"
    return FeedItem(
        key=key,
        guid=guid,
        link=link,
        title=title,
        published=_entry_published(entry, now),
        summary_html=summary_html,
        content_html=content_html,
        digest=text_hash,
    )


def item_record(item: FeedItem) -> dict[str, Any]:
    """A feed item as plain JSON data, to keep it while it waits to be fetched (``item_from_record`` reads it)."""
    return {**asdict(item), "published": item.published.isoformat() if item.published else None}


def item_from_record(record: Mapping[str, Any]) -> FeedItem:
    """The feed item ``item_record`` made.

    Raises:
        TypeError, ValueError: the record is not one ``item_record`` made.
    """
    published = record.get("published")
    return FeedItem(**{**record, "published": dt.datetime.fromisoformat(published) if published else None})


def _lower_keys(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(name).lower(): str(value) for name, value in headers.items()}


_XML_DECLARATION = re.compile(r"\A\s*<\?xml\b[^>]*\?>")
_DECLARED_ENCODING = re.compile(rb"\A\s*<\?xml\b[^>]*?\bencoding\s*=\s*[\"']([A-Za-z][A-Za-z0-9._:-]*)[\"']")
# UTF-16 and UTF-32 without a byte-order mark, known by how "<?" comes out (XML 1.0, appendix F).
_UNICODE_STARTS = (
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00<\x00?", "utf-16-be"),
    (b"<\x00?\x00", "utf-16-le"),
)
# Labels that read any bytes and that servers put on UTF-8 by default; UTF-8 with non-ASCII text beats them.
_WESTERN_LABELS = frozenset({"ascii", "latin-1", "iso8859-1", "cp1252", "iso8859-15"})


def _codec(label: str | None) -> str | None:
    """Python's codec for an encoding label, or None when it names none (GB2312 is read as its superset)."""
    if not label:
        return None
    try:
        name = codecs.lookup(label).name
    except LookupError:
        return None
    return "gb18030" if name in ("gb2312", "gbk") else name


def decode_feed(body: bytes, *, content_type: str = "") -> tuple[str, str]:
    """The text of a feed's bytes, decoded as feed readers and browsers decide the encoding.

    In order: a byte-order mark; UTF-16 or UTF-32 known by its first characters; the charset of the HTTP
    ``Content-Type``; the XML declaration's ``encoding``; UTF-8; then detection (charset-normalizer, Windows-1252
    first, as article files are read). A stated encoding is used only if it reads the bytes without error, and a
    Western single-byte label (ISO-8859-1, Windows-1252, ASCII) is passed over when the bytes are UTF-8 with
    non-ASCII text: servers put such labels on UTF-8 by default. Bytes nothing reads are taken as UTF-8 with the
    bad bytes replaced.

    Args:
        body: the feed's bytes.
        content_type: the HTTP ``Content-Type`` value ("" when none).

    Returns:
        ``(text, encoding)``: the text (without a byte-order mark) and Python's name of the encoding used.
    """
    for bom, codec, _name in BOMS:
        if body.startswith(bom):
            return body.decode(codec, errors="replace").removeprefix("\ufeff"), codecs.lookup(codec).name
    for start, codec in _UNICODE_STARTS:
        if body.startswith(start):
            with contextlib.suppress(UnicodeDecodeError):
                return body.decode(codec), codec
    declared = _DECLARED_ENCODING.match(body)
    labels = (_charset(content_type), declared.group(1).decode("ascii") if declared else None)
    for codec in dict.fromkeys(c for c in map(_codec, labels) if c is not None):
        if codec in _WESTERN_LABELS and not body.isascii() and _is_utf8(body):
            continue
        with contextlib.suppress(UnicodeDecodeError):
            return body.decode(codec), codec
    if _is_utf8(body):
        return body.decode("utf-8"), "utf-8"
    legacy = decode_legacy(body)
    if legacy is not None:
        return legacy[0], _codec(legacy[1]) or legacy[1]
    return body.decode("utf-8", errors="replace"), "utf-8"


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _charset(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, or None."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip(" \"'"):
            return value.strip(" \"'")
    return None


def _feed_ttl(feed: Mapping[str, Any]) -> int | None:
    raw = str(feed.get("ttl") or "").strip()
    if raw.isdigit() and int(raw) > 0:
        return int(raw)
    period = _SY_PERIOD_MINUTES.get(str(feed.get("sy_updateperiod") or "").strip().lower())
    if period is None:
        return None
    frequency = str(feed.get("sy_updatefrequency") or "1").strip()
    return max(1, period // int(frequency)) if frequency.isdigit() and int(frequency) > 0 else period


def _problem(result: Mapping[str, Any]) -> str:
    exc = result.get("bozo_exception")
    if exc is None:
        return "the document is empty or is not an RSS, Atom or RDF feed"
    detail = getattr(exc, "getMessage", None)
    message = detail() if callable(detail) else str(exc)
    line = getattr(exc, "getLineNumber", None)
    where = f" at line {line()}" if callable(line) and line() else ""
    return _one_line(f"not a readable feed: {message}{where}")[:200]


def parse_feed(
    body: bytes, *, url: str, headers: Mapping[str, str], now: dt.datetime | None = None
) -> ParsedFeed:
    """Parse an RSS, Atom or RDF document with feedparser, without letting it fetch or open anything.

    Args:
        body: the response body, as received.
        url: the URL the body came from (after redirects); relative links resolve against it.
        headers: the response headers (any case); the charset of ``Content-Type`` is the first word on the
            encoding (``decode_feed``); its media type says nothing: the body decides whether it is a feed.
        now: the fetch time (aware): an item dated later is dated ``now``. Dates before 2 January 1970 are no
            date (the next of published, updated, created is tried). The poller always passes it.

    Returns:
        The feed. ``problem`` is one line when no item could be read from broken XML or a non-feed document;
        a well-formed feed with no items has no problem. Items repeating an earlier item's key are dropped
        (the first one wins: feeds list the newest first), and so are items with no id, link, title or text.
    """
    import feedparser  # heavy import, only when feeds are used

    response_headers = _lower_keys(headers)
    response_headers["content-location"] = url
    text, encoding = decode_feed(body, content_type=response_headers.get("content-type", ""))
    # feedparser gets UTF-8 that says so. Its own guess falls back to Windows-1252 for any undeclared legacy
    # encoding (EUC-JP became mojibake), and servers label feeds text/plain, application/octet-stream or text/html
    # as often as not, which it would flag as broken even when valid: the body decides, as feed readers let it.
    response_headers["content-type"] = "application/xml; charset=utf-8"
    utf8 = _XML_DECLARATION.sub('<?xml version="1.0" encoding="utf-8"?>', text, count=1).encode("utf-8")
    # A BytesIO, never the bytes themselves: feedparser treats a str or bytes argument as a URL or a file name.
    result = feedparser.parse(io.BytesIO(utf8), response_headers=response_headers)
    feed = result.get("feed") or {}
    title_value = feed.get("title") or ""
    title = _entry_title({"title": title_value, "title_detail": feed.get("title_detail")})
    items: list[FeedItem] = []
    seen: set[str] = set()
    for entry in result.get("entries") or ():
        item = _item(entry, now)
        if not (item.guid or item.link or item.title or item.text):
            continue  # an empty shell, as the loose parser makes of a cut-off <item>
        if item.key not in seen:
            seen.add(item.key)
            items.append(item)
    unreadable = not items and (result.get("bozo") or not result.get("version"))
    return ParsedFeed(
        title=title,
        link=(feed.get("link") or "").strip() or None,
        ttl=_feed_ttl(feed),
        items=tuple(items),
        problem=_problem(result) if unreadable else None,
        encoding=encoding,
    )


_FEED_LINK_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})


class _FeedLinks(HTMLParser):
    """Collects ``<link rel="alternate" type="application/rss+xml" href=...>`` and the page's ``<base href>``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name: (value or "").strip() for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        elif (
            tag == "link"
            and "alternate" in values.get("rel", "").lower().split()
            and values.get("type", "").lower().split(";")[0].strip() in _FEED_LINK_TYPES
            and values.get("href")
        ):
            self.hrefs.append(values["href"])

    handle_startendtag = handle_starttag


def feed_links(page: bytes, *, url: str) -> list[str]:
    """The feeds a web page names, as feed readers discover them (RSS/Atom autodiscovery).

    Args:
        page: the page's HTML.
        url: the page's URL after redirects; relative links resolve against it (or the page's ``<base>``).

    Returns:
        The absolute http(s) URLs of the ``<link rel="alternate">`` elements whose type is RSS, Atom or RDF, in
        the page's order, without repeats; empty when the page names none.
    """
    collector = _FeedLinks()
    # Only the head matters, and tag names and URLs are ASCII in practice: no encoding detection needed.
    collector.feed(page[:1_000_000].decode("utf-8", errors="replace"))
    collector.close()
    base = urljoin(url, collector.base) if collector.base else url
    found = [urljoin(base, href) for href in collector.hrefs]
    return list(dict.fromkeys(link for link in found if is_web_url(link)))
