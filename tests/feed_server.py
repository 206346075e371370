"""A real HTTP server on 127.0.0.1 for the feed and fetcher tests, whose content a test changes between polls.

``site = FeedSite(); server = await start_server(site)`` then ``site.url("/rss")``. Every path is a route the
test sets: ``site.serve(path, body, content_type=...)`` (with ETag and Last-Modified, answering 304 to
conditional requests; serving new content changes both), ``site.status(path, 503, headers=...)``,
``site.redirect(path, location)``, ``site.stall(path)`` (waits on ``site.release``, which only the fixture's
teardown sets, so the client's deadline is what ends it), ``site.hold(path)`` (waits on ``site.release`` and
counts requests in flight per host), ``site.huge(path, size, ...)`` (a body generated as it streams, with or
without Content-Length, optionally gzip-encoded), ``site.endless(path)``, and ``site.lying_length(path, ...)``.
A robots.txt disallowing ``/private/`` is served unless a test replaces it. ``site.requests[path]`` counts
requests, ``site.seen`` keeps each request's headers, and ``await site.wait_until(predicate)`` waits for an
event on the server (a request arriving), never for the clock.

Also: builders for RSS 2.0 and Atom documents and for article pages with and without main text, and an HTTPS
server whose self-signed certificate no client trusts (to show TLS verification is on).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import email.utils
import gzip
import hashlib
import html
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import tornado.httpserver
import tornado.iostream
import tornado.netutil
import tornado.web

RSS = "application/rss+xml; charset=utf-8"
ATOM = "application/atom+xml; charset=utf-8"
HTML = "text/html; charset=utf-8"
ROBOTS = "User-agent: *\nDisallow: /private/\n"
_CHUNK = b"<!-- padding -->" * 4096  # 64 KiB
_EPOCH = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)

# A self-signed certificate for localhost and 127.0.0.1, made for these tests only and trusted by nothing.
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUJYpDN/4kbcxvfDujvgkRzR8SSZgwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNTE4NTEzN1oYDzIxMjYxMTAx
MTg1MTM3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARb9OUIIYEZWieub+p9r1Pvff3BKlGFCLXqBXgqPS/LAhduO9e1/BFs
0GhltZJxjVFf1PNYsNsuc/KpzgjXvL98o28wbTAdBgNVHQ4EFgQUYWKoCuJhLFcu
ujIYjLJ+HLmKeV0wHwYDVR0jBBgwFoAUYWKoCuJhLFcuujIYjLJ+HLmKeV0wDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgJYrMJ0LJDeyEO6Hv99sDjRaHHmyTdmTVeN7JltYe8JcCIHxK
lezzxTb4W04IDxHFqk7PC0vNsIzMLYTgg2A5AMS8
-----END CERTIFICATE-----
"""
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgvAdGIbhvqfAhZs2a
UsKYUSiv1TGoUm2N4CV33F0H1XehRANCAARb9OUIIYEZWieub+p9r1Pvff3BKlGF
CLXqBXgqPS/LAhduO9e1/BFs0GhltZJxjVFf1PNYsNsuc/KpzgjXvL98
-----END PRIVATE KEY-----
"""


# --- Documents -------------------------------------------------------------------------------------------------


def _text(value: object) -> str:
    return html.escape(str(value), quote=False)


def rss(
    items: list[dict[str, str]],
    *,
    title: str = "Harbour Times",
    link: str = "",
    ttl: int | None = None,
    last_build_date: str | None = None,
) -> bytes:
    """An RSS 2.0 document; each item's keys are element names (``content`` becomes ``content:encoded``).

    Values are escaped as XML text, so ``"description": "<p>Hi</p>"`` carries HTML as RSS does. A new
    ``last_build_date`` makes a new document (and a new ETag) with the same items, as many CMSs do on every request.
    """
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel>',
        f"<title>{_text(title)}</title><link>{_text(link)}</link><description>News</description>",
    ]
    if ttl is not None:
        parts.append(f"<ttl>{ttl}</ttl>")
    if last_build_date is not None:
        parts.append(f"<lastBuildDate>{_text(last_build_date)}</lastBuildDate>")
    for item in items:
        parts.append("<item>")
        for name, value in item.items():
            if name == "guid_not_permalink":
                parts.append(f'<guid isPermaLink="false">{_text(value)}</guid>')
            else:
                tag = "content:encoded" if name == "content" else name
                parts.append(f"<{tag}>{_text(value)}</{tag}>")
        parts.append("</item>")
    parts.append("</channel></rss>")
    return "\n".join(parts).encode("utf-8")


def atom(entries: list[dict[str, str]], *, title: str = "Harbour Times", link: str = "") -> bytes:
    """An Atom 1.0 document; entry keys: ``id``, ``title``, ``link``, ``updated``, ``published``, ``summary``,
    ``content`` (HTML, escaped as ``type="html"``)."""
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        f'<title>{_text(title)}</title><link href="{html.escape(link)}"/><id>urn:test:feed</id>',
        "<updated>2024-03-05T10:00:00Z</updated>",
    ]
    for entry in entries:
        parts.append("<entry>")
        for name, value in entry.items():
            if name == "link":
                parts.append(f'<link rel="alternate" href="{html.escape(value)}"/>')
            elif name in ("summary", "content"):
                parts.append(f'<{name} type="html">{_text(value)}</{name}>')
            else:
                parts.append(f"<{name}>{_text(value)}</{name}>")
        parts.append("</entry>")
    parts.append("</feed>")
    return "\n".join(parts).encode("utf-8")


def article_page(
    title: str, paragraphs: list[str], *, canonical: str | None = None, published: str | None = None
) -> bytes:
    """A news page with navigation, an article of ``paragraphs`` and a footer, as a CMS would render it."""
    head = [
        f"<title>{_text(title)} | Harbour Times</title>",
        f'<meta property="og:title" content="{html.escape(title)}">',
    ]
    if canonical:
        head.append(f'<link rel="canonical" href="{html.escape(canonical)}">')
    if published:
        head.append(f'<meta property="article:published_time" content="{html.escape(published)}">')
    body = "".join(f"<p>{_text(p)}</p>" for p in paragraphs)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">' + "".join(head) + "</head><body>"
        '<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>'
        f"<main><article><h1>{_text(title)}</h1>{body}</article></main>"
        "<footer><p>Copyright Harbour Times. All rights reserved.</p></footer></body></html>"
    ).encode()


EMPTY_PAGE = (
    b'<!doctype html><html><head><meta charset="utf-8"><title>Loading</title></head>'
    b'<body><div id="app"></div><script>window.render()</script></body></html>'
)


# --- Routes ----------------------------------------------------------------------------------------------------


@dataclass
class Static:
    body: bytes
    content_type: str
    headers: dict[str, str]
    etag: str | None
    last_modified: str | None


@dataclass
class Status:
    code: int
    headers: dict[str, str]


@dataclass
class Redirect:
    location: str
    code: int


@dataclass
class Stall:
    """Sends nothing until ``site.release`` is set."""


@dataclass
class Hold:
    """Answers ``body`` once ``site.release`` is set, counting requests in flight meanwhile."""

    body: bytes
    content_type: str


@dataclass
class Huge:
    size: int
    content_type: str
    content_length: bool
    gzipped: bool


@dataclass
class Endless:
    content_type: str


@dataclass
class LyingLength:
    declared: int
    actual: int
    content_type: str


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it."""

    path: str
    host: str
    headers: dict[str, str]


