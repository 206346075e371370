"""bot.fetcher against a real HTTP server on 127.0.0.1 (tests/feed_server.py): every way a fetch can go wrong."""

from __future__ import annotations

import asyncio
import datetime as dt
import gzip
import re
import socket
import ssl
import zlib

import httpx
import pytest
import telegram.error

import bot.errors
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
from bot.fetcher import Fetcher, default_user_agent
from bot.guard import GuardedTransport, address_kind
from index.errors import InvalidOption, NewsbotError
from index.feeds import parse_feed
from index.pages import extract_article
from index.polling import FeedState, after_failure, after_success

from .feed_server import ATOM, EMPTY_PAGE, HTML, RSS, FeedSite, article_page, atom, rss, start_server, stop_server

PARAGRAPHS = [
    "The council voted on Tuesday to approve the new harbour bridge, which engineers say will carry twelve "
    "thousand vehicles a day once it opens next spring.",
    "Opponents argued that the money would be better spent on the ferry service, which has run at a loss for "
    "three years, and promised to challenge the decision in court.",
]
MB = 1_000_000


@pytest.fixture
async def fetcher():
    """A fetcher that admits loopback (the test server) but refuses every other non-public address."""
    async with Fetcher(allow_loopback=True, timeout=10, max_bytes=MB) as client:
        yield client


def resolver_for(names: dict[str, list[str]]):
    """A resolver hook: these names resolve to these addresses; anything else does not resolve."""

    async def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return names[host]

    return resolve


# --- Feeds, validators and polling -----------------------------------------------------------------------------


async def test_fetch_a_feed_with_validators_and_a_clear_user_agent(site, fetcher):
    site.serve("/rss", rss([{"guid": "urn:1", "title": "Bridge approved"}]), content_type=RSS)
    result = await fetcher.fetch(site.url("/rss"), kind="feed")
    assert (result.status, result.not_modified, result.content_type) == (200, False, "application/rss+xml")
    assert result.url == site.url("/rss")
    assert result.moved_to is None
    assert result.etag is not None
    assert result.etag == result.headers["etag"]
    assert result.last_modified == "Mon, 01 Jan 2024 00:02:00 GMT"
    assert parse_feed(result.body, url=result.url, headers=result.headers).items[0].title == "Bridge approved"
    (request,) = [r for r in site.seen if r.path == "/rss"]
    assert request.headers["user-agent"] == default_user_agent()
    assert request.headers["user-agent"].startswith("newsbot/")
    assert "feed reader" in request.headers["user-agent"]
    assert "application/rss+xml" in request.headers["accept"]
    assert "if-none-match" not in request.headers


async def test_conditional_requests_get_304_until_the_feed_changes(site, fetcher):
    site.serve("/rss", rss([{"guid": "urn:1", "title": "One"}]), content_type=RSS)
    first = await fetcher.fetch(site.url("/rss"), kind="feed")
    again = await fetcher.fetch(site.url("/rss"), kind="feed", etag=first.etag, last_modified=first.last_modified)
    assert (again.status, again.not_modified, again.body) == (304, True, b"")
    assert (again.etag, again.last_modified) == (first.etag, first.last_modified)
    assert site.seen[-1].headers["if-none-match"] == first.etag
    assert site.seen[-1].headers["if-modified-since"] == first.last_modified
    only_date = await fetcher.fetch(site.url("/rss"), kind="feed", last_modified=first.last_modified)
    assert only_date.not_modified

    site.serve("/rss", rss([{"guid": "urn:2", "title": "Two"}, {"guid": "urn:1", "title": "One"}]), content_type=RSS)
    changed = await fetcher.fetch(site.url("/rss"), kind="feed", etag=first.etag, last_modified=first.last_modified)
    assert (changed.status, changed.not_modified) == (200, False)
    assert changed.etag != first.etag
    assert len(parse_feed(changed.body, url=changed.url, headers=changed.headers).items) == 2
    assert site.requests["/rss"] == 4


