"""Fetcher: get feeds and article pages over HTTP(S) safely and politely, for the bot's event loop.

One ``httpx.AsyncClient`` per ``Fetcher`` (an async context manager). Every request:

- goes only to http(s) URLs whose host resolves to public addresses. The check happens where the socket is
  opened (``bot.guard.GuardedTransport``, on httpx's and httpcore's public APIs): the host is resolved once,
  every address is checked, and the connection goes to a checked address, so DNS cannot answer differently
  between check and connect (no rebinding window). Redirects are followed by hand and every hop is checked the
  same way;
- keeps TLS verification on (certifi's roots; never retried without it), ignores proxy and netrc settings
  from the environment, and keeps no cookies;
- ends within ``timeout`` seconds in all (connect, every redirect hop and the whole body), not only per read;
- stops reading at ``max_bytes`` of decoded body, whatever Content-Length says;
- accepts HTML types only for pages; for feeds, any type but images, audio, video and fonts, since servers label
  feeds ``text/plain``, ``application/octet-stream`` or ``text/html`` as often as not: the parser decides;
- sends conditional headers (a 304 comes back as ``not_modified`` with an empty body);
- runs at most ``per_host`` at a time per host, identifies itself with a clear User-Agent, and for pages only
  (feed readers do not for the subscribed feed) obeys the site's robots.txt, cached per site. Only real answers
  are cached: a robots.txt that answers a server error, or a host that cannot be reached, is asked again next time,
  and the error says which it was.

Every failure is a ``FetchError`` with a one-line message fit to show an admin: its subclasses (``UnsafeURL``,
``HTTPStatusError``, ``Unreachable``, ...) are drawn in ``bot/errors.py``'s tree, and re-exported here.

Compressed bodies (only gzip and deflate are asked for and accepted) are inflated a step at a time
(``bot.bodies``), never past ``max_bytes``, so a compression bomb costs no more memory than an honest large
body. Residual risk: ``allow_private=True`` admits link-local addresses, cloud metadata (169.254.169.254)
included, as ALLOW_PRIVATE_URLS=1 means.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import http
import http.cookiejar
import logging
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

import httpx
from protego import Protego

from bot import __version__
from bot.bodies import read_body
from bot.errors import (
    FetchError,
    FetchTimeout,
    HTTPStatusError,
    ResponseTooLarge,
    RobotsDisallowed,
    RobotsUnavailable,
    TooManyRedirects,
    Unreachable,
    UnsafeURL,
    WrongContentType,
)
from bot.guard import GuardedTransport, Resolver, system_resolver
from index.errors import InvalidOption
from index.polling import parse_retry_after

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_REDIRECTS",
    "DEFAULT_TIMEOUT",
    "NOT_FEED_MEDIA",
    "PAGE_CONTENT_TYPES",
    "FetchError",
    "FetchResult",
    "FetchTimeout",
    "Fetcher",
    "HTTPStatusError",
    "Resolver",
    "ResponseTooLarge",
    "RobotsDisallowed",
    "RobotsUnavailable",
    "TooManyRedirects",
    "Unreachable",
    "UnsafeURL",
    "WrongContentType",
    "default_user_agent",
]

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 15_000_000
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_REDIRECTS = 5
DEFAULT_ROBOTS_TTL = 3600.0
ROBOTS_AGENT = "newsbot"
ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB of it

# Top-level media types that cannot be a feed; any other body is handed to the parser, which decides.
NOT_FEED_MEDIA = ("image/", "audio/", "video/", "font/", "model/")
PAGE_CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_ACCEPT = {
    "feed": "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, application/xml;q=0.8, "
    "text/xml;q=0.8",
    "page": "text/html, application/xhtml+xml;q=0.9",
    "robots": "text/plain",
}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_PERMANENT = frozenset({301, 308})

Kind = Literal["feed", "page"]


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful fetch (2xx or 304).

    ``url`` is the final URL after redirects; ``moved_to`` is that URL when every redirect was permanent (301 or
    308), so a caller can store it as the feed's new address. ``headers`` has lower-case names (repeated
    headers joined by ", "). ``etag`` and ``last_modified`` are the validators to send next time: the
    response's, or on a 304 without new ones, those that were sent.
    """

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    not_modified: bool
    etag: str | None
    last_modified: str | None
    content_type: str
    moved_to: str | None = None


