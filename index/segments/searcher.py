"""The searcher: exact BM25 over one manifest's live passages, top-k by MaxScore.

Weights: a segment stores raw statistics only. A searcher computes each posting's term-frequency part from
the global average length once (vectorised, deleted passages get 0), and multiplies by the term's IDF, from
the global document frequency, at query time. So a commit costs one pass over the postings and no union of
vocabularies (BM25Okapi's IDF floor needs one; it is built on first use and reused by later searchers).

Top-k is MaxScore per segment, largest first, carrying the k-th score into the next segment, whose terms'
bounds may then skip it entirely; in its second phase the candidates that cannot reach the k-th score even with
every remaining term are dropped, and segments of at most 4,096 passages are scored whole. Results are exact:
ties go to the lower global passage number.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..bm25 import Scored, Settings, tf_l
from ..errors import IndexCorrupt, InvalidOption
from .format import Segment, SegmentEntry, load_segment, load_tombstones
from .manifest import Manifest, read_manifest

# MaxScore compares float64 bounds with float32 sums of float32 products; the slack keeps the bound an upper
# bound whatever the rounding (a few ulps over at most a few dozen terms).
_BOUND_SLACK = 1 + 1e-5
# Segments up to this many passages are scored whole rather than with MaxScore (measured: fewer numpy calls
# win below a few thousand passages).
_SMALL_SEGMENT = 4096


# ----------------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True, eq=False)
class Live:
    """A segment with one tombstone set: which passages are live and each term's live document frequency."""

    segment: Segment
    tombstones: np.ndarray
    deleted_mask: np.ndarray | None  # bool per passage, None when nothing is deleted
    dead_postings: np.ndarray | None  # positions of the deleted passages' postings, None when none
    live_df: np.ndarray
    live_count: int
    live_length: int

    @staticmethod
    def of(segment: Segment, tombstones: np.ndarray) -> Live:
        """The live statistics of ``segment`` with these deleted local ids."""
        lengths = segment.lengths
        if len(tombstones) == 0:
            return Live(segment, tombstones, None, None, segment.df, len(lengths), int(lengths.sum(dtype=np.int64)))
        mask = np.zeros(len(lengths), dtype=np.bool_)
        mask[tombstones] = True
        dead = np.flatnonzero(mask[segment.docs])
        dead_terms = np.searchsorted(segment.offsets, dead, side="right") - 1
        live_df = segment.df - np.bincount(dead_terms, minlength=segment.info.terms)
        live_length = int(lengths.sum(dtype=np.int64) - lengths[tombstones].sum(dtype=np.int64))
        return Live(segment, tombstones, mask, dead, live_df, len(lengths) - len(tombstones), live_length)


class TermUnion:
    """Global term ids across segments, grown as segments arrive; needed only for BM25Okapi's IDF floor.

    Shared by a writer's successive searchers, so a new small segment costs only its own terms. A searcher
    made before a term was added never sees its id (it only reads ids below its own count).
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._local_to_global: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def map(self, segment: Segment) -> np.ndarray:
        """Global term ids of the segment's vocabulary, in its order (new terms get new ids)."""
        with self._lock:
            known = self._local_to_global.get(segment.info.name)
            if known is None:
                ids = self._ids
                if not ids:
                    ids.update(zip(segment.vocabulary, range(len(segment.vocabulary)), strict=True))
                    known = np.arange(len(segment.vocabulary), dtype=np.int64)
                else:
                    setdefault = ids.setdefault
                    known = np.fromiter(
                        (setdefault(t, len(ids)) for t in segment.vocabulary), dtype=np.int64, count=segment.info.terms
                    )
                self._local_to_global[segment.info.name] = known
            return known

    def forget(self, keep: Iterable[str]) -> None:
        """Drop the per-segment maps of segments no longer in use (their terms keep their ids)."""
        with self._lock:
            wanted = set(keep)
            for name in list(self._local_to_global):
                if name not in wanted:
                    del self._local_to_global[name]


# ------------------------------------------------------------------------------------------------------- searcher


