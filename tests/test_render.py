"""Telegram HTML: escaping, links, and the 4096-character limit kept by dropping whole quotes."""

from __future__ import annotations

import datetime as dt

from bot import render
from index import Answer, Article, Briefing, Quote, Story

from .fake_telegram import parse_html

HOSTILE = Article(
    id="h",
    title="<script>alert(1)</script> & Co",
    text="x",
    url='https://ex.com/a?b=1&c="2"',
    date=dt.datetime(2024, 1, 2),
)


def quote(text: str, article: Article = HOSTILE) -> Quote:
    return Quote(text=text, score=1.0, start=0, end=len(text), article=article)


def test_quotes_titles_and_links_are_escaped():
    html = render.answer(Answer(question="q", answered=True, quotes=(quote("1 < 2 & <b>bold</b>"),)))
    assert "<blockquote>1 &lt; 2 &amp; &lt;b&gt;bold&lt;/b&gt;</blockquote>" in html
    assert '<a href="https://ex.com/a?b=1&amp;c=&quot;2&quot;">&lt;script&gt;' in html
    assert parse_html(html).endswith("— <script>alert(1)</script> & Co, 2 January 2024")


def test_non_http_urls_are_not_linked():
    article = Article(id="j", title="T", text="x", url="javascript:alert(1)")
    assert "<a " not in render.source_line(article)


def test_counts_of_one_are_singular_in_reports():
    from bot.services import ReindexReport
    from index import Changes, IngestReport, plural

    ingest = IngestReport(loaded=1, files=1, skip_counts=(("invalid JSON", 1),), duplicate_count=1, headlines=1)
    report = ReindexReport(changes=Changes(added=("a",)), report=ingest, articles=1, passages=1, seconds=0.1)
    text = parse_html(render.reindex_report(report))
    assert "1 article, 1 passage." in text
    assert "skipped 1 file or record, 1 duplicate." in text
    assert ingest.summary() == "1 article loaded from 1 file (1 headline only), 1 skipped, 1 duplicate"
    assert [plural(n, "story", "stories") for n in (0, 1, 2)] == ["0 stories", "1 story", "2 stories"]


def test_long_answers_drop_whole_quotes():
    quotes = tuple(quote(f"Sentence {i} " + "word " * 300) for i in range(6))
    html = render.answer(Answer(question="q", answered=True, quotes=quotes))
    assert len(html) <= render.MAX_MESSAGE
    shown = [q for q in quotes if q.text in html]
    assert 1 <= len(shown) < len(quotes)
    assert html.count("<blockquote>") == len(shown), "every quote shown is whole"


def test_a_quote_too_long_for_telegram_is_not_cut():
    html = render.answer(Answer(question="q", answered=True, quotes=(quote("word " * 1000),)))
    assert "too long for one Telegram message" in html
    assert "word word" not in html


def test_briefing_splits_between_stories():
    stories = tuple(
        Story(
            article=Article(id=str(i), title=f"Story {i}", text="x"),
            quotes=(quote(f"Story {i} says " + "news " * 150),),
        )
        for i in range(12)
    )
    messages = render.briefing(Briefing(topic="news", since=None, stories=stories))
    assert len(messages) > 1
    assert all(len(m) <= render.MAX_MESSAGE for m in messages)
    joined = "\n".join(messages)
    for story in stories:
        assert story.quotes[0].text in joined
    for message in messages:
        parse_html(message)  # each part is valid Telegram HTML on its own