async def test_a_polling_loop_finds_new_and_changed_items(site, fetcher):
    """What the bot's poller does: fetch with validators, parse, compare keys and digests, schedule."""
    site.serve("/atom", atom([{"id": "urn:a", "title": "A"}, {"id": "urn:b", "title": "B"}]), content_type=ATOM)
    known: dict[str, str] = {}
    state = FeedState()
    now = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)

    async def poll() -> tuple[list[str], list[str]]:
        nonlocal state
        result = await fetcher.fetch(site.url("/atom"), kind="feed", etag=state.etag, last_modified=state.last_modified)
        new, changed = [], []
        if not result.not_modified:
            feed = parse_feed(result.body, url=result.url, headers=result.headers)
            for item in feed.items:
                if item.key not in known:
                    new.append(item.key)
                elif known[item.key] != item.digest:
                    changed.append(item.key)
                known[item.key] = item.digest
        state = after_success(
            state, now=now, headers=result.headers, etag=result.etag, last_modified=result.last_modified
        )
        return new, changed

    assert await poll() == (["guid:urn:a", "guid:urn:b"], [])
    assert await poll() == ([], [])
    assert site.seen[-1].headers["if-none-match"] == state.etag
    site.serve(
        "/atom",
        atom([{"id": "urn:c", "title": "C"}, {"id": "urn:a", "title": "A, corrected"}, {"id": "urn:b", "title": "B"}]),
        content_type=ATOM,
    )
    assert await poll() == (["guid:urn:c"], ["guid:urn:a"])


async def test_ttl_and_cache_control_set_the_next_poll(site, fetcher):
    site.serve("/rss", rss([], ttl=90), content_type=RSS, headers={"Cache-Control": "public, max-age=7200"})
    result = await fetcher.fetch(site.url("/rss"), kind="feed")
    feed = parse_feed(result.body, url=result.url, headers=result.headers)
    now = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)
    state = after_success(
        FeedState(), now=now, headers=result.headers, etag=result.etag, last_modified=result.last_modified, ttl=feed.ttl
    )
    assert feed.ttl == 90
    assert state.next_due == now + dt.timedelta(hours=2)


async def test_broken_xml_is_fetched_and_reported_by_the_parser(site, fetcher):
    site.serve("/broken", b'<?xml version="1.0"?><rss><channel><title>T</title><item><<</rss>', content_type=RSS)
    result = await fetcher.fetch(site.url("/broken"), kind="feed")
    feed = parse_feed(result.body, url=result.url, headers=result.headers)
    assert feed.items == ()
    assert feed.problem is not None
    state = after_failure(FeedState(), now=dt.datetime(2024, 3, 5, tzinfo=dt.UTC), error=feed.problem)
    assert state.failures == 1
    assert state.last_error.startswith("not a readable feed")


# --- HTTP errors and Retry-After -------------------------------------------------------------------------------


async def test_server_error(site, fetcher):
    site.status("/rss", 500)
    with pytest.raises(HTTPStatusError) as caught:
        await fetcher.fetch(site.url("/rss"), kind="feed")
    assert (caught.value.status, caught.value.retry_after) == (500, None)
    assert str(caught.value) == f"{site.url('/rss')} answered HTTP 500 Internal Server Error"
    assert caught.value.url == site.url("/rss")


@pytest.mark.parametrize(
    ("code", "header", "seconds"),
    [
        pytest.param(429, "120", 120, id="429-seconds"),
        pytest.param(503, "Fri, 01 Jan 2100 00:00:00 GMT", None, id="503-date"),
    ],
)
async def test_retry_after_is_parsed_and_honoured(site, fetcher, code, header, seconds):
    site.status("/rss", code, headers={"Retry-After": header})
    with pytest.raises(HTTPStatusError) as caught:
        await fetcher.fetch(site.url("/rss"), kind="feed")
    error = caught.value
    assert error.status == code
    assert error.retry_after is not None
    if seconds is not None:
        assert error.retry_after == dt.timedelta(seconds=seconds)
        assert "(retry after 120 s)" in str(error)
    else:
        assert error.retry_after > dt.timedelta(days=365)
    now = dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
    state = after_failure(FeedState(), now=now, error=str(error), status=error.status, retry_after=error.retry_after)
    assert state.next_due is not None
    assert state.next_due - now == min(max(error.retry_after, dt.timedelta(minutes=30)), dt.timedelta(days=1))


# --- Time and size limits --------------------------------------------------------------------------------------


async def test_a_response_that_never_comes_hits_the_deadline(site):
    site.stall("/slow")
    async with Fetcher(allow_loopback=True, timeout=0.5) as fetcher:
        with pytest.raises(FetchTimeout, match="did not"):
            await fetcher.fetch(site.url("/slow"), kind="feed")
    assert site.requests["/slow"] == 1


async def test_the_deadline_covers_the_whole_body_not_only_each_read(site):
    """Bytes keep coming (no read ever waits long), so only a total deadline can end this fetch."""
    site.endless("/endless")
    async with Fetcher(allow_loopback=True, timeout=0.5, max_bytes=10**12) as fetcher:
        with pytest.raises(FetchTimeout):
            await fetcher.fetch(site.url("/endless"), kind="feed")