@dataclass
class FeedSite:
    """The server's routes and what it has seen; tests change routes between polls."""

    routes: dict[str, object] = field(default_factory=dict)
    requests: collections.Counter[str] = field(default_factory=collections.Counter)
    seen: list[SeenRequest] = field(default_factory=list)
    in_flight: collections.Counter[str] = field(default_factory=collections.Counter)
    max_in_flight: collections.Counter[str] = field(default_factory=collections.Counter)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    base_url: str = ""
    port: int = 0
    _versions: int = 0
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.serve("/robots.txt", ROBOTS.encode(), content_type="text/plain")

    def url(self, path: str, *, host: str = "127.0.0.1") -> str:
        """The absolute URL of ``path`` on this server (``host`` may be a name a test resolver maps here)."""
        scheme = self.base_url.split(":", 1)[0] or "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes,
        *,
        content_type: str,
        headers: dict[str, str] | None = None,
        validators: bool = True,
    ) -> None:
        """Serve ``body``; with ``validators``, a new ETag and a later Last-Modified each time it is set."""
        self._versions += 1
        etag = f'"{hashlib.sha1(body).hexdigest()[:16]}"' if validators else None
        modified = email.utils.format_datetime(_EPOCH + dt.timedelta(minutes=self._versions), usegmt=True)
        self.routes[path] = Static(body, content_type, dict(headers or {}), etag, modified if validators else None)

    def status(self, path: str, code: int, *, headers: dict[str, str] | None = None) -> None:
        self.routes[path] = Status(code, dict(headers or {}))

    def redirect(self, path: str, location: str, *, code: int = 302) -> None:
        self.routes[path] = Redirect(location, code)

    def stall(self, path: str) -> None:
        self.routes[path] = Stall()

    def hold(self, path: str, body: bytes, *, content_type: str) -> None:
        self.routes[path] = Hold(body, content_type)

    def huge(
        self, path: str, size: int, *, content_type: str = RSS, content_length: bool = True, gzipped: bool = False
    ) -> None:
        self.routes[path] = Huge(size, content_type, content_length, gzipped)

    def endless(self, path: str, *, content_type: str = RSS) -> None:
        self.routes[path] = Endless(content_type)

    def lying_length(self, path: str, *, declared: int, actual: int, content_type: str = RSS) -> None:
        self.routes[path] = LyingLength(declared, actual, content_type)

    def paths_seen(self) -> list[str]:
        return [r.path for r in self.seen]

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], *, limit: float = 30.0) -> None:
        """Wait until ``predicate()`` holds after some request event; ``limit`` only guards against a hang."""
        async with asyncio.timeout(limit):
            while not predicate():
                await self._changed.wait()


