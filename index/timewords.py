"""Time words in questions: "yesterday", "in March 1987", "since last week", "latest" read into a ``TimeQuery``.

``read_time`` reads the time in a question ("What happened yesterday?", "latest news about OPEC", "oil in March
1987") into a range in the chat's calendar or a recency order, and keeps the topic left once the time words are
out; ``TimeQuery.covers`` says whether an article's date lies in the range. ``read_since`` reads the date after
``/brief ... since`` and ``newsbot brief --since``. Publication dates themselves (reading, comparing, showing) are
``index.dates``'s.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
import itertools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .dates import MONTH_NAMES, MONTH_PATTERN, month_number, naive_utc, parse_date, within
from .errors import InvalidOption
from .wordlists import STOPWORDS

if TYPE_CHECKING:
    from .model import Article

__all__ = ["TimeQuery", "read_since", "read_time"]

_MONTHS, _MON = MONTH_NAMES, MONTH_PATTERN  # short names for the patterns below


@dataclass(frozen=True, slots=True)
class TimeQuery:
    """What a question says about time, and the topic that is left once the time words are taken out.

    Attributes:
        text: the question without its time expressions and the words that only served them ("news",
            "happened", ...), whitespace tidied, otherwise as written; "" when ``empty``.
        since: the start of the range asked for (inclusive, aware, in the chat's zone), or None.
        until: the end of the range (exclusive), or None when the range is open or reaches past now.
        newest_first: the question asks for recent stories ("latest", "what's new") rather than a range.
        phrase: the time expression as written (with its "since"/"before"/"between ... and ..." but without a
            plain "in"/"on"; several are joined by ", "), or the recency word when there is no range; None when
            nothing was read.
        empty: time was read and nothing else is left to search for ("What happened yesterday?"): the caller lists
            the stories in range (newest first) instead of searching.
        named: every time expression read names a calendar date or period ("2019", "in March 1987", "on 23 May"),
            neither relative to now ("yesterday", "last week") nor a bound ("since May"): such a date may also be a
            word of the topic ("emissions in 2019", told in January 2020), so a caller may search without the range
            when the stories in it do not answer.
    """

    text: str
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    newest_first: bool = False
    phrase: str | None = None
    empty: bool = False
    named: bool = field(default=False, compare=False)  # how the range was named, not what it is

    def covers(self, when: dt.datetime | None) -> bool:
        """Whether an article dated ``when`` lies in ``[since, until)``.

        An aware date is compared as an instant. A naive date has no zone (it is the article's own local time,
        often a bare day at midnight), so it is compared by the wall clock of the chat: an article dated
        "24 November" is in "yesterday" on 25 November in New York as well as in Istanbul. An undated article is
        covered only when there is no bound.
        """
        return within(when, self.since, self.until)

    def may_cover_any(self, newest_first: Sequence[Article]) -> bool:
        """Whether any of the articles could lie in the range: False only when none is dated within a day of it.

        Two binary searches over the articles in date order (``Index.newest_first``: newest first, undated last),
        so a question about a year the archive does not reach is not checked against every passage that matches
        its words, one article at a time. The day's margin covers the wall-clock reading of naive dates.
        """
        if self.since is None and self.until is None:
            return bool(newest_first)

        def key(article: Article) -> float:  # ascending along newest_first
            when = naive_utc(article.date)
            return -when.replace(tzinfo=dt.UTC).timestamp() if when is not None else math.inf

        day = dt.timedelta(days=1)
        newest = _bound_key(self.until, day)  # keys above it are older than the range's end (with the margin)
        oldest = _bound_key(self.since, -day)
        first = bisect.bisect_left(newest_first, newest, key=key) if newest is not None else 0
        last = bisect.bisect_right(newest_first, oldest, key=key) if oldest is not None else len(newest_first)
        return any(key(newest_first[i]) != math.inf for i in range(first, min(last, first + 1)))


def _bound_key(bound: dt.datetime | None, margin: dt.timedelta) -> float | None:
    """A range bound as ``may_cover_any``'s sort key, widened by ``margin``."""
    if bound is None:
        return None
    try:
        return -(naive_utc(bound) + margin).replace(tzinfo=dt.UTC).timestamp()
    except OverflowError:  # a bound at the calendar's edge: as good as open
        return None


_Range = tuple[dt.datetime, dt.datetime]

# Telegram's longest message. Longer text is not read for time, which keeps the work per question bounded.
_LONGEST_QUESTION = 4096

_NUMBERS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "few": 3, "a few": 3, "couple": 2, "a couple": 2,
}  # fmt: skip
_NUMBER_WORDS = (
    r"\d{1,3}|a\s+few|a\s+couple(?:\s+of)?|couple(?:\s+of)?|few|an?"
    r"|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
)
_UNIT = r"(?:hour|day|week|month|year)s?"
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ORDINAL = r"(?:st|nd|rd|th)?"