async def test_the_deadline_covers_redirect_hops(site):
    site.redirect("/hop", "/slow")
    site.stall("/slow")
    async with Fetcher(allow_loopback=True, timeout=0.5) as fetcher:
        with pytest.raises(FetchTimeout):
            await fetcher.fetch(site.url("/hop"), kind="feed")


@pytest.mark.parametrize(
    ("content_length", "gzipped"),
    [
        pytest.param(True, False, id="with-content-length"),
        pytest.param(False, False, id="chunked-without-content-length"),
        pytest.param(True, True, id="gzip-that-decodes-to-50mb"),
    ],
)
async def test_a_50_mb_response_is_refused(site, fetcher, content_length, gzipped):
    site.huge("/big", 50 * MB, content_length=content_length, gzipped=gzipped)
    with pytest.raises(ResponseTooLarge, match=f"the limit is {MB}|more than {MB} bytes"):
        await fetcher.fetch(site.url("/big"), kind="feed")


async def test_a_lying_content_length_cannot_make_the_body_larger(site, fetcher):
    site.lying_length("/lie", declared=10, actual=2 * MB)
    result = await fetcher.fetch(site.url("/lie"), kind="feed")
    assert result.body == b"y" * 10


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        pytest.param("gzip", gzip.compress, id="gzip"),
        pytest.param("gzip", lambda b: gzip.compress(b[:100]) + gzip.compress(b[100:]), id="gzip-two-members"),
        pytest.param("deflate", zlib.compress, id="deflate-zlib"),
        pytest.param("deflate", lambda b: zlib.compress(b, wbits=-zlib.MAX_WBITS), id="deflate-raw"),
        pytest.param("identity", lambda b: b, id="identity"),
    ],
)
async def test_compressed_bodies_are_decoded(site, fetcher, encoding, encode):
    body = rss([{"guid": f"urn:{n}", "title": f"Story {n}"} for n in range(20)])
    site.serve("/rss", encode(body), content_type=RSS, headers={"Content-Encoding": encoding})
    assert (await fetcher.fetch(site.url("/rss"), kind="feed")).body == body


@pytest.mark.parametrize(
    ("encoding", "body", "match"),
    [
        pytest.param("br", b"\x0b\x02\x80hello\x03", "unsupported Content-Encoding 'br'", id="brotli"),
        pytest.param("gzip, gzip", gzip.compress(gzip.compress(b"x")), "unsupported", id="stacked"),
        pytest.param("gzip", b"\x1f\x8b\x08\x00not really gzip", "broken gzip body", id="broken-gzip"),
    ],
)
async def test_unsupported_or_broken_encodings(site, fetcher, encoding, body, match):
    site.serve("/rss", body, content_type=RSS, headers={"Content-Encoding": encoding})
    with pytest.raises(Unreachable, match=match):
        await fetcher.fetch(site.url("/rss"), kind="feed")


async def test_a_body_just_under_the_limit_is_accepted(site):
    site.huge("/fits", 1000, content_length=False)
    async with Fetcher(allow_loopback=True, max_bytes=1000) as fetcher:
        assert len((await fetcher.fetch(site.url("/fits"), kind="feed")).body) == 1000


# --- Redirects and private addresses ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("location", "kind"),
    [
        pytest.param("http://10.0.0.1/feed.xml", "private", id="rfc1918"),
        pytest.param("http://169.254.169.254/latest/meta-data/", "link-local", id="cloud-metadata"),
        pytest.param("http://192.168.1.1:8080/", "private", id="home-router"),
        pytest.param("http://[::ffff:10.0.0.1]/", "private", id="ipv4-mapped-ipv6"),
        pytest.param("http://[fd00::1]/", "private", id="ipv6-unique-local"),
        pytest.param("http://[fe80::1]/", "link-local", id="ipv6-link-local"),
        pytest.param("http://0.0.0.0/", "unspecified", id="unspecified"),
    ],
)
async def test_a_redirect_to_a_private_address_is_refused(site, fetcher, location, kind):
    site.redirect("/rss", location)
    with pytest.raises(UnsafeURL, match=f"a {kind} address") as caught:
        await fetcher.fetch(site.url("/rss"), kind="feed")
    assert caught.value.url == location
    assert str(caught.value).endswith(f"(redirected from {site.url('/rss')})")


async def test_a_redirect_to_another_scheme_is_refused(site, fetcher):
    site.redirect("/rss", "file:///etc/passwd")
    with pytest.raises(UnsafeURL, match="only http and https"):
        await fetcher.fetch(site.url("/rss"), kind="feed")