class Searcher:
    """BM25 over one manifest's live passages; immutable once made (a new manifest gives a new searcher).

    Global passage numbers run through the segments in manifest order, then each segment's local ids, deleted
    passages included (they keep their numbers but are never returned). ``segment_of`` maps a number back.
    """

    def __init__(
        self,
        root: Path,
        manifest: Manifest,
        lives: Sequence[Live],
        *,
        union: TermUnion | None = None,
    ) -> None:
        self.root = root
        self.manifest = manifest
        self.settings = manifest.settings
        self._lives = tuple(lives)
        self._segments = tuple(live.segment for live in lives)
        sizes = [s.info.documents for s in self._segments]
        self._bases = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=self._bases[1:])
        self.n_numbers = int(self._bases[-1])
        self.n_live = sum(live.live_count for live in lives)
        self.total_length = sum(live.live_length for live in lives)
        self.average_length = self.total_length / self.n_live if self.n_live else 0.0
        self._union = union or TermUnion()
        self._okapi_floor: float | None = None
        self._floor_lock = threading.Lock()
        # rank-bm25 divides by the average length; when every live passage is empty nothing matches anyway.
        average = self.average_length or 1.0
        self._parts: list[np.ndarray] = []
        self._part_max: list[np.ndarray] = []
        for live in self._lives:
            part, part_max = _term_parts(live, self.settings, average)
            self._parts.append(part)
            self._part_max.append(part_max)
        # Largest segments first: their k-th score lets the small ones be skipped whole.
        self._search_order = sorted(range(len(lives)), key=lambda i: -lives[i].live_count)
        self._local = threading.local()

    # -- statistics
    def __len__(self) -> int:
        """Live passages."""
        return self.n_live

    def __repr__(self) -> str:
        return (
            f"<Searcher generation {self.manifest.generation}: {len(self._segments)} segments, "
            f"{self.n_live} live of {self.n_numbers} passages>"
        )

    @property
    def segments(self) -> tuple[SegmentEntry, ...]:
        """The manifest's segments, in order."""
        return self.manifest.segments

    @property
    def metadata(self) -> dict[str, Any]:
        """The caller's metadata of this manifest."""
        return self.manifest.metadata

    def document_frequency(self, term: str) -> int:
        """Live passages containing ``term`` (0 when unknown)."""
        total = 0
        for live in self._lives:
            t = live.segment.lookup(term)
            if t >= 0:
                total += int(live.live_df[t])
        return total

    def segment_of(self, number: int) -> tuple[int, int]:
        """``(segment position, local id)`` of a global passage number.

        Raises:
            InvalidOption: the number is outside 0..n_numbers-1.
        """
        if not 0 <= number < self.n_numbers:
            raise InvalidOption(f"passage number {number} is outside 0..{self.n_numbers - 1}")
        position = int(np.searchsorted(self._bases, number, side="right")) - 1
        return position, number - int(self._bases[position])

    def is_live(self, number: int) -> bool:
        """Whether passage ``number`` exists and is not deleted."""
        if not 0 <= number < self.n_numbers:
            return False
        position, local = self.segment_of(number)
        mask = self._lives[position].deleted_mask
        return mask is None or not bool(mask[local])

    def rows(self, number: int) -> np.ndarray:
        """The caller's row for passage ``number`` (shape (m,)), deleted passages included.

        Raises:
            InvalidOption: the number is outside 0..n_numbers-1.
        """
        position, local = self.segment_of(number)
        return self._segments[position].rows[local]

    def live_numbers(self) -> np.ndarray:
        """Global numbers of all live passages, ascending."""
        parts = []
        for live, base in zip(self._lives, self._bases[:-1], strict=False):
            local = np.arange(live.segment.info.documents, dtype=np.int64)
            if live.deleted_mask is not None:
                local = local[~live.deleted_mask]
            parts.append(local + base)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def numbers_where(self, column: int, values: Iterable[int]) -> np.ndarray:
        """Global numbers of the live passages whose ``rows[:, column]`` is one of ``values``, ascending.

        Raises:
            InvalidOption: the column is outside the rows' width.
        """
        wanted = np.fromiter(values, dtype=np.int64)
        parts = []
        for live, base in zip(self._lives, self._bases[:-1], strict=False):
            rows = live.segment.rows
            if not 0 <= column < rows.shape[1]:
                raise InvalidOption(f"rows column {column} is outside 0..{rows.shape[1] - 1}")
            hit = np.isin(rows[:, column], wanted)
            if live.deleted_mask is not None:
                hit &= ~live.deleted_mask
            parts.append(np.flatnonzero(hit) + base)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    # -- scoring
    def _okapi_idf_floor(self) -> float:
        """epsilon x the mean IDF over every term of some live passage (rank-bm25's BM25Okapi floor)."""
        with self._floor_lock:
            if self._okapi_floor is None:
                if len(self._lives) == 1:
                    df = self._lives[0].live_df
                else:
                    maps = [self._union.map(live.segment) for live in self._lives]
                    size = max((int(m.max()) + 1 for m in maps if len(m)), default=0)
                    df = np.zeros(size, dtype=np.int64)
                    for live, ids in zip(self._lives, maps, strict=True):
                        df += np.bincount(ids, weights=live.live_df, minlength=size).astype(np.int64)
                df = df[df > 0]
                n = self.n_live
                idf = np.log(n - df + 0.5) - np.log(df + 0.5)
                self._okapi_floor = self.settings.epsilon * float(idf.mean()) if len(idf) else 0.0
            return self._okapi_floor

    def _idf(self, df: int) -> float:
        n, variant = self.n_live, self.settings.variant
        if variant == "okapi":
            idf = math.log(n - df + 0.5) - math.log(df + 0.5)
            return idf if idf >= 0 else self._okapi_idf_floor()
        if variant == "l":
            return math.log(n + 1) - math.log(df + 0.5)
        return math.log((n + 1) / df)

    def _resolve(self, terms: Iterable[str]) -> tuple[list[tuple[float, list[int]]], float]:
        """Per distinct live query term: its scale (IDF x multiplicity) and local id per segment; the constant."""
        counts: dict[str, int] = {}
        for term in terms:
            counts[term] = counts.get(term, 0) + 1
        resolved = []
        constant = 0.0
        delta = self.settings.effective_delta
        for term, multiplicity in counts.items():
            local = [live.segment.lookup(term) for live in self._lives]
            df = sum(int(live.live_df[t]) for live, t in zip(self._lives, local, strict=True) if t >= 0)
            if df == 0:
                continue  # unknown to a build over the live passages: rank-bm25 gives it 0
            idf = self._idf(df)
            resolved.append((idf * multiplicity, local))
            if self.settings.variant == "plus":
                constant += idf * delta * multiplicity
        return resolved, constant

    def scores(self, terms: Iterable[str]) -> np.ndarray:
        """Scores of every global passage number as rank-bm25's ``get_scores`` over the live passages (float64).

        Deleted passages get -inf (so the array stays indexed by global number).
        """
        resolved, constant = self._resolve(terms)
        out = np.full(self.n_numbers, constant, dtype=np.float64)
        for position, live in enumerate(self._lives):
            view = out[self._bases[position] : self._bases[position + 1]]
            offsets, docs, part = live.segment.offsets, live.segment.docs, self._parts[position]
            for scale, local in resolved:
                t = local[position]
                if t >= 0:
                    s, e = offsets[t], offsets[t + 1]
                    view[docs[s:e]] += part[s:e].astype(np.float64) * scale
            if live.deleted_mask is not None:
                view[live.deleted_mask] = -np.inf
        return out

    def _scratch(self) -> tuple[np.ndarray, np.ndarray]:
        local = self._local
        if getattr(local, "acc", None) is None:
            # One accumulator per thread and searcher, cleaned after each query. Deleted passages are marked
            # seen for good, so they never become candidates (their postings weigh 0).
            local.acc = np.zeros(self.n_numbers, dtype=np.float32)
            seen = np.zeros(self.n_numbers, dtype=np.bool_)
            for position, live in enumerate(self._lives):
                if live.deleted_mask is not None:
                    seen[self._bases[position] : self._bases[position + 1]] = live.deleted_mask
            local.seen = seen
        return local.acc, local.seen

    def top(self, terms: Iterable[str], k: int = 10) -> Scored:
        """The ``k`` best live passages that contain at least one of ``terms``, best first (global numbers).

        Exact: equal to sorting ``scores`` over those passages, ties broken by the lower global number.
        """
        resolved, constant = self._resolve(terms)
        empty = Scored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        if not resolved or k <= 0:
            return empty
        # MaxScore's bounds hold only when no term weighs below zero (BM25Okapi's floor can, on odd corpora).
        prunable = all(scale >= 0 for scale, _ in resolved)
        acc, seen = self._scratch()
        kept_docs: list[np.ndarray] = []
        kept_scores: list[np.ndarray] = []
        theta = -np.inf
        n_kept = 0
        for position in self._search_order:
            base, end = self._bases[position], self._bases[position + 1]
            found = self._segment_top(
                position, resolved, k, theta if prunable else -np.inf, prunable, acc[base:end], seen[base:end]
            )
            if found is None:
                continue
            docs, scores = found
            kept_docs.append(docs + base)
            kept_scores.append(scores)
            n_kept += len(docs)
            if prunable and n_kept >= k:
                joined = np.concatenate(kept_scores)
                theta = float(np.partition(joined, len(joined) - k)[len(joined) - k])
        if not kept_docs:
            return empty
        docs = np.concatenate(kept_docs)
        scores = np.concatenate(kept_scores)
        order = np.lexsort((docs, -scores))[:k]
        return Scored(docs[order], scores[order].astype(np.float64) + constant)

    def _segment_top(
        self,
        position: int,
        resolved: list[tuple[float, list[int]]],
        k: int,
        theta: float,
        prunable: bool,
        acc: np.ndarray,
        seen: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """This segment's best local passages (at most k plus ties, none scoring below ``theta``), or None."""
        segment = self._segments[position]
        part, part_max = self._parts[position], self._part_max[position]
        offsets, all_docs = segment.offsets, segment.docs
        terms = []
        for scale, local in resolved:
            t = local[position]
            if t >= 0:
                terms.append((scale * float(part_max[t]), t, scale))
        if not terms:
            return None
        terms.sort(key=lambda x: -x[0])
        rest = [0.0] * len(terms)
        running = 0.0
        for i in range(len(terms) - 1, -1, -1):
            running += terms[i][0]
            rest[i] = running * _BOUND_SLACK
        if prunable and rest[0] < theta:
            return None  # no passage here can reach the k-th score found so far
        # When every term adds a positive amount, a passage was seen exactly when its accumulator is non-zero,
        # which saves a gather and a scatter on the seen array per walk. (Deleted passages weigh 0.)
        positive = all(scale > 0 for _, _, scale in terms)
        if positive and segment.info.documents <= _SMALL_SEGMENT:
            return _dense_top(acc, terms, offsets, all_docs, part, k, theta)
        deleted = self._lives[position].deleted_mask
        found: list[np.ndarray] = []  # every passage touched, to clean the scratch arrays afterwards
        cand: np.ndarray | None = None  # set once no unseen passage can reach the top k
        walked = 0.0  # bound of the terms walked so far: no partial score exceeds it
        try:
            for i, (bound, t, scale) in enumerate(terms):
                s, e = offsets[t], offsets[t + 1]
                docs = all_docs[s:e]
                # Worth asking only when the rest could fall below the k-th partial score (itself <= walked).
                if cand is None and i > 0 and prunable and rest[i] < max(theta, walked * _BOUND_SLACK):
                    if len(found) > 1:
                        found[:] = [np.concatenate(found)]
                    scores = acc[found[0]]
                    threshold = _threshold(scores, k, theta)
                    if rest[i] < threshold:
                        cand = found[0][scores + rest[i] >= threshold]
                elif cand is not None:
                    # MaxScore's second phase: only the candidates can still reach the top k. Drop those that
                    # cannot even with every remaining term's bound, then look the rest up in this term's list.
                    scores = acc[cand]
                    cand = cand[scores + rest[i] >= _threshold(scores, k, theta)]
                if cand is None:
                    weights = part[s:e] * np.float32(scale)
                    if positive:
                        current = acc[docs]
                        fresh = docs[current == 0]
                        if deleted is not None and len(fresh):
                            fresh = fresh[~deleted[fresh]]
                        current += weights
                        acc[docs] = current
                    else:
                        fresh = docs[~seen[docs]]
                        seen[fresh] = True
                        acc[docs] += weights
                    found.append(fresh)
                    walked += bound
                    continue
                if len(cand) == 0:
                    break
                if len(cand) * 16 < len(docs):
                    where = np.searchsorted(docs, cand)
                    where[where == len(docs)] = 0
                    hit = docs[where] == cand
                    acc[cand[hit]] += part[s:e][where[hit]] * np.float32(scale)
                else:
                    # Many candidates: one pass over the postings, adding where a passage was seen, is cheaper
                    # than a binary search each (dropped candidates gain nothing that counts).
                    hit = acc[docs] != 0 if positive else seen[docs]
                    acc[docs[hit]] += part[s:e][hit] * np.float32(scale)
            if cand is None:
                cand = np.concatenate(found) if len(found) > 1 else found[0]
            scores = acc[cand]
            if theta > -np.inf:
                keep = scores >= theta
                cand, scores = cand[keep], scores[keep]
            if len(cand) > k:
                kth = np.partition(scores, len(scores) - k)[len(scores) - k]
                keep = scores >= kth  # ties at the k-th score all stay: the global order decides among them
                cand, scores = cand[keep], scores[keep]
            return cand.astype(np.int64), scores.copy()
        finally:
            for part_found in found:
                acc[part_found] = 0
                if not positive:  # the positive path never marks the seen array
                    seen[part_found] = False


def _dense_top(
    acc: np.ndarray,
    terms: list[tuple[float, int, float]],
    offsets: np.ndarray,
    all_docs: np.ndarray,
    part: np.ndarray,
    k: int,
    theta: float,
) -> tuple[np.ndarray, np.ndarray]:
    """A small segment scored whole: fewer numpy calls than MaxScore's bookkeeping (all weights are > 0)."""
    for _, t, scale in terms:
        s, e = offsets[t], offsets[t + 1]
        acc[all_docs[s:e]] += part[s:e] * np.float32(scale)
    cand = np.flatnonzero(acc)  # passages with a query term: each gained > 0; deleted ones weigh 0
    scores = acc[cand]
    acc[cand] = 0
    if theta > -np.inf:
        keep = scores >= theta
        cand, scores = cand[keep], scores[keep]
    if len(cand) > k:
        keep = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
        cand, scores = cand[keep], scores[keep]
    return cand.astype(np.int64), scores


def _threshold(scores: np.ndarray, k: int, theta: float) -> float:
    """A lower bound of the final k-th score: ``theta`` or the k-th best of these partial scores, the higher."""
    if len(scores) < k:
        return theta
    return max(theta, float(np.partition(scores, len(scores) - k)[len(scores) - k]))


def _term_parts(live: Live, settings: Settings, average_length: float) -> tuple[np.ndarray, np.ndarray]:
    """Each posting's term-frequency part of the score (float32, 0 for deleted passages) and each term's maximum."""
    segment = live.segment
    k1 = np.float32(settings.k1)
    norm = (1 - settings.b + settings.b * segment.lengths / average_length).astype(np.float32)
    if settings.variant == "l":
        part = tf_l(segment.tf.astype(np.float32), norm[segment.docs], k1, np.float32(settings.effective_delta))
    else:
        # tf (k1 + 1) / (tf + k1 norm): index.bm25's tf_okapi and tf_plus (the same formula), computed in
        # place because this pass over every posting is most of a commit's and a load's time.
        part = (k1 * norm)[segment.docs]
        part += segment.tf
        np.divide(segment.tf, part, out=part)
        part *= k1 + 1
    part = part.astype(np.float32, copy=False)
    if live.dead_postings is not None:
        part[live.dead_postings] = 0
    empty = np.zeros(0, dtype=np.float32)
    return part, (np.maximum.reduceat(part, segment.offsets[:-1]) if segment.info.terms else empty)


def open_searcher(directory: str | os.PathLike[str], *, attempts: int = 3) -> Searcher:
    """A read-only searcher over the current manifest (no lock, no clean-up), for processes that only read.

    A writer in another process may remove the files of the manifest it replaces; when a file vanishes
    while reading, the new CURRENT is read again (up to ``attempts`` times).

    Raises:
        IndexNotFound: there is no index at ``directory``.
        IndexCorrupt: it is damaged.
    """
    root = Path(directory)
    for attempt in range(attempts):
        try:
            manifest = read_manifest(root)
            lives = [Live.of(load_segment(root, e.segment), load_tombstones(root, e)) for e in manifest.segments]
            return Searcher(root, manifest, lives)
        except FileNotFoundError as exc:
            if attempt + 1 == attempts:
                raise IndexCorrupt(
                    f"index at {str(root)!r} is missing {Path(exc.filename or '?').name}"
                ) from None
    raise AssertionError("unreachable")
