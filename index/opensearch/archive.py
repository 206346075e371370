"""An archive read from an OpenSearch cluster: the ``Archive`` of index.backend, over one committed generation.

``OpenSearchArchive.open(client, config)`` reads the committed ``meta`` document behind the archive's alias and
the live counts (passages, articles, the sum of passage lengths); every later read filters passages to
generations up to that one, so what a writer has written but not committed is never returned. ``top`` asks the
cluster for candidates (one ``dfs_query_then_fetch`` search, so shards share term statistics, of term queries
boosted by how often each term occurs in the question) and scores them exactly with rank-bm25's formulas from
their stored terms and the live document frequencies (asked in batches with one multi-search), ordering ties by
passage number as the local engine does: scores and order are the local engine's.

An archive reads the concrete index its alias named when it was opened, so a full rebuild (a new index, the
alias moved) leaves it serving its own generation until the next writer removes the old index. What it does not
pin: the cluster has no snapshot reads for GETs, so after a later incremental commit the passages of replaced
articles are gone from it too (the bot swaps in each new archive at once, as it does for the local engine). Its
counts, settings and build information stay those of the commit it was opened at.
"""

from __future__ import annotations

import collections
import datetime as dt
import functools
import math
import os
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .. import bm25, store
from ..bm25 import Scored, Settings
from ..errors import IndexCorrupt, IndexNotFound
from ..ingest import fingerprint
from ..local import _InOrder
from ..model import Article, BuildInfo, Changes, IngestReport, Passage
from . import schema
from .client import ClusterConfig, unavailable, whole

__all__ = ["OpenSearchArchive", "settings_from", "settings_record"]

_CACHE = 4096  # articles kept as objects, as the local store does
_BATCH = 200  # terms per document-frequency request, articles per mget
CANDIDATES = 3  # for a top k, the cluster's best 3k (at least k + 30) are scored exactly
MAX_CANDIDATES = 10_000  # OpenSearch's max_result_window


def settings_record(settings: Settings) -> dict[str, Any]:
    """The BM25 settings as the meta document keeps them."""
    return {"variant": settings.variant, "k1": settings.k1, "b": settings.b, "epsilon": settings.epsilon,
            "delta": settings.delta}  # fmt: skip


def settings_from(record: dict[str, Any]) -> Settings:
    """The settings ``settings_record`` kept."""
    return Settings(**record)


def micros(when: dt.datetime) -> int:
    """An aware time as whole microseconds since 1970 (exact, unlike a float timestamp)."""
    delta = when - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def article_from(source: dict[str, Any]) -> Article:
    """The Article an article document holds."""
    date = source.get("date") or None
    return Article(
        id=source["id"],
        title=source["title"],
        text=source["payload"]["text"],
        date=dt.datetime.fromisoformat(date) if date else None,
        url=source.get("url") or None,
        source=source.get("source") or "",
    )


class _ByNumber:
    """The ``article(number)`` that ``index.core``'s lazy date order reads articles through."""

    def __init__(self, archive: OpenSearchArchive) -> None:
        self.article = archive.article_by_number


