"""BM25 with rank-bm25's exact formulas: the settings of a variant, and each variant as small pure functions.

rank-bm25 defines the scores; its ``get_scores`` walks every passage for every query term. Here each
variant's IDF and term-frequency part are vectorised functions of document frequencies, term frequencies and
normalised lengths, which the segmented index (``index.segments``) applies to its postings. ``Scored`` is what
a top-k search returns. (The single-array engine that once lived here is in ``bench/postings.py``, as a
baseline for the benchmarks.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import InvalidOption

__all__ = ["VARIANTS", "Scored", "Settings", "idf_l", "idf_okapi", "idf_plus", "tf_l", "tf_okapi", "tf_plus"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Which rank-bm25 variant and its parameters (rank-bm25's defaults)."""

    variant: str = "okapi"
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25  # okapi only: the IDF floor is epsilon * mean IDF
    delta: float | None = None  # l: 0.5, plus: 1.0 when None

    def __post_init__(self) -> None:
        if self.variant not in VARIANTS:
            raise InvalidOption(f"unknown BM25 variant {self.variant!r}; accepted: {', '.join(VARIANTS)}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise InvalidOption(f"k1 must be >= 0 and b within [0, 1]; got k1={self.k1}, b={self.b}")

    @property
    def effective_delta(self) -> float:
        """The delta in use: the one given, else rank-bm25's default for the variant (l: 0.5, plus: 1.0)."""
        if self.delta is not None:
            return self.delta
        return 0.5 if self.variant == "l" else 1.0


def idf_okapi(df: np.ndarray, n_docs: int, epsilon: float) -> np.ndarray:
    """BM25Okapi IDF: log((N - df + 0.5) / (df + 0.5)); negatives floored to epsilon * mean IDF."""
    idf = np.log(n_docs - df + 0.5) - np.log(df + 0.5)
    floor = epsilon * (float(idf.sum()) / len(idf)) if len(idf) else 0.0
    return np.where(idf < 0, floor, idf)


def idf_l(df: np.ndarray, n_docs: int) -> np.ndarray:
    """BM25L IDF: log(N + 1) - log(df + 0.5)."""
    return np.log(n_docs + 1) - np.log(df + 0.5)


def idf_plus(df: np.ndarray, n_docs: int) -> np.ndarray:
    """BM25Plus IDF: log((N + 1) / df)."""
    return np.log((n_docs + 1) / df)


def tf_okapi(tf: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """BM25Okapi term part; ``norm`` is 1 - b + b * dl / avgdl."""
    return tf * (k1 + 1) / (tf + k1 * norm)


def tf_l(tf: np.ndarray, norm: np.ndarray, k1: float, delta: float) -> np.ndarray:
    """BM25L term part as rank-bm25 writes it (including its leading tf factor)."""
    ctd = tf / norm
    return tf * (k1 + 1) * (ctd + delta) / (k1 + ctd + delta)


def tf_plus(tf: np.ndarray, norm: np.ndarray, k1: float) -> np.ndarray:
    """BM25Plus term part without the delta that every document gets (kept apart as a per-term base)."""
    return tf * (k1 + 1) / (k1 * norm + tf)


VARIANTS = ("okapi", "l", "plus")


class Scored(NamedTuple):
    """Top-k result: passage numbers and their scores, best first."""

    docs: np.ndarray
    scores: np.ndarray
