"""How an archive is laid out in OpenSearch: index names, the settings and mapping, and the BM25 similarity.

One archive is one OpenSearch index behind an alias (``<prefix>-archive``) holding three kinds of documents:

- ``passage`` (id ``p<number>``): the passage's numbers (article, start, end, first sentence, sentence count),
  the generation that wrote it, its length in terms, and ``terms``: newsbot's own analysed terms joined by
  spaces, indexed with the ``whitespace`` analyzer so that stopwords, stems and kept names are exactly the local
  engine's (and kept in ``_source``, where the exact scoring reads them).
- ``article`` (id ``a<number>``): the article's fields and verbatim text, its sentence spans, its date and
  first-seen time as numbers (for ordering and "added since"); text and spans are stored, not indexed.
- ``meta`` (id ``meta``): the committed generation and everything an update needs (metadata, splitter
  parameters, build record with sources and files, BM25 settings, BM25Okapi's IDF floor).

The write lock is a document of its own index (``<prefix>-lock``), which outlives the archive indices that a
full rebuild swaps behind the alias.

Scoring. The local engine scores with rank-bm25's formulas (BM25Plus by default). OpenSearch's built-in
``BM25`` is Lucene's: IDF ``log(1 + (N - n + 0.5) / (n + 0.5))`` and no ``(k1 + 1)`` factor, so its scores differ
and some rankings too. The mapping uses a *scripted* similarity (painless) with rank-bm25's IDF and term part
for ``plus`` and ``l`` (for ``okapi``, Lucene's IDF, since rank-bm25's floor needs the whole vocabulary's mean).
Even so, Lucene keeps a passage's length in one byte (exact up to 40 terms, within about 6% above), and counts
replaced passages in N and df until its segments merge; so the cluster only picks the candidates, and
``OpenSearchArchive.top`` scores them exactly (see there). bench/opensearch.py measures the agreement.
"""

from __future__ import annotations

from typing import Any

from ..bm25 import Settings

__all__ = ["SIMILARITY", "alias", "body", "lock_index", "new_index_name"]

SIMILARITY = "newsbot_bm25"


def alias(prefix: str) -> str:
    """The alias every reader and writer goes through; a full rebuild points it at a new index."""
    return f"{prefix}-archive"


def lock_index(prefix: str) -> str:
    """The index holding the one writer's lock document."""
    return f"{prefix}-lock"


def new_index_name(prefix: str, token: str) -> str:
    """The concrete index of one full build (``token`` keeps builds apart)."""
    return f"{prefix}-archive-{token}"


def _number(value: float) -> str:
    # repr keeps every digit, so the script computes with exactly the archive's parameters.
    return repr(float(value))


def similarity(settings: Settings) -> dict[str, Any]:
    """The index's similarity for ``settings``: rank-bm25's formulas where a script can express them."""
    k1, b = _number(settings.k1), _number(settings.b)
    norm = f"double norm = (1.0 - {b}) + {b} * doc.length * field.docCount / field.sumTotalTermFreq;"
    if settings.variant == "plus":
        weight = "return query.boost * Math.log((field.docCount + 1.0) / term.docFreq);"
        score = f"double tf = doc.freq; {norm} return weight * tf * ({k1} + 1.0) / ({k1} * norm + tf);"
    elif settings.variant == "l":
        delta = _number(settings.effective_delta)
        weight = "return query.boost * (Math.log(field.docCount + 1.0) - Math.log(term.docFreq + 0.5));"
        score = (
            f"double tf = doc.freq; {norm} double ctd = tf / norm; "
            f"return weight * tf * ({k1} + 1.0) * (ctd + {delta}) / ({k1} + ctd + {delta});"
        )
    else:  # okapi, with Lucene's IDF (never negative) in place of rank-bm25's floor of the vocabulary's mean
        weight = "double n = term.docFreq; return query.boost * Math.log(1.0 + (field.docCount - n + 0.5) / (n + 0.5));"
        score = f"double tf = doc.freq; {norm} return weight * tf * ({k1} + 1.0) / (tf + {k1} * norm);"
    return {"type": "scripted", "weight_script": {"source": weight}, "script": {"source": score}}


def body(settings: Settings, *, shards: int, replicas: int) -> dict[str, Any]:
    """Settings and mapping of a new archive index.

    Refresh is off (``refresh_interval: -1``): a writer refreshes once when it commits, so readers never see a
    half-written update, and every passage carries its generation so that a reader filters out what a writer
    has not committed yet even if a shard recovery makes it searchable.
    """
    keyword = {"type": "keyword"}
    stored = {"type": "keyword", "index": False, "doc_values": False}
    number = {"type": "long"}
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "refresh_interval": "-1",
            "similarity": {SIMILARITY: similarity(settings)},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "kind": keyword,
                "gen": number,
                "number": number,
                # passages
                "article": number,
                "start": {"type": "integer", "index": False},
                "end": {"type": "integer", "index": False},
                "first": {"type": "integer", "index": False},
                "count": {"type": "integer", "index": False},
                "terms": {"type": "text", "analyzer": "whitespace", "similarity": SIMILARITY},
                "length": {"type": "integer"},  # how many terms: exact, where Lucene's norms keep one byte
                # articles
                "id": keyword,
                "title": stored,
                "date": stored,
                "url": stored,
                "source": stored,
                "file": stored,
                "digest": stored,
                "first_seen": stored,
                "when": number,  # publication time in microseconds since 1970 (UTC); absent when undated
                "seen": number,  # first-seen time in microseconds since 1970
                "payload": {"type": "object", "enabled": False},  # text and sentence spans; meta's record
            },
        },
    }