# Days relative to today, as (first day, day after the last), counted from today.
_RELATIVE_DAYS = {
    "today": (0, 1),
    "earlier today": (0, 1),
    "tonight": (0, 1),
    "this morning": (0, 1),
    "this afternoon": (0, 1),
    "this evening": (0, 1),
    "yesterday": (-1, 0),
    "last night": (-1, 1),  # the evening before and the small hours of today
    "the day before yesterday": (-2, -1),
}

_RELATIVE_DAY_WORDS = "|".join(
    w.replace(" ", r"\s+") for w in sorted(_RELATIVE_DAYS, key=len, reverse=True)  # longest first
)
# One date expression. Each alternative is a named group: the name says how to compute its range (``_range``).
# More specific forms come first, so "23 May 2020" is read whole rather than as "23 May" and a stray "2020".
_EXPRESSION = re.compile(
    rf"""(?<![\w'’-])(?:
      (?P<iso>(?P<iso_y>\d{{4}})-(?P<iso_m>\d{{1,2}})-(?P<iso_d>\d{{1,2}}))
    | (?P<numeric>(?P<num_a>\d{{1,2}})(?P<num_sep>[/.])(?P<num_b>\d{{1,2}})(?P=num_sep)(?P<num_y>\d{{4}}))
    | (?P<day_month_year>(?:the\s+)?(?P<dmy_d>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<dmy_m>{_MON}),?\s+(?P<dmy_y>\d{{4}}))
    | (?P<month_day_year>(?P<mdy_m>{_MON})\s+(?:the\s+)?(?P<mdy_d>\d{{1,2}}){_ORDINAL},?\s+(?P<mdy_y>\d{{4}}))
    | (?P<month_year>(?P<my_m>{_MON}),?\s+(?:of\s+)?(?P<my_y>\d{{4}}))
    | (?P<day_month>(?:the\s+)?(?P<dm_d>\d{{1,2}}){_ORDINAL}\s+(?:of\s+)?(?P<dm_m>{_MON}))
    | (?P<month_day>(?P<md_m>{_MON})\s+(?:the\s+)?(?P<md_d>\d{{1,2}}){_ORDINAL})
    | (?P<relative_day>{_RELATIVE_DAY_WORDS})
    | (?P<ago>(?P<ago_n>{_NUMBER_WORDS})\s+(?P<ago_u>(?:day|week|month|year)s?)\s+ago)
    | (?P<calendar>(?P<cal_which>this|last|previous)\s+(?P<cal_u>week|month|year))
    | (?P<rolling>(?:the\s+)?(?:past|last|previous)\s+(?:(?P<roll_n>{_NUMBER_WORDS})\s+)?(?P<roll_u>{_UNIT}))
    | (?P<weekday>(?:(?P<wd_which>last|this)\s+)?(?P<wd_d>{"|".join(_WEEKDAYS)}))
    | (?P<month>(?:(?P<mo_which>last|this)\s+)?(?P<mo_m>{_MONTHS}))
    | (?P<year>(?P<yr_y>(?:19|20)\d{{2}}))
    )(?:['’]s)?(?![\w-])(?!['’]\w)""",
    re.IGNORECASE | re.VERBOSE,
)
# Forms that are ordinary words or numbers too ("May I ask", "Theresa May", "protesters march", "2000 cases",
# "Friday prayers"): read only after a preposition that makes them a time, and not in front of a word that
# makes them something else. The ones with a "last"/"this" in front are read anywhere.
_NEED_PREPOSITION = {"day_month", "month_day", "month", "year", "weekday"}
_PREPOSITION = re.compile(
    r"(?<![\w'’-])(?P<word>up\s+to|as\s+of|between|from|since|after|before|until|till|through|throughout|on|in|during)"
    r"\s+$",
    re.IGNORECASE,
)
# What a preposition makes of an expression's range [start, end); the others ("in", "on", ...) keep it whole.
_BOUNDS = {
    "since": lambda span: (span[0], None),
    "as of": lambda span: (span[0], None),
    "after": lambda span: (span[1], None),
    "before": lambda span: (None, span[0]),
    "until": lambda span: (None, span[1]),
    "till": lambda span: (None, span[1]),
    "through": lambda span: (None, span[1]),
    "up to": lambda span: (None, span[1]),
}
_POSSESSIVE_BEFORE = re.compile(r"(?<![\w'’-])(?:its|his|her|their|our|my|your|whose) $", re.IGNORECASE)
_BETWEEN_TWO = re.compile(r" ?(?:,|and|or|, and|, or)? ?", re.IGNORECASE)
_JOINER = re.compile(r"\s*(?:and|to|until|till|through|-|–|—)\s*", re.IGNORECASE)
# "last week of March" and "the last week before the vote" are parts of something else, not periods up to now.
_PART_OF_LONGER = {
    "calendar": re.compile(r" of\b", re.IGNORECASE),
    "rolling": re.compile(r" (?:of|before|after)\b", re.IGNORECASE),
}

