"""Plain data shared by every stage: articles, passages, hits, quotes and answers; ``plural`` writes their counts.

All records are frozen and slotted. Offsets are character offsets into ``Article.text``, so
``article.text[p.start:p.end] == p.text`` holds for every passage and quote and can be checked anywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from .bm25 import Settings

__all__ = [
    "Answer",
    "Article",
    "Briefing",
    "BuildInfo",
    "Changes",
    "Hit",
    "IngestReport",
    "Passage",
    "Quote",
    "Skipped",
    "Story",
    "plural",
]


def plural(count: int, noun: str, plural_noun: str | None = None) -> str:
    """``count`` and ``noun``, the noun in the plural unless the count is one: ``1 article``, ``0 articles``.

    Args:
        count: how many.
        noun: the singular ("article", "near-duplicate story").
        plural_noun: the plural when it is not ``noun`` + "s" ("stories").
    """
    return f"{count} {noun if count == 1 else plural_noun or noun + 's'}"


@dataclass(frozen=True, slots=True)
class Article:
    """One news article, with its text exactly as quotes are taken from it."""

    id: str
    title: str
    text: str
    date: dt.datetime | None = None
    url: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class Passage:
    """A few consecutive sentences of one paragraph of an article."""

    article_id: str
    start: int
    end: int
    text: str
    number: int = 0  # position of the passage in the index, stable for one build


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage returned by a search, with its BM25 score."""

    passage: Passage
    score: float
    article: Article


@dataclass(frozen=True, slots=True)
class Quote:
    """One or more consecutive whole sentences copied verbatim from an article."""

    text: str
    score: float
    start: int
    end: int
    article: Article
    terms: tuple[str, ...] = ()  # the question's analysed terms this quote contains


@dataclass(frozen=True, slots=True)
class Story:
    """One item of a briefing: an article and one or two consecutive sentences quoted from it."""

    article: Article
    quotes: tuple[Quote, ...]
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Briefing:
    """The stories of a briefing, best or newest first, and what was asked."""

    topic: str | None
    since: dt.datetime | None
    stories: tuple[Story, ...]
    duplicates: int = 0  # near-duplicate stories left out
    message: str = ""  # why there are no stories, when there are none
    until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to a question: quotes best first, or ``answered=False`` with nearby titles."""

    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    suggestions: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # the question's analysed terms, in question order
    message: str = ""  # why there is no answer, in one sentence, when answered is False
    coverage: float = 0.0  # share of the question's rarity mass that the best quote holds (0 to 1)
    confidence: float = 0.0  # what the answer threshold is compared with (the coverage, on the lexical path)
    kind: str = "answer"  # "small talk" (a friendly line, never quotes) or "briefing" (a time-only question)
    briefing: Briefing | None = None  # the stories of the range, for kind == "briefing"
    note: str = ""  # one sentence on how the question was read (a date range applied, or given up), to show


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or record that ingestion passed over: ``reason`` is its kind ("invalid JSON line"), ``detail`` more."""

    source: str
    reason: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.source}: {self.reason}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingestion run did: nothing is dropped without being counted here.

    Skips and duplicates are counted by reason; only a bounded sample of them is kept (``skipped``,
    ``duplicates``), so a file of ten million bad records costs ten million counts, not ten million rows.
    """

    loaded: int = 0
    skipped: tuple[Skipped, ...] = ()  # a sample: up to a few of each reason
    duplicates: tuple[Skipped, ...] = ()  # a sample
    files: int = 0
    skip_counts: tuple[tuple[str, int], ...] = ()  # reason -> how many, most common first
    duplicate_count: int = 0
    headlines: int = 0  # articles that are a title alone (quoted as such)
    decoded: tuple[tuple[str, str], ...] = ()  # (file, encoding) for files not in UTF-8 (a sample)
    decoded_count: int = 0

    @property
    def skipped_count(self) -> int:
        """How many files or records were skipped in all."""
        return sum(n for _, n in self.skip_counts)

    def summary(self) -> str:
        """One line for humans: counts of loaded, skipped and duplicate articles."""
        extra = f" ({plural(self.headlines, 'headline')} only)" if self.headlines else ""
        decoded = f", {plural(self.decoded_count, 'file')} not in UTF-8 decoded" if self.decoded_count else ""
        return (
            f"{plural(self.loaded, 'article')} loaded from {plural(self.files, 'file')}{extra}, "
            f"{self.skipped_count} skipped, {plural(self.duplicate_count, 'duplicate')}{decoded}"
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """What differs between two states: files (paths relative to the articles root) or articles (ids)."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self, noun: str = "files") -> str:
        """``"1 new, 1 changed, 1 removed files"``."""
        return f"{len(self.added)} new, {len(self.changed)} changed, {len(self.removed)} removed {noun}"


@dataclass(frozen=True, slots=True)
class BuildInfo:
    """How and from what an index was built; saved with it.

    The mappings are read-only by convention: an index never changes once built.
    """

    analyzer: int  # index.analysis.ANALYZER_VERSION at build time
    titles: bool  # title terms added to every passage
    settings: Settings
    built_at: dt.datetime  # aware, UTC
    build_seconds: float
    articles_path: str
    sources: Mapping[str, tuple[int, int]]  # file (relative to articles_path) -> (size, mtime_ns)
    files: Mapping[str, tuple[int, ...]]  # file -> the numbers of the live articles read from it
    report: IngestReport  # of the files the last update read
