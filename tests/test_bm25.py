"""Our BM25 scores equal rank-bm25's on the same tokens, for every variant, including degenerate corpora.

Scored through a segmented index of one segment (``index.segments``); tests/test_segments.py checks any history of
adds, deletes and merges against rank-bm25 too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from index.bm25 import Settings
from index.errors import InvalidOption
from index.segments import Searcher, SegmentedIndex

ORACLES = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}
WORDS = [f"w{i}" for i in range(12)]

corpora = st.lists(st.lists(st.sampled_from(WORDS), min_size=0, max_size=15), min_size=1, max_size=30).filter(
    lambda docs: any(docs)  # rank-bm25 divides by the mean length
)
queries = st.lists(st.sampled_from([*WORDS, "unknown"]), min_size=1, max_size=6)


def build(corpus: list[list[str]], settings: Settings | None = None) -> Searcher:
    """A searcher over ``corpus`` as one segment of an index in a folder of its own (gone when the test ends)."""
    with tempfile.TemporaryDirectory() as folder, SegmentedIndex.open(Path(folder), settings=settings) as writer:
        return writer.add(corpus)


def assert_same_ranking(ours: np.ndarray, ref: np.ndarray) -> None:
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(ref).max())))
    for i in range(len(ref)):
        for j in range(len(ref)):
            if ref[i] > ref[j] + 1e-5 * max(1.0, abs(ref[j])):
                assert ours[i] > ours[j]


@settings(max_examples=150, deadline=None)
@given(corpus=corpora, query=queries, variant=st.sampled_from(sorted(ORACLES)))
def test_scores_equal_rank_bm25(corpus, query, variant):
    ref = ORACLES[variant](corpus).get_scores(query)
    ours = build(corpus, Settings(variant=variant)).scores(query)
    assert_same_ranking(ours, ref)


@settings(max_examples=150, deadline=None)
@given(corpus=corpora, query=queries, variant=st.sampled_from(sorted(ORACLES)), k=st.integers(1, 8))
def test_top_k_is_the_oracle_order(corpus, query, variant, k):
    ref = ORACLES[variant](corpus).get_scores(query)
    top = build(corpus, Settings(variant=variant)).top(query, k)
    matched = [i for i, doc in enumerate(corpus) if set(doc) & set(query)]
    assert len(top.docs) == min(k, len(matched))
    assert set(top.docs.tolist()) <= set(matched)
    np.testing.assert_allclose(top.scores, sorted((ref[i] for i in matched), reverse=True)[:k], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_docs", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("variant", sorted(ORACLES))
def test_tiny_corpora_and_a_term_in_exactly_half(n_docs, variant):
    corpus = [["said", f"rare{i}"] if i < n_docs / 2 else [f"other{i}", "said"] for i in range(n_docs)]
    if n_docs % 2 == 0:
        corpus = [["half", *doc] if i % 2 == 0 else doc for i, doc in enumerate(corpus)]
    for query in (["said"], ["half"], ["rare0", "said"], ["half", "rare0", "half"]):
        ref = ORACLES[variant](corpus).get_scores(query)
        assert_same_ranking(build(corpus, Settings(variant=variant)).scores(query), ref)


def test_okapi_term_in_exactly_half_scores_zero():
    """rank-bm25's documented quirk (issues #29, #39): IDF is exactly 0 for a term in half the passages."""
    corpus = [["half", "a"], ["b"], ["half", "c"], ["d"]]
    assert build(corpus).scores(["half"]).tolist() == [0, 0, 0, 0]


def test_bad_variant_lists_accepted():
    with pytest.raises(InvalidOption, match="accepted: okapi, l, plus"):
        Settings(variant="bm42")