_RECENCY = re.compile(
    r"""(?<![\w'’-])(?:
      what(?:['’]s|s|\s+is)\s+(?:new|happening|going\s+on)
    | anything\s+new
    | in\s+recent\s+(?:days|weeks|months|years)
    | most\s+recent
    | latest | newest | recent(?:ly)? | lately
    | new(?=\s+(?:stories|articles|headlines|updates|developments)\b)
    | last(?=(?:\s+[\w'’-]+){0,2}?\s+(?:news|stories|headlines|updates|reports)\b)
    )(?![\w'’-])""",
    re.IGNORECASE | re.VERBOSE,
)
# Words that only serve a time expression ("latest news", "what happened yesterday"): dropped with it.
_FILLER = re.compile(
    r"(?<![\w'’-])(?:news|stories|headlines|articles|updates|developments|happened|happening)(?![\w'’-])",
    re.IGNORECASE,
)
# Words that ask rather than name a topic: when only these (and stopwords) are left, there is no topic.
_ASKING_WORDS = frozenset(
    """
    happen happened happens happening going news story stories headline headlines article articles update updates
    development developments tell show give get list find please anything something everything else new top main
    big biggest important major interesting want know like would could hear see read catch hi hello
    """.split()  # noqa: SIM905
)
_NEWS_NOUNS = frozenset({"news", "stories", "headlines"})
_QUOTED = re.compile(r"\"[^\"]*\"|“[^”]*”|«[^»]*»|„[^“”]*[“”]")
_WORD = re.compile(r"\w+")
_NEXT_WORD = re.compile(r" ([\w'’-]+)")


@dataclass(frozen=True, slots=True)
class _Found:
    """One time expression found in a question: where it is, what it reads as, and what to remove."""

    start: int  # of the text to remove (the preposition included)
    end: int
    phrase: str
    since: dt.datetime | None
    until: dt.datetime | None
    named: bool = False  # a calendar date or period, named absolutely, with a plain preposition ("in", "on")


