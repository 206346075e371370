"""Time in questions: ranges in the chat's calendar, recency, the topic left over, and what is not time."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.dates import naive_utc
from index.errors import InvalidOption
from index.model import Article
from index.timewords import TimeQuery, read_since, read_time

ISTANBUL = ZoneInfo("Europe/Istanbul")
NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ISTANBUL)  # a Wednesday


def local(year: int, month: int, day: int, hour: int = 0, zone: ZoneInfo = ISTANBUL) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=zone)


def utc(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def case(question: str, expected: TimeQuery) -> object:
    return pytest.param(question, expected, id=question)


YESTERDAY = (local(2026, 11, 24), local(2026, 11, 25))
LAST_WEEK = (local(2026, 11, 16), local(2026, 11, 23))

READ = [
    # The cases.
    case("What happened yesterday?", TimeQuery("", *YESTERDAY, phrase="yesterday", empty=True)),
    case("latest news about OPEC", TimeQuery("about OPEC", newest_first=True, phrase="latest")),
    case("what's new?", TimeQuery("", newest_first=True, phrase="what's new", empty=True)),
    case("what’s new?", TimeQuery("", newest_first=True, phrase="what’s new", empty=True)),
    case("What is new?", TimeQuery("", newest_first=True, phrase="What is new", empty=True)),
    case("any news today?", TimeQuery("", local(2026, 11, 25), phrase="today", empty=True)),
    case("oil prices in March", TimeQuery("oil prices", local(2026, 3, 1), local(2026, 4, 1), phrase="March")),
    case("OPEC in March 1987", TimeQuery("OPEC", local(1987, 3, 1), local(1987, 4, 1), phrase="March 1987")),
    case("OPEC since May 2020", TimeQuery("OPEC", local(2020, 5, 1), phrase="since May 2020")),
    # Days, weeks, months and years of the calendar.
    case("WHAT HAPPENED YESTERDAY", TimeQuery("", *YESTERDAY, phrase="YESTERDAY", empty=True)),
    case("yesterday's attack in Libya", TimeQuery("attack in Libya", *YESTERDAY, phrase="yesterday's")),
    case("news from yesterday", TimeQuery("", *YESTERDAY, phrase="yesterday", empty=True)),
    case(
        "What happened the day before yesterday?",
        TimeQuery("", local(2026, 11, 23), local(2026, 11, 24), phrase="the day before yesterday", empty=True),
    ),
    case("Libya this morning", TimeQuery("Libya", local(2026, 11, 25), phrase="this morning")),
    case("what happened tonight", TimeQuery("", local(2026, 11, 25), phrase="tonight", empty=True)),
    case("Libya last night", TimeQuery("Libya", local(2026, 11, 24), phrase="last night")),
    case("OPEC this week", TimeQuery("OPEC", local(2026, 11, 23), phrase="this week")),
    case("OPEC last week", TimeQuery("OPEC", *LAST_WEEK, phrase="last week")),
    case("What happened last week in Libya?", TimeQuery("What in Libya?", *LAST_WEEK, phrase="last week")),
    case("OPEC previous week", TimeQuery("OPEC", *LAST_WEEK, phrase="previous week")),
    case("OPEC this month", TimeQuery("OPEC", local(2026, 11, 1), phrase="this month")),
    case("OPEC last month", TimeQuery("OPEC", local(2026, 10, 1), local(2026, 11, 1), phrase="last month")),
    case("OPEC this year", TimeQuery("OPEC", local(2026, 1, 1), phrase="this year")),
    case("last year's budget", TimeQuery("budget", local(2025, 1, 1), local(2026, 1, 1), phrase="last year's")),
    # Rolling periods up to now, and "ago".
    case("OPEC in the past 3 days", TimeQuery("OPEC", local(2026, 11, 22), phrase="the past 3 days")),
    case("OPEC over the last two weeks", TimeQuery("OPEC over", local(2026, 11, 11), phrase="the last two weeks")),
    case("OPEC in the last week", TimeQuery("OPEC", local(2026, 11, 18), phrase="the last week")),
    case("OPEC in the past few days", TimeQuery("OPEC", local(2026, 11, 22), phrase="the past few days")),
    case("OPEC past 6 months", TimeQuery("OPEC", local(2026, 5, 25), phrase="past 6 months")),
    case("OPEC in the past year", TimeQuery("OPEC", local(2025, 11, 25), phrase="the past year")),
    case("OPEC past 24 hours", TimeQuery("OPEC", local(2026, 11, 24, 10), phrase="past 24 hours")),
    case(
        "What happened 3 days ago?",
        TimeQuery("", local(2026, 11, 22), local(2026, 11, 23), phrase="3 days ago", empty=True),
    ),
    case("Libya two weeks ago", TimeQuery("Libya", local(2026, 11, 9), local(2026, 11, 16), phrase="two weeks ago")),
    case("Libya a month ago", TimeQuery("Libya", local(2026, 10, 1), local(2026, 11, 1), phrase="a month ago")),
    # Months, years and weekdays: the most recent one not in the future.
    case("OPEC in December", TimeQuery("OPEC", local(2025, 12, 1), local(2026, 1, 1), phrase="December")),
    case("OPEC in November", TimeQuery("OPEC", local(2026, 11, 1), phrase="November")),
    case("OPEC during may", TimeQuery("OPEC", local(2026, 5, 1), local(2026, 6, 1), phrase="may")),
    case("OPEC last May", TimeQuery("OPEC", local(2026, 5, 1), local(2026, 6, 1), phrase="last May")),
    case("OPEC last November", TimeQuery("OPEC", local(2025, 11, 1), local(2025, 12, 1), phrase="last November")),
    case("OPEC in 1987", TimeQuery("OPEC", local(1987, 1, 1), local(1988, 1, 1), phrase="1987")),
    case(
        "What did Erdogan say on Tuesday about Libya?",
        TimeQuery("What did Erdogan say about Libya?", *YESTERDAY, phrase="Tuesday"),
    ),
    case("OPEC on Wednesday", TimeQuery("OPEC", local(2026, 11, 25), phrase="Wednesday")),
    case("OPEC last Wednesday", TimeQuery("OPEC", local(2026, 11, 18), local(2026, 11, 19), phrase="last Wednesday")),
    case("OPEC on Monday", TimeQuery("OPEC", local(2026, 11, 23), local(2026, 11, 24), phrase="Monday")),
    # Dates: day first when both readings are possible, month first only when nothing else is a date.
    case("OPEC on 23 May 2020", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="23 May 2020")),
    case("OPEC on May 23, 2020", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="May 23, 2020")),
    case("OPEC on 2020-05-23", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="2020-05-23")),
    case("OPEC on 23/05/2020", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="23/05/2020")),
    case("OPEC on 05/23/2020", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="05/23/2020")),
    case("OPEC on 03/05/2020", TimeQuery("OPEC", local(2020, 5, 3), local(2020, 5, 4), phrase="03/05/2020")),
    case("OPEC on 23.05.2020", TimeQuery("OPEC", local(2020, 5, 23), local(2020, 5, 24), phrase="23.05.2020")),
    case(
        "OPEC on the 5th of May 2020",
        TimeQuery("OPEC", local(2020, 5, 5), local(2020, 5, 6), phrase="the 5th of May 2020"),
    ),
    case("OPEC on May 23", TimeQuery("OPEC", local(2026, 5, 23), local(2026, 5, 24), phrase="May 23")),
    case("OPEC on 30 December", TimeQuery("OPEC", local(2025, 12, 30), local(2025, 12, 31), phrase="30 December")),
    case("May 2020 OPEC cut", TimeQuery("OPEC cut", local(2020, 5, 1), local(2020, 6, 1), phrase="May 2020")),
    # Open ends and spans.
    case("OPEC since last week", TimeQuery("OPEC", local(2026, 11, 16), phrase="since last week")),
    case("libya since yesterday", TimeQuery("libya", local(2026, 11, 24), phrase="since yesterday")),
    case("OPEC after March 1987", TimeQuery("OPEC", local(1987, 4, 1), phrase="after March 1987")),
    case("OPEC before 1 June 2020", TimeQuery("OPEC", None, local(2020, 6, 1), phrase="before 1 June 2020")),
    case("OPEC until June 2020", TimeQuery("OPEC", None, local(2020, 7, 1), phrase="until June 2020")),
    case(
        "OPEC between March 1987 and June 1987",
        TimeQuery("OPEC", local(1987, 3, 1), local(1987, 7, 1), phrase="between March 1987 and June 1987"),
    ),
    case(
        "OPEC from 1987 to 1988",
        TimeQuery("OPEC", local(1987, 1, 1), local(1989, 1, 1), phrase="from 1987 to 1988"),
    ),
    case("OPEC from May to July", TimeQuery("OPEC", local(2026, 5, 1), local(2026, 8, 1), phrase="from May to July")),
    case(
        "OPEC since May 2020 until June 2020",
        TimeQuery("OPEC", local(2020, 5, 1), local(2020, 7, 1), phrase="since May 2020, until June 2020"),
    ),
    case(
        "OPEC in March 1987 and April 1987",
        TimeQuery("OPEC", local(1987, 3, 1), local(1987, 5, 1), phrase="March 1987, April 1987"),
    ),
    case(
        "What did the visits in 1979 and 1983 encourage?",
        TimeQuery("What did the visits encourage?", local(1979, 1, 1), local(1984, 1, 1), phrase="1979, 1983"),
    ),
    # Recency, alone and with a range.
    case("Latest News about OPEC", TimeQuery("about OPEC", newest_first=True, phrase="Latest")),
    case("Latest OPEC news", TimeQuery("OPEC", newest_first=True, phrase="Latest")),
    case("most recent OPEC news", TimeQuery("OPEC", newest_first=True, phrase="most recent")),
    case("the last OPEC news", TimeQuery("the OPEC", newest_first=True, phrase="last")),
    case("recent protests in Libya", TimeQuery("protests in Libya", newest_first=True, phrase="recent")),
    case("What has OPEC done lately?", TimeQuery("What has OPEC done?", newest_first=True, phrase="lately")),
    case("in recent weeks oil fell", TimeQuery("oil fell", newest_first=True, phrase="in recent weeks")),
    case("any new stories about OPEC?", TimeQuery("any about OPEC?", newest_first=True, phrase="new")),
    case("Anything new on OPEC?", TimeQuery("on OPEC?", newest_first=True, phrase="Anything new")),
    case("What's new in New Zealand?", TimeQuery("in New Zealand?", newest_first=True, phrase="What's new")),
    case("What is happening?", TimeQuery("", newest_first=True, phrase="What is happening", empty=True)),
    case("The latest", TimeQuery("", newest_first=True, phrase="latest", empty=True)),
    case(
        "latest news on OPEC since May 2020",
        TimeQuery("on OPEC", local(2020, 5, 1), newest_first=True, phrase="since May 2020"),
    ),
    # What is left is the topic, in the user's words; names that hold a filler word keep it.
    case("Fox News yesterday", TimeQuery("Fox News", *YESTERDAY, phrase="yesterday")),
    case("What happened yesterday in New York?", TimeQuery("What in New York?", *YESTERDAY, phrase="yesterday")),
    case(
        "Libya news, since 2020-05-01, please",
        TimeQuery("Libya, please", local(2020, 5, 1), phrase="since 2020-05-01"),
    ),
    case("Tell me the news from last week", TimeQuery("", *LAST_WEEK, phrase="last week", empty=True)),
]


@pytest.mark.parametrize(("question", "expected"), READ)
def test_read_time(question, expected):
    assert read_time(question, now=NOW) == expected


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("emissions in 2019", True),
        ("OPEC on 23 May 2020", True),
        ("oil prices in March", True),
        ("OPEC since May 2020", False),
        ("OPEC last week", False),
        ("What did Haftar say yesterday?", False),
        ("OPEC in 2019 and yesterday", False),
        ("OPEC last May", False),
    ],
)
def test_a_range_named_by_calendar_dates_says_so(question, named):
    # Only a date named as such may also be a word of the topic, searched without the range (index.answers).
    assert read_time(question, now=NOW).named is named


NOT_TIME = [
    "May I ask about oil prices?",
    "What did Theresa May say?",
    "Theresa May 2019 speech",
    "What was in May's speech?",
    "Why did protesters march in Tripoli?",
    "Why did protesters march?",
    "news from New York",
    "the new law on taxes",
    "New Zealand trade",
    "What is the Latest Show about?",
    "Latest Developments in Chips",
    '"Latest" app reviews',
    "Who wrote “Yesterday”?",
    "USA Today reports on Libya",
    "Black Friday sales",
    "Sun Microsystems on Sat",
    "How many died in 2000 cases?",
    "Who spoke at the May Day parade in May Day square?",
    "in March Madness",
    "the last week of March",
    "the last week before the vote",
    "his last month of the war",
    "the past 3 days of fighting",
    "What has been built over the past years?",
    "Which company was in its last year of sponsoring the show?",
    "talks will resume tomorrow",
    "plans for next week",
    "what happened in the past",
    "the 2019-20 season",
    "oil on 31 February",
    "stories from Libya",
    "between Libya and Egypt",
    "Which air base did the GNA seize?",
    "news about OPEC",
]


@pytest.mark.parametrize("question", NOT_TIME)
def test_ordinary_words_are_not_time(question):
    assert read_time(question, now=NOW) == TimeQuery(question)


def test_whitespace_is_tidied_even_when_nothing_is_read():
    assert read_time("  oil \n prices  ", now=NOW) == TimeQuery("oil prices")


def test_range_bounds_compare_with_utc_dates():
    query = read_time("What happened yesterday?", now=NOW)
    assert query.since == utc(2026, 11, 23, 21)  # Istanbul is UTC+3
    assert query.until == utc(2026, 11, 24, 21)
    assert query.since <= utc(2026, 11, 24, 20) < query.until
    assert not query.since <= utc(2026, 11, 24, 22) < query.until


ZONE_EDGES = [
    pytest.param(
        "Europe/Istanbul", dt.datetime(2026, 11, 25, 0, 10), "today", utc(2026, 11, 24, 21), None,
        id="Istanbul just after midnight: UTC is still on the day before",
    ),
    pytest.param(
        "Europe/Istanbul", dt.datetime(2026, 11, 25, 0, 10), "yesterday", utc(2026, 11, 23, 21), utc(2026, 11, 24, 21),
        id="Istanbul just after midnight: yesterday",
    ),
    pytest.param(
        "Europe/Berlin", dt.datetime(2026, 3, 30, 0, 30), "yesterday", utc(2026, 3, 28, 23), utc(2026, 3, 29, 22),
        id="Berlin: the 23-hour day when clocks go forward",
    ),
    pytest.param(
        "America/New_York", dt.datetime(2026, 11, 2, 0, 10), "yesterday", utc(2026, 11, 1, 4), utc(2026, 11, 2, 5),
        id="New York: the 25-hour day when clocks go back",
    ),
    pytest.param(
        "America/Sao_Paulo", dt.datetime(2018, 11, 5, 0, 30), "yesterday", utc(2018, 11, 4, 3), utc(2018, 11, 5, 2),
        id="Sao Paulo: DST began at midnight, so the day began at 01:00",
    ),
    pytest.param(
        "Europe/Berlin", dt.datetime(2026, 3, 29, 12, 0), "past 24 hours", utc(2026, 3, 28, 10), None,
        id="Berlin: 24 hours are 24 real hours across the change",
    ),
    pytest.param(
        "Europe/Istanbul", dt.datetime(2026, 11, 25, 10, 0), "in 1987", utc(1986, 12, 31, 22), utc(1987, 12, 31, 22),
        id="Istanbul in 1987 was UTC+2",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("zone", "wall_clock", "question", "since", "until"), ZONE_EDGES)
def test_days_follow_the_chat_calendar_across_zone_changes(zone, wall_clock, question, since, until):
    query = read_time(question, now=wall_clock.replace(tzinfo=ZoneInfo(zone)))
    assert (query.since, query.until) == (since, until)


def test_a_day_the_zone_skipped_is_an_empty_range():
    # Samoa moved across the date line: 30 December 2011 never happened in Apia.
    query = read_time("yesterday", now=dt.datetime(2011, 12, 31, 0, 30, tzinfo=ZoneInfo("Pacific/Apia")))
    assert query.since == query.until == utc(2011, 12, 30, 10)


def test_covers_compares_aware_dates_as_instants_and_naive_dates_by_the_chat_calendar():
    new_york = ZoneInfo("America/New_York")
    query = read_time("yesterday", now=dt.datetime(2026, 11, 25, 9, 0, tzinfo=new_york))
    assert query.covers(dt.datetime(2026, 11, 24))  # a bare date: the 24th in any zone
    assert query.covers(dt.datetime(2026, 11, 24, 23, 59))
    assert not query.covers(dt.datetime(2026, 11, 25))
    assert query.covers(utc(2026, 11, 25, 4))  # 23:00 on the 24th in New York
    assert not query.covers(utc(2026, 11, 24, 4))  # 23:00 on the 23rd
    assert not query.covers(None)
    assert TimeQuery("oil").covers(None)
    assert read_time("OPEC since May 2020", now=NOW).covers(dt.datetime(2026, 1, 1))


def test_now_must_be_aware():
    with pytest.raises(InvalidOption, match="aware"):
        read_time("yesterday", now=dt.datetime(2026, 11, 25, 10))
    with pytest.raises(InvalidOption, match="aware"):
        read_since("yesterday", now=dt.datetime(2026, 11, 25, 10))


SINCE = [
    ("2020-05-01", local(2020, 5, 1)),
    ("1 May 2020", local(2020, 5, 1)),
    ("May 1, 2020", local(2020, 5, 1)),
    ("Saturday, 23 May 2020 12:30", dt.datetime(2020, 5, 23, 12, 30, tzinfo=ISTANBUL)),
    ("2020-05-01T12:00:00Z", utc(2020, 5, 1, 12)),
    ("23/05/2020", local(2020, 5, 23)),
    ("yesterday", local(2026, 11, 24)),
    ("  Yesterday. ", local(2026, 11, 24)),
    ("since yesterday", local(2026, 11, 24)),
    ("today", local(2026, 11, 25)),
    ("last week", local(2026, 11, 16)),
    ("this month", local(2026, 11, 1)),
    ("3 days ago", local(2026, 11, 22)),
    ("a week ago", local(2026, 11, 16)),
    ("the past 2 weeks", local(2026, 11, 11)),
    ("May 2020", local(2020, 5, 1)),
    ("May", local(2026, 5, 1)),
    ("1987", local(1987, 1, 1)),
    ("Monday", local(2026, 11, 23)),
    ("23 May", local(2026, 5, 23)),
]


@pytest.mark.parametrize(("text", "expected"), SINCE, ids=[text for text, _ in SINCE])
def test_read_since(text, expected):
    assert read_since(text, now=NOW) == expected


@pytest.mark.parametrize(
    "text",
    ["", "junk", "since", "tomorrow", "next week", "libya", "2020-13-45", "31/02/2020", "May I", "x" * 100_000],
)
def test_read_since_refuses_what_is_not_a_date(text):
    assert read_since(text, now=NOW) is None


TIME_WORDS = [
    "yesterday", "today", "tonight", "latest", "recent", "newest", "what's", "what’s", "new", "news", "since",
    "before", "after", "until", "between", "and", "from", "to", "in", "on", "during", "the", "last", "past",
    "this", "3", "few", "days", "weeks", "month", "year", "ago", "May", "march", "March", "Monday", "2020",
    "1987", "23", "23/05/2020", "2020-05-23", "happened", "stories", "OPEC", "Libya", "Theresa", "New", "York",
    '"', "“", "”", ",", "?", ".", "'s", "’s",
]  # fmt: skip


def words_of(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def is_subsequence(part: list[str], whole: list[str]) -> bool:
    remaining = iter(whole)
    return all(word in remaining for word in part)


@settings(max_examples=400, deadline=None)
@given(
    question=st.one_of(
        st.lists(st.sampled_from(TIME_WORDS), max_size=14).map(" ".join),
        st.text(alphabet=st.characters(max_codepoint=0x2FFF), max_size=60),
    )
)
def test_read_time_invents_nothing_and_its_ranges_are_ordered(question):
    query = read_time(question, now=NOW)
    assert is_subsequence(words_of(query.text), words_of(question))
    if query.since is not None and query.until is not None:
        assert query.since < query.until
    if query.empty:
        assert query.phrase is not None
        assert query.text == ""
    if query.phrase is None:
        assert (query.since, query.until, query.newest_first, query.empty) == (None, None, False, False)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=120))
def test_read_since_never_raises(text):
    since = read_since(text, now=NOW)
    assert since is None or since.tzinfo is not None


def test_long_input_is_bounded_work():
    # Many almost-expressions, each a partial match the regular expressions must give up on.
    adversarial = "in the last 3 of on May 23 since between 1987 and latest " * 2_000
    assert read_time(adversarial, now=NOW).phrase is None  # beyond a Telegram message: not read
    assert read_time(adversarial[:4000], now=NOW).since is not None
    assert read_since(adversarial, now=NOW) is None


def _newest_first(dates: list[dt.datetime | None]) -> list[Article]:
    """Articles in ``Index.newest_first``'s order: by date as naive UTC, newest first, undated last."""
    articles = [Article(id=f"a{n}", title="t", text="x", date=when) for n, when in enumerate(dates)]
    return sorted(articles, key=lambda a: (a.date is None, -naive_utc(a.date).timestamp() if a.date else 0.0))


