"""The single-array BM25 engine newsbot used before the segmented index: a baseline for ``bench/segments.py``.

One CSR of postings with each posting's weight precomputed at build time (the variants' formulas come from
``index.bm25``), searched with MaxScore. Scores equal rank-bm25's on the same tokens (weights are stored as
float32: about 1e-7 relative). newsbot itself searches with ``index.segments``; this engine is kept only so the
benchmarks can set the segmented one side by side with what it replaced.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from index.bm25 import Scored, Settings, idf_l, idf_okapi, idf_plus, tf_l, tf_okapi, tf_plus
from index.errors import InvalidOption

__all__ = ["Postings", "build_postings"]


class Postings:
    """Term -> (passage numbers, weights) in CSR form, plus a per-term base score for BM25Plus.

    Args:
        vocabulary: terms in id order.
        offsets: int64, len(vocabulary) + 1; postings of term t are ``[offsets[t], offsets[t+1])``.
        docs: int32 passage numbers, ascending within each term.
        weights: float32 score contribution of the term in that passage.
        base: float32 per-term score that every passage gets (non-zero only for BM25Plus).
        n_docs: number of passages.
    """

    def __init__(
        self,
        vocabulary: Sequence[str],
        offsets: np.ndarray,
        docs: np.ndarray,
        weights: np.ndarray,
        base: np.ndarray,
        n_docs: int,
    ) -> None:
        self.vocabulary = vocabulary
        self.term_ids = {term: i for i, term in enumerate(vocabulary)}
        self.offsets = offsets
        self.docs = docs
        self.weights = weights
        self.base = base
        self.n_docs = n_docs
        # The largest weight of each term bounds what it can add to any score: MaxScore's pruning test.
        if len(weights):
            starts = offsets[:-1]
            nonempty = offsets[1:] > starts
            self.max_weight = np.zeros(len(vocabulary), dtype=np.float32)
            self.max_weight[nonempty] = np.maximum.reduceat(weights, starts[nonempty])
        else:
            self.max_weight = np.zeros(len(vocabulary), dtype=np.float32)
        # MaxScore's bound holds only when no weight is negative (Okapi's floor can go below zero on odd,
        # tiny corpora). Decided once here: checking per query would walk the long lists it means to skip.
        self.prunable = bool(len(weights) == 0 or float(np.min(weights)) >= 0)
        self._local = threading.local()

    def __len__(self) -> int:
        return self.n_docs

    def document_frequency(self, term: str) -> int:
        """How many passages contain ``term`` (0 when it is unknown)."""
        t = self.term_ids.get(term)
        return 0 if t is None else int(self.offsets[t + 1] - self.offsets[t])

    def _query_terms(self, terms: Iterable[str]) -> tuple[list[int], list[int], float]:
        """Known term ids with their multiplicity, and the constant every passage gets."""
        counts: dict[int, int] = {}
        for term in terms:
            t = self.term_ids.get(term)
            if t is not None:
                counts[t] = counts.get(t, 0) + 1
        ids = list(counts)
        mult = [counts[t] for t in ids]
        constant = float(sum(float(self.base[t]) * m for t, m in zip(ids, mult, strict=True)))
        return ids, mult, constant

    def scores(self, terms: Iterable[str]) -> np.ndarray:
        """Dense scores of every passage, as rank-bm25's ``get_scores`` would return them (float64)."""
        ids, mult, constant = self._query_terms(terms)
        out = np.full(self.n_docs, constant, dtype=np.float64)
        for t, m in zip(ids, mult, strict=True):
            s, e = self.offsets[t], self.offsets[t + 1]
            out[self.docs[s:e]] += self.weights[s:e].astype(np.float64) * m
        return out

    def _scratch(self) -> tuple[np.ndarray, np.ndarray]:
        local = self._local
        if getattr(local, "acc", None) is None:
            # One accumulator per thread, reused and cleaned after each query: allocation would cost more
            # than the query itself at a million passages.
            local.acc = np.zeros(self.n_docs, dtype=np.float32)
            local.seen = np.zeros(self.n_docs, dtype=np.bool_)
        return local.acc, local.seen

    def top(self, terms: Iterable[str], k: int = 10) -> Scored:
        """The ``k`` best passages that contain at least one of ``terms``, best first.

        Exact: equal to sorting rank-bm25's scores, restricted to passages with a query term. Ties are
        broken by passage number.
        """
        ids, mult, constant = self._query_terms(terms)
        empty = Scored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        if not ids or k <= 0:
            return empty
        bounds = [float(self.max_weight[t]) * m for t, m in zip(ids, mult, strict=True)]
        order = sorted(range(len(ids)), key=lambda i: -bounds[i])
        prunable = self.prunable and len(ids) > 1
        acc, seen = self._scratch()
        found: list[np.ndarray] = []
        remaining = sum(bounds)
        n_found = 0
        try:
            for position, i in enumerate(order):
                t, m = ids[i], mult[i]
                s, e = self.offsets[t], self.offsets[t + 1]
                docs, weights = self.docs[s:e], self.weights[s:e]
                remaining -= bounds[i]
                if (
                    position == 0
                    or not prunable
                    or n_found < k
                    or not self._can_skip(acc, found, k, remaining + bounds[i])
                ):
                    new = docs[~seen[docs]]
                    seen[new] = True
                    found.append(new)
                    n_found += len(new)
                    acc[docs] += weights * m if m != 1 else weights
                else:
                    # No passage outside the candidates can reach the top k any more: only look the
                    # candidates up in this term's postings instead of walking all of them.
                    cand = np.concatenate(found) if len(found) > 1 else found[0]
                    found = [cand]
                    where = np.searchsorted(docs, cand)
                    where[where == len(docs)] = 0
                    hit = docs[where] == cand
                    acc[cand[hit]] += weights[where[hit]] * m
            cand = np.concatenate(found) if len(found) > 1 else found[0]
            scores = acc[cand]
            if len(cand) > k:
                keep = np.argpartition(-scores, k - 1)[:k]
                cand, scores = cand[keep], scores[keep]
            order_k = np.lexsort((cand, -scores))
            return Scored(cand[order_k].astype(np.int64), scores[order_k].astype(np.float64) + constant)
        finally:
            for part in found:
                acc[part] = 0
                seen[part] = False

    @staticmethod
    def _can_skip(acc: np.ndarray, found: list[np.ndarray], k: int, rest_bound: float) -> bool:
        """True when passages not yet seen, gaining at most ``rest_bound``, cannot beat the k-th candidate."""
        if len(found) > 1:
            found[:] = [np.concatenate(found)]
        scores = acc[found[0]]
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        return rest_bound < kth


