"""Briefings from the index: topic and latest modes, since, near-duplicates once, quotes verbatim."""

from __future__ import annotations

import datetime as dt
import json

import pytest

import index
from index.briefs import near_duplicates

from .conftest import SEED_TITLE, write

LONG = (
    "The central bank raised its main interest rate by half a point on Tuesday, its third increase this year, "
    "saying inflation remained well above its target. Economists had expected a smaller move. The bank's "
    "governor told reporters that further increases could not be ruled out if prices kept rising at the current "
    "pace, and that the labour market was still tight. Markets reacted calmly, with the currency little changed "
    "against the dollar and government bond yields slightly higher by the close of trading."
)


def story(title: str, date: str | None, body: str) -> str:
    return f"{title}\n{date or ''}\n\n{body}\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("briefs")
    write(folder, "rates.txt", story("Central bank raises rates", "2024-03-05", LONG))
    # The same wire story, corrected and lightly rewritten: a near-duplicate.
    write(
        folder,
        "rates-corrected.txt",
        story(
            "CORRECTED - Central bank raises rates",
            "2024-03-05 14:00",
            LONG.replace("on Tuesday", "on Tuesday afternoon").replace("slightly higher", "a little higher"),
        ),
    )
    write(
        folder,
        "volcano.txt",
        story(
            "Volcano erupts in Iceland",
            "2024-03-07",
            "The Reykjanes volcano erupted again overnight, the fourth eruption since "
            "December. Lava flowed toward the town of Grindavik, which was evacuated.",
        ),
    )
    write(
        folder,
        "harbour.txt",
        story(
            "Harbour strike ends",
            "2024-03-06",
            "Dock workers ended a week-long strike at the harbour. Ships began "
            "unloading on Wednesday and the backlog should clear within days.",
        ),
    )
    # Short templated notices of different companies: alike, but different news.
    write(
        folder,
        "div-a.txt",
        story(
            "ACME SETS QUARTERLY",
            "2024-03-04",
            "Qtly div 25 cts vs 25 cts prior. Pay April 15. Record March 31. Acme Corp said.",
        ),
    )
    write(
        folder,
        "div-b.txt",
        story(
            "BOLT SETS QUARTERLY",
            "2024-03-04",
            "Qtly div 30 cts vs 30 cts prior. Pay April 15. Record March 31. Bolt Inc said.",
        ),
    )
    write(folder, "undated.txt", "Undated feature\n\nA long read about volcanoes and their history.\n")
    return index.build(folder)


def assert_verbatim(briefing: index.Briefing) -> None:
    for item in briefing.stories:
        assert item.quotes
        for quote in item.quotes:
            assert item.article.text[quote.start : quote.end] == quote.text
            assert "\n\n" not in quote.text, "a quote never joins two paragraphs"


def test_latest_is_newest_first_undated_last(corpus):
    briefing = index.brief(corpus, n=10)
    titles = [s.article.title for s in briefing.stories]
    assert titles[:2] == ["Volcano erupts in Iceland", "Harbour strike ends"]
    assert titles[-1] == "Undated feature"
    assert_verbatim(briefing)


def test_latest_quotes_the_lead(corpus):
    first = index.brief(corpus, n=1).stories[0]
    assert first.quotes[0].text == (
        "The Reykjanes volcano erupted again overnight, the fourth eruption since December. "
        "Lava flowed toward the town of Grindavik, which was evacuated."
    )


def test_near_duplicates_appear_once(corpus):
    briefing = index.brief(corpus, n=10)
    rate_stories = [s for s in briefing.stories if "Central bank" in s.article.title]
    assert len(rate_stories) == 1
    assert briefing.duplicates == 1
    assert {"ACME SETS QUARTERLY", "BOLT SETS QUARTERLY"} <= {s.article.title for s in briefing.stories}


def test_topic_mode_ranks_and_quotes_matching_sentences(corpus):
    briefing = index.brief(corpus, "volcano eruption", n=3)
    assert briefing.stories[0].article.title == "Volcano erupts in Iceland"
    assert "erupted" in briefing.stories[0].quotes[0].text
    assert_verbatim(briefing)
    rates = index.brief(corpus, "interest rate inflation", n=5)
    assert rates.stories[0].article.title.endswith("Central bank raises rates")
    assert "inflation" in rates.stories[0].quotes[0].text


def test_since_filters_by_publication_date(corpus):
    briefing = index.brief(corpus, since=dt.datetime(2024, 3, 5, 23, 0), n=10)
    assert [s.article.title for s in briefing.stories] == ["Volcano erupts in Iceland", "Harbour strike ends"]
    nothing = index.brief(corpus, "volcano", since=dt.datetime(2030, 1, 1))
    assert nothing.stories == ()
    assert nothing.message == (
        "No stories match that topic published since 1 January 2030. The newest articles are from 7 March 2024."
    )


def test_only_and_exclude(corpus):
    ids = [a.id for a in corpus.articles if a.title == "Harbour strike ends"]
    assert [s.article.id for s in index.brief(corpus, only=ids).stories] == ids
    assert ids[0] not in {s.article.id for s in index.brief(corpus, n=10, exclude=ids).stories}


def test_topic_without_words(corpus):
    briefing = index.brief(corpus, "the of and")
    assert briefing.stories == ()
    assert "no words" in briefing.message