_SPAN = {"min_value": dt.datetime(1980, 1, 1), "max_value": dt.datetime(1995, 1, 1)}
_DATES = st.one_of(
    st.none(), st.datetimes(**_SPAN), st.datetimes(**_SPAN, timezones=st.sampled_from([dt.UTC, ISTANBUL]))
)


@settings(max_examples=300, deadline=None)
@given(
    dates=st.lists(_DATES, max_size=12),
    since=st.one_of(st.none(), st.datetimes(min_value=dt.datetime(1980, 1, 1), max_value=dt.datetime(1995, 1, 1))),
    days=st.integers(min_value=1, max_value=800),
)
def test_a_range_that_covers_an_article_is_never_skipped(dates, since, days):
    start = since.replace(tzinfo=ISTANBUL) if since else None
    until = (start + dt.timedelta(days=days)) if start else local(1988, 1, 1)
    query = TimeQuery(text="oil", since=start, until=until)
    articles = _newest_first(dates)
    if any(query.covers(a.date) for a in articles):
        assert query.may_cover_any(articles)


def test_a_year_the_archive_does_not_reach_covers_nothing():
    archive = _newest_first([dt.datetime(1987, 3, 2), utc(1987, 10, 19, 14), None, dt.datetime(1987, 6, 1)])
    asked = {q: read_time(f"oil prices {q}", now=NOW) for q in ("in 1988", "in 1986", "in 1987", "in March 1987")}
    assert not asked["in 1988"].may_cover_any(archive)
    assert not asked["in 1986"].may_cover_any(archive)
    assert asked["in 1987"].may_cover_any(archive)
    assert asked["in March 1987"].may_cover_any(archive)
    assert not asked["in 1987"].may_cover_any(_newest_first([None, None]))
    assert read_time("oil prices", now=NOW).may_cover_any(_newest_first([None]))
