"""Merges: the tiered merge policy (which segments to combine) and the merger (one merged segment, deleted
passages dropped, written while searching goes on). (tantivy's ``merge_policy`` and ``merger``.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InvalidOption
from .format import Progress, SegmentInfo, uint_dtype, write_segment_arrays
from .searcher import Live

# ------------------------------------------------------------------------------------------------------- merging


@dataclass(frozen=True, slots=True)
class MergePolicy:
    """A tiered policy: merge ~``segments_per_tier`` adjacent segments of one size tier, or one too deleted.

    Tier 0 holds segments of at most ``floor`` live passages; tier n+1 is ``segments_per_tier`` times larger.
    ``floor_segments`` adjacent segments of tier 0 are enough to merge (``segments_per_tier`` when None): small
    segments are cheap to merge, and each keeps its own vocabulary, which weighs most when segments are small.
    """

    segments_per_tier: int = 10
    max_merge_at_once: int = 10
    deleted_ratio: float = 0.25
    floor: int = 1000
    floor_segments: int | None = None

    def __post_init__(self) -> None:
        if self.segments_per_tier < 2 or self.max_merge_at_once < 2 or self.floor < 1:
            raise InvalidOption("segments_per_tier and max_merge_at_once must be >= 2 and floor >= 1")
        if self.floor_segments is not None and self.floor_segments < 2:
            raise InvalidOption(f"floor_segments must be >= 2 (or None); got {self.floor_segments}")
        if not 0 < self.deleted_ratio <= 1:
            raise InvalidOption(f"deleted_ratio must be within (0, 1]; got {self.deleted_ratio}")

    def tier(self, live: int) -> int:
        """The size tier of a segment with ``live`` passages."""
        if live <= self.floor:
            return 0
        return 1 + int(math.log(live / self.floor) / math.log(self.segments_per_tier) + 1e-9)


def plan_merges(segments: Sequence[tuple[int, int]], *, policy: MergePolicy | None = None) -> list[range]:
    """Which runs of adjacent segments to merge: a pure function of their sizes.

    Merges take adjacent segments only, so passages keep their relative order (and ties their winner) forever.

    Args:
        segments: ``(documents, deleted)`` of each segment, in manifest order.
        policy: thresholds; ``MergePolicy()`` when None.

    Returns:
        Non-overlapping ranges of segment positions, each to be merged into one segment. A run of
        ``segments_per_tier`` (in tier 0, ``floor_segments``) or more adjacent segments of one tier is merged (at
        most ``max_merge_at_once`` at a time); a segment with at least ``deleted_ratio`` of its passages deleted is
        rewritten alone.
    """
    policy = policy or MergePolicy()
    tiers = [policy.tier(max(documents - deleted, 0)) for documents, deleted in segments]
    plans: list[range] = []
    taken = [False] * len(segments)
    start = 0
    while start < len(segments):
        stop = start
        while stop < len(segments) and tiers[stop] == tiers[start]:
            stop += 1
        run = stop - start
        position = start
        needed = (policy.floor_segments or policy.segments_per_tier) if tiers[start] == 0 else policy.segments_per_tier
        while run - (position - start) >= needed:
            size = min(policy.max_merge_at_once, stop - position)
            plans.append(range(position, position + size))
            for i in range(position, position + size):
                taken[i] = True
            position += size
        start = stop
    for i, (documents, deleted) in enumerate(segments):
        if not taken[i] and documents and deleted / documents >= policy.deleted_ratio:
            plans.append(range(i, i + 1))
    return sorted(plans, key=lambda r: r.start)


def _merge_arrays(
    lives: Sequence[Live],
) -> tuple[list[str], dict[str, np.ndarray], list[np.ndarray]] | None:
    """Live postings of adjacent segments concatenated by term, without re-analysis.

    Returns:
        The merged vocabulary, arrays and, per input segment, a map from old local id to new id (-1 when
        deleted); None when no passage is live.
    """
    doc_maps = []
    next_id = 0
    for live in lives:
        n = live.segment.info.documents
        alive = np.ones(n, dtype=np.bool_) if live.deleted_mask is None else ~live.deleted_mask
        new_ids = np.cumsum(alive, dtype=np.int64) - 1 + next_id
        doc_maps.append(np.where(alive, new_ids, -1))
        next_id += int(alive.sum())
    if next_id == 0:
        return None
    vocabulary = sorted(
        set().union(
            *([t for t, df in zip(live.segment.vocabulary, live.live_df.tolist(), strict=True) if df] for live in lives)
        )
    )
    merged_ids = {t: i for i, t in enumerate(vocabulary)}
    maps = [
        np.fromiter(
            (merged_ids.get(t, -1) for t in live.segment.vocabulary), dtype=np.int64, count=live.segment.info.terms
        )
        for live in lives
    ]
    merged_df = np.zeros(len(vocabulary), dtype=np.int64)
    for live, ids in zip(lives, maps, strict=True):
        present = ids >= 0
        merged_df[ids[present]] += live.live_df[present]
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(merged_df, out=offsets[1:])
    n_postings = int(offsets[-1])
    docs = np.empty(n_postings, dtype=np.int32)
    tf_max = max((int(live.segment.tf.max()) for live in lives if len(live.segment.tf)), default=0)
    tf = np.empty(n_postings, dtype=uint_dtype(tf_max))
    filled = offsets[:-1].copy()  # next free slot of each merged term
    for live, ids, doc_map in zip(lives, maps, doc_maps, strict=True):
        segment = live.segment
        term_of = np.repeat(np.arange(segment.info.terms, dtype=np.int64), segment.df)
        keep = doc_map[segment.docs] >= 0
        kept_terms = term_of[keep]
        # Rank of each kept posting within its term's kept postings: segments come in order and their doc ids
        # ascend within a term, so writing them at filled[term] + rank keeps the merged lists ascending.
        live_starts = np.zeros(segment.info.terms + 1, dtype=np.int64)
        np.cumsum(live.live_df, out=live_starts[1:])
        rank = np.arange(len(kept_terms), dtype=np.int64) - live_starts[kept_terms]
        dest = filled[ids[kept_terms]] + rank
        docs[dest] = doc_map[segment.docs[keep]]
        tf[dest] = segment.tf[keep]
        present = ids >= 0
        filled[ids[present]] += live.live_df[present]
    lengths = np.concatenate([live.segment.lengths[m >= 0] for live, m in zip(lives, doc_maps, strict=True)])
    rows = np.concatenate([live.segment.rows[m >= 0] for live, m in zip(lives, doc_maps, strict=True)])
    arrays = {"offsets": offsets, "docs": docs, "tf": tf, "lengths": lengths.astype(np.int32), "rows": rows}
    return vocabulary, arrays, doc_maps


class Merge:
    """A merge under way: made by ``SegmentedIndex.begin_merge``, run anywhere (``run``), then committed.

    ``run`` only reads the immutable segments and the tombstones seen at ``begin_merge``, so it may run in a
    background thread while the writer keeps adding, deleting and serving. Deletions that reach the merged
    segments meanwhile are carried onto the new segment when the merge is committed.
    """

    def __init__(self, root: Path, names: tuple[str, ...], lives: tuple[Live, ...]) -> None:
        self.root = root
        self.names = names
        self._lives = lives
        self.result: SegmentInfo | None = None
        self.doc_maps: list[np.ndarray] = []
        self.done = False

    def __repr__(self) -> str:
        return f"<Merge of {len(self.names)} segments{', done' if self.done else ''}>"

    def run(self, *, progress: Progress | None = None) -> None:
        """Write the merged segment (not yet visible to searchers)."""
        if self.done:
            return
        merged = _merge_arrays(self._lives)
        if merged is not None:
            vocabulary, arrays, self.doc_maps = merged
            self.result = write_segment_arrays(self.root, vocabulary=vocabulary, arrays=arrays, progress=progress)
        else:
            self.doc_maps = [np.full(live.segment.info.documents, -1, dtype=np.int64) for live in self._lives]
        self.done = True