# Expressions that name a calendar date or period rather than count from now.
_NAMED = frozenset(
    {"iso", "numeric", "day_month_year", "month_day_year", "month_year", "day_month", "month_day", "month", "year"}
)


def read_time(question: str, *, now: dt.datetime) -> TimeQuery:
    """Read the time expressions of a question into a date range or a recency order, and keep the topic.

    Read (case-insensitive, typographic apostrophes too; weeks start on Monday; every range is whole days of the
    chat's calendar unless it says hours):

    - today, tonight, this morning/afternoon/evening, earlier today, yesterday, last night (yesterday and today),
      the day before yesterday; this/last/previous week, month, year (calendar: "last week" is Monday to Sunday
      before this week);
    - the past/last N hours, days, weeks, months, years ("the last week", "past 3 days", "the past few months":
      rolling, from that many days back up to now); N days/weeks/months/years ago (that day, calendar week, month
      or year);
    - dates: 23 May 2020, May 23 2020, the 23rd of May 2020, 2020-05-23, 23/05/2020 and 23.05.2020 (day first;
      05/23/2020 is read month first because only that is a date), May 2020; and after a preposition (on, in,
      during, since, from, before, after, until, between...): 23 May or May 23 (the most recent one not in the
      future), May (the most recent May not in the future, this one included), a year 1900-2099, a weekday
      (the most recent one, today included). "last"/"this" May or Monday are read without a preposition ("last
      Monday" is before today; "last May" before this month);
    - since X (from the start of X), after X (from its end), before X (to its start), until/till/through X (to its
      end), between X and Y, from X to Y;
    - recency: latest, newest, recent, recently, lately, most recent, in recent weeks, what's new, what's happening,
      anything new, new stories, last ... news.

    Not read, on purpose: tomorrow, next week and other future times (news questions about them are about their
    words); "May" or "March" without a preposition or a year ("May I ask", "Theresa May", "protesters march");
    a month, a bare year or a day without a year followed by another word ("in May Day", "in 2000 cases", "on May
    23 people"); a capitalised time word right after a name ("USA Today", "Theresa May 2019"); a capitalised
    recency word inside a sentence ("the Latest Show"); anything in quotation marks; "new" outside the phrases
    above ("New York", "new law"). A missed time costs only ranking, a wrong one hides every answer.

    Several ranges narrow each other ("since May 2020 until June 2020"); when they do not overlap ("in March 1987
    and April 1987") the range covers them all. A range that reaches past ``now`` is left open at the end, so a
    story stamped a little in the future still counts. Days begin at the chat's midnight, or where a DST change
    skips midnight, at the change; a day the zone skipped altogether (Samoa's 30 December 2011) is an empty range,
    ``since == until``. Questions longer than a Telegram message (4096 characters) are not read for time.

    Args:
        question: the question as the user wrote it.
        now: the current time as an aware datetime in the chat's time zone; relative dates count from its day.

    Returns:
        The topic text and the range or recency order; ``TimeQuery(text)`` with no bounds when nothing was read.

    Raises:
        InvalidOption: when ``now`` is naive.
    """
    _check_now(now)
    words = " ".join(question.split())
    if len(words) > _LONGEST_QUESTION:
        return TimeQuery(words)
    quoted = [m.span() for m in _QUOTED.finditer(words)]
    case_tells = _case_tells(words)
    found = _time_expressions(words, now, quoted=quoted, case_tells=case_tells)
    taken = [(f.start, f.end) for f in found]
    # "in March and April": the "and" between two expressions goes with them.
    taken += [(a.end, b.start) for a, b in itertools.pairwise(found) if _BETWEEN_TWO.fullmatch(words, a.end, b.start)]
    recency = [
        m.span()
        for m in _RECENCY.finditer(words)
        if not _overlaps(m.span(), taken + quoted) and not _recency_word_in_a_name(words, m, case_tells=case_tells)
    ]
    if not found and not recency:
        return TimeQuery(words)
    fillers = [
        m.span()
        for m in _FILLER.finditer(words)
        if not _overlaps(m.span(), taken + recency + quoted)
        and not (case_tells and m.group()[0].isupper() and _after_name(words, m.start()))  # "Fox News"
    ]
    text = _tidy(_remove(words, taken + recency + fillers))
    empty = all(_is_function_word(w) for w in _WORD.findall(text))
    since, until = _combine([(f.since, f.until) for f in found])
    if until is not None and _instant(until) > _instant(now):
        until = None
    phrase = ", ".join(f.phrase for f in found) if found else words[recency[0][0] : recency[0][1]]
    return TimeQuery(
        text="" if empty else text,
        since=since,
        until=until,
        newest_first=bool(recency),
        phrase=phrase,
        empty=empty,
        named=bool(found) and all(f.named for f in found),
    )


