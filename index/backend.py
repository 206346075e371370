"""The search-backend seam: what answers, briefings, search and follows read of an archive, and what an update
writes to one.

An archive is one committed state of articles and their BM25-indexed passages. newsbot has two engines behind
this seam: its own segmented index on local disk (``index.local``: ``Index`` and ``LocalWriter``, the embedded
default) and an OpenSearch cluster (issue 17). Everything above the seam (``answers``, ``briefs``, ``search``, the
bot) is written against ``Archive`` alone; the update recipe (``index.core.update_archive``) is written against
``ArchiveWriter`` alone; and every engine passes the same conformance suite (``tests/backend_suite.py``).

The contract, engine by engine:

- Passages are numbered by ints that are unique within one committed state; ``top`` returns them, best first,
  with BM25 scores equal to rank-bm25's under the archive's ``settings`` (the local engine exactly; a cluster
  with ``dfs_query_then_fetch`` so that shards share statistics).
- Articles are known by their string ids. An article's text is stored verbatim: quotes are substrings of it.
- An archive never changes once a caller holds it; an update gives a new one (callers swap the reference).
- Writes go through an ``ArchiveWriter`` that holds the engine's write lock: ``reserve`` is told the new articles
  before their analysis (an engine that knows it lacks room says so then), passages are streamed in with
  ``add_passages`` (an engine may write them as they come, so a large build's terms are never all in memory) and
  become visible only with ``commit``, at once and whole. ``abandon`` drops whatever was written, so a failed or
  killed build leaves the previous state serving.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from .articles import NewArticle
from .bm25 import Scored, Settings
from .model import Article, BuildInfo, Changes, IngestReport, Passage

__all__ = ["Archive", "ArchiveWriter", "Commit", "PassageRow"]

PassageRow = tuple[int, int, int, int, int]
"""A passage: article number, start and end (character offsets into the article), first sentence, sentence count."""


@runtime_checkable
class Archive(Protocol):
    """One committed state of an archive, read-only and safe to read from several threads."""

    info: BuildInfo
    changed: Changes  # the article ids the update that made this state added, changed or removed

    def __len__(self) -> int:
        """Number of live passages."""
        ...

    @property
    def settings(self) -> Settings:
        """The BM25 variant and parameters passages are scored with."""
        ...

    @property
    def built_at(self) -> dt.datetime:
        """When this state was committed (aware, UTC)."""
        ...

    @property
    def report(self) -> IngestReport:
        """What the files read by the update that made this state held and skipped."""
        ...

    @property
    def article_count(self) -> int:
        """Number of live articles."""
        ...

    # ------------------------------------------------------------------------------------------- passages

    def top(self, terms: list[str], k: int) -> Scored:
        """The ``k`` best passages for analysed ``terms`` (a term may repeat: it then counts as often), best first."""
        ...

    def document_frequency(self, term: str) -> int:
        """How many live passages contain the analysed ``term``."""
        ...

    def rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Each distinct term's smoothed IDF, log(1 + (N - df + 0.5) / (df + 0.5))."""
        ...

    def passage(self, number: int) -> Passage:
        """Passage ``number`` (its text is a slice of its article's)."""
        ...

    def passage_sentences(self, number: int) -> list[tuple[int, int]]:
        """Sentence spans (offsets into the article) of passage ``number``."""
        ...

    def article_of(self, passage: int) -> Article:
        """The article passage ``passage`` belongs to."""
        ...

    def titles_for(self, passages: Iterable[int]) -> tuple[str, ...]:
        """Distinct article titles of these passages, in order."""
        ...

    # ------------------------------------------------------------------------------------------- articles

    def article(self, article_id: str) -> Article:
        """The article with this id. Raises KeyError when there is none."""
        ...

    def article_sentences(self, article_id: str) -> list[tuple[int, int]]:
        """Sentence spans of one whole article, in text order."""
        ...

    def first_seen(self, article_id: str) -> dt.datetime:
        """When the article first entered this archive's lineage, in UTC."""
        ...

    def added_since(self, when: dt.datetime) -> list[str]:
        """Ids of the articles that first entered the archive after ``when`` (an aware datetime)."""
        ...

    @property
    def newest_first(self) -> Sequence[Article]:
        """The articles by publication date, newest first, undated last."""
        ...

    def recent_titles(self, n: int) -> tuple[str, ...]:
        """Titles of the ``n`` most recent articles."""
        ...

    def changes(self, articles_path: str | os.PathLike[str]) -> Changes:
        """Which article files were added, changed or removed since this state was built (relative paths)."""
        ...

    def catalog(self) -> Iterator[tuple[int, str, str, str]]:
        """``(number, id, digest, first_seen)`` of every live article: what an update compares new files with."""
        ...


@dataclass(frozen=True)
class Commit:
    """One update, as the engine commits it (the build record; the passages came before, by ``add_passages``).

    ``full`` replaces everything; otherwise ``articles`` are added and the ``dead`` article numbers (replaced or
    removed) are deleted with their passages, in the same commit.
    """

    full: bool
    articles: Sequence[NewArticle]  # with their sentence spans
    numbers: Sequence[int]  # each new article's number, in the order of ``articles``
    dead: frozenset[int]
    settings: Settings
    metadata: Mapping[str, Any]  # analyzer, titles, articles_path, next_article: what the next update checks
    splitter: Mapping[str, Any] | None  # the sentence splitter's parameters; None keeps the stored ones
    record: Mapping[str, Any] = field(default_factory=dict)  # built_at, build_seconds, sources, files, report, changed


class ArchiveWriter(Protocol):
    """The one writer of an archive, holding its write lock while open (a context manager)."""

    def __enter__(self) -> ArchiveWriter: ...

    def __exit__(self, *exc: object) -> None: ...

    def previous(self) -> Archive | None:
        """The committed state this writer builds on, or None when there is none (or it cannot be read)."""
        ...

    def metadata(self) -> Mapping[str, Any]:
        """The committed state's metadata (``Commit.metadata`` of the last commit; empty when none)."""
        ...

    def splitter(self) -> Mapping[str, Any] | None:
        """The committed sentence splitter's parameters, or None."""
        ...

    def reserve(self, articles: Sequence[NewArticle]) -> None:
        """Told the articles about to be analysed and written, before the analysis starts: an engine that can tell
        it has no room for them raises ``IndexWriteError`` now rather than after a long analysis."""
        ...

    def add_passages(self, rows: Sequence[PassageRow], terms: Sequence[list[str]]) -> None:
        """Write passages (each row with its analysed terms), invisible to readers until ``commit``."""
        ...

    def commit(self, commit: Commit) -> Archive:
        """Make the passages added and this commit's articles and deletions visible at once; the new state."""
        ...

    def abandon(self) -> None:
        """Drop everything written since the last commit (after a failure); the committed state stays."""
        ...
