"""feedparser's own test feeds (tests/data/feedparser, BSD-2-Clause, see its README), served over real HTTP by the
test site with the Content-Type each file's comment names, fetched and parsed as newsbot reads any feed.

Legacy encodings must come out as the text they encode, whether the feed declares its encoding, the server does,
or nobody does; ill-formed XML must give the items it still holds, or one line saying why it is not a feed.
"""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from bot.fetcher import Fetcher
from bot.polling import poll
from bot.state import AsyncState, SQLiteState
from index.feeds import ParsedFeed, html_to_text, parse_feed

from .test_polling import POLICY, START

SAMPLES = Path(__file__).parent / "data" / "feedparser"


def sample(name: str) -> tuple[bytes, str]:
    """A sample's bytes and the Content-Type its comment names ("" when none)."""
    body = (SAMPLES / name).read_bytes()
    header = re.search(rb"Header:\s*Content-type:\s*(.+)", body, re.IGNORECASE)
    return body, header.group(1).decode("ascii").strip() if header else ""


@pytest.fixture
async def fetcher():
    async with Fetcher(allow_loopback=True, timeout=10) as client:
        yield client


async def read(site, fetcher, name: str) -> ParsedFeed:
    body, content_type = sample(name)
    site.serve(f"/{name}", body, content_type=content_type)
    result = await fetcher.fetch(site.url(f"/{name}"), kind="feed")
    assert result.body == body
    return parse_feed(result.body, url=result.url, headers=result.headers)


# --- Encodings nobody states -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "title"),
    [
        pytest.param("eucjp", "ゲーム三昧な正月", id="euc-jp"),
        pytest.param("euckr", "EUC-KR 에서 TypeKey 한글닉네임 표시하기", id="euc-kr"),
        pytest.param("shiftjis", "DrecomRSSに記事投稿が反映されない…", id="shift_jis"),
    ],
)
async def test_the_issues_mojibake_titles_are_read_right(site, fetcher, name, title):
    feed = await read(site, fetcher, f"illformed/chardet/{name}.xml")
    assert feed.problem is None
    assert feed.items[0].title == title


def _stated_encoding(body: bytes) -> str:
    """The encoding feedparser's comment says the file is in (``Expect: ... encoding == 'EUC-JP'``)."""
    found = re.search(rb"encoding == '([^']+)'", body)
    assert found is not None
    name = found.group(1).decode("ascii")
    return "gb18030" if codecs.lookup(name).name == "gb2312" else name  # GB2312 text in its superset


def _first_text(body: bytes, encoding: str) -> str:
    """The first title (else description or summary) of the file, decoded with the stated encoding."""
    for tag in (b"title", b"description", b"summary"):
        found = re.search(rb"<%s>(.*?)</%s>" % (tag, tag), body, re.DOTALL)
        if found:
            return html_to_text(found.group(1).decode(encoding))
    raise AssertionError("no text in the sample")


@pytest.mark.parametrize(
    "name", ["eucjp", "euckr", "shiftjis", "big5", "gb2312", "koi8r", "tis620", "windows1255"]
)
async def test_feeds_that_state_no_encoding_are_read_in_theirs(site, fetcher, name):
    body, _ = sample(f"illformed/chardet/{name}.xml")
    expected = _first_text(body, _stated_encoding(body))
    feed = await read(site, fetcher, f"illformed/chardet/{name}.xml")
    assert feed.problem is None  # Big5 was refused
    if feed.items:
        item = feed.items[0]
        assert (item.title or item.text)[:60] == expected[:60]
    else:
        assert feed.title == expected


async def test_a_euc_jp_story_is_stored_as_text(site, tmp_path, fetcher):
    import json

    body, _ = sample("illformed/chardet/eucjp.xml")
    site.serve("/eucjp.xml", body, content_type="")
    db = SQLiteState(tmp_path / "data" / "newsbot.sqlite3")
    try:
        db.feeds.add(site.url("/eucjp.xml"), None)
        async with AsyncState(db) as state:
            report = await poll(state, fetcher, tmp_path / "articles", policy=POLICY, now=START)
    finally:
        db.close()
    assert len(report.articles) == 1
    (saved,) = (tmp_path / "articles" / "feeds").rglob("*.json")
    record = json.loads(saved.read_text(encoding="utf-8"))
    assert record["title"] == "ゲーム三昧な正月"
    assert record["text"].startswith("『SDガンダムGジェネレーションNEO』をずっとプレイしている。")