def read_since(text: str, *, now: dt.datetime) -> dt.datetime | None:
    """Read the date after ``since`` in ``/brief topic since X`` or ``newsbot brief --since X``.

    Args:
        text: every form ``parse_date`` reads ("2020-05-01", "1 May 2020", "May 1, 2020", ISO with a time), and
            the expressions ``read_time`` reads, without a preposition: yesterday, today, last week, this month,
            3 days ago, the past 2 weeks, May 2020, May, 1987, Monday, 23 May. A leading "since" is allowed.
        now: the current time as an aware datetime in the chat's time zone.

    Returns:
        The start of that day or period as an aware datetime (a date without a zone is taken in ``now``'s zone),
        or None when the text is not one of those (never an exception; the work is bounded by a length limit).

    Raises:
        InvalidOption: when ``now`` is naive.
    """
    _check_now(now)
    if not isinstance(text, str) or len(text) > 80:
        return None
    cleaned = re.sub(r"^since\s+", "", " ".join(text.split()), flags=re.IGNORECASE).rstrip(".!?")
    parsed = parse_date(cleaned)
    if parsed is not None:
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=now.tzinfo)
    match = _EXPRESSION.fullmatch(cleaned)
    span = _range(match, now) if match else None
    return span[0] if span else None


def _check_now(now: dt.datetime) -> None:
    if not isinstance(now, dt.datetime) or now.tzinfo is None or now.utcoffset() is None:
        raise InvalidOption(f"now={now!r} must be an aware datetime in the chat's time zone (e.g. with ZoneInfo)")


def _time_expressions(
    words: str, now: dt.datetime, *, quoted: list[tuple[int, int]], case_tells: bool
) -> list[_Found]:
    """The date expressions of a question that read as time, with their prepositions, in order."""
    candidates = [m for m in _EXPRESSION.finditer(words) if not _overlaps(m.span(), quoted)]
    found: list[_Found] = []
    list_from = -1  # where a plain expression ended: "in 1979 and 1983" reads the second year as the first
    index = 0
    while index < len(candidates):
        match = candidates[index]
        index += 1
        preposition = _PREPOSITION.search(words, max(0, match.start() - 12), match.start())
        word = " ".join(preposition["word"].lower().split()) if preposition else ""
        start = preposition.start() if preposition else match.start()
        in_list = not preposition and list_from >= 0 and bool(_BETWEEN_TWO.fullmatch(words, list_from, match.start()))
        if not _reads_as_time(words, match, word, case_tells=case_tells, in_list=in_list):
            continue
        if word in {"between", "from"} and index < len(candidates):
            joiner = _JOINER.match(words, match.end())
            second = candidates[index]
            if joiner and joiner.end() == second.start():
                first_range, second_range = _range(match, now), _range(second, now)
                if first_range and second_range:
                    index += 1
                    since = min(first_range[0], second_range[0], key=_instant)
                    until = max(first_range[1], second_range[1], key=_instant)
                    found.append(_Found(start, second.end(), words[start : second.end()], since, until))
                    list_from = -1
                    continue
        span = _range(match, now)
        if span is None:
            continue
        since, until = _BOUNDS[word](span) if word in _BOUNDS else span
        shown_from = start if word in _BOUNDS else match.start()
        named = match.lastgroup in _NAMED and word not in _BOUNDS and not match["mo_which"]
        found.append(_Found(start, match.end(), words[shown_from : match.end()], since, until, named))
        list_from = -1 if word in _BOUNDS else match.end()
    return found