def default_user_agent() -> str:
    """``newsbot/<version> (+feed reader; answers questions with quotes)``."""
    return f"newsbot/{__version__} (+feed reader; answers questions with quotes)"


@dataclass(frozen=True, slots=True)
class _Redirect:
    status: int
    location: str


def _media_type(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _one_line(text: str, limit: int = 200) -> str:
    return " ".join(text.split())[:limit]


class Fetcher:
    """Fetches feeds and pages safely; use as ``async with Fetcher(...) as fetcher``.

    Args:
        allow_private: admit private, loopback, link-local and reserved addresses (ALLOW_PRIVATE_URLS=1).
            Unspecified (0.0.0.0, ::) and multicast addresses are refused whatever the setting.
        allow_loopback: admit loopback addresses only (127.0.0.0/8, ::1), still refusing other private
            ranges: for tests against a local server, or a feed proxy on the same machine.
        user_agent: the User-Agent header; robots.txt rules are matched for ``newsbot``.
        max_bytes: the largest decoded body accepted.
        timeout: seconds for the whole fetch: connecting, every redirect hop and the body (waiting for a
            per-host slot and fetching robots.txt are not counted).
        max_redirects: redirect hops followed before giving up.
        per_host: requests in flight at once to one host name.
        robots_ttl: seconds a site's robots.txt (or its absence) is remembered.
        resolver: ``await resolver(host, port)`` -> IP addresses; the system resolver by default. Tests point
            names at chosen addresses with it.
        clock: monotonic seconds, for the robots.txt cache (tests pass a fake clock).

    Raises:
        InvalidOption: a limit that is not positive.
    """

    def __init__(
        self,
        *,
        allow_private: bool = False,
        allow_loopback: bool = False,
        user_agent: str | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        per_host: int = 2,
        robots_ttl: float = DEFAULT_ROBOTS_TTL,
        resolver: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value, low in (
            ("max_bytes", max_bytes, 1),
            ("per_host", per_host, 1),
            ("max_redirects", max_redirects, 0),
        ):
            if value < low:
                raise InvalidOption(f"{name} {value} must be {low} or more")
        if not timeout > 0:
            raise InvalidOption(f"timeout {timeout} must be a positive number of seconds")
        self.allow_private = allow_private
        self.allow_loopback = allow_loopback
        self.user_agent = user_agent or default_user_agent()
        self.max_bytes = max_bytes
        self.timeout = float(timeout)
        self.max_redirects = max_redirects
        self.per_host = per_host
        self.robots_ttl = robots_ttl
        self._resolver = resolver or system_resolver
        self._clock = clock
        self._client: httpx.AsyncClient | None = None
        self.ssl_context: ssl.SSLContext | None = None  # set on entering; tests check it verifies
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._robots: dict[tuple[str, str, int | None], tuple[float, Protego]] = {}
        self._robots_locks: dict[tuple[str, str, int | None], asyncio.Lock] = {}

    async def __aenter__(self) -> Fetcher:
        transport = GuardedTransport(
            allow_private=self.allow_private,
            allow_loopback=self.allow_loopback,
            resolver=self._resolver,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )
        no_cookies = http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
        self._client = httpx.AsyncClient(
            transport=transport,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.timeout),
            cookies=no_cookies,
            headers={"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"},
        )
        self.ssl_context = transport.ssl_context
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(
        self, url: str, *, kind: Kind, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch a feed or a page.

        Args:
            url: an http or https URL.
            kind: ``"feed"`` (any type but images, audio, video and fonts; robots.txt not consulted) or
                ``"page"`` (HTML types; robots.txt obeyed).
            etag, last_modified: validators from the previous fetch, sent as If-None-Match and
                If-Modified-Since.

        Returns:
            The result; ``not_modified`` (with an empty body) when the server answered 304.

        Raises:
            UnsafeURL, TooManyRedirects, ResponseTooLarge, WrongContentType, HTTPStatusError, FetchTimeout,
            Unreachable, RobotsDisallowed, RobotsUnavailable: all ``FetchError``, each with a one-line reason.
            InvalidOption: ``kind`` is not "feed" or "page".
        """
        if kind not in ("feed", "page"):
            raise InvalidOption(f"kind {kind!r} is not one of 'feed', 'page'")
        return await self._fetch(url, kind=kind, etag=etag, last_modified=last_modified, limit=self.max_bytes)

    def _client_or_fail(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("use the fetcher inside `async with Fetcher(...) as fetcher:`")
        return self._client

    def _checked_url(self, url: str) -> httpx.URL:
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UnsafeURL(f"refused {url!r}: not a valid URL ({exc})", url=str(url)) from None
        if parsed.scheme not in ("http", "https"):
            raise UnsafeURL(f"refused {url}: only http and https URLs are fetched", url=str(url))
        if not parsed.host:
            raise UnsafeURL(f"refused {url}: the URL has no host", url=str(url))
        return parsed

    @contextlib.asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        slot = self._slots.setdefault(host, asyncio.Semaphore(self.per_host))
        async with slot:
            yield

    async def _fetch(
        self,
        url: str,
        *,
        kind: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        truncate: bool = False,
    ) -> FetchResult:
        loop = asyncio.get_running_loop()
        budget = self.timeout
        current = url
        hops = 0
        all_permanent = True
        while True:
            target = self._checked_url(current)
            if kind == "page" and not await self._robots_allow(target):
                raise RobotsDisallowed(f"robots.txt of {target.host} does not allow {current} for newsbot", url=current)
            if budget <= 0:
                raise FetchTimeout(f"{url} did not finish within {self.timeout:g} s", url=url)
            async with self._host_slot(target.host):
                started = loop.time()
                try:
                    async with asyncio.timeout(budget):
                        outcome = await self._exchange(target, kind, etag, last_modified, limit, truncate)
                except UnsafeURL as exc:
                    if not hops:
                        raise
                    raise UnsafeURL(f"{exc} (redirected from {url})", url=exc.url) from None
                except TimeoutError:
                    raise FetchTimeout(f"{url} did not finish within {self.timeout:g} s", url=url) from None
                finally:
                    budget -= loop.time() - started
            if isinstance(outcome, FetchResult):
                return replace(outcome, moved_to=outcome.url if hops and all_permanent else None)
            hops += 1
            all_permanent = all_permanent and outcome.status in _PERMANENT
            if hops > self.max_redirects:
                raise TooManyRedirects(
                    f"{url} redirected more than {self.max_redirects} times (last to {outcome.location})", url=url
                )
            log.debug("%s redirects (%d) to %s", current, outcome.status, outcome.location)
            current = outcome.location

    async def _exchange(
        self,
        target: httpx.URL,
        kind: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        truncate: bool,
    ) -> FetchResult | _Redirect:
        """One request and its response, with every httpx error turned into a FetchError."""
        url = str(target)
        headers = {"Accept": _ACCEPT[kind]}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            async with self._client_or_fail().stream("GET", target, headers=headers) as response:
                return await self._outcome(response, url, kind, etag, last_modified, limit, truncate)
        except httpx.TimeoutException:
            raise FetchTimeout(f"{url} did not answer within {self.timeout:g} s", url=url) from None
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise UnsafeURL(f"refused {url}: {_one_line(str(exc))}", url=url) from None
        except httpx.HTTPError as exc:
            raise Unreachable(f"could not fetch {url}: {_describe(exc)}", url=url) from None

    async def _outcome(
        self,
        response: httpx.Response,
        url: str,
        kind: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        truncate: bool,
    ) -> FetchResult | _Redirect:
        status = response.status_code
        if status in _REDIRECTS and response.headers.get("location"):
            try:
                location = str(response.url.join(response.headers["location"].strip()))
            except httpx.InvalidURL:
                raise UnsafeURL(f"refused {url}: it redirects to a malformed URL", url=url) from None
            return _Redirect(status, location)
        result_headers = {name.lower(): value for name, value in response.headers.items()}
        media_type = _media_type(response.headers)
        if status == 304:
            return FetchResult(
                url=url,
                status=status,
                body=b"",
                headers=result_headers,
                not_modified=True,
                etag=response.headers.get("etag") or etag,
                last_modified=response.headers.get("last-modified") or last_modified,
                content_type=media_type,
            )
        if not 200 <= status < 300:
            retry_after = parse_retry_after(response.headers.get("retry-after"), now=dt.datetime.now(dt.UTC))
            raise HTTPStatusError(
                _status_message(url, status, retry_after), url=url, status=status, retry_after=retry_after
            )
        if kind == "page" and media_type not in PAGE_CONTENT_TYPES:
            raise WrongContentType(f"{url} is {media_type or 'of no stated type'}, not an HTML page", url=url)
        if kind == "feed" and media_type.startswith(NOT_FEED_MEDIA):
            raise WrongContentType(f"{url} is {media_type}, not an RSS, Atom or XML feed", url=url)
        declared = response.headers.get("content-length", "")
        if not truncate and declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(f"{url} is {int(declared)} bytes; the limit is {limit}", url=url)
        body = await read_body(response, url=url, limit=limit, truncate=truncate)
        return FetchResult(
            url=url,
            status=status,
            body=body,
            headers=result_headers,
            not_modified=False,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            content_type=media_type,
        )

    async def _robots_allow(self, target: httpx.URL) -> bool:
        """Whether the site's robots.txt lets newsbot fetch ``target``; only real answers are remembered.

        Raises:
            RobotsUnavailable: robots.txt answered a server error (5xx, 429): try later.
            FetchError: robots.txt could not be fetched at all, for the reason the page could not be (an
                unresolvable or unreachable host, an address the fetcher may not contact, a timeout); said of
                the page.
        """
        origin = (target.scheme, target.host, target.port)
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:  # one robots.txt fetch per site, however many pages wait for it
            cached = self._robots.get(origin)
            if cached is None or cached[0] <= self._clock():
                rules = await self._fetch_robots(target)
                self._robots[origin] = (self._clock() + self.robots_ttl, rules)
            else:
                rules = cached[1]
        return rules.can_fetch(str(target), ROBOTS_AGENT)

    async def _fetch_robots(self, target: httpx.URL) -> Protego:
        robots_url = str(target.copy_with(path="/robots.txt", query=None, fragment=None))
        try:
            result = await self._fetch(
                robots_url, kind="robots", etag=None, last_modified=None, limit=ROBOTS_MAX_BYTES, truncate=True
            )
        except HTTPStatusError as exc:
            # RFC 9309: a 4xx means there are no rules; a 5xx (and 429) means the site cannot say now: nothing is
            # fetched, and nothing remembered, so the next page of the site asks again.
            if 400 <= exc.status < 500 and exc.status != 429:
                log.debug("robots.txt at %s: HTTP %d, allow all", robots_url, exc.status)
                return Protego.parse("")
            raise RobotsUnavailable(
                f"robots.txt of {target.host} answered HTTP {exc.status}, so {target} was not fetched; try again "
                "later",
                url=str(target),
            ) from None
        except TooManyRedirects:
            return Protego.parse("")  # RFC 9309: after five redirects, robots.txt may be taken as unavailable (4xx)
        except FetchError as exc:
            # The page itself would have failed the same way (the same host): say so of the page, not of robots.txt.
            raise type(exc)(str(exc).replace(robots_url, str(target)), url=str(target)) from None
        return Protego.parse(result.body.decode("utf-8", errors="replace"))


def _status_message(url: str, status: int, retry_after: dt.timedelta | None) -> str:
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    message = f"{url} answered HTTP {status} {phrase}".rstrip()
    if retry_after is not None:
        message += f" (retry after {int(retry_after.total_seconds())} s)"
    return message


def _describe(exc: httpx.HTTPError) -> str:
    text = str(exc) or type(exc).__name__
    if "CERTIFICATE_VERIFY_FAILED" in text or isinstance(exc.__context__, ssl.SSLCertVerificationError):
        return "its TLS certificate could not be verified"
    return _one_line(text)