def test_seed_brief(seed_index):
    briefing = index.brief(seed_index, "libya")
    assert briefing.stories[0].article.title == SEED_TITLE
    assert_verbatim(briefing)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param(LONG, LONG.replace("Tuesday", "Wednesday"), True, id="long-rewrite"),
        pytest.param(LONG, "Dock workers ended a strike.", False, id="unrelated"),
        pytest.param(
            "Qtly div 25 cts vs 25 cts prior. Pay April 15. Record March 31. Acme said.",
            "Qtly div 30 cts vs 30 cts prior. Pay April 15. Record March 31. Bolt said.",
            False,
            id="short-templated",
        ),
        pytest.param(
            "Qtly div 25 cts vs 25 cts prior. Pay April 15. Record March 31. Acme said.",
            "Qtly div 25 cts vs 25 cts prior. Pay April 15. Record March 31. Acme said.",
            True,
            id="short-identical",
        ),
    ],
)
def test_near_duplicate_rule(a, b, expected):
    assert near_duplicates(a, b) is expected


def test_first_seen_carries_over(tmp_path):
    folder = tmp_path / "a"
    write(folder, "one.txt", "One\n\nFirst story.\n")
    first = index.update(tmp_path / "ix", folder)
    write(folder, "two.txt", "Two\n\nSecond story.\n")
    second = index.update(tmp_path / "ix", folder)
    assert second.first_seen("one") == first.first_seen("one")
    assert second.first_seen("two") >= first.first_seen("one")
    write(folder, "one.txt", "One\n\nFirst story, corrected.\n")
    third = index.update(tmp_path / "ix", folder)
    assert third.first_seen("one") == first.first_seen("one"), "a corrected story is not new"
    assert index.update(tmp_path / "ix", folder, full=True).first_seen("one") == first.first_seen("one")


def test_newest_first_compares_aware_and_naive_dates_as_utc(tmp_path):
    write(
        tmp_path,
        "a.json",
        json.dumps(
            [
                {"id": "naive-noon", "title": "Naive noon", "text": "One.", "date": "2024-03-05T12:00:00"},
                {"id": "aware-1pm", "title": "Aware 13:00 UTC", "text": "Two.", "date": "2024-03-05T15:00:00+02:00"},
                {"id": "aware-11am", "title": "Aware 11:00 UTC", "text": "Three.", "date": "2024-03-05T11:00:00Z"},
                {"id": "undated", "title": "Undated", "text": "Four."},
            ]
        ),
    )
    idx = index.build(tmp_path)
    assert [a.id for a in idx.newest_first] == ["aware-1pm", "naive-noon", "aware-11am", "undated"]
    assert idx.recent_titles(2) == ("Aware 13:00 UTC", "Naive noon")
    assert [s.article.id for s in index.brief(idx, n=4).stories] == ["aware-1pm", "naive-noon", "aware-11am", "undated"]


def test_a_truncated_wire_copy_is_the_same_story(tmp_path):
    from .conftest import write

    lead = "Opec ministers agreed on Monday to cut output by a million barrels a day, delegates said."
    second = "The cut takes effect next month and will be reviewed in June, the delegates added."
    rest = " ".join(f"Further detail number {i} about quotas and prices in the Gulf." for i in range(30))
    write(tmp_path, "a.txt", f"OPEC AGREES TO CUT OUTPUT\n1987-06-01\n\n{lead}\n\n{second}\n")
    write(tmp_path, "b.txt", f"OPEC AGREES TO CUT OUTPUT\n1987-06-01\n\n{lead}\n\n{second}\n\n{rest}\n")
    idx = index.build(tmp_path)
    briefing = index.brief(idx, "opec output cut", n=5)
    assert len(briefing.stories) == 1
    assert briefing.duplicates == 1


def test_the_date_order_reads_articles_only_when_they_are_used(tmp_path):
    folder = tmp_path / "articles"
    for day in range(1, 29):
        write(folder, f"d{day:02d}.txt", f"Day {day}\n2024-02-{day:02d}\n\nHarbour {day} reopened, officials said.\n")
    idx = index.update(tmp_path / "ix", folder)
    order = idx.newest_first
    assert len(order) == 28
    assert len(idx.store._cache) == 0, "ordering reads dates, not articles"
    assert [a.id for a in order[:3]] == ["d28", "d27", "d26"]
    assert len(idx.store._cache) == 3


def test_a_huge_article_is_briefed_in_bounded_memory_and_quotes(tmp_path):
    # Issue 15, finding 2: a briefing fingerprinted a 16 MB one-line article whole (its 3-word shingles: 490 MB)
    # and could quote two of its longest sentences together.
    import random
    import tracemalloc

    from index.passages import MAX_PASSAGE_CHARS

    rng = random.Random(4)
    words = ["harbour", "ferry", "storm", "officials", "grain", "tariff", "council"] + [f"w{i}" for i in range(5000)]
    body = " ".join(rng.choice(words) for _ in range(150_000))
    write(tmp_path / "a", "huge.txt", f"A huge one-line story\n2024-05-01\n\n{body}\n")
    write(tmp_path / "a", "small.txt", story("Ferry resumes", "2024-04-01", "The harbour ferry resumed on Monday."))
    idx = index.update(tmp_path / "ix", tmp_path / "a")
    tracemalloc.start()
    try:
        for topic in (None, "harbour ferry storm"):
            briefing = index.brief(idx, topic)
            assert briefing.stories
            for s in briefing.stories:
                assert all(len(q.text) <= MAX_PASSAGE_CHARS for q in s.quotes)
                assert all(s.article.text[q.start : q.end] == q.text for q in s.quotes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * len(body), f"{peak / len(body):.1f} bytes per character of the article"