class OpenSearchArchive:
    """One committed generation of an archive in an OpenSearch cluster (thread-safe for reading)."""

    def __init__(
        self, client: Any, config: ClusterConfig, meta: dict[str, Any], counts: tuple[int, int, float]
    ) -> None:
        self.client = client
        self.config = config
        self.alias = schema.alias(config.prefix)
        self.index = meta["index"]  # the concrete index: a full rebuild moves the alias, not this archive
        self.meta = meta
        self.generation = int(meta["gen"])
        self._settings = settings_from(meta["settings"])
        self._passages, self._articles, total_length = counts
        self._average_length = total_length / self._passages if self._passages else 1.0
        self._okapi_floor = float(meta.get("okapi_floor", 0.0))  # of the last full build (see OpenSearchWriter)
        record = meta["record"]
        self.info = _info(record, meta["metadata"], self._settings)
        self.changed = Changes(**{k: tuple(v) for k, v in record.get("changed", {}).items()})
        self._lock = threading.Lock()
        self._cache: collections.OrderedDict[int, Article] = collections.OrderedDict()
        self._df: dict[str, int] = {}
        self._rows: collections.OrderedDict[int, tuple[int, int, int, int, int]] = collections.OrderedDict()

    @classmethod
    def open(cls, client: Any, config: ClusterConfig) -> OpenSearchArchive:
        """The committed state behind the archive's alias.

        Raises:
            IndexNotFound: the cluster holds no archive under this prefix.
            IndexCorrupt: the archive's meta document is missing or unreadable.
            ArchiveUnavailable: the cluster cannot be reached or fails.
        """
        from opensearchpy import NotFoundError

        alias = schema.alias(config.prefix)
        with unavailable(config, "reading the archive"):
            try:
                found = client.get(index=alias, id="meta")
                meta = {**found["_source"]["payload"], "index": found["_index"]}
            except NotFoundError:
                if client.indices.exists_alias(name=alias):
                    raise IndexCorrupt(f"the archive {alias!r} in OpenSearch has no meta document") from None
                raise IndexNotFound(f"no archive {alias!r} in the OpenSearch cluster at {config.where}") from None
            counts = [whole(config, "reading the archive", r) for r in client.msearch(
                index=meta["index"],
                body=[{}, {"size": 0, "track_total_hits": True, "query": _live("passage", int(meta["gen"])),
                           "aggs": {"length": {"sum": {"field": "length"}}}},
                      {}, {"size": 0, "track_total_hits": True, "query": _live("article", int(meta["gen"]))}],
            )["responses"]]  # fmt: skip
        try:
            total_length = float(counts[0]["aggregations"]["length"]["value"])
            return cls(client, config, meta, (*(r["hits"]["total"]["value"] for r in counts), total_length))
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorrupt(f"the archive {alias!r} in OpenSearch is inconsistent ({exc})") from None

    def __len__(self) -> int:
        """Number of live passages."""
        return self._passages

    def __repr__(self) -> str:
        counts = f"{self._articles} articles, {len(self)} passages"
        return f"<OpenSearchArchive {self.alias} gen {self.generation}: {counts}>"

    @property
    def settings(self) -> Settings:
        """The BM25 variant and parameters passages are scored with."""
        return self._settings

    @property
    def built_at(self) -> dt.datetime:
        """When this state was committed (aware, UTC)."""
        return self.info.built_at

    @property
    def report(self) -> IngestReport:
        """What the files read by the update that made this state held and skipped."""
        return self.info.report

    @property
    def article_count(self) -> int:
        """Number of live articles."""
        return self._articles

    # ------------------------------------------------------------------------------------------- passages

    def _search(self, doing: str, **request: Any) -> dict[str, Any]:
        with unavailable(self.config, doing):
            return whole(self.config, doing, self.client.search(index=self.index, **request))

    def top(self, terms: list[str], k: int) -> Scored:
        """The ``k`` best passages for analysed ``terms`` (a repeated term counts as often), best first.

        The cluster finds the candidates (the top ``CANDIDATES * k`` by its own scores, which differ from
        rank-bm25's only through Lucene's one-byte passage lengths and replaced passages counted until a merge);
        each candidate is then scored exactly, with rank-bm25's formula, from its terms, its length and the live
        document frequencies, so scores and order are the local engine's.
        """
        counts = collections.Counter(terms)
        empty = Scored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        if k <= 0 or not counts or not len(self):
            return empty
        frequencies = self.document_frequencies(counts)
        known = {t: c for t, c in counts.items() if frequencies[t]}  # rank-bm25 gives a term no passage holds 0
        if not known:
            return empty
        query = _live("passage", self.generation)
        query["bool"]["should"] = [{"term": {"terms": {"value": t, "boost": c}}} for t, c in known.items()]
        query["bool"]["minimum_should_match"] = 1
        found = self._search(
            "searching",
            body={
                "size": min(max(CANDIDATES * k, k + 30), MAX_CANDIDATES),
                "query": query,
                "track_total_hits": False,
                "_source": ["number", "length", "terms", "article", "start", "end", "first", "count"],
            },
            search_type="dfs_query_then_fetch",
        )["hits"]["hits"]
        if not found:
            return empty
        docs = np.array([hit["_source"]["number"] for hit in found], dtype=np.int64)
        scores = self._exact(known, frequencies, found)
        order = np.lexsort((docs, -scores))[:k]  # ties: the lower number first, as the local engine orders them
        self._remember([found[i]["_source"] for i in order])
        return Scored(docs[order], scores[order])

    def _exact(self, counts: dict[str, int], frequencies: dict[str, int], hits: list[dict[str, Any]]) -> np.ndarray:
        """rank-bm25's scores of the passages ``hits`` hold (``index.bm25``'s formulas, the local engine's)."""
        settings, n = self._settings, len(self)
        lengths = np.array([hit["_source"]["length"] for hit in hits], dtype=np.float64)
        norm = 1 - settings.b + settings.b * lengths / self._average_length
        bags = [collections.Counter(hit["_source"]["terms"].split()) for hit in hits]
        scores = np.zeros(len(hits), dtype=np.float64)
        for term, count in counts.items():
            df = np.array([frequencies[term]], dtype=np.float64)
            tf = np.array([bag.get(term, 0) for bag in bags], dtype=np.float64)
            if settings.variant == "plus":  # delta * idf reaches every passage, this term's or not
                part = bm25.idf_plus(df, n)[0] * (settings.effective_delta + bm25.tf_plus(tf, norm, settings.k1))
            elif settings.variant == "l":
                part = bm25.idf_l(df, n)[0] * bm25.tf_l(tf, norm, settings.k1, settings.effective_delta)
            else:
                idf = math.log(n - df[0] + 0.5) - math.log(df[0] + 0.5)
                part = (idf if idf >= 0 else self._okapi_floor) * bm25.tf_okapi(tf, norm, settings.k1)
            scores += count * part
        return scores

    def document_frequency(self, term: str) -> int:
        """How many live passages contain the analysed ``term``."""
        return self.document_frequencies([term])[term]

    def document_frequencies(self, terms: Iterable[str]) -> dict[str, int]:
        """Each distinct term's document frequency, asked in batches of one multi-search (and remembered)."""
        wanted = list(dict.fromkeys(terms))
        with self._lock:
            missing = [t for t in wanted if t not in self._df]
        for start in range(0, len(missing), _BATCH):
            batch = missing[start : start + _BATCH]
            body: list[dict[str, Any]] = []
            for term in batch:
                query = _live("passage", self.generation)
                query["bool"]["filter"].append({"term": {"terms": term}})
                body += [{}, {"size": 0, "track_total_hits": True, "query": query}]
            with unavailable(self.config, "counting terms"):
                responses = self.client.msearch(index=self.index, body=body)["responses"]
            counted = [whole(self.config, "counting terms", response) for response in responses]  # or none kept
            with self._lock:
                for term, response in zip(batch, counted, strict=True):
                    self._df[term] = int(response["hits"]["total"]["value"])
        with self._lock:
            return {t: self._df[t] for t in wanted}

    def rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Each distinct term's smoothed IDF, log(1 + (N - df + 0.5) / (df + 0.5))."""
        n = len(self)
        return {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in self.document_frequencies(terms).items()}

    def _row(self, number: int) -> tuple[int, int, int, int, int]:
        with self._lock:
            row = self._rows.get(number)
        if row is not None:
            return row
        from opensearchpy import NotFoundError

        try:
            with unavailable(self.config, "reading a passage"):
                source = self.client.get(index=self.index, id=f"p{number}")["_source"]
        except NotFoundError:
            raise KeyError(number) from None
        if source["gen"] > self.generation:
            raise KeyError(number)
        return self._remember([source])[0]

    def _remember(self, sources: list[dict[str, Any]]) -> list[tuple[int, int, int, int, int]]:
        """Keep the rows of passage documents (a search's hits carry them: no GET per passage afterwards)."""
        rows = [(s["article"], s["start"], s["end"], s["first"], s["count"]) for s in sources]
        with self._lock:
            for source, row in zip(sources, rows, strict=True):
                self._rows[source["number"]] = row
                self._rows.move_to_end(source["number"])
            while len(self._rows) > 4 * _CACHE:
                self._rows.popitem(last=False)
        return rows

    def passage(self, number: int) -> Passage:
        """Passage ``number`` (its text is a slice of its article's)."""
        art, start, end, _, _ = self._row(int(number))
        article = self.article_by_number(art)
        return Passage(article_id=article.id, start=start, end=end, text=article.text[start:end], number=int(number))

    def passage_sentences(self, number: int) -> list[tuple[int, int]]:
        """Sentence spans (offsets into the article) of passage ``number``."""
        art, _, _, first, count = self._row(int(number))
        return self._sentences(art)[first : first + count]

    def article_of(self, passage: int) -> Article:
        """The article passage ``passage`` belongs to."""
        return self.article_by_number(self._row(int(passage))[0])

    def titles_for(self, passages: Iterable[int]) -> tuple[str, ...]:
        """Distinct article titles of these passages, in order."""
        return tuple(dict.fromkeys(self.article_of(p).title for p in passages))

    # ------------------------------------------------------------------------------------------- articles

    @functools.lru_cache(maxsize=_CACHE)  # noqa: B019
    def _article_source(self, number: int) -> dict[str, Any]:
        return self._article_sources([number])[number]

    def _article_sources(self, numbers: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for start in range(0, len(numbers), _BATCH):
            ids = [f"a{n}" for n in numbers[start : start + _BATCH]]
            with unavailable(self.config, "reading articles"):
                docs = self.client.mget(index=self.index, body={"ids": ids})["docs"]
            for doc in docs:
                if doc.get("found"):
                    out[doc["_source"]["number"]] = doc["_source"]
        missing = [n for n in numbers if n not in out]
        if missing:
            raise KeyError(missing[0])
        return out

    def article_by_number(self, number: int) -> Article:
        """The article numbered ``number``."""
        return self.articles_by_number([number])[number]

    def articles_by_number(self, numbers: Sequence[int]) -> dict[int, Article]:
        """Articles by number, from the cache where they are, the rest in one multi-get per batch."""
        out: dict[int, Article] = {}
        with self._lock:
            for n in numbers:
                if n in self._cache:
                    self._cache.move_to_end(n)
                    out[n] = self._cache[n]
        missing = [n for n in dict.fromkeys(numbers) if n not in out]
        if missing:
            fetched = {n: article_from(s) for n, s in self._article_sources(missing).items()}
            out.update(fetched)
            with self._lock:
                self._cache.update(fetched)
                while len(self._cache) > _CACHE:
                    self._cache.popitem(last=False)
        return out

    def _sentences(self, number: int) -> list[tuple[int, int]]:
        flat = self._article_source(number)["payload"]["sentences"]
        return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]

    def _number_of(self, article_id: str) -> tuple[int, dict[str, Any]]:
        query = _live("article", self.generation)
        query["bool"]["filter"].append({"term": {"id": article_id}})
        hits = self._search("finding an article", body={"size": 1, "query": query})["hits"]["hits"]
        if not hits:
            raise KeyError(article_id)
        return hits[0]["_source"]["number"], hits[0]["_source"]

    def article(self, article_id: str) -> Article:
        """The article with this id. Raises KeyError when there is none."""
        return article_from(self._number_of(article_id)[1])

    def article_sentences(self, article_id: str) -> list[tuple[int, int]]:
        """Sentence spans of one whole article, in text order."""
        return self._sentences(self._number_of(article_id)[0])

    def first_seen(self, article_id: str) -> dt.datetime:
        """When the article first entered this archive's lineage, in UTC."""
        seen = self._number_of(article_id)[1].get("first_seen")
        return dt.datetime.fromisoformat(seen) if seen else self.info.built_at

    def added_since(self, when: dt.datetime) -> list[str]:
        """Ids of the articles that first entered the archive after ``when`` (an aware datetime)."""
        query = _live("article", self.generation)
        query["bool"]["filter"].append({"range": {"seen": {"gt": micros(when)}}})
        return [source["id"] for source in self._scan(query, ["id"], "number")]

    def _scan(self, query: dict[str, Any], fields: list[str], *order: Any) -> Iterator[dict[str, Any]]:
        """Every document ``query`` matches, in ``order`` (search_after pages of 5,000; no scroll to keep open)."""
        after = None
        while True:
            body: dict[str, Any] = {"size": 5000, "query": query, "_source": fields, "sort": [*order, "_id"]}
            if after is not None:
                body["search_after"] = after
            hits = self._search("listing articles", body=body)["hits"]["hits"]
            for hit in hits:
                yield hit["_source"]
            if len(hits) < 5000:
                return
            after = hits[-1]["sort"]

    @functools.cached_property
    def newest_first(self) -> Sequence[Article]:
        """The articles by publication date, newest first, undated last (ties: lower number first)."""
        query = _live("article", self.generation)
        ordered = self._scan(query, ["number"], {"when": {"order": "desc", "missing": "_last"}}, {"number": "asc"})
        numbers = np.array([source["number"] for source in ordered], dtype=np.int64)
        return _InOrder(_ByNumber(self), numbers)  # type: ignore[arg-type]

    def recent_titles(self, n: int) -> tuple[str, ...]:
        """Titles of the ``n`` most recent articles."""
        return tuple(a.title for a in self.newest_first[:n])

    def changes(self, articles_path: str | os.PathLike[str]) -> Changes:
        """Which article files were added, changed or removed since this state was built (relative paths)."""
        then = self.info.sources
        now = fingerprint(articles_path)
        return Changes(
            added=tuple(sorted(set(now) - set(then))),
            changed=tuple(sorted(p for p in set(now) & set(then) if tuple(now[p]) != tuple(then[p]))),
            removed=tuple(sorted(set(then) - set(now))),
        )

    def catalog(self) -> Iterator[tuple[int, str, str, str]]:
        """``(number, id, digest, first_seen)`` of every live article: what an update compares new files with."""
        query = _live("article", self.generation)
        for s in self._scan(query, ["number", "id", "digest", "first_seen"], "number"):
            yield s["number"], s["id"], s["digest"], s["first_seen"]


def _live(kind: str, generation: int) -> dict[str, Any]:
    """A bool query for the documents of ``kind`` committed by ``generation`` or before."""
    return {"bool": {"filter": [{"term": {"kind": kind}}, {"range": {"gen": {"lte": generation}}}]}}


def _info(record: dict[str, Any], meta: dict[str, Any], settings: Settings) -> BuildInfo:
    return BuildInfo(
        analyzer=int(meta["analyzer"]),
        titles=bool(meta["titles"]),
        settings=settings,
        built_at=dt.datetime.fromisoformat(record["built_at"]),
        build_seconds=float(record["build_seconds"]),
        articles_path=str(meta["articles_path"]),
        sources={path: (int(size), int(mtime)) for path, (size, mtime) in record["sources"].items()},
        files={path: tuple(int(n) for n in numbers) for path, numbers in record["files"].items()},
        report=store.report_from_record(record["report"]),
    )