def build_postings(documents: Iterable[Sequence[str]], settings: Settings | None = None) -> Postings:
    """Build postings and rank-bm25 weights from tokenized passages.

    Args:
        documents: each passage's terms (as from ``analysis.analyze``); empty passages are allowed.
        settings: variant and parameters; rank-bm25's BM25Okapi defaults when None.

    Returns:
        The postings, scoring exactly like ``rank_bm25.BM25<Variant>(documents, k1, b, ...)``.

    Raises:
        InvalidOption: there are no passages.
    """
    settings = settings or Settings()
    vocabulary: dict[str, int] = {}
    term_stream: list[int] = []
    lengths: list[int] = []
    for tokens in documents:
        setdefault = vocabulary.setdefault
        term_stream.extend([setdefault(tok, len(vocabulary)) for tok in tokens])
        lengths.append(len(tokens))
    n_docs = len(lengths)
    if n_docs == 0:
        raise InvalidOption("cannot build BM25 postings from zero passages")
    doc_len = np.asarray(lengths, dtype=np.int64)
    terms = np.asarray(term_stream, dtype=np.int64)
    del term_stream
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    keys, tf = np.unique(terms * n_docs + doc_of, return_counts=True)
    del terms, doc_of
    term_of = keys // n_docs
    docs = (keys - term_of * n_docs).astype(np.int32)
    del keys
    n_terms = len(vocabulary)
    df = np.bincount(term_of, minlength=n_terms)
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=offsets[1:])
    avgdl = float(doc_len.sum()) / n_docs
    # rank-bm25 divides by avgdl; an all-empty corpus would divide by zero there, here nothing matches anyway.
    norm = 1 - settings.b + settings.b * doc_len[docs] / (avgdl or 1.0)
    tf = tf.astype(np.float64)
    k1, delta = settings.k1, settings.effective_delta
    base = np.zeros(n_terms, dtype=np.float32)
    if settings.variant == "okapi":
        idf = idf_okapi(df, n_docs, settings.epsilon)
        part = tf_okapi(tf, norm, k1)
    elif settings.variant == "l":
        idf = idf_l(df, n_docs)
        part = tf_l(tf, norm, k1, delta)
    else:
        idf = idf_plus(df, n_docs)
        part = tf_plus(tf, norm, k1)
        base = (idf * delta).astype(np.float32)
    weights = (idf[term_of] * part).astype(np.float32)
    ordered = sorted(vocabulary, key=vocabulary.__getitem__)
    return Postings(ordered, offsets, docs, weights, base, n_docs)