def _reads_as_time(
    words: str, match: re.Match[str], preposition: str, *, case_tells: bool, in_list: bool = False
) -> bool:
    """Whether a date-looking match is a time here, not a name, a modal verb, a count or part of a longer phrase."""
    kind = match.lastgroup or ""
    if kind in _PART_OF_LONGER and _PART_OF_LONGER[kind].match(words, match.end()):
        return False
    if kind == "rolling" and not match["roll_n"] and match["roll_u"].lower().endswith("s"):
        return False  # "over the past years": no length given
    if _POSSESSIVE_BEFORE.search(words, max(0, match.start() - 8), match.start()):
        return False  # "its last year", "their last week": a final one, not a date
    if case_tells and match.group()[0].isupper() and _after_name(words, match.start()):
        return False
    qualified = match["wd_which"] or match["mo_which"]
    if kind not in _NEED_PREPOSITION or qualified or in_list:
        return True
    if not preposition:
        return False
    if kind == "month" and match.group()[-1].lower() == "s":
        return False  # "in May's speech" is Theresa May's
    if kind == "weekday":
        return True
    following = _NEXT_WORD.match(words, match.end())
    if following is None:
        return True
    next_word = following[1]
    if kind == "month" and case_tells and next_word[0].isupper():
        return False  # "in May Day", "in March Madness"
    return _is_function_word(next_word)


def _is_function_word(word: str) -> bool:
    """A stopword or an asking word ("what", "news", "happened"): not a name nor a topic."""
    folded = word.lower().replace("’", "'")
    return folded in STOPWORDS or folded in _ASKING_WORDS or folded.removesuffix("'s") in STOPWORDS


def _case_tells(words: str) -> bool:
    """Whether capitals mean something here: not in an all-capitals or a Title Case question."""
    if not any(c.islower() for c in words):
        return False
    initials = [w[0] for w in words.split() if w[0].isalpha()]
    return not (len(initials) >= 3 and sum(c.isupper() for c in initials) >= 0.75 * len(initials))


def _after_name(words: str, start: int) -> bool:
    """Whether the word before ``start`` (in the same clause) is capitalised and not a function word: a name."""
    previous = re.search(r"([\w'’.-]+) $", words[max(0, start - 40) : start])
    return bool(previous and previous[1][0].isupper() and not _is_function_word(previous[1]))


def _recency_word_in_a_name(words: str, match: re.Match[str], *, case_tells: bool) -> bool:
    """A capitalised "Latest" that names something: inside a sentence ("the Latest Show") or before a capitalised
    word that is not a function word ("Latest Developments in Chips"; "Latest OPEC news" is still read)."""
    text = match.group()
    if not text[0].isupper() or " " in text or words.isupper():
        return False
    if case_tells and not _starts_sentence(words, match.start()):
        return True
    following = _NEXT_WORD.match(words, match.end())
    name = following[1] if following else ""
    return bool(name) and name[0].isupper() and not name.isupper() and name.lower() not in _NEWS_NOUNS | STOPWORDS


def _starts_sentence(words: str, start: int) -> bool:
    """Whether only spaces, quotes or a bracket stand between ``start`` and the beginning of its sentence."""
    before = words[max(0, start - 8) : start].rstrip(' "“«(')
    return (not before and start <= 8) or before[-1:] in {".", "!", "?", ":", ";"}