async def test_redirect_loops_end(site, fetcher):
    site.redirect("/a", "/b")
    site.redirect("/b", "/a")
    with pytest.raises(TooManyRedirects, match="more than 5 times"):
        await fetcher.fetch(site.url("/a"), kind="feed")
    assert site.requests["/a"] + site.requests["/b"] == 6


async def test_redirects_are_followed_within_the_limit(site, fetcher):
    site.redirect("/old", "/older", code=302)
    site.redirect("/older", site.url("/rss"), code=307)
    site.serve("/rss", rss([]), content_type=RSS)
    result = await fetcher.fetch(site.url("/old"), kind="feed")
    assert (result.status, result.url, result.moved_to) == (200, site.url("/rss"), None)


async def test_permanent_redirects_give_the_new_address(site, fetcher):
    site.redirect("/old", "/new", code=301)
    site.redirect("/new", "/rss", code=308)
    site.serve("/rss", rss([]), content_type=RSS)
    result = await fetcher.fetch(site.url("/old"), kind="feed")
    assert result.moved_to == site.url("/rss")


async def test_a_temporary_hop_means_the_address_has_not_moved(site, fetcher):
    site.redirect("/old", "/new", code=301)
    site.redirect("/new", "/rss", code=302)
    site.serve("/rss", rss([]), content_type=RSS)
    assert (await fetcher.fetch(site.url("/old"), kind="feed")).moved_to is None


async def test_no_redirects_allowed(site):
    site.redirect("/old", "/rss")
    async with Fetcher(allow_loopback=True, max_redirects=0) as fetcher:
        with pytest.raises(TooManyRedirects):
            await fetcher.fetch(site.url("/old"), kind="feed")


async def test_loopback_is_refused_by_default_before_any_request(site):
    site.serve("/rss", rss([]), content_type=RSS)
    async with Fetcher(timeout=5) as fetcher:
        for url in (site.url("/rss"), site.url("/rss", host="localhost"), f"http://[::1]:{site.port}/rss"):
            with pytest.raises(UnsafeURL, match="loopback address; ALLOW_PRIVATE_URLS=1"):
                await fetcher.fetch(url, kind="feed")
    assert site.requests["/rss"] == 0


async def test_allow_private_admits_loopback_but_never_unspecified(site):
    site.serve("/rss", rss([]), content_type=RSS)
    async with Fetcher(allow_private=True, timeout=5) as fetcher:
        assert (await fetcher.fetch(site.url("/rss"), kind="feed")).status == 200
        with pytest.raises(UnsafeURL, match="unspecified"):
            await fetcher.fetch(f"http://0.0.0.0:{site.port}/rss", kind="feed")


async def test_the_checked_address_is_the_one_connected_to(site):
    """A name resolves once, where the socket is opened; the request still names the host it asked for."""
    site.serve("/rss", rss([]), content_type=RSS)
    calls = []
    names = resolver_for({"feeds.test": ["127.0.0.1"]})

    async def counting(host: str, port: int) -> list[str]:
        calls.append(host)
        return await names(host, port)

    async with Fetcher(allow_loopback=True, resolver=counting) as fetcher:
        result = await fetcher.fetch(site.url("/rss", host="feeds.test"), kind="feed")
    assert result.url == f"http://feeds.test:{site.port}/rss"
    assert site.seen[-1].host == f"feeds.test:{site.port}"
    assert calls == ["feeds.test"]


@pytest.mark.parametrize(
    ("addresses", "match"),
    [
        pytest.param(["10.1.2.3"], "metadata.test resolves to 10.1.2.3, a private address", id="private"),
        pytest.param(["169.254.169.254"], "a link-local address", id="link-local"),
        pytest.param(["127.0.0.1", "10.0.0.1"], "resolves to 10.0.0.1, a private address", id="one-bad-of-two"),
        pytest.param(["::ffff:169.254.169.254"], "a link-local address", id="mapped"),
        pytest.param(["64:ff9b::a00:1"], "a private address", id="nat64"),
    ],
)
async def test_a_name_that_resolves_to_a_private_address_is_refused(site, addresses, match):
    site.serve("/rss", rss([]), content_type=RSS)
    async with Fetcher(allow_loopback=True, resolver=resolver_for({"metadata.test": addresses})) as fetcher:
        with pytest.raises(UnsafeURL, match=match):
            await fetcher.fetch(site.url("/rss", host="metadata.test"), kind="feed")
    assert site.requests["/rss"] == 0


