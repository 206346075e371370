"""The Index: articles, passages and BM25 postings, built from a folder and saved to or loaded from disk.

An ``Index`` is immutable once built; a rebuild makes a new one (callers swap the reference), so a reader
never sees a half-built index.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from . import store
from .analysis import ANALYZER_VERSION, analyze
from .bm25 import Postings, Scored, Settings, build_postings
from .dates import naive_utc
from .errors import ArticlesNotFound, IndexCorrupt, IndexNotFound
from .ingest import ingest, list_sources
from .model import Article, BuildInfo, Changes, IngestReport, Passage
from .passages import split_passages
from .sentences import SentenceSplitter

__all__ = ["DEFAULT_SETTINGS", "Index", "Progress", "build", "compare", "load", "open_or_build", "update"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while building or saving."""

# Chosen by measurement (bench/quality.py, README "Benchmarks"): BM25Plus has no IDF floor, and k1=0.9, b=0.4
# ranked best on both SciFact and SQuAD.
DEFAULT_SETTINGS = Settings(variant="plus", k1=0.9, b=0.4)


def fingerprint(path: str | os.PathLike[str]) -> dict[str, list[int]]:
    """Size and modification time of every candidate article file, keyed by path relative to ``path``."""
    root = Path(path)
    files = list_sources(root)
    base = root if root.is_dir() else root.parent
    out = {}
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        out[str(file.relative_to(base))] = [st.st_size, st.st_mtime_ns]
    return out


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


