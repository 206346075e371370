"""The semantic judge: meaning-based scores from the offline embedding model, for answers, search and small talk.

A ``Judge`` wraps an ``index.embedding.Embedder`` with a bounded cache of vectors by text: the same popular
passages and sentences come back question after question, and an embedding costs milliseconds. Queries (the
questions, and messages checked for small talk) have a smaller cache of their own, so that the same question
asked by many users, or again for its "More" page, is embedded once and does not push sentences out. It is safe to
use from several threads (the bot answers in worker threads). ``load_judge`` raises ``ModelUnavailable`` with a
one-line reason when the model cannot be used; callers then say so and answer lexically.
"""

from __future__ import annotations

import collections
import functools
import threading
from collections.abc import Sequence

import numpy as np

from .embedding import Embedder, ModelUnavailable, load_embedder

__all__ = ["Judge", "ModelUnavailable", "load_judge"]


class Judge:
    """Cosine similarities between a query and texts, with the texts' vectors cached.

    Args:
        embedder: the loaded model.
        cache_size: how many text vectors to keep (384 float32 each: 20,000 is about 30 MB).
    """

    def __init__(self, embedder: Embedder, *, cache_size: int = 20_000, query_cache_size: int = 2_000) -> None:
        self.embedder = embedder
        self.cache_size = cache_size
        self.query_cache_size = query_cache_size
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._queries: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._phrases: dict[frozenset[str], np.ndarray] = {}

    def __repr__(self) -> str:
        return f"<Judge {self.embedder!r}, {len(self._cache)} cached vectors>"

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors of ``texts`` (shape ``(len(texts), dim)``), from the cache where possible."""
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for text in texts:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in texts if t not in found))
        if missing:
            computed = self.embedder.embed(missing)
            with self._lock:
                for text, vector in zip(missing, computed, strict=True):
                    found[text] = vector
                    self._cache[text] = vector
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        if not texts:
            return np.zeros((0, self.embedder.dimension), dtype=np.float32)
        return np.stack([found[t] for t in texts])

    def query_vector(self, query: str) -> np.ndarray:
        """The unit vector of ``query``, from the queries' own cache where possible."""
        with self._lock:
            vector = self._queries.get(query)
            if vector is not None:
                self._queries.move_to_end(query)
                return vector
        vector = self.embedder.embed([query])[0]
        with self._lock:
            self._queries[query] = vector
            while len(self._queries) > self.query_cache_size:
                self._queries.popitem(last=False)
        return vector

    def similarities(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """The cosine similarity of ``query`` to each of ``texts``."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        return self.vectors(texts) @ self.query_vector(query)

    def nearest(self, text: str, phrases: frozenset[str]) -> float:
        """The highest cosine similarity of ``text`` to any of ``phrases`` (0.0 when there are none).

        The phrases' vectors are computed once per set and kept apart from the bounded cache, since a caller asks
        about the same set every time (small talk's phrase list, say).
        """
        if not phrases:
            return 0.0
        with self._lock:
            known = self._phrases.get(phrases)
        if known is None:
            known = self.embedder.embed(sorted(phrases))
            with self._lock:
                self._phrases[phrases] = known
        return float(np.max(known @ self.query_vector(text)))


@functools.lru_cache(maxsize=2)
def load_judge(*, intra_op_threads: int = 1) -> Judge:
    """The process's Judge: the embedding model loaded once (checked by size and sha256), shared by all callers.

    Raises:
        ModelUnavailable: the model cannot be used here; the message says why in one line (not cached: a later
            call tries again).
    """
    return Judge(load_embedder(intra_op_threads=intra_op_threads))