async def test_a_name_that_does_not_resolve(site):
    async with Fetcher(allow_loopback=True, resolver=resolver_for({})) as fetcher:
        with pytest.raises(Unreachable, match=r"cannot resolve nowhere\.test"):
            await fetcher.fetch("http://nowhere.test/rss", kind="feed")


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        pytest.param("8.8.8.8", "public", id="v4-public"),
        pytest.param("2606:4700:4700::1111", "public", id="v6-public"),
        pytest.param("64:ff9b::808:808", "public", id="nat64-public"),
        pytest.param("10.0.0.1", "private", id="10/8"),
        pytest.param("172.16.5.4", "private", id="172.16/12"),
        pytest.param("192.168.0.1", "private", id="192.168/16"),
        pytest.param("127.0.0.1", "loopback", id="v4-loopback"),
        pytest.param("127.8.9.10", "loopback", id="v4-loopback-range"),
        pytest.param("::1", "loopback", id="v6-loopback"),
        pytest.param("169.254.169.254", "link-local", id="v4-link-local"),
        pytest.param("fe80::1%eth0", "link-local", id="v6-link-local-scoped"),
        pytest.param("0.0.0.0", "unspecified", id="v4-unspecified"),
        pytest.param("::", "unspecified", id="v6-unspecified"),
        pytest.param("224.0.0.1", "multicast", id="v4-multicast"),
        pytest.param("ff02::1", "multicast", id="v6-multicast"),
        pytest.param("fc00::1", "private", id="v6-unique-local"),
        pytest.param("100.64.0.1", "reserved", id="carrier-grade-nat"),
        pytest.param("240.0.0.1", "reserved", id="class-e"),
        pytest.param("::ffff:8.8.8.8", "public", id="mapped-public"),
        pytest.param("::ffff:127.0.0.1", "loopback", id="mapped-loopback"),
        pytest.param("::ffff:10.0.0.1", "private", id="mapped-private"),
        pytest.param("64:ff9b::7f00:1", "loopback", id="nat64-loopback"),
        pytest.param("2002:a00:1::1", "private", id="6to4-private"),
        pytest.param("2001:db8::1", "private", id="documentation"),
    ],
)
def test_address_kind(address, kind):
    assert address_kind(address) == kind


async def test_the_guard_is_a_transport_any_httpx_client_can_use(site):
    # Built on httpx's public transport API: a plain AsyncClient over it is guarded as the fetcher is.
    site.serve("/rss", rss([]), content_type=RSS)
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with httpx.AsyncClient(transport=GuardedTransport(allow_loopback=True)) as client:
        response = await client.get(site.url("/rss"))
        assert (response.status_code, response.content) == (200, rss([]))
        with pytest.raises(httpx.ConnectError):  # httpcore's errors come out as httpx's
            await client.get(f"http://127.0.0.1:{port}/rss")
    names = resolver_for({"metadata.test": ["169.254.169.254"]})
    async with httpx.AsyncClient(transport=GuardedTransport(allow_loopback=True, resolver=names)) as client:
        with pytest.raises(UnsafeURL, match=r"metadata\.test resolves to 169\.254\.169\.254, a link-local address"):
            await client.get(site.url("/rss", host="metadata.test"))
    async with httpx.AsyncClient(transport=GuardedTransport()) as client:
        with pytest.raises(UnsafeURL, match=r"127\.0\.0\.1 is a loopback address; ALLOW_PRIVATE_URLS=1 allows"):
            await client.get(site.url("/rss"))
    assert site.requests["/rss"] == 1


# --- Content types ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type", "accepted"),
    [
        pytest.param("feed", "application/rss+xml; charset=utf-8", True, id="feed-rss"),
        pytest.param("feed", "application/atom+xml", True, id="feed-atom"),
        pytest.param("feed", "application/rdf+xml", True, id="feed-rdf"),
        pytest.param("feed", "text/xml; charset=iso-8859-1", True, id="feed-text-xml"),
        pytest.param("feed", "application/xml", True, id="feed-xml"),
        # Servers label feeds every way; the parser decides whether the body is one (a page may name its feed).
        pytest.param("feed", "text/plain; charset=utf-8", True, id="feed-text-plain"),
        pytest.param("feed", "application/octet-stream", True, id="feed-octet-stream"),
        pytest.param("feed", "text/html; charset=utf-8", True, id="feed-html"),
        pytest.param("feed", "", True, id="feed-no-type"),
        pytest.param("feed", "image/png", False, id="feed-image"),
        pytest.param("feed", "video/mp4", False, id="feed-video"),
        pytest.param("page", "text/html; charset=utf-8", True, id="page-html"),
        pytest.param("page", "application/xhtml+xml", True, id="page-xhtml"),
        pytest.param("page", "application/pdf", False, id="page-pdf"),
        pytest.param("page", "application/rss+xml", False, id="page-feed"),
        pytest.param("page", "image/png", False, id="page-image"),
    ],
)
async def test_content_types(site, fetcher, kind, content_type, accepted):
    site.serve("/doc", b"<x/>", content_type=content_type)
    if accepted:
        assert (await fetcher.fetch(site.url("/doc"), kind=kind)).body == b"<x/>"
    else:
        with pytest.raises(WrongContentType, match=re.escape(content_type.split(";")[0])):
            await fetcher.fetch(site.url("/doc"), kind=kind)


