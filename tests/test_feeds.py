"""index.feeds: parsing RSS and Atom, encodings, feed autodiscovery, item identity, digests and records."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from index.feeds import (
    FeedItem,
    decode_feed,
    feed_links,
    html_to_text,
    item_from_record,
    item_record,
    parse_feed,
)

from .feed_server import atom, rss

FEED_URL = "https://harbour.test/feed.xml"
RSS_HEADERS = {"Content-Type": "application/rss+xml; charset=utf-8"}
NOW = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


def parse_rss(items: list[dict[str, str]], **options) -> list[FeedItem]:
    return list(parse_feed(rss(items, **options), url=FEED_URL, headers=RSS_HEADERS).items)


# --- Parsing ---------------------------------------------------------------------------------------------------


def test_rss_feed_and_item_fields():
    body = rss(
        [
            {
                "title": "Bridge approved",
                "link": "https://harbour.test/news/bridge",
                "guid": "https://harbour.test/?p=101",
                "pubDate": "Tue, 05 Mar 2024 10:00:00 +0200",
                "description": "<p>The council voted.</p>",
                "content": "<p>The council voted on Tuesday.</p><p>Opponents objected.</p>",
            }
        ],
        title="Harbour Times",
        link="https://harbour.test/",
        ttl=45,
    )
    feed = parse_feed(body, url=FEED_URL, headers=RSS_HEADERS)
    assert (feed.title, feed.link, feed.ttl, feed.problem) == ("Harbour Times", "https://harbour.test/", 45, None)
    (item,) = feed.items
    assert item.key == "guid:https://harbour.test/?p=101"
    assert item.guid == "https://harbour.test/?p=101"
    assert item.link == "https://harbour.test/news/bridge"
    assert item.title == "Bridge approved"
    assert item.published == dt.datetime(2024, 3, 5, 8, 0, tzinfo=dt.UTC)
    assert item.summary_html == "<p>The council voted.</p>"
    assert item.content_html == "<p>The council voted on Tuesday.</p><p>Opponents objected.</p>"
    assert item.text == "The council voted on Tuesday.\n\nOpponents objected."


def test_atom_feed_and_item_fields():
    body = atom(
        [
            {
                "id": "tag:harbour.test,2024:101",
                "title": "Bridge approved",
                "link": "/news/bridge",
                "updated": "2024-03-05T10:00:00Z",
                "published": "2024-03-04T09:30:00+01:00",
                "summary": "The council voted.",
                "content": "<p>The council voted on Tuesday.</p>",
            }
        ],
        link="https://harbour.test/",
    )
    feed = parse_feed(body, url=FEED_URL, headers={"content-type": "application/atom+xml"})
    assert (feed.title, feed.link, feed.ttl, feed.problem) == ("Harbour Times", "https://harbour.test/", None, None)
    (item,) = feed.items
    assert item.key == "guid:tag:harbour.test,2024:101"
    assert item.link == "https://harbour.test/news/bridge"  # relative links resolve against the feed's URL
    assert item.published == dt.datetime(2024, 3, 4, 8, 30, tzinfo=dt.UTC)  # published before updated
    assert item.content_html == "<p>The council voted on Tuesday.</p>"
    assert item.text == "The council voted on Tuesday."


def test_plain_text_fields_are_escaped_into_html():
    body = (
        b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>'
        b'<entry><id>1</id><title type="text">Tom &lt;3 Jerry</title>'
        b'<summary type="text">a &lt; b &amp; c</summary></entry></feed>'
    )
    (item,) = parse_feed(body, url=FEED_URL, headers={}).items
    assert item.title == "Tom <3 Jerry"
    assert item.summary_html == "a &lt; b &amp; c"
    assert item.text == "a < b & c"


@pytest.mark.parametrize(
    ("xml_title", "expected"),
    [
        pytest.param("Q&amp;A: tolls &amp; fares", "Q&A: tolls & fares", id="ampersand"),
        pytest.param("Tom &amp;amp; Jerry", "Tom & Jerry", id="double-escaped"),
        pytest.param("Mayor&#8217;s &#x201C;plan&#x201D;", "Mayor’s “plan”", id="numeric-references"),
        pytest.param("<![CDATA[<b>Bold</b> move &amp; more]]>", "Bold move & more", id="cdata-html"),
        pytest.param("  Spread\n   over\tlines  ", "Spread over lines", id="whitespace"),
    ],
)
def test_html_entities_and_markup_in_titles(xml_title, expected):
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><title>{xml_title}</title>'
    body += "<guid>1</guid></item></channel></rss>"
    (item,) = parse_feed(body.encode(), url=FEED_URL, headers=RSS_HEADERS).items
    assert item.title == expected


@pytest.mark.parametrize(
    ("element", "expected"),
    [
        pytest.param(
            "<pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate>", dt.datetime(2024, 3, 5, 10, 0), id="rfc822-gmt"
        ),
        pytest.param("<pubDate>Tue, 05 Mar 2024 10:00:00 -0500</pubDate>", dt.datetime(2024, 3, 5, 15, 0), id="offset"),
        pytest.param(
            "<pubDate>Tue, 05 Mar 2024 10:00:00 EST</pubDate>", dt.datetime(2024, 3, 5, 15, 0), id="zone-name"
        ),
        pytest.param("<pubDate>5 Mar 2024 10:00 +0000</pubDate>", dt.datetime(2024, 3, 5, 10, 0), id="no-weekday"),
        pytest.param("<pubDate>2024-03-05T10:00:00Z</pubDate>", dt.datetime(2024, 3, 5, 10, 0), id="iso-in-rss"),
        pytest.param(
            '<dc:date xmlns:dc="http://purl.org/dc/elements/1.1/">2024-03-05T10:00:00+01:00</dc:date>',
            dt.datetime(2024, 3, 5, 9, 0),
            id="dublin-core",
        ),
        pytest.param("<pubDate>yesterday-ish</pubDate>", None, id="unreadable"),
        pytest.param("", None, id="absent"),
    ],
)
def test_dates_in_several_forms(element, expected):
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><item><guid>1</guid>{element}'
    body += "</item></channel></rss>"
    (item,) = parse_feed(body.encode(), url=FEED_URL, headers=RSS_HEADERS).items
    assert item.published == (expected.replace(tzinfo=dt.UTC) if expected else None)
    assert item.published is None or item.published.tzinfo is dt.UTC


@pytest.mark.parametrize(
    ("pub_date", "expected"),
    [
        pytest.param("9" * 5000, NOW, id="year-9999-is-the-fetch-time"),
        pytest.param("Tue, 05 Mar 2099 10:00:00 GMT", NOW, id="future-is-the-fetch-time"),
        pytest.param("Tue, 05 Mar 2024 12:30:00 GMT", NOW, id="minutes-ahead-is-the-fetch-time"),
        pytest.param("Mon, 01 Jan 0001 +1400", None, id="year-1-is-no-date"),
        pytest.param("Thu, 01 Jan 1970 00:00:00 GMT", None, id="unix-zero-is-no-date"),
        pytest.param("Mon, 05 Jan 1998 09:00:00 GMT", dt.datetime(1998, 1, 5, 9, 0, tzinfo=dt.UTC), id="old-but-real"),
        pytest.param("Tue, 05 Mar 2024 11:59:00 GMT", dt.datetime(2024, 3, 5, 11, 59, tzinfo=dt.UTC), id="just-now"),
    ],
)
def test_impossible_dates_are_no_date_and_future_ones_the_fetch_time(pub_date, expected):
    body = rss([{"guid": "1", "title": "T", "pubDate": pub_date}])
    (item,) = parse_feed(body, url=FEED_URL, headers=RSS_HEADERS, now=NOW).items
    assert item.published == expected


def test_an_impossible_published_date_gives_way_to_the_updated_one():
    body = atom([{"id": "1", "title": "T", "published": "0001-01-01T00:00:00Z", "updated": "2024-03-04T08:00:00Z"}])
    (item,) = parse_feed(body, url=FEED_URL, headers={}, now=NOW).items
    assert item.published == dt.datetime(2024, 3, 4, 8, 0, tzinfo=dt.UTC)


def test_broken_xml_without_items_has_a_problem():
    feed = parse_feed(b"<rss><channel><title>T</title><<<", url=FEED_URL, headers=RSS_HEADERS)
    assert feed.items == ()
    assert feed.problem is not None
    assert feed.problem.startswith("not a readable feed")
    assert "\n" not in feed.problem


def test_broken_xml_with_readable_items_keeps_them():
    body = b"<rss><channel><item><guid>urn:a</guid><title>First</title></item><item><guid>urn:b</guid><title>Cut"
    feed = parse_feed(body, url=FEED_URL, headers=RSS_HEADERS)
    assert [item.key for item in feed.items] == ["guid:urn:a", "guid:urn:b"]
    assert feed.problem is None


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param(b"", "application/rss+xml", id="empty"),
        pytest.param(b"<html><body><p>Hello</p></body></html>", "text/html", id="html-page"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00", "application/xml", id="binary"),
    ],
)
def test_documents_that_are_not_feeds_have_a_problem(body, content_type):
    feed = parse_feed(body, url=FEED_URL, headers={"Content-Type": content_type})
    assert feed.items == ()
    assert feed.problem


def test_a_valid_feed_without_items_has_no_problem():
    feed = parse_feed(rss([]), url=FEED_URL, headers=RSS_HEADERS)
    assert (feed.items, feed.problem) == ((), None)


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" title="All" href="/feed.xml">'
            '<link rel="alternate" type="application/atom+xml" href="https://harbour.test/atom">',
            ["https://harbour.test/feed.xml", "https://harbour.test/atom"],
            id="rss-and-atom",
        ),
        pytest.param(
            '<LINK REL="Alternate Feed" TYPE="Application/RSS+XML; charset=utf-8" HREF="rss">',
            ["https://harbour.test/news/rss"],
            id="case-and-relative",
        ),
        pytest.param(
            '<base href="https://cdn.harbour.test/x/"><link rel="alternate" type="application/rss+xml" href="f.rss"/>',
            ["https://cdn.harbour.test/x/f.rss"],
            id="base-href",
        ),
        pytest.param(
            '<link rel="alternate" type="text/html" href="/fr/"><link rel="stylesheet" type="text/css" href="/s.css">'
            '<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">'
            '<link rel="alternate" type="application/rss+xml">',
            [],
            id="no-feed",
        ),
        pytest.param(
            '<link rel="alternate" type="application/rss+xml" href="/f">' * 2, ["https://harbour.test/f"], id="repeats"
        ),
    ],
)
def test_feed_links_are_discovered_in_a_page(head, expected):
    page = f"<!doctype html><html><head><title>T</title>{head}</head><body><p>Hi</p></body></html>".encode()
    assert feed_links(page, url="https://harbour.test/news/") == expected


def test_parse_feed_never_reads_files_or_urls(tmp_path):
    secret = tmp_path / "local.xml"
    secret.write_bytes(rss([{"guid": "from-a-local-file", "title": "Local"}]))
    for body in (str(secret).encode(), b"http://127.0.0.1:9/feed.xml", b"file:///etc/passwd"):
        feed = parse_feed(body, url=FEED_URL, headers=RSS_HEADERS)
        assert feed.items == ()
        assert feed.problem


GREEK = "\u0391\u03b8\u03ae\u03bd\u03b1"  # Athens, in Greek
JAPANESE = "ゲーム三昧な正月をすごしている。" * 3


@pytest.mark.parametrize(
    ("body", "content_type", "text", "encoding"),
    [
        pytest.param("Café".encode("cp1252"), "text/xml; charset=windows-1252", "Café", "cp1252", id="http-charset"),
        pytest.param(
            b'<?xml version="1.0" encoding="iso-8859-7"?>' + GREEK.encode("iso-8859-7"), "",
            '<?xml version="1.0" encoding="iso-8859-7"?>' + GREEK, "iso8859-7", id="xml-declaration",
        ),
        pytest.param(
            b'<?xml version="1.0" encoding="euc-jp"?>' + "正月".encode("euc-jp"), "text/xml; charset=euc-jp",
            '<?xml version="1.0" encoding="euc-jp"?>正月', "euc_jp", id="both-agree",
        ),
        pytest.param("Café".encode(), "text/xml; charset=iso-8859-1", "Café", "utf-8", id="latin-1-label-on-utf-8"),
        pytest.param("Café".encode(), "text/xml; charset=utf-8", "Café", "utf-8", id="utf-8"),
        pytest.param(JAPANESE.encode("euc-jp"), "text/xml; charset=utf-8", JAPANESE, None, id="wrong-label-detected"),
        pytest.param("Café".encode("utf-16"), "text/xml; charset=iso-8859-1", "Café", "utf-16", id="bom-first"),
        pytest.param("<?xml".encode("utf-16-le"), "", "<?xml", "utf-16-le", id="utf-16-without-bom"),
        pytest.param("Café".encode("cp1252"), "text/xml; charset=no-such-thing", "Café", "cp1252", id="unknown-label"),
    ],
)
def test_decode_feed(body, content_type, text, encoding):
    decoded, used = decode_feed(body, content_type=content_type)
    assert decoded == text
    assert encoding is None or used == encoding


def test_encoding_comes_from_the_headers():
    body = rss([{"guid": "1", "title": "Café"}]).replace(b'encoding="utf-8"', b"").replace("é".encode(), b"\xe9")
    (item,) = parse_feed(body, url=FEED_URL, headers={"Content-Type": "text/xml; charset=iso-8859-1"}).items
    assert item.title == "Café"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param("<ttl>90</ttl>", 90, id="ttl"),
        pytest.param("<ttl>0</ttl>", None, id="zero"),
        pytest.param("<ttl>soon</ttl>", None, id="not-a-number"),
        pytest.param(
            '<sy:updatePeriod xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">hourly</sy:updatePeriod>'
            '<sy:updateFrequency xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">2</sy:updateFrequency>',
            30,
            id="syndication-module",
        ),
        pytest.param("", None, id="absent"),
    ],
)
def test_ttl(extra, expected):
    body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>{extra}</channel></rss>'
    assert parse_feed(body.encode(), url=FEED_URL, headers=RSS_HEADERS).ttl == expected


# --- Identity and digests --------------------------------------------------------------------------------------


def test_identity_is_guid_then_link_then_hash():
    with_guid, with_link, bare = parse_rss(
        [
            {"guid_not_permalink": "post-101", "title": "A", "link": "https://harbour.test/a"},
            {"title": "B", "link": "https://Harbour.test/b?utm_source=rss&utm_medium=feed&id=7#comments"},
            {"title": "C", "description": "Only words."},
        ]
    )
    assert with_guid.key == "guid:post-101"
    assert (with_link.key, with_link.guid) == ("link:https://harbour.test/b?id=7", None)
    assert with_link.link == "https://Harbour.test/b?utm_source=rss&utm_medium=feed&id=7#comments"  # as given
    assert bare.key.startswith("hash:")
    assert (bare.guid, bare.link) == (None, None)


def test_an_item_without_guid_or_link_keeps_its_key_across_polls():
    items = [{"title": "C", "description": "Only words."}]
    assert parse_rss(items)[0].key == parse_rss(items)[0].key
    assert parse_rss([{"title": "C", "description": "Other words."}])[0].key != parse_rss(items)[0].key


def test_tracking_parameters_do_not_make_a_new_item():
    first = parse_rss([{"title": "B", "link": "https://harbour.test/b?utm_campaign=x"}])[0]
    again = parse_rss([{"title": "B", "link": "https://harbour.test/b?fbclid=abc"}])[0]
    assert first.key == again.key == "link:https://harbour.test/b"


def test_digest_changes_with_title_or_text_but_not_markup():
    base = {"guid": "1", "title": "Bridge approved", "description": "<p>The council voted.</p>"}
    digest = parse_rss([base])[0].digest
    assert parse_rss([{**base, "title": "Bridge approved, again"}])[0].digest != digest
    assert parse_rss([{**base, "description": "<p>The council voted twice.</p>"}])[0].digest != digest
    assert parse_rss([{**base, "description": "<div>The council\n   voted.</div>"}])[0].digest == digest
    edited = parse_rss([{**base, "description": "<p>Changed.</p>"}])[0]
    assert edited.key == parse_rss([base])[0].key


def test_repeated_keys_in_one_feed_keep_the_first_item():
    items = parse_rss(
        [{"guid_not_permalink": "1", "title": "Newest"}, {"guid_not_permalink": "1", "title": "Old"}, {"guid": "2"}]
    )
    # A permalink GUID is a URL: feedparser resolves a relative one against the feed's address.
    assert [(i.key, i.title) for i in items] == [("guid:1", "Newest"), ("guid:https://harbour.test/2", "")]


@pytest.mark.parametrize(
    ("fragment", "expected"),
    [
        pytest.param("<p>One</p><p>Two &amp; three</p>", "One\n\nTwo & three", id="paragraphs"),
        pytest.param("Line one<br>line two<br/>", "Line one\nline two", id="line-breaks"),
        pytest.param("<p>Text<script>alert(1)</script><style>p{}</style></p>", "Text", id="scripts"),
        pytest.param("<ul><li>a</li><li>b</li></ul>", "a\n\nb", id="lists"),
        pytest.param("plain &lt;text&gt;", "plain <text>", id="plain"),
        pytest.param("<p>   </p><div>&nbsp;</div>", "", id="empty"),
    ],
)
def test_html_to_text(fragment, expected):
    assert html_to_text(fragment) == expected


def test_an_item_survives_its_record():
    published = dt.datetime(2024, 3, 5, 9, 45, tzinfo=dt.UTC)
    item = FeedItem("guid:101", "101", "https://harbour.test/news/bridge", "Bridge", published, "", "<p>Body</p>", "d")
    assert item_from_record(item_record(item)) == item
    bare = replace(item, guid=None, link=None, published=None, content_html="")
    assert item_from_record(item_record(bare)) == bare
