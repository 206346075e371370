"""Dates and time zones, for every module: reading publication dates, comparing them, showing them, zones.

Article dates are naive (local to the article, usually UTC) or aware; ``naive_utc`` makes them comparable and
``within`` says whether one lies in a range. ``date_text`` shows a date as "23 May 2020" on every platform
(``%-d`` is glibc's only). ``zone`` is the one check of an IANA time-zone name. Time words in questions
("yesterday", "since May") are ``index.timewords``'s; it reads month names with ``MONTH_PATTERN`` and
``month_number``, as ``parse_date`` does.
"""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["MONTH_NAMES", "MONTH_PATTERN", "date_text", "month_number", "naive_utc", "parse_date", "within", "zone"]

# The month names, as a regular expression: in full, and with their abbreviations ("Sept." included).
MONTH_NAMES = "January|February|March|April|May|June|July|August|September|October|November|December"
MONTH_PATTERN = rf"(?:{MONTH_NAMES}|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_WEEKDAY = r"(?:(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|Mon|Tue|Wed|Thu|Fri|Sat|Sun),?\s+"
_TIME = r"(?:,?\s+(?P<hh>\d{1,2}):(?P<mm>\d{2})(?::(?P<ss>\d{2}))?)?"
_DATE_LINE = re.compile(
    rf"^\s*(?:{_WEEKDAY})?(?:"
    rf"(?P<d1>\d{{1,2}})\s+(?P<m1>{MONTH_PATTERN}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<m2>{MONTH_PATTERN})\s+(?P<d2>\d{{1,2}}),?\s+(?P<y2>\d{{4}})"
    rf"){_TIME}\s*$",
    re.IGNORECASE,
)
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\s*$")


def parse_date(value: object) -> dt.datetime | None:
    """Read a publication date from a date line, an ISO 8601 string or a datetime.

    Args:
        value: ``"Saturday, 23 May 2020 12:30"``, ``"May 23, 2020"``, ``"2020-05-23T12:30:00Z"``, a ``date``...

    Returns:
        A datetime (time-zone aware only when the input said so), or None when it is not a date.
    """
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or len(value) > 80:
        return None
    if _ISO_DATE.match(value):
        try:
            return dt.datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            return None
    match = _DATE_LINE.match(value)
    if not match:
        return None
    g = match.groupdict()
    day, month, year = (g["d1"], g["m1"], g["y1"]) if g["d1"] else (g["d2"], g["m2"], g["y2"])
    number = month_number(month)
    try:
        return dt.datetime(int(year), number, int(day), int(g["hh"] or 0), int(g["mm"] or 0), int(g["ss"] or 0))
    except ValueError:
        return None


def naive_utc(when: dt.datetime | None) -> dt.datetime | None:
    """Dates compare without time zones: an aware date becomes naive UTC, a naive one is taken as UTC."""
    if when is not None and when.tzinfo is not None:
        return when.astimezone(dt.UTC).replace(tzinfo=None)
    return when


def month_number(name: str) -> int:
    """The number (1-12) of a month name that ``MONTH_PATTERN`` matched ("May", "sept.", "December").

    Raises:
        ValueError: not a month name.
    """
    prefix = name.rstrip(".").lower()[:3]
    return [m[:3].lower() for m in MONTH_NAMES.split("|")].index(prefix) + 1


def within(when: dt.datetime | None, since: dt.datetime | None, until: dt.datetime | None) -> bool:
    """Whether a date lies in ``[since, until)`` (open ends when None); ``index.timewords.TimeQuery.covers`` says why.

    A naive date is compared by the wall clock of aware bounds; an aware date with naive bounds takes them as UTC.
    An undated article lies only in an unbounded range.
    """
    if since is None and until is None:
        return True
    if when is None:
        return False
    if when.tzinfo is None:
        since = since and since.replace(tzinfo=None)
        until = until and until.replace(tzinfo=None)
    else:
        since = since and (since if since.tzinfo else since.replace(tzinfo=dt.UTC))
        until = until and (until if until.tzinfo else until.replace(tzinfo=dt.UTC))
    return (since is None or when >= since) and (until is None or when < until)


def date_text(when: dt.date | None, *, time: bool = False) -> str:
    """``23 May 2020`` (``23 May 2020 12:30`` with ``time``), or ``undated``; the same on every platform."""
    if when is None:
        return "undated"
    text = f"{when.day} {when:%B %Y}"
    return f"{text} {when:%H:%M}" if time and isinstance(when, dt.datetime) else text


def zone(name: str | None) -> ZoneInfo | None:
    """The IANA time zone called ``name`` (``Area/City`` or ``UTC``), or None when there is no such zone."""
    if not name or len(name) > 64 or ("/" not in name and name != "UTC"):
        return None  # the longest IANA name has 32 characters; "EST"-style abbreviations are ambiguous
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None
