"""newsbot's pure core: ingest articles, analyse text, index passages with BM25, answer with verbatim quotes.

Synchronous and free of Telegram, asyncio and environment variables; the ``bot`` package builds on it::

    import index
    idx = index.update("var/index", "seeds/")  # build, or bring up to date: only changed files are read
    idx = index.load("var/index")
    hits = index.search(idx, "air base", k=10)
    ans = index.answer(idx, "Which air base did the GNA seize?")
"""

from . import semantic
from .analysis import analyze, normalize
from .answers import answer
from .bm25 import VARIANTS, Settings
from .briefs import brief
from .core import DEFAULT_SETTINGS, Index, build, compare, load, maintain, open_or_build, update
from .dates import date_text, naive_utc, parse_date, within, zone
from .embedding import ModelUnavailable
from .errors import ArticlesNotFound, IndexCorrupt, IndexNotFound, IndexWriteError, InvalidOption, NewsbotError
from .ingest import ingest
from .model import (
    Answer,
    Article,
    Briefing,
    BuildInfo,
    Changes,
    Hit,
    IngestReport,
    Passage,
    Quote,
    Skipped,
    Story,
    plural,
)
from .passages import paragraph_around
from .search import search
from .segments import IndexLocked
from .timewords import TimeQuery, read_since, read_time

__all__ = [
    "DEFAULT_SETTINGS",
    "VARIANTS",
    "Answer",
    "Article",
    "ArticlesNotFound",
    "Briefing",
    "BuildInfo",
    "Changes",
    "Hit",
    "Index",
    "IndexCorrupt",
    "IndexLocked",
    "IndexNotFound",
    "IndexWriteError",
    "IngestReport",
    "InvalidOption",
    "ModelUnavailable",
    "NewsbotError",
    "Passage",
    "Quote",
    "Settings",
    "Skipped",
    "Story",
    "TimeQuery",
    "analyze",
    "answer",
    "brief",
    "build",
    "compare",
    "date_text",
    "ingest",
    "load",
    "maintain",
    "naive_utc",
    "normalize",
    "open_or_build",
    "paragraph_around",
    "parse_date",
    "plural",
    "read_since",
    "read_time",
    "search",
    "semantic",
    "update",
    "within",
    "zone",
]
