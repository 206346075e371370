"""Search: the passages that best match a query, by BM25, optionally re-ranked by meaning.

``search(idx, query, k=10)`` is BM25 alone (exactly rank-bm25's scores). With a ``judge`` (the embedding model,
``index.semantic``), BM25's best ``RERANKED`` candidates are re-ranked by their best sentence as the semantic
answer path scores it (meaning, question terms held, BM25); a hit's score is then that sentence's score.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .analysis import analyze
from .answers import judged_passages
from .errors import InvalidOption
from .model import Hit

if TYPE_CHECKING:
    from .backend import Archive
    from .semantic import Judge

__all__ = ["RERANKED", "search"]

RERANKED = 30  # candidates the judge re-ranks: past these, BM25 rarely holds the answer (bench/quality.py)


def search(idx: Archive, query: str, *, k: int = 10, judge: Judge | None = None) -> list[Hit]:
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
    by_number = {h.passage.number: h for h in hits}
    ranked = judged_passages(idx, query, [h.passage.number for h in hits], [h.score for h in hits], judge)
    return [
        Hit(passage=by_number[p].passage, score=score if score != -math.inf else 0.0, article=by_number[p].article)
        for p, score in ranked[:k]
    ]
