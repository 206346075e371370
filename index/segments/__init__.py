"""An incremental BM25 index: immutable segments, tombstones and a manifest, scoring exactly like one fresh build.

Adding articles writes a new small segment; deleting passages writes a tombstone file; a merge combines
segments and drops deleted passages. The BM25 statistics are global and exact at every moment: the number of
live passages, their total length and every term's document frequency are summed over segments with the
deleted passages subtracted, so scores equal rank-bm25's over the live passages in global order (segment
order, then each segment's own order) -- unlike Lucene and tantivy, which count deleted documents until a merge.

Layout of an index directory::

    CURRENT                      "<manifest file> <checksum>", replaced with os.replace
    LOCK                         held (flock) by the one writer
    manifest-<generation>.json   format, generation, BM25 settings, segments, the caller's metadata
    seg-<id>/                    one immutable segment, never modified after it is written
        segment.json             counts and every file's size and checksum
        vocabulary.json          the segment's terms, sorted (code point order)
        offsets.npy              int64 (terms + 1): postings of term t are [offsets[t], offsets[t + 1])
        docs.npy                 int32 local passage ids, ascending within each term
        tf.npy                   uint8/16/32 term frequency of each posting
        lengths.npy              int32 terms per passage
        rows.npy                 int64 (passages, m): the caller's data per passage, carried by merges
    del-<segment id>-<generation>.npy   int32 sorted deleted local ids of one segment (the whole set)

Integrity is a chain of checksums (xxh3-64): ``CURRENT`` holds the manifest's, the manifest each segment.json's
and each tombstone file's, segment.json every array's. Every file is fsynced before ``CURRENT`` moves, so a
kill -9 at any moment leaves the previous manifest loadable; opening a writer removes whatever no manifest
references. Damage of any kind raises ``IndexCorrupt`` with one line.

One module per job, as tantivy splits its indexer::

    format      a segment's files and tombstones: written durably, read back verified   (segment_serializer)
    manifest    the manifest, CURRENT and the commit that moves it                     (segment_register)
    searcher    exact global BM25 statistics and MaxScore top-k over one manifest      (searcher)
    merge       the tiered merge policy and the merger                                 (merge_policy, merger)
    writer      SegmentedIndex: the directory's one writer, its lock and its commits   (index_writer)

Each depends only on those above it. Import from ``index.segments``; the modules are its inside.

Errors::

    NewsbotError
    ├── IndexCorrupt     (index.errors) a file is damaged, missing or inconsistent
    ├── InvalidOption    (index.errors) a bad argument; the message lists what is accepted
    └── IndexLocked      another writer holds the directory
"""

from .format import FORMAT_VERSION, SegmentEntry, SegmentInfo, write_counted_segment, write_segment
from .manifest import Manifest
from .merge import Merge, MergePolicy, plan_merges
from .searcher import Searcher, open_searcher
from .writer import IndexLocked, SegmentedIndex

__all__ = [
    "FORMAT_VERSION",
    "IndexLocked",
    "Manifest",
    "Merge",
    "MergePolicy",
    "Searcher",
    "SegmentEntry",
    "SegmentInfo",
    "SegmentedIndex",
    "open_searcher",
    "plan_merges",
    "write_counted_segment",
    "write_segment",
]