class Index:
    """Articles and their BM25-indexed passages. Build with ``index.build``, load with ``index.load``."""

    def __init__(
        self,
        *,
        articles: list[Article],
        passages: np.ndarray,
        sentences: np.ndarray,
        postings: Postings,
        info: BuildInfo,
    ) -> None:
        self.articles = articles
        self._passages = passages
        self._sentences = sentences
        self.postings = postings
        self.info = info
        self._by_id = {a.id: i for i, a in enumerate(articles)}

    def __len__(self) -> int:
        """Number of passages."""
        return int(self._passages.shape[0])

    def __repr__(self) -> str:
        return f"<Index {len(self.articles)} articles, {len(self)} passages, {self.settings.variant}>"

    @property
    def settings(self) -> Settings:
        """The BM25 variant and parameters the index was built with."""
        return self.info.settings

    @property
    def built_at(self) -> dt.datetime:
        """When the index was built (aware, UTC)."""
        return self.info.built_at

    @property
    def report(self) -> IngestReport:
        """The ingestion report of the build that made this index."""
        return self.info.report

    def first_seen(self, article_id: str) -> dt.datetime:
        """When the article first entered an index of this lineage (the build time when unknown), in UTC."""
        seen = self.info.first_seen.get(article_id)
        return dt.datetime.fromisoformat(seen) if seen else self.info.built_at

    def added_since(self, when: dt.datetime) -> list[str]:
        """Ids of the articles that first entered the index after ``when`` (an aware datetime)."""
        return [a.id for a in self.articles if self.first_seen(a.id) > when]

    def article(self, article_id: str) -> Article:
        """The article with this id. Raises KeyError when there is none."""
        return self.articles[self._by_id[article_id]]

    def article_of(self, passage: int) -> Article:
        """The article that passage number ``passage`` belongs to."""
        return self.articles[int(self._passages[passage, 0])]

    def passage(self, number: int) -> Passage:
        """Passage ``number`` (0 <= number < len(self))."""
        art, start, end, _ = (int(x) for x in self._passages[number])
        article = self.articles[art]
        return Passage(article_id=article.id, start=start, end=end, text=article.text[start:end], number=number)

    def passage_sentences(self, number: int) -> list[tuple[int, int]]:
        """Sentence spans (offsets into the article) of passage ``number``."""
        first = int(self._passages[number, 3])
        last = int(self._passages[number + 1, 3]) if number + 1 < len(self) else len(self._sentences)
        return [(int(a), int(b)) for a, b in self._sentences[first:last]]

    def article_sentences(self, article_id: str) -> list[tuple[int, int]]:
        """Sentence spans of one whole article, in text order."""
        art = self._by_id[article_id]
        # Passages are stored article by article, so an article's rows are one contiguous, sorted run.
        column = self._passages[:, 0]
        begin, after = np.searchsorted(column, art, "left"), np.searchsorted(column, art, "right")
        if begin == after:
            return []
        first = int(self._passages[begin, 3])
        last = int(self._passages[after, 3]) if after < len(self) else len(self._sentences)
        return [(int(a), int(b)) for a, b in self._sentences[first:last]]

    def top(self, terms: list[str], k: int) -> Scored:
        """The ``k`` passages with the best BM25 scores for analysed ``terms`` (numbers and scores, best first)."""
        return self.postings.top(terms, k)

    def document_frequency(self, term: str) -> int:
        """How many passages contain the analysed ``term``."""
        return self.postings.document_frequency(term)

    def rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Each distinct term's rarity: a smoothed IDF, log(1 + (N - df + 0.5) / (df + 0.5)).

        Positive for every term (unlike BM25Okapi's floored IDF) and highest for terms no passage contains, so a
        question's unknown words weigh the most. Answers and briefings weigh question terms with it.
        """
        n = len(self)
        weights = {}
        for term in dict.fromkeys(terms):
            df = self.document_frequency(term)
            weights[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return weights

    def titles_for(self, passages: Iterable[int]) -> tuple[str, ...]:
        """Distinct article titles of these passages, in order."""
        seen: dict[str, None] = {}
        for p in passages:
            seen.setdefault(self.article_of(p).title, None)
        return tuple(seen)

    @functools.cached_property
    def newest_first(self) -> tuple[Article, ...]:
        """The articles by publication date, newest first, undated last (computed once: an Index never changes)."""

        def key(article: Article) -> tuple[int, dt.datetime]:
            date = naive_utc(article.date)
            return (0, dt.datetime.max - date) if date else (1, dt.timedelta(0))

        return tuple(sorted(self.articles, key=key))

    def recent_titles(self, n: int) -> tuple[str, ...]:
        """Titles of the ``n`` most recent articles (undated last)."""
        return tuple(a.title for a in self.newest_first[:n])

    def changes(self, articles_path: str | os.PathLike[str]) -> Changes:
        """Which article files were added, removed or modified since this index was built."""
        then = self.info.sources
        now = fingerprint(articles_path)
        return Changes(
            added=tuple(sorted(set(now) - set(then))),
            changed=tuple(sorted(p for p in set(now) & set(then) if tuple(now[p]) != tuple(then[p]))),
            removed=tuple(sorted(set(then) - set(now))),
        )

    def save(self, directory: str | os.PathLike[str], *, progress: Progress | None = None) -> None:
        """Write the index to ``directory`` atomically: the previous index there stays loadable until the end."""
        articles = [store.article_record(a) for a in self.articles]
        arrays = {
            "passages": np.asarray(self._passages),
            "sentences": np.asarray(self._sentences),
            "offsets": np.asarray(self.postings.offsets),
            "docs": np.asarray(self.postings.docs),
            "weights": np.asarray(self.postings.weights),
            "base": np.asarray(self.postings.base),
        }
        store.write_generation(
            directory,
            meta=store.info_record(self.info),
            articles=articles,
            arrays=arrays,
            vocabulary=list(self.postings.vocabulary),
            progress=progress,
        )


def build(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    titles: bool = True,
    previous: Index | None = None,
) -> Index:
    """Ingest every article under ``path`` and index its passages.

    Args:
        path: a folder (recursively) or a single file of articles.
        settings: BM25 variant and parameters; ``DEFAULT_SETTINGS`` when None.
        progress: optional callback ``(stage, done, total)``.
        titles: add the article's title terms to each of its passages, so a passage keeps the article's
            context (measured in bench/quality.py; on by default).
        previous: the index this one replaces; articles it already had keep their ``first_seen`` time.

    Returns:
        The new index; ``index.report`` says what was skipped and why.

    Raises:
        ArticlesNotFound: the path does not exist or yields no article.
    """
    started = time.perf_counter()
    settings = settings or DEFAULT_SETTINGS
    sources = fingerprint(path)
    articles, report = ingest(path)
    if not articles:
        reasons = "; ".join(str(s) for s in report.skipped[:3])
        raise ArticlesNotFound(f"no article could be read from {str(path)!r}" + (f" ({reasons})" if reasons else ""))
    splitter = SentenceSplitter(a.text for a in articles)
    passage_rows: list[tuple[int, int, int, int]] = []
    sentence_rows: list[tuple[int, int]] = []
    tokens: list[list[str]] = []
    total = len(articles)
    for number, article in enumerate(articles):
        title_terms = analyze(article.title) if titles else []
        sentences, passages = split_passages(article.text, splitter)
        offset = len(sentence_rows)
        sentence_rows.extend(sentences)
        for start, end, first in passages:
            passage_rows.append((number, start, end, first + offset))
            tokens.append(analyze(article.text[start:end]) + title_terms)
        if progress and (number % 500 == 0 or number + 1 == total):
            progress("indexing", number + 1, total)
    postings = build_postings(tokens, settings)
    now = dt.datetime.now(dt.UTC)
    earlier = previous.info.first_seen if previous is not None else {}
    info = BuildInfo(
        analyzer=ANALYZER_VERSION,
        titles=titles,
        settings=settings,
        built_at=now,
        build_seconds=round(time.perf_counter() - started, 3),
        articles_path=str(path),
        sources=sources,
        digests={a.id: _digest(a.text + a.title) for a in articles},
        first_seen={a.id: earlier.get(a.id, now.isoformat()) for a in articles},
        report=report,
    )
    return Index(
        articles=articles,
        passages=np.asarray(passage_rows, dtype=np.int64).reshape(-1, 4),
        sentences=np.asarray(sentence_rows, dtype=np.int64).reshape(-1, 2),
        postings=postings,
        info=info,
    )


def load(directory: str | os.PathLike[str]) -> Index:
    """Load the index saved in ``directory``.

    Raises:
        IndexNotFound: nothing was saved there.
        IndexCorrupt: the index is damaged or of another format; the message says how to rebuild.
    """
    meta, records, arrays, vocabulary = store.read_generation(directory)
    try:
        info = store.info_from_record(meta)
        articles = [store.article_from_record(r) for r in records]
        postings = Postings(
            vocabulary,
            arrays["offsets"],
            arrays["docs"],
            arrays["weights"],
            arrays["base"],
            int(arrays["passages"].shape[0]),
        )
        if info.analyzer != ANALYZER_VERSION:
            raise ValueError(f"built with analyzer {info.analyzer}, this newsbot analyses with {ANALYZER_VERSION}")
        _check_ranges(arrays, n_articles=len(articles), n_terms=len(vocabulary))
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"index at {str(directory)!r} is inconsistent ({exc})") from None
    return Index(
        articles=articles, passages=arrays["passages"], sentences=arrays["sentences"], postings=postings, info=info
    )


def _check_ranges(arrays: dict[str, np.ndarray], *, n_articles: int, n_terms: int) -> None:
    """Every stored number points inside what it indexes, so a later read can never be out of range."""
    passages, sentences, offsets, docs = arrays["passages"], arrays["sentences"], arrays["offsets"], arrays["docs"]
    n_passages = len(passages)
    problems = [
        passages.ndim != 2 or (n_passages and passages.shape[1] != 4),
        len(offsets) != n_terms + 1,
        len(arrays["weights"]) != len(docs) or len(arrays["base"]) != n_terms,
        n_terms and (int(offsets[0]) != 0 or int(offsets[-1]) != len(docs) or bool(np.any(np.diff(offsets) < 0))),
        len(docs) and (int(docs.min()) < 0 or int(docs.max()) >= n_passages),
        n_passages and (int(passages[:, 0].min()) < 0 or int(passages[:, 0].max()) >= n_articles),
        n_passages and (int(passages[:, 3].min()) < 0 or int(passages[:, 3].max()) >= len(sentences)),
    ]
    if any(problems):
        raise ValueError("stored numbers point outside the index")


def open_or_build(
    index_dir: str | os.PathLike[str], articles_path: str | os.PathLike[str], *, progress: Progress | None = None
) -> tuple[Index, bool]:
    """Load the index in ``index_dir``, or build it from ``articles_path`` and save it there when there is none.

    Returns:
        ``(index, built)``: ``built`` is True when a new index was made.

    Raises:
        IndexCorrupt: an index exists but cannot be read (it is not silently replaced).
        ArticlesNotFound: there was no index and the articles cannot be read.
    """
    try:
        return load(index_dir), False
    except IndexNotFound:
        return update(index_dir, articles_path, progress=progress), True


def update(
    index_dir: str | os.PathLike[str],
    articles_path: str | os.PathLike[str],
    *,
    previous: Index | None = None,
    settings: Settings | None = None,
    progress: Progress | None = None,
) -> Index:
    """Bring the index in ``index_dir`` up to date with ``articles_path``: the one build recipe.

    Builds from the articles (keeping ``previous``'s first-seen times), saves atomically, and returns the new
    index; callers swap it in. Until the save has completed, the previous index is the one on disk.

    Raises:
        ArticlesNotFound: the articles cannot be read.
        IndexWriteError: the index cannot be saved (the previous one stays).
    """
    idx = build(articles_path, settings=settings, progress=progress, previous=previous)
    idx.save(index_dir, progress=progress)
    return idx


def compare(previous: Index | None, current: Index) -> Changes:
    """Which article ids ``current`` adds, changes or removes relative to ``previous``."""
    before = previous.info.digests if previous else {}
    after = current.info.digests
    return Changes(
        added=tuple(sorted(set(after) - set(before))),
        changed=tuple(sorted(i for i in set(after) & set(before) if after[i] != before[i])),
        removed=tuple(sorted(set(before) - set(after))),
    )
