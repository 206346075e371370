"""Plain data shared by every stage: articles, passages, hits, quotes and answers.

All records are frozen and slotted. Offsets are character offsets into ``Article.text``, so
``article.text[p.start:p.end] == p.text`` holds for every passage and quote and can be checked anywhere.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Answer", "Article", "Hit", "IngestReport", "Passage", "Quote", "Skipped"]


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
class Answer:
    """The reply to a question: quotes best first, or ``answered=False`` with nearby titles."""

    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    suggestions: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()  # the question's analysed terms, in question order
    message: str = ""  # why there is no answer, in one sentence, when answered is False
    coverage: float = 0.0  # share of the question's rarity mass that the best quote holds (0 to 1)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file or record that ingestion passed over, and why."""

    source: str
    reason: str


@dataclass(frozen=True, slots=True)
class IngestReport:
    """What one ingestion run did: nothing is dropped without a line here."""

    loaded: int = 0
    skipped: tuple[Skipped, ...] = ()
    duplicates: tuple[Skipped, ...] = ()
    files: int = 0

    def summary(self) -> str:
        """One line for humans: counts of loaded, skipped and duplicate articles."""
        return (
            f"{self.loaded} articles loaded from {self.files} files, "
            f"{len(self.skipped)} skipped, {len(self.duplicates)} duplicates"
        )
