"""index.pages: a fetched page (and the feed item that linked it) made into an article."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from index.feeds import FeedItem
from index.pages import extract_article

from .feed_server import EMPTY_PAGE, article_page

PARAGRAPHS = [
    "The council voted on Tuesday to approve the new harbour bridge, which engineers say will carry twelve "
    "thousand vehicles a day once it opens next spring.",
    "Opponents argued that the money would be better spent on the ferry service, which has run at a loss for "
    "three years, and promised to challenge the decision in court.",
    "The mayor said construction would begin in June and that the old swing bridge would stay open to "
    "pedestrians until the new one was finished.",
]


def feed_item(*, content: str = "", summary: str = "", published: dt.datetime | None = None) -> FeedItem:
    return FeedItem(
        key="guid:101",
        guid="101",
        link="https://harbour.test/news/bridge?utm_source=rss",
        title="Bridge approved (feed title)",
        published=published,
        summary_html=summary,
        content_html=content,
        digest="d",
    )


def test_extract_article_from_a_page_with_main_text():
    page = article_page(
        "Council approves harbour bridge",
        PARAGRAPHS,
        canonical="https://harbour.test/news/bridge?utm_source=share",
        published="2024-03-05T10:00:00Z",
    )
    article = extract_article(page, url="https://harbour.test/news/bridge?x=1", item=None, source="Harbour Times")
    assert article is not None
    assert article.title == "Council approves harbour bridge"
    assert article.text == "\n\n".join(PARAGRAPHS)
    assert article.url == "https://harbour.test/news/bridge"
    assert article.date == dt.datetime(2024, 3, 5, tzinfo=dt.UTC)
    assert article.source == "Harbour Times"
    assert len(article.id) == 16


def test_same_canonical_url_gives_the_same_article_id():
    page = article_page("Bridge", PARAGRAPHS, canonical="https://harbour.test/news/bridge")
    first = extract_article(page, url="https://harbour.test/news/bridge?utm_source=a", item=None, source="S")
    second = extract_article(page.decode(), url="https://harbour.test/amp/bridge", item=None, source="S")
    other = extract_article(article_page("Bridge", PARAGRAPHS), url="https://harbour.test/b2", item=None, source="S")
    assert first is not None
    assert second is not None
    assert other is not None
    assert first.id == second.id != other.id


def test_a_canonical_url_on_another_site_is_ignored():
    page = article_page("Bridge", PARAGRAPHS, canonical="https://other-paper.test/their/story")
    article = extract_article(page, url="https://harbour.test/news/bridge", item=None, source="S")
    assert article is not None
    assert article.url == "https://harbour.test/news/bridge"


def test_feed_date_and_page_title_win():
    published = dt.datetime(2024, 3, 5, 9, 45, tzinfo=dt.UTC)
    page = article_page("Council approves harbour bridge", PARAGRAPHS, published="2024-03-01T00:00:00Z")
    article = extract_article(page, url="https://harbour.test/n", item=feed_item(published=published), source="S")
    assert article is not None
    assert (article.title, article.date) == ("Council approves harbour bridge", published)


def test_page_without_main_text_falls_back_to_the_feed_content():
    content = "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    item = feed_item(content=content)
    article = extract_article(EMPTY_PAGE, url="https://harbour.test/news/bridge", item=item, source="Harbour Times")
    assert article is not None
    assert article.text == "\n\n".join(PARAGRAPHS)
    assert article.title == "Bridge approved (feed title)"
    assert article.url == "https://harbour.test/news/bridge"


def test_no_page_uses_the_feed_content_and_the_item_link():
    item = feed_item(summary="".join(f"<p>{p}</p>" for p in PARAGRAPHS))
    article = extract_article(None, url="", item=item, source="Harbour Times")
    assert article is not None
    assert article.url == "https://harbour.test/news/bridge"
    assert article.text.startswith("The council voted")


def test_no_text_anywhere_gives_none():
    untitled = replace(feed_item(summary="<p>Read more…</p>"), title="")
    assert extract_article(EMPTY_PAGE, url="https://harbour.test/a", item=untitled, source="S") is None
    assert extract_article(EMPTY_PAGE, url="https://harbour.test/a", item=None, source="S") is None
    assert extract_article(None, url="https://harbour.test/a", item=None, source="S") is None
    assert extract_article(b"", url="https://harbour.test/a", item=None, source="S") is None


@pytest.mark.parametrize("page", [EMPTY_PAGE, None], ids=["page-without-text", "no-page"])
def test_an_item_with_only_a_title_and_a_link_is_kept_as_a_headline(page):
    item = feed_item(summary="<p>Read more…</p>", published=dt.datetime(2024, 3, 5, 9, 45, tzinfo=dt.UTC))
    article = extract_article(page, url="https://harbour.test/news/bridge", item=item, source="Harbour Times")
    assert article is not None
    assert (article.title, article.text) == ("Bridge approved (feed title)", "")  # not the page's "Loading"
    assert (article.url, article.date) == ("https://harbour.test/news/bridge", item.published)


def test_source_falls_back_to_the_host():
    article = extract_article(
        article_page("Bridge", PARAGRAPHS), url="https://www.harbour.test/a", item=None, source=""
    )
    assert article is not None
    assert article.source == "harbour.test"


def test_an_item_without_any_url_gets_an_id_from_its_key():
    item = FeedItem("hash:abc", None, None, "T", None, "", "".join(f"<p>{p}</p>" for p in PARAGRAPHS), "d")
    first = extract_article(None, url="", item=item, source="S")
    again = extract_article(None, url="", item=item, source="S")
    assert first is not None
    assert again is not None
    assert first.url is None
    assert first.id == again.id
