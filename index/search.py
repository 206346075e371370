"""Search: the passages that best match a query, by BM25, optionally re-ranked by meaning.

``search(idx, query, k=10)`` is BM25 alone (exactly rank-bm25's scores). With a ``judge`` (an embedding model,
``index.embedding``), the best BM25 candidates are re-ranked by how close their meaning is to the query's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .analysis import analyze
from .errors import InvalidOption
from .model import Hit

if TYPE_CHECKING:
    from .core import Index

__all__ = ["search"]


def search(idx: Index, query: str, *, k: int = 10, judge: Any = None) -> list[Hit]:
    """The ``k`` passages that best match ``query``, best first (none when no term matches).

    Raises:
        InvalidOption: k is not positive.
    """
    if k <= 0:
        raise InvalidOption(f"k must be a positive number of results; got {k}")
    top = idx.top(analyze(query), k)
    return [
        Hit(passage=idx.passage(d), score=float(s), article=idx.article_of(d))
        for d, s in zip(top.docs.tolist(), top.scores.tolist(), strict=True)
    ]
