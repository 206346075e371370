"""Search: the passages that best match a query, by BM25, optionally re-ranked by meaning.

``search(idx, query, k=10)`` is BM25 alone (exactly rank-bm25's scores). With a ``judge`` (the embedding model,
``index.semantic``), BM25's best ``RERANKED`` candidates are re-ranked by how close their meaning is to the
query's, with their BM25 score kept as a share (``BM25_SHARE``); a hit's score is then that combination.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .analysis import analyze
from .errors import InvalidOption
from .model import Hit

if TYPE_CHECKING:
    from .core import Index
    from .semantic import Judge

__all__ = ["BM25_SHARE", "RERANKED", "search"]

RERANKED = 30  # candidates the judge re-ranks: past these, BM25 rarely holds the answer (bench/quality.py)
BM25_SHARE = 0.3  # how much a candidate's BM25 score (as a share of the best) counts next to its cosine


def search(idx: Index, query: str, *, k: int = 10, judge: Judge | None = None) -> list[Hit]:
    """The ``k`` passages that best match ``query``, best first (none when no term matches).

    Raises:
        InvalidOption: k is not positive.
    """
    if k <= 0:
        raise InvalidOption(f"k must be a positive number of results; got {k}")
    top = idx.top(analyze(query), k if judge is None else max(k, RERANKED))
    hits = [
        Hit(passage=idx.passage(d), score=float(s), article=idx.article_of(d))
        for d, s in zip(top.docs.tolist(), top.scores.tolist(), strict=True)
    ]
    if judge is None or not hits:
        return hits
    best = hits[0].score or 1.0
    cosines = judge.similarities(query, [f"{h.article.title}. {h.passage.text}" for h in hits])
    scored = [
        Hit(passage=h.passage, score=float(c) + BM25_SHARE * h.score / best, article=h.article)
        for h, c in zip(hits, cosines, strict=True)
    ]
    scored.sort(key=lambda h: (-h.score, h.passage.number))
    return scored[:k]