# --- Encodings the feed or the server states -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "title", "text"),
    [
        pytest.param("big5.xml", "", None, id="big5-declared"),
        pytest.param("euc-kr.xml", "년", None, id="euc-kr-declared"),
        pytest.param("euc-kr-item.xml", "", "년", id="euc-kr-item"),
        pytest.param("euc-kr-attribute.xml", "", None, id="euc-kr-in-html"),
        pytest.param("http_application_atom_xml_gb2312_charset.xml", "", None, id="gb2312-from-http"),
        pytest.param("http_i18n.xml", "Iñtërnâtiônàlizætiøn", None, id="utf-8"),
        pytest.param("http_text_xml_charset_overrides_encoding.xml", "", None, id="http-charset-first"),
        pytest.param("no_content_type_encoding.xml", "", None, id="no-content-type"),
        pytest.param("bozo_http_text_plain.xml", "", None, id="text-plain"),
        pytest.param("utf-8-bom.xml", "", None, id="utf-8-bom"),
        pytest.param("utf-16le-bom.xml", "", None, id="utf-16le-bom"),
        pytest.param("utf-16le-autodetect.xml", "", None, id="utf-16le-no-bom"),
        pytest.param("utf-32be-bom.xml", "", None, id="utf-32be-bom"),
    ],
)
async def test_stated_encodings(site, fetcher, name, title, text):
    feed = await read(site, fetcher, f"encoding/{name}")
    assert (feed.problem, feed.title) == (None, title)
    assert [item.text for item in feed.items] == ([text] if text else [])


async def test_invalid_bytes_after_a_utf_8_bom_keep_the_valid_text(site, fetcher):
    feed = await read(site, fetcher, "encoding/bozo_invalid-bytes-with-bom.xml")
    # The valid UTF-8 is read as UTF-8 (feedparser alone made it Windows-1252 mojibake, "Ñ¨"); the bad byte is
    # replaced, not a reason to misread the rest.
    assert feed.title == "Valid UTF8: \u0468Invalid UTF8: Espa\ufffda"
    assert feed.problem is not None  # its channel is never closed and it has no items: not a feed to follow


# --- Ill-formed XML --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "readable"),
    [
        pytest.param("aaa_illformed.xml", False, id="unclosed-root"),
        pytest.param("rss_empty_document.xml", False, id="empty-document"),
        pytest.param("rss_incomplete_cdata.xml", False, id="cut-off-cdata"),
        pytest.param("undeclared_namespace.xml", False, id="undeclared-namespace"),
        pytest.param("always_strip_doctype.xml", True, id="stray-doctype"),
        pytest.param("http_high_bit_date.xml", True, id="high-bit-date"),
    ],
)
async def test_ill_formed_feeds_without_items_say_why_in_one_line(site, fetcher, name, readable):
    feed = await read(site, fetcher, f"illformed/{name}")
    assert feed.items == ()
    if readable:
        assert feed.problem is None
    else:
        assert feed.problem is not None
        assert feed.problem.startswith("not a readable feed")
        assert "\n" not in feed.problem


async def test_ill_formed_feeds_keep_the_items_they_hold(site, fetcher):
    ampersands = await read(site, fetcher, "illformed/rss_item_link_corrupted_ampersands.xml")
    assert [item.link for item in ampersands.items] == ["http://link/get?a=1&b=2"]
    textinput = await read(site, fetcher, "illformed/rdf_channel_empty_textinput.xml")
    assert [item.title for item in textinput.items] == ["crashes here"]
    doctype = await read(site, fetcher, "illformed/always_strip_doctype.xml")
    assert doctype.title == "found"