@pytest.mark.parametrize("content_type", ["text/plain", "application/octet-stream", "text/html", ""])
async def test_a_feed_served_with_any_text_type_is_read(site, fetcher, content_type):
    site.serve("/feed", rss([{"guid": "urn:1", "title": "Bridge approved"}]), content_type=content_type)
    site.serve("/empty-feed", rss([]), content_type=content_type)
    result = await fetcher.fetch(site.url("/feed"), kind="feed")
    feed = parse_feed(result.body, url=result.url, headers=result.headers)
    assert ([i.title for i in feed.items], feed.problem) == (["Bridge approved"], None)
    result = await fetcher.fetch(site.url("/empty-feed"), kind="feed")
    assert parse_feed(result.body, url=result.url, headers=result.headers).problem is None


# --- Pages and robots.txt --------------------------------------------------------------------------------------


async def test_a_page_with_main_text_becomes_an_article(site, fetcher):
    site.serve("/news/bridge", article_page("Council approves harbour bridge", PARAGRAPHS), content_type=HTML)
    result = await fetcher.fetch(site.url("/news/bridge?utm_source=rss"), kind="page")
    article = extract_article(result.body, url=result.url, item=None, source="Harbour Times")
    assert article is not None
    assert article.title == "Council approves harbour bridge"
    assert article.text == "\n\n".join(PARAGRAPHS)
    assert article.url == site.url("/news/bridge")


async def test_a_page_without_main_text_falls_back_to_the_feed(site, fetcher):
    content = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    site.serve(
        "/rss",
        rss([{"guid": "urn:1", "title": "Bridge", "link": site.url("/app"), "content": content}]),
        content_type=RSS,
    )
    site.serve("/app", EMPTY_PAGE, content_type=HTML)
    feed_result = await fetcher.fetch(site.url("/rss"), kind="feed")
    (item,) = parse_feed(feed_result.body, url=feed_result.url, headers=feed_result.headers).items
    page = await fetcher.fetch(item.link or "", kind="page")
    article = extract_article(page.body, url=page.url, item=item, source="Harbour Times")
    assert article is not None
    assert (article.title, article.text) == ("Bridge", "\n\n".join(PARAGRAPHS))
    assert extract_article(page.body, url=page.url, item=None, source="Harbour Times") is None


async def test_robots_txt_forbids_some_pages_and_is_fetched_once(site, fetcher):
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    site.serve("/news/b", article_page("B", PARAGRAPHS), content_type=HTML)
    site.serve("/private/c", article_page("C", PARAGRAPHS), content_type=HTML)
    assert (await fetcher.fetch(site.url("/news/a"), kind="page")).status == 200
    assert (await fetcher.fetch(site.url("/news/b"), kind="page")).status == 200
    with pytest.raises(RobotsDisallowed, match=r"robots\.txt of 127\.0\.0\.1 does not allow"):
        await fetcher.fetch(site.url("/private/c"), kind="page")
    assert site.requests["/private/c"] == 0
    assert site.requests["/robots.txt"] == 1
    assert site.paths_seen()[0] == "/robots.txt"


async def test_feeds_are_exempt_from_robots_txt(site, fetcher):
    site.serve("/robots.txt", b"User-agent: *\nDisallow: /\n", content_type="text/plain")
    site.serve("/private/feed.xml", rss([]), content_type=RSS)
    assert (await fetcher.fetch(site.url("/private/feed.xml"), kind="feed")).status == 200
    assert site.requests["/robots.txt"] == 0


async def test_robots_txt_rules_for_newsbot(site, fetcher):
    site.serve(
        "/robots.txt",
        b"User-agent: otherbot\nDisallow: /\n\nUser-agent: newsbot\nDisallow: /news/\nAllow: /news/open\n",
        content_type="text/plain",
    )
    site.serve("/news/open", article_page("Open", PARAGRAPHS), content_type=HTML)
    site.serve("/news/closed", article_page("Closed", PARAGRAPHS), content_type=HTML)
    assert (await fetcher.fetch(site.url("/news/open"), kind="page")).status == 200
    with pytest.raises(RobotsDisallowed):
        await fetcher.fetch(site.url("/news/closed"), kind="page")