_GZIP_CACHE: dict[int, bytes] = {}


def _gzipped_zeros(size: int) -> bytes:
    if size not in _GZIP_CACHE:
        _GZIP_CACHE[size] = gzip.compress(bytes(size), compresslevel=1)
    return _GZIP_CACHE[size]


class _Handler(tornado.web.RequestHandler):
    def initialize(self, site: FeedSite) -> None:
        self.site = site

    def compute_etag(self) -> str | None:
        return None  # validators are the route's own, not tornado's automatic ones

    async def get(self) -> None:
        site = self.site
        path = self.request.path
        site.requests[path] += 1
        site.seen.append(SeenRequest(path, self.request.host, {k.lower(): v for k, v in self.request.headers.items()}))
        site.notify()
        route = site.routes.get(path)
        if route is None:
            self.set_status(404)
            self.set_header("Content-Type", "text/plain")
            self.write(b"not found")
        elif isinstance(route, Static):
            self._static(route)
        elif isinstance(route, Status):
            self.set_status(route.code)
            for name, value in route.headers.items():
                self.set_header(name, value)
            self.set_header("Content-Type", "text/plain")
            self.write(f"HTTP {route.code}".encode())
        elif isinstance(route, Redirect):
            self.set_status(route.code)
            self.set_header("Location", route.location)
        elif isinstance(route, Stall):
            await site.release.wait()
        elif isinstance(route, Hold):
            await self._hold(route)
        elif isinstance(route, Huge):
            await self._huge(route)
        elif isinstance(route, Endless):
            self.set_header("Content-Type", route.content_type)
            while await self._send(_CHUNK):
                pass
        elif isinstance(route, LyingLength):
            await self._lying(route)

    def _static(self, route: Static) -> None:
        if route.etag:
            self.set_header("ETag", route.etag)
        if route.last_modified:
            self.set_header("Last-Modified", route.last_modified)
        for name, value in route.headers.items():
            self.set_header(name, value)
        if self._not_modified(route):
            self.set_status(304)
            return
        if route.content_type:
            self.set_header("Content-Type", route.content_type)
        else:  # a server that states no type at all
            self.clear_header("Content-Type")
        self.write(route.body)

    def _not_modified(self, route: Static) -> bool:
        if_none_match = self.request.headers.get("If-None-Match")
        if if_none_match is not None:  # RFC 9110: it takes precedence over If-Modified-Since
            return route.etag is not None and route.etag in [t.strip() for t in if_none_match.split(",")]
        since = self.request.headers.get("If-Modified-Since")
        if since and route.last_modified:
            return email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(route.last_modified)
        return False

    async def _hold(self, route: Hold) -> None:
        site, host = self.site, self.request.host
        site.in_flight[host] += 1
        site.max_in_flight[host] = max(site.max_in_flight[host], site.in_flight[host])
        site.notify()
        try:
            await site.release.wait()
        finally:
            site.in_flight[host] -= 1
        self.set_header("Content-Type", route.content_type)
        self.write(route.body)

    async def _send(self, chunk: bytes) -> bool:
        """Write and flush one chunk; False once the client has gone."""
        try:
            self.write(chunk)
            await self.flush()
        except tornado.iostream.StreamClosedError:
            return False
        return True

    async def _huge(self, route: Huge) -> None:
        self.set_header("Content-Type", route.content_type)
        if route.gzipped:
            # A small compressed body that decodes to ``size`` bytes: Content-Length is honest and small.
            self.set_header("Content-Encoding", "gzip")
            self.write(_gzipped_zeros(route.size))
            return
        if route.content_length:
            self.set_header("Content-Length", str(route.size))
        sent = 0
        while sent < route.size:
            piece = _CHUNK[: route.size - sent]
            if not await self._send(piece):
                return
            sent += len(piece)

    async def _lying(self, route: LyingLength) -> None:
        stream = self.detach()  # the handler is finished: tornado writes nothing more
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: {route.content_type}\r\nContent-Length: {route.declared}\r\n"
            "Connection: close\r\n\r\n"
        ).encode()
        try:
            await stream.write(head + b"y" * route.actual)
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            stream.close()


async def start_server(site: FeedSite, *, certificate_dir: Path | None = None) -> tornado.httpserver.HTTPServer:
    """Serve ``site`` on 127.0.0.1 at a free port (HTTPS with the untrusted test certificate when
    ``certificate_dir`` is given, where it is written); sets ``site.port`` and ``site.base_url``."""
    ssl_options = None
    if certificate_dir is not None:
        cert, key = certificate_dir / "cert.pem", certificate_dir / "key.pem"
        cert.write_text(TEST_CERT)
        key.write_text(TEST_KEY)
        ssl_options = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_options.load_cert_chain(cert, key)
    app = tornado.web.Application([(r"/.*", _Handler, {"site": site})])
    sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
    server = tornado.httpserver.HTTPServer(app, ssl_options=ssl_options)
    server.add_sockets(sockets)
    site.port = sockets[0].getsockname()[1]
    site.base_url = f"{'https' if ssl_options else 'http'}://127.0.0.1:{site.port}"
    return server


async def stop_server(site: FeedSite, server: tornado.httpserver.HTTPServer) -> None:
    """Stop accepting, let held and stalled handlers end, and close every connection."""
    server.stop()
    site.release.set()
    await server.close_all_connections()