def _overlaps(span: tuple[int, int], others: list[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in others)


def _remove(words: str, spans: list[tuple[int, int]]) -> str:
    """The text with every span replaced by a space (spans may overlap)."""
    kept, position = [], 0
    for start, end in sorted(spans):
        if start > position:
            kept.append(words[position:start])
        position = max(position, end)
    kept.append(words[position:])
    return " ".join(kept)


def _tidy(text: str) -> str:
    """Spaces and punctuation left over where words were taken out: "What ?" becomes "What?", ", ," one comma."""
    if not _WORD.search(text):
        return ""
    text = " ".join(text.split())
    text = re.sub(r" ([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?: ?[,;:])+", r"\1", text)
    text = re.sub(r"[,;:]+(?=[.!?]|$)", "", text)
    return re.sub(r"^[,;:.] ?", "", text).strip()


def _range(match: re.Match[str], now: dt.datetime) -> _Range | None:
    """The local range ``[start, end)`` a date expression stands for, or None when it names no real date."""
    try:
        return _range_of(match, now)
    except (ValueError, OverflowError):
        return None  # 31 February, month 13, 29 February in a common year, or a year outside 1-9999


def _range_of(match: re.Match[str], now: dt.datetime) -> _Range | None:
    """``_range`` without the guard: raises ValueError for a date the calendar does not have."""
    kind, g = match.lastgroup, match.group
    today = now.date()
    if kind == "iso":
        return _days(dt.date(int(g("iso_y")), int(g("iso_m")), int(g("iso_d"))), 1, now)
    if kind == "numeric":
        first, second = int(g("num_a")), int(g("num_b"))
        day, month = (second, first) if g("num_sep") == "/" and second > 12 >= first else (first, second)
        return _days(dt.date(int(g("num_y")), month, day), 1, now)
    if kind == "day_month_year":
        return _days(dt.date(int(g("dmy_y")), month_number(g("dmy_m")), int(g("dmy_d"))), 1, now)
    if kind == "month_day_year":
        return _days(dt.date(int(g("mdy_y")), month_number(g("mdy_m")), int(g("mdy_d"))), 1, now)
    if kind == "month_year":
        return _months(int(g("my_y")), month_number(g("my_m")), 1, now)
    if kind in {"day_month", "month_day"}:
        prefix = "dm" if kind == "day_month" else "md"
        month, day = month_number(g(f"{prefix}_m")), int(g(f"{prefix}_d"))
        date = dt.date(today.year, month, day)
        return _days(date if date <= today else dt.date(today.year - 1, month, day), 1, now)
    if kind == "relative_day":
        first, after = _RELATIVE_DAYS[" ".join(g().lower().removesuffix("'s").removesuffix("’s").split())]
        return _days(today + dt.timedelta(days=first), after - first, now)
    if kind == "ago":
        return _ago(_number(g("ago_n")), g("ago_u").lower().rstrip("s"), now)
    if kind == "calendar":
        shift = 0 if g("cal_which").lower() == "this" else -1
        return _calendar(g("cal_u").lower(), shift, now)
    if kind == "rolling":
        return _rolling(_number(g("roll_n") or "1"), g("roll_u").lower().rstrip("s"), now)
    if kind == "weekday":
        weekday = _WEEKDAYS.index(g("wd_d").lower())
        back = (today.weekday() - weekday) % 7
        which = (g("wd_which") or "").lower()
        if which == "last" and back == 0:
            back = 7
        elif which == "this":
            back = today.weekday() - weekday  # this week's, even when it is still to come
        return _days(today - dt.timedelta(days=back), 1, now)
    if kind == "month":
        month = month_number(g("mo_m"))
        which = (g("mo_which") or "").lower()
        if which == "this":
            year = today.year
        elif which == "last":
            year = today.year if month < today.month else today.year - 1
        else:
            year = today.year if month <= today.month else today.year - 1
        return _months(year, month, 1, now)
    if kind == "year":
        return _midnight(dt.date(int(g("yr_y")), 1, 1), now), _midnight(dt.date(int(g("yr_y")) + 1, 1, 1), now)
    return None


def _number(words: str) -> int:
    key = " ".join(words.lower().split()).removesuffix(" of")
    return int(key) if key.isdigit() else _NUMBERS[key]


def _midnight(day: dt.date, now: dt.datetime) -> dt.datetime:
    # fold=0: where a DST change skips midnight, this is the instant the day began; where midnight comes twice,
    # the first one. The round trip through UTC turns a skipped midnight into the wall time that exists at that
    # instant (a time in a gap never compares equal to a time in another zone).
    return dt.datetime.combine(day, dt.time(), tzinfo=now.tzinfo).astimezone(dt.UTC).astimezone(now.tzinfo)


def _days(first: dt.date, count: int, now: dt.datetime) -> _Range:
    return _midnight(first, now), _midnight(first + dt.timedelta(days=count), now)


def _month_start(year: int, month: int, shift: int = 0) -> dt.date:
    months = year * 12 + month - 1 + shift
    return dt.date(months // 12, months % 12 + 1, 1)


def _months(year: int, month: int, count: int, now: dt.datetime) -> _Range:
    return _midnight(_month_start(year, month), now), _midnight(_month_start(year, month, count), now)


def _calendar(unit: str, shift: int, now: dt.datetime) -> _Range:
    """This (shift 0) or the previous (shift -1) calendar week, month or year."""
    today = now.date()
    if unit == "week":
        monday = today - dt.timedelta(days=today.weekday()) + dt.timedelta(weeks=shift)
        return _days(monday, 7, now)
    if unit == "month":
        return _months(today.year, today.month + shift, 1, now)
    return _months(today.year + shift, 1, 12, now)


def _rolling(count: int, unit: str, now: dt.datetime) -> _Range:
    """The last ``count`` units up to now: from that many days (months, ...) back at midnight, or hours back."""
    today = now.date()
    end = _midnight(today + dt.timedelta(days=1), now)
    if unit == "hour":
        return (now.astimezone(dt.UTC) - dt.timedelta(hours=count)).astimezone(now.tzinfo), end
    if unit in {"day", "week"}:
        return _midnight(today - dt.timedelta(days=count * (7 if unit == "week" else 1)), now), end
    months = count * (12 if unit == "year" else 1)
    first = _month_start(today.year, today.month, -months)
    day = min(today.day, calendar.monthrange(first.year, first.month)[1])
    return _midnight(first.replace(day=day), now), end


def _ago(count: int, unit: str, now: dt.datetime) -> _Range:
    """The day, calendar week, month or year that held the moment ``count`` units ago."""
    today = now.date()
    if unit == "day":
        return _days(today - dt.timedelta(days=count), 1, now)
    if unit == "week":
        then = today - dt.timedelta(weeks=count)
        return _days(then - dt.timedelta(days=then.weekday()), 7, now)
    if unit == "month":
        first = _month_start(today.year, today.month, -count)
        return _months(first.year, first.month, 1, now)
    return _months(today.year - count, 1, 12, now)


def _combine(
    ranges: list[tuple[dt.datetime | None, dt.datetime | None]],
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """Narrow the ranges by each other; when that leaves nothing, take the span of them all instead."""
    if not ranges:
        return None, None
    starts = [s for s, _ in ranges if s is not None]
    ends = [u for _, u in ranges if u is not None]
    since = max(starts, key=_instant) if starts else None
    until = min(ends, key=_instant) if ends else None
    if since is not None and until is not None and _instant(since) >= _instant(until):
        since = None if len(starts) < len(ranges) else min(starts, key=_instant)
        until = None if len(ends) < len(ranges) else max(ends, key=_instant)
    return since, until


def _instant(when: dt.datetime) -> dt.datetime:
    # Datetimes sharing a zone compare by wall clock, which is wrong for the hour a DST change repeats.
    return when.astimezone(dt.UTC)