async def test_robots_txt_is_checked_on_every_redirect_hop(site, fetcher):
    site.redirect("/news/short", "/private/long")
    site.serve("/private/long", article_page("Long", PARAGRAPHS), content_type=HTML)
    with pytest.raises(RobotsDisallowed):
        await fetcher.fetch(site.url("/news/short"), kind="page")
    assert site.requests["/private/long"] == 0


async def test_a_huge_robots_txt_is_read_up_to_512_kib(site, fetcher):
    rules = b"User-agent: *\nDisallow: /private/\n" + b"# padding\n" * 60_000 + b"Disallow: /news/\n"
    site.serve("/robots.txt", rules, content_type="text/plain")
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    site.serve("/private/b", article_page("B", PARAGRAPHS), content_type=HTML)
    assert (await fetcher.fetch(site.url("/news/a"), kind="page")).status == 200  # its rule came too late
    with pytest.raises(RobotsDisallowed):
        await fetcher.fetch(site.url("/private/b"), kind="page")


@pytest.mark.parametrize(
    ("robots_status", "allowed"),
    [
        pytest.param(404, True, id="missing-allows-all"),
        pytest.param(403, True, id="forbidden-allows-all"),
        pytest.param(500, False, id="server-error-try-later"),
        pytest.param(503, False, id="unavailable-try-later"),
        pytest.param(429, False, id="too-many-requests-try-later"),
    ],
)
async def test_robots_txt_errors(site, fetcher, robots_status, allowed):
    site.status("/robots.txt", robots_status)
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    if allowed:
        assert (await fetcher.fetch(site.url("/news/a"), kind="page")).status == 200
    else:
        with pytest.raises(RobotsUnavailable, match=rf"robots\.txt of 127\.0\.0\.1 answered HTTP {robots_status}"):
            await fetcher.fetch(site.url("/news/a"), kind="page")
        assert site.requests["/news/a"] == 0


async def test_a_robots_txt_that_could_not_be_read_is_asked_again_not_remembered_as_a_refusal(site, fetcher):
    site.status("/robots.txt", 503)
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    with pytest.raises(RobotsUnavailable):
        await fetcher.fetch(site.url("/news/a"), kind="page")
    site.serve("/robots.txt", b"User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    assert (await fetcher.fetch(site.url("/news/a"), kind="page")).status == 200  # at once, not in an hour
    assert site.requests["/robots.txt"] == 2


async def test_a_host_that_cannot_be_reached_is_reported_as_such_not_as_a_robots_refusal(site):
    with socket.socket() as closed:  # a port nobody listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    async with Fetcher(allow_loopback=True, timeout=5, resolver=resolver_for({"harbour.test": ["127.0.0.1"]})) as f:
        with pytest.raises(Unreachable, match=r"cannot resolve nowhere\.test") as unresolved:
            await f.fetch("http://nowhere.test/news/a", kind="page")
        with pytest.raises(Unreachable, match=rf"could not fetch http://127\.0\.0\.1:{port}/news/a") as refused:
            await f.fetch(f"http://127.0.0.1:{port}/news/a", kind="page")
        for error in (unresolved.value, refused.value):
            assert not isinstance(error, RobotsDisallowed)
            assert "does not allow" not in str(error)
        # The failures were not remembered: once the host answers, its robots.txt is read and obeyed.
        site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
        assert (await f.fetch(site.url("/news/a", host="harbour.test"), kind="page")).status == 200
        with pytest.raises(RobotsDisallowed):
            await f.fetch(site.url("/private/b", host="harbour.test"), kind="page")


async def test_a_private_page_is_refused_for_its_address_not_for_robots_txt(site):
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    async with Fetcher(timeout=5) as fetcher:
        with pytest.raises(UnsafeURL, match=r"refused http://127\.0\.0\.1:\d+/news/a: 127\.0\.0\.1 is a loopback"):
            await fetcher.fetch(site.url("/news/a"), kind="page")
    assert site.requests["/robots.txt"] == 0


async def test_robots_txt_cache_expires(site):
    now = [1000.0]
    site.serve("/news/a", article_page("A", PARAGRAPHS), content_type=HTML)
    async with Fetcher(allow_loopback=True, robots_ttl=600, clock=lambda: now[0]) as fetcher:
        await fetcher.fetch(site.url("/news/a"), kind="page")
        now[0] += 599
        await fetcher.fetch(site.url("/news/a"), kind="page")
        assert site.requests["/robots.txt"] == 1
        site.serve("/robots.txt", b"User-agent: *\nDisallow: /news/\n", content_type="text/plain")
        now[0] += 1
        with pytest.raises(RobotsDisallowed):
            await fetcher.fetch(site.url("/news/a"), kind="page")
    assert site.requests["/robots.txt"] == 2


# --- Politeness, TLS, cookies, options -------------------------------------------------------------------------


async def test_at_most_per_host_requests_at_once(site):
    site.hold("/held", rss([]), content_type=RSS)
    async with Fetcher(allow_loopback=True, per_host=2) as fetcher:
        fetches = [asyncio.create_task(fetcher.fetch(site.url("/held"), kind="feed")) for _ in range(5)]
        await site.wait_until(lambda: site.in_flight[f"127.0.0.1:{site.port}"] == 2)
        site.release.set()
        results = await asyncio.gather(*fetches)
    assert [r.status for r in results] == [200] * 5
    assert site.max_in_flight[f"127.0.0.1:{site.port}"] == 2


async def test_the_limit_is_per_host(site):
    site.hold("/held", rss([]), content_type=RSS)
    names = resolver_for({"a.test": ["127.0.0.1"], "b.test": ["127.0.0.1"]})
    async with Fetcher(allow_loopback=True, per_host=1, resolver=names) as fetcher:
        fetches = [
            asyncio.create_task(fetcher.fetch(site.url("/held", host=host), kind="feed"))
            for host in ("a.test", "a.test", "b.test", "b.test")
        ]
        # Both hosts have a request in flight at once, though each may only have one.
        await site.wait_until(lambda: sum(site.in_flight.values()) == 2)
        site.release.set()
        await asyncio.gather(*fetches)
    assert site.max_in_flight == {f"a.test:{site.port}": 1, f"b.test:{site.port}": 1}


async def test_tls_certificates_are_verified(tmp_path):
    tls_site = FeedSite()
    server = await start_server(tls_site, certificate_dir=tmp_path)
    tls_site.serve("/rss", rss([]), content_type=RSS)
    try:
        async with Fetcher(allow_loopback=True) as fetcher:
            assert fetcher.ssl_context.verify_mode == ssl.CERT_REQUIRED
            assert fetcher.ssl_context.check_hostname
            with pytest.raises(Unreachable, match="TLS certificate could not be verified"):
                await fetcher.fetch(tls_site.url("/rss"), kind="feed")
    finally:
        await stop_server(tls_site, server)
    assert tls_site.requests["/rss"] == 0


async def test_no_cookies_are_kept(site, fetcher):
    site.serve("/rss", rss([]), content_type=RSS, headers={"Set-Cookie": "session=abc; Path=/"})
    await fetcher.fetch(site.url("/rss"), kind="feed")
    await fetcher.fetch(site.url("/rss"), kind="feed")
    assert "cookie" not in site.seen[-1].headers


async def test_bad_urls_and_options():
    async with Fetcher() as fetcher:
        for url in ("not a url", "http://", "mailto:editor@harbour.test", "//harbour.test/feed"):
            with pytest.raises(UnsafeURL):
                await fetcher.fetch(url, kind="feed")
        with pytest.raises(InvalidOption, match="'json'"):
            await fetcher.fetch("https://harbour.test/feed", kind="json")  # type: ignore[arg-type]
    for options in ({"per_host": 0}, {"max_bytes": 0}, {"timeout": 0}, {"max_redirects": -1}):
        with pytest.raises(InvalidOption):
            Fetcher(**options)
    with pytest.raises(RuntimeError, match="async with"):
        await Fetcher().fetch("https://harbour.test/feed", kind="feed")


def test_every_fetch_error_is_a_newsbot_error():
    for error in (UnsafeURL, TooManyRedirects, ResponseTooLarge, WrongContentType, HTTPStatusError, FetchTimeout):
        assert issubclass(error, FetchError)
    for error in (Unreachable, RobotsDisallowed, RobotsUnavailable):
        assert issubclass(error, FetchError)
    assert issubclass(FetchError, NewsbotError)


def test_no_error_of_ours_is_named_like_one_of_telegrams():
    # Handlers catch telegram.error.NetworkError by its bare name; a fetch error of that name (as there was) reads
    # the same and is not the same.
    ours = {name for name, value in vars(bot.errors).items() if getattr(value, "__module__", "") == "bot.errors"}
    telegrams = {name for name, value in vars(telegram.error).items() if isinstance(value, type)}
    assert "FetchError" in ours
    assert not ours & (telegrams | {"NetworkError"})
