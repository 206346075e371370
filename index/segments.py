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

Weights: a segment stores raw statistics only. A searcher computes each posting's term-frequency part from
the global average length once (vectorised, deleted passages get 0), and multiplies by the term's IDF, from
the global document frequency, at query time. So a commit costs one pass over the postings and no union of
vocabularies (BM25Okapi's IDF floor needs one; it is built on first use and reused by later searchers).

Top-k is MaxScore per segment, largest first, carrying the k-th score into the next segment, whose terms'
bounds may then skip it entirely; in its second phase the candidates that cannot reach the k-th score even with
every remaining term are dropped, and segments of at most 4,096 passages are scored whole. Results are exact:
ties go to the lower global passage number.

Concurrency: one writer per directory (``LOCK``); commits are serialised; a searcher is immutable and safe to
share between threads. A merge may run in a background thread; deletions that reach its segments meanwhile are
carried onto the merged segment when it commits (``SegmentedIndex.commit_merge``).

Errors::

    NewsbotError
    ├── IndexCorrupt     (index.errors) a file is damaged, missing or inconsistent
    ├── InvalidOption    (index.errors) a bad argument; the message lists what is accepted
    └── IndexLocked      another writer holds the directory
"""

from __future__ import annotations

import bisect
import fcntl
import io
import itertools
import json
import math
import operator
import os
import shutil
import threading
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import store
from .bm25 import Scored, Settings, tf_l
from .errors import IndexCorrupt, IndexNotFound, InvalidOption, NewsbotError

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
    "write_segment",
]

FORMAT_VERSION = 1
_ARRAYS = ("offsets", "docs", "tf", "lengths", "rows")
# MaxScore compares float64 bounds with float32 sums of float32 products; the slack keeps the bound an upper
# bound whatever the rounding (a few ulps over at most a few dozen terms).
_BOUND_SLACK = 1 + 1e-5
# Segments up to this many passages are scored whole rather than with MaxScore (measured: fewer numpy calls
# win below a few thousand passages).
_SMALL_SEGMENT = 4096

Progress = Callable[[str], None]
"""Called as ``progress(step)`` before each durable step of a commit (for tests that kill the process)."""


class IndexLocked(NewsbotError):
    """Another writer (this process or another) holds the index directory."""


# ----------------------------------------------------------------------------------------------------- plain data


@dataclass(frozen=True, slots=True)
class SegmentInfo:
    """One immutable segment as the manifest names it.

    Attributes:
        name: directory name under the index root (``seg-<id>``).
        documents: passages in it (live and deleted).
        terms: distinct terms.
        postings: (term, passage) pairs.
        rows_width: columns of the caller's ``rows`` (0 when none).
        checksum: xxh3-64 of its segment.json, verified at open.
    """

    name: str
    documents: int
    terms: int
    postings: int
    rows_width: int
    checksum: str


@dataclass(frozen=True, slots=True)
class SegmentEntry:
    """A segment in a manifest with its current tombstones (``tombstones`` is None when nothing is deleted)."""

    segment: SegmentInfo
    deleted: int = 0
    tombstones: str | None = None
    tombstones_checksum: str | None = None

    @property
    def live(self) -> int:
        """Passages in the segment that are not deleted."""
        return self.segment.documents - self.deleted


@dataclass(frozen=True, slots=True)
class Manifest:
    """One commit point: the ordered segments, the BM25 settings and the caller's metadata (do not mutate it)."""

    generation: int
    settings: Settings
    segments: tuple[SegmentEntry, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def file_name(self) -> str:
        """The manifest's file name."""
        return f"manifest-{self.generation:010d}.json"

    def files(self) -> set[str]:
        """Names under the root that this manifest needs (the manifest file itself included)."""
        out = {self.file_name}
        for entry in self.segments:
            out.add(entry.segment.name)
            if entry.tombstones:
                out.add(entry.tombstones)
        return out


# -------------------------------------------------------------------------------------------------- file helpers


def _parse_npy(data: bytes, what: str) -> np.ndarray:
    """A read-only array over ``data`` (no copy); damage of any kind raises IndexCorrupt."""
    try:
        header = io.BytesIO(data)
        version = np.lib.format.read_magic(header)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(header)
        if fortran or dtype.hasobject or dtype.kind not in "iub":
            raise ValueError("unexpected layout or dtype")
        count = math.prod(shape)
        start = header.tell()
        if len(data) - start != count * dtype.itemsize:
            raise ValueError("size does not match the header")
        return np.frombuffer(data, dtype=dtype, count=count, offset=start).reshape(shape)
    except ValueError as exc:
        raise IndexCorrupt(f"{what} is not a valid array ({exc})") from None


def _read_verified(path: Path, checksum: str, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise IndexCorrupt(f"{what} is unreadable ({exc.strerror})") from None
    if store.checksum(data) != checksum:
        raise IndexCorrupt(f"{what} is damaged (checksum mismatch)")
    return data


def _new_id() -> str:
    return uuid.uuid4().hex[:16]


def _uint_dtype(maximum: int) -> type[np.unsignedinteger[Any]]:
    for dtype in (np.uint8, np.uint16, np.uint32):
        if maximum <= np.iinfo(dtype).max:
            return dtype
    raise InvalidOption(f"a term occurs {maximum} times in one passage; at most {np.iinfo(np.uint32).max} allowed")


def _settings_json(settings: Settings) -> dict[str, Any]:
    return {
        "variant": settings.variant,
        "k1": settings.k1,
        "b": settings.b,
        "epsilon": settings.epsilon,
        "delta": settings.delta,
    }


# ------------------------------------------------------------------------------------------------ writing segments


def _check_rows(rows: np.ndarray | None, n_docs: int) -> np.ndarray:
    if rows is None:
        return np.zeros((n_docs, 0), dtype=np.int64)
    array = np.asarray(rows)
    if array.ndim != 2 or array.shape[0] != n_docs or array.dtype.kind not in "iu":
        raise InvalidOption(
            f"rows must be an integer array of shape ({n_docs}, m), one row per passage; got {array.dtype} "
            f"{array.shape}"
        )
    return array.astype(np.int64, copy=False)


def _write_segment_arrays(
    root: Path,
    *,
    vocabulary: list[str],
    arrays: dict[str, np.ndarray],
    progress: Progress | None,
) -> SegmentInfo:
    """Write one segment directory (each file fsynced) and return what the manifest records of it."""
    name = f"seg-{_new_id()}"
    folder = root / name
    folder.mkdir(mode=0o700)
    files: dict[str, list[Any]] = {}
    payloads = {"vocabulary.json": json.dumps(vocabulary, ensure_ascii=False).encode("utf-8")}
    payloads.update({f"{key}.npy": store.npy_bytes(arrays[key]) for key in _ARRAYS})
    for file_name, data in payloads.items():
        if progress:
            progress(f"segment:{file_name}")
        store.write_durably(folder / file_name, data, exclusive=False)
        files[file_name] = [len(data), store.checksum(data)]
    n_docs, n_terms, n_postings = len(arrays["lengths"]), len(vocabulary), len(arrays["docs"])
    rows_width = int(arrays["rows"].shape[1])
    meta = {
        "format": FORMAT_VERSION,
        "documents": n_docs,
        "terms": n_terms,
        "postings": n_postings,
        "rows_width": rows_width,
        "files": files,
    }
    data = json.dumps(meta, indent=1).encode("utf-8")
    if progress:
        progress("segment:segment.json")
    store.write_durably(folder / "segment.json", data, exclusive=False)
    store.fsync_dir(folder)
    store.fsync_dir(root)
    return SegmentInfo(name, n_docs, n_terms, n_postings, rows_width, store.checksum(data))


def write_segment(
    directory: str | os.PathLike[str],
    documents: Sequence[Sequence[str]],
    *,
    rows: np.ndarray | None = None,
    progress: Progress | None = None,
) -> SegmentInfo:
    """Write a new immutable segment of analysed passages under an index directory (not yet part of any manifest).

    Args:
        directory: the index root; the segment becomes ``directory/seg-<id>/``.
        documents: each passage's terms, repeated as often as they occur; local ids are 0..n-1 in this order.
            Empty passages are allowed.
        rows: the caller's int64 data per passage, shape (n, m); merges carry it for live passages.
        progress: called before each file is written.

    Returns:
        The segment's description, to pass to ``SegmentedIndex.add_segment``.

    Raises:
        InvalidOption: no passages, or ``rows`` has the wrong shape or type.
    """
    root = Path(directory)
    store.private_dir(root)
    n_docs = len(documents)
    if n_docs == 0:
        raise InvalidOption("a segment needs at least one passage; got none")
    rows_array = _check_rows(rows, n_docs)
    # Term ids in order of first appearance, made by C loops (dict.fromkeys, map, np.fromiter) and held in one
    # int64 array rather than a list of int objects: 60 MB less at the peak of a million-passage build.
    first_seen = {term: i for i, term in enumerate(dict.fromkeys(itertools.chain.from_iterable(documents)))}
    doc_len = np.fromiter(map(len, documents), dtype=np.int64, count=n_docs)
    stream = np.fromiter(
        map(first_seen.__getitem__, itertools.chain.from_iterable(documents)), dtype=np.int64, count=int(doc_len.sum())
    )
    vocabulary = sorted(first_seen)
    rank = np.empty(len(vocabulary), dtype=np.int64)
    rank[[first_seen[t] for t in vocabulary]] = np.arange(len(vocabulary))
    terms = rank[stream]
    del stream
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    keys, tf = np.unique(terms * n_docs + doc_of, return_counts=True)
    del terms, doc_of
    term_of = keys // n_docs
    docs = (keys - term_of * n_docs).astype(np.int32)
    offsets = np.zeros(len(vocabulary) + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=len(vocabulary)), out=offsets[1:])
    arrays = {
        "offsets": offsets,
        "docs": docs,
        "tf": tf.astype(_uint_dtype(int(tf.max()) if len(tf) else 0)),
        "lengths": doc_len.astype(np.int32),
        "rows": rows_array,
    }
    return _write_segment_arrays(root, vocabulary=vocabulary, arrays=arrays, progress=progress)


# ------------------------------------------------------------------------------------------------ reading segments


@dataclass(frozen=True, slots=True, eq=False)
class _Segment:
    """A loaded, verified segment: read-only arrays shared by every searcher that includes it."""

    info: SegmentInfo
    vocabulary: list[str]
    offsets: np.ndarray
    docs: np.ndarray
    tf: np.ndarray
    lengths: np.ndarray
    rows: np.ndarray
    df: np.ndarray

    def lookup(self, term: str) -> int:
        """Local id of ``term`` or -1 (binary search in the sorted vocabulary: no dictionary to build at load)."""
        i = bisect.bisect_left(self.vocabulary, term)
        return i if i < len(self.vocabulary) and self.vocabulary[i] == term else -1


def _load_segment(root: Path, info: SegmentInfo) -> _Segment:
    """Read and verify one segment: checksums first, then the invariants a search relies on."""
    folder = root / info.name
    where = f"segment {info.name} at {str(root)!r}"
    meta_bytes = _read_verified(folder / "segment.json", info.checksum, f"{where}: segment.json")
    try:
        meta = json.loads(meta_bytes)
        files = meta["files"]
        if meta["format"] != FORMAT_VERSION:
            raise IndexCorrupt(
                f"{where} has format {meta['format']!r}, this newsbot reads {FORMAT_VERSION}"
            )
        counts = (meta["documents"], meta["terms"], meta["postings"], meta["rows_width"])
        if counts != (info.documents, info.terms, info.postings, info.rows_width):
            raise ValueError("counts differ from the manifest")
        payload = {
            name: _read_verified(folder / name, files[name][1], f"{where}: {name}")
            for name in ("vocabulary.json", *(f"{key}.npy" for key in _ARRAYS))
        }
        vocabulary = json.loads(payload.pop("vocabulary.json"))
        arrays = {name[:-4]: _parse_npy(data, f"{where}: {name}") for name, data in payload.items()}
    except IndexCorrupt:
        raise
    except (ValueError, KeyError, TypeError, IndexError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"{where} is inconsistent ({exc.__class__.__name__})") from None
    problem = _segment_problem(info, vocabulary, arrays)
    if problem:
        raise IndexCorrupt(f"{where} is inconsistent ({problem})")
    offsets = arrays["offsets"]
    return _Segment(
        info=info,
        vocabulary=vocabulary,
        offsets=offsets,
        docs=arrays["docs"],
        tf=arrays["tf"],
        lengths=arrays["lengths"],
        rows=arrays["rows"],
        df=np.diff(offsets),
    )


def _segment_problem(info: SegmentInfo, vocabulary: Any, arrays: dict[str, np.ndarray]) -> str | None:
    """What is wrong with a segment whose checksums matched (a writer bug or a rewritten file), or None."""
    n_docs, n_terms = info.documents, info.terms
    offsets, docs, tf, lengths, rows = (arrays[key] for key in _ARRAYS)
    if not isinstance(vocabulary, list) or len(vocabulary) != n_terms:
        return "vocabulary"
    try:
        "".join(vocabulary)  # a TypeError unless every term is a string
    except TypeError:
        return "vocabulary"
    if not all(map(operator.lt, vocabulary, itertools.islice(vocabulary, 1, None))):
        return "vocabulary not sorted"
    if offsets.shape != (n_terms + 1,) or offsets.dtype.kind != "i" or offsets[0] != 0:
        return "offsets"
    if offsets[-1] != info.postings or np.any(offsets[1:] <= offsets[:-1]):
        return "offsets"
    if docs.shape != (info.postings,) or docs.dtype != np.int32 or tf.shape != (info.postings,):
        return "postings"
    if lengths.shape != (n_docs,) or lengths.dtype != np.int32 or rows.shape != (n_docs, info.rows_width):
        return "passages"
    if info.postings:
        if docs.min() < 0 or docs.max() >= n_docs or tf.dtype.kind != "u" or tf.min() == 0:
            return "doc ids or term frequencies out of range"
        ascending = docs[1:] > docs[:-1]
        ascending[offsets[1:-1] - 1] = True  # a term's first posting may be below the previous term's last
        if not ascending.all():
            return "doc ids not ascending within a term"
    # The exact per-passage check (a weighted bincount) costs more than the rest of a load; the totals catch
    # a lengths file that does not belong to these postings.
    if (len(lengths) and lengths.min() < 0) or int(tf.sum(dtype=np.int64)) != int(lengths.sum(dtype=np.int64)):
        return "passage lengths do not match the postings"
    return None


def _load_tombstones(root: Path, entry: SegmentEntry) -> np.ndarray:
    """Sorted deleted local ids of one segment (empty when none)."""
    if entry.tombstones is None:
        if entry.deleted:
            raise IndexCorrupt(f"segment {entry.segment.name} lists deletions but no tombstone file")
        return np.zeros(0, dtype=np.int32)
    where = f"tombstones {entry.tombstones} at {str(root)!r}"
    ids = _parse_npy(_read_verified(root / entry.tombstones, entry.tombstones_checksum or "", where), where)
    if (
        ids.ndim != 1
        or len(ids) != entry.deleted
        or (len(ids) and (ids[0] < 0 or ids[-1] >= entry.segment.documents or np.any(np.diff(ids) <= 0)))
    ):
        raise IndexCorrupt(f"{where} are inconsistent with their segment")
    return ids.astype(np.int32, copy=False)


# ------------------------------------------------------------------------------------------------------- manifest


def _manifest_json(manifest: Manifest) -> bytes:
    doc = {
        "format": FORMAT_VERSION,
        "generation": manifest.generation,
        "bm25": _settings_json(manifest.settings),
        "segments": [
            {
                "name": e.segment.name,
                "documents": e.segment.documents,
                "terms": e.segment.terms,
                "postings": e.segment.postings,
                "rows_width": e.segment.rows_width,
                "checksum": e.segment.checksum,
                "deleted": e.deleted,
                "tombstones": e.tombstones,
                "tombstones_checksum": e.tombstones_checksum,
            }
            for e in manifest.segments
        ],
        "metadata": manifest.metadata,
    }
    return json.dumps(doc, indent=1, ensure_ascii=False).encode("utf-8")


def _read_current(root: Path) -> tuple[str, str]:
    try:
        text = (root / "CURRENT").read_text(encoding="utf-8")
    except FileNotFoundError:
        raise IndexNotFound(f"no index at {str(root)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is unreadable ({exc.__class__.__name__})") from None
    parts = text.split()
    if len(parts) != 2 or not parts[0].startswith("manifest-") or "/" in parts[0]:
        raise IndexCorrupt(f"index at {str(root)!r} has a damaged CURRENT file")
    return parts[0], parts[1]


def _read_manifest(root: Path) -> Manifest:
    name, checksum = _read_current(root)
    data = _read_verified(root / name, checksum, f"manifest {name} at {str(root)!r}")
    try:
        doc = json.loads(data)
        if doc["format"] != FORMAT_VERSION:
            raise IndexCorrupt(
                f"index at {str(root)!r} has format {doc['format']!r}, this newsbot reads {FORMAT_VERSION}"
            )
        segments = tuple(
            SegmentEntry(
                segment=SegmentInfo(
                    name=str(s["name"]),
                    documents=int(s["documents"]),
                    terms=int(s["terms"]),
                    postings=int(s["postings"]),
                    rows_width=int(s["rows_width"]),
                    checksum=str(s["checksum"]),
                ),
                deleted=int(s["deleted"]),
                tombstones=s["tombstones"],
                tombstones_checksum=s["tombstones_checksum"],
            )
            for s in doc["segments"]
        )
        manifest = Manifest(
            generation=int(doc["generation"]),
            settings=Settings(**doc["bm25"]),
            segments=segments,
            metadata=dict(doc["metadata"]),
        )
        if manifest.file_name != name:
            raise ValueError("generation does not match the file name")
    except IndexCorrupt:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise IndexCorrupt(
            f"manifest {name} at {str(root)!r} is inconsistent ({exc.__class__.__name__})"
        ) from None
    return manifest


def _commit_manifest(root: Path, manifest: Manifest, progress: Progress | None) -> None:
    """Write the manifest, then atomically point CURRENT at it (both fsynced, as index/store.py does)."""
    data = _manifest_json(manifest)
    if progress:
        progress("manifest")
    store.write_durably(root / manifest.file_name, data, exclusive=False)
    if progress:
        progress("current")
    tmp = root / f"CURRENT.{os.getpid()}.{threading.get_ident()}.tmp"
    store.write_durably(tmp, f"{manifest.file_name} {store.checksum(data)}\n".encode(), exclusive=False)
    os.replace(tmp, root / "CURRENT")
    store.fsync_dir(root)
    if progress:
        progress("committed")


def _remove(root: Path, names: Iterable[str]) -> None:
    for name in names:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


# ----------------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True, eq=False)
class _Live:
    """A segment with one tombstone set: which passages are live and each term's live document frequency."""

    segment: _Segment
    tombstones: np.ndarray
    deleted_mask: np.ndarray | None  # bool per passage, None when nothing is deleted
    dead_postings: np.ndarray | None  # positions of the deleted passages' postings, None when none
    live_df: np.ndarray
    live_count: int
    live_length: int

    @staticmethod
    def of(segment: _Segment, tombstones: np.ndarray) -> _Live:
        lengths = segment.lengths
        if len(tombstones) == 0:
            return _Live(segment, tombstones, None, None, segment.df, len(lengths), int(lengths.sum(dtype=np.int64)))
        mask = np.zeros(len(lengths), dtype=np.bool_)
        mask[tombstones] = True
        dead = np.flatnonzero(mask[segment.docs])
        dead_terms = np.searchsorted(segment.offsets, dead, side="right") - 1
        live_df = segment.df - np.bincount(dead_terms, minlength=segment.info.terms)
        live_length = int(lengths.sum(dtype=np.int64) - lengths[tombstones].sum(dtype=np.int64))
        return _Live(segment, tombstones, mask, dead, live_df, len(lengths) - len(tombstones), live_length)


class _TermUnion:
    """Global term ids across segments, grown as segments arrive; needed only for BM25Okapi's IDF floor.

    Shared by a writer's successive searchers, so a new small segment costs only its own terms. A searcher
    made before a term was added never sees its id (it only reads ids below its own count).
    """

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._local_to_global: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    def map(self, segment: _Segment) -> np.ndarray:
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
        lives: Sequence[_Live],
        *,
        union: _TermUnion | None = None,
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
        self._union = union or _TermUnion()
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


def _term_parts(live: _Live, settings: Settings, average_length: float) -> tuple[np.ndarray, np.ndarray]:
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
    lives: Sequence[_Live],
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
    tf = np.empty(n_postings, dtype=_uint_dtype(tf_max))
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

    def __init__(self, root: Path, names: tuple[str, ...], lives: tuple[_Live, ...]) -> None:
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
            self.result = _write_segment_arrays(self.root, vocabulary=vocabulary, arrays=arrays, progress=progress)
        else:
            self.doc_maps = [np.full(live.segment.info.documents, -1, dtype=np.int64) for live in self._lives]
        self.done = True


# -------------------------------------------------------------------------------------------------------- writer


class SegmentedIndex:
    """The one writer of a segmented index directory: adds, deletes and merges, each a durable commit.

    Thread-safe: commits are serialised by a lock, and ``searcher`` always returns the latest committed
    searcher (immutable; keep using an older one as long as needed). Use as a context manager, or ``close``.
    """

    def __init__(self, root: Path, lock_file: Any, manifest: Manifest, progress: Progress | None) -> None:
        self.root = root
        self._lock_file = lock_file
        self._mutex = threading.RLock()
        self._progress = progress
        self._merging: set[str] = set()
        self._union = _TermUnion()
        self._tombstone_cache: dict[str, np.ndarray] = {}
        self._manifest = manifest
        self._searcher = self._make_searcher(manifest, None)

    @classmethod
    def open(
        cls,
        directory: str | os.PathLike[str],
        *,
        settings: Settings | None = None,
        progress: Progress | None = None,
    ) -> SegmentedIndex:
        """Open (or create, empty) the index at ``directory`` for writing, and remove files no manifest needs.

        Args:
            directory: the index root.
            settings: BM25 settings of a new index (rank-bm25's BM25Okapi defaults when None); an existing
                index keeps its own, and a different value raises.
            progress: called before each durable step of every commit.

        Raises:
            IndexLocked: another writer holds the directory.
            IndexCorrupt: the index exists but is damaged.
            InvalidOption: ``settings`` differ from the existing index's.
        """
        root = Path(directory)
        store.private_dir(root)
        lock_file = _open_lock(root / "LOCK")  # held until close()
        try:
            fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise IndexLocked(f"another writer holds the index at {str(root)!r}; close it first") from None
        try:
            try:
                manifest = _read_manifest(root)
            except IndexNotFound:
                manifest = Manifest(generation=0, settings=settings or Settings())
                _remove(root, _ours(root))
                _commit_manifest(root, manifest, progress)
            if settings is not None and settings != manifest.settings:
                raise InvalidOption(
                    f"the index at {str(root)!r} uses {manifest.settings}; got {settings}; rebuild to change them"
                )
            _remove(root, _ours(root) - manifest.files())
            return cls(root, lock_file, manifest, progress)
        except FileNotFoundError as exc:
            lock_file.close()
            missing = Path(exc.filename or "?").name
            raise IndexCorrupt(f"index at {str(root)!r} is missing {missing}") from None
        except BaseException:
            lock_file.close()
            raise

    def close(self) -> None:
        """Release the directory (the last searcher stays usable)."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None

    def __enter__(self) -> SegmentedIndex:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<SegmentedIndex {str(self.root)!r} {self._searcher!r}>"

    @property
    def searcher(self) -> Searcher:
        """The searcher of the latest commit."""
        return self._searcher

    @property
    def manifest(self) -> Manifest:
        """The latest committed manifest."""
        return self._manifest

    # -- internals
    def _tombstones(self, entry: SegmentEntry) -> np.ndarray:
        key = entry.tombstones or ""
        if not key:
            return np.zeros(0, dtype=np.int32)
        known = self._tombstone_cache.get(key)
        if known is None:
            known = self._tombstone_cache[key] = _load_tombstones(self.root, entry)
        return known

    def _make_searcher(self, manifest: Manifest, previous: Searcher | None) -> Searcher:
        reuse = {}
        if previous is not None:
            reuse = {
                (live.segment.info.name, e.tombstones): live
                for live, e in zip(previous._lives, previous.segments, strict=True)
            }
        segments = {live.segment.info.name: live.segment for live in (previous._lives if previous else ())}
        lives = []
        for entry in manifest.segments:
            live = reuse.get((entry.segment.name, entry.tombstones))
            if live is None:
                segment = segments.get(entry.segment.name) or _load_segment(self.root, entry.segment)
                live = _Live.of(segment, self._tombstones(entry))
            lives.append(live)
        names = {e.segment.name for e in manifest.segments}
        self._union.forget(names)
        wanted = {e.tombstones for e in manifest.segments}
        for key in list(self._tombstone_cache):
            if key not in wanted:
                del self._tombstone_cache[key]
        return Searcher(self.root, manifest, lives, union=self._union)

    def _commit(
        self, segments: Sequence[SegmentEntry], metadata: dict[str, Any] | None, *, settings: Settings | None = None
    ) -> Searcher:
        """Make a new manifest current and return its searcher; files only the old one needed are removed."""
        old = self._manifest
        manifest = Manifest(
            generation=old.generation + 1,
            settings=settings or old.settings,
            segments=tuple(segments),
            metadata=dict(old.metadata if metadata is None else metadata),
        )
        if self._lock_file is None:
            raise InvalidOption("this index was closed; open it again to write")
        try:
            json.dumps(manifest.metadata)
        except (TypeError, ValueError) as exc:
            raise InvalidOption(f"metadata must be JSON-serialisable (dicts, lists, strings, numbers): {exc}") from None
        # The new searcher first: a segment that fails verification is never committed.
        searcher = self._make_searcher(manifest, self._searcher)
        _commit_manifest(self.root, manifest, self._progress)
        self._manifest, self._searcher = manifest, searcher
        if self._progress:
            self._progress("cleanup")
        # In-process searchers hold their data in memory; another process reading the old manifest retries.
        _remove(self.root, old.files() - manifest.files())
        return self._searcher

    def _write_tombstones(self, entry: SegmentEntry, ids: np.ndarray, generation: int) -> SegmentEntry:
        if len(ids) == 0:
            return replace(entry, deleted=0, tombstones=None, tombstones_checksum=None)
        name = f"del-{entry.segment.name[4:]}-{generation:010d}.npy"
        data = store.npy_bytes(ids.astype(np.int32))
        if self._progress:
            self._progress("tombstones")
        store.write_durably(self.root / name, data, exclusive=False)
        self._tombstone_cache[name] = ids.astype(np.int32)
        return replace(entry, deleted=len(ids), tombstones=name, tombstones_checksum=store.checksum(data))

    # -- operations
    def add(
        self,
        documents: Sequence[Sequence[str]],
        *,
        rows: np.ndarray | None = None,
        delete_where: tuple[int, Iterable[int]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Searcher:
        """Add passages as a new segment at the end (they get the next global numbers) and commit.

        Args:
            documents: analysed passages (see ``write_segment``).
            rows: the caller's int64 rows, shape (n, m), with the same m as the index's other segments.
            delete_where: ``(column, values)``: live passages whose ``rows[:, column]`` is one of ``values`` are
                deleted in the same commit, so replacing an article is atomic (no reader sees it twice or
                missing).
            metadata: replaces the manifest's metadata in the same commit when given.

        Returns:
            The new searcher.

        Raises:
            InvalidOption: no passages, or rows of another width than the index's.
        """
        self._check_rows_width(0 if rows is None else np.asarray(rows).shape[-1])
        info = write_segment(self.root, documents, rows=rows, progress=self._progress)
        return self.add_segment(info, delete_where=delete_where, metadata=metadata)

    def _check_rows_width(self, width: int) -> None:
        existing = {e.segment.rows_width for e in self._manifest.segments}
        if existing and width not in existing:
            raise InvalidOption(f"rows must have {existing.pop()} columns like the index's other segments; got {width}")

    def add_segment(
        self,
        info: SegmentInfo,
        *,
        delete_where: tuple[int, Iterable[int]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Searcher:
        """Commit a segment written by ``write_segment`` into this directory (appended at the end).

        ``delete_where`` and ``metadata`` as for ``add``.
        """
        with self._mutex:
            self._check_rows_width(info.rows_width)
            if any(e.segment.name == info.name for e in self._manifest.segments):
                raise InvalidOption(f"segment {info.name} is already in the index")
            entries = list(self._manifest.segments)
            if delete_where is not None:
                entries = self._tombstoned(self._searcher.numbers_where(*delete_where))
            return self._commit([*entries, SegmentEntry(info)], metadata)

    def clean(self) -> None:
        """Remove every segment, tombstone or manifest file the current manifest does not need (after a failure)."""
        with self._mutex:
            _remove(self.root, _ours(self.root) - self._manifest.files())

    def add_segments(
        self,
        infos: Sequence[SegmentInfo],
        *,
        delete_where: tuple[int, Iterable[int]] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> Searcher:
        """Commit several segments written by ``write_segment`` at once (appended in order); see ``add``."""
        with self._mutex:
            names = {e.segment.name for e in self._manifest.segments}
            for info in infos:
                self._check_rows_width(info.rows_width)
                if info.name in names:
                    raise InvalidOption(f"segment {info.name} is already in the index")
            entries = list(self._manifest.segments)
            if delete_where is not None:
                entries = self._tombstoned(self._searcher.numbers_where(*delete_where))
            return self._commit([*entries, *(SegmentEntry(info) for info in infos)], metadata)

    def replace_all(
        self, infos: Sequence[SegmentInfo], *, settings: Settings, metadata: dict[str, Any] | None = None
    ) -> Searcher:
        """Commit a manifest of these segments alone, with these settings: a rebuild, in one atomic step.

        Readers see the old index or the new one, never a mix; the old segments' files are removed after.
        """
        with self._mutex:
            widths = {info.rows_width for info in infos}
            if len(widths) > 1:
                raise InvalidOption(f"rows of different widths: {sorted(widths)}")
            return self._commit([SegmentEntry(info) for info in infos], metadata, settings=settings)

    def _tombstoned(self, numbers: np.ndarray) -> list[SegmentEntry]:
        """The current entries with these global numbers (of the current searcher) added to their tombstones."""
        wanted = np.unique(numbers.astype(np.int64))
        searcher = self._searcher
        if len(wanted) and (wanted[0] < 0 or wanted[-1] >= searcher.n_numbers):
            bad = wanted[0] if wanted[0] < 0 else wanted[-1]
            raise InvalidOption(f"passage number {bad} is outside 0..{searcher.n_numbers - 1}")
        generation = self._manifest.generation + 1
        entries = list(self._manifest.segments)
        for position, entry in enumerate(entries):
            base, end = searcher._bases[position], searcher._bases[position + 1]
            mine = wanted[(wanted >= base) & (wanted < end)] - base
            if len(mine) == 0:
                continue
            current = self._tombstones(entry)
            merged = np.union1d(current, mine).astype(np.int32)
            if len(merged) > len(current):
                entries[position] = self._write_tombstones(entry, merged, generation)
        return entries

    def delete(self, numbers: Iterable[int], *, metadata: dict[str, Any] | None = None) -> Searcher:
        """Delete passages by their global numbers in the current ``searcher`` and commit.

        Deleting a passage twice is harmless. To delete whole articles, find their passages with
        ``searcher.numbers_where(column, article_numbers)`` (or use ``delete_where``) under the same writer:
        numbers are only stable until a merge commits.

        Raises:
            InvalidOption: a number outside 0..n_numbers-1.
        """
        with self._mutex:
            entries = self._tombstoned(np.fromiter((int(n) for n in numbers), dtype=np.int64))
            if entries == list(self._manifest.segments) and metadata is None:
                return self._searcher
            return self._commit(entries, metadata)

    def delete_where(self, column: int, values: Iterable[int], *, metadata: dict[str, Any] | None = None) -> Searcher:
        """Delete every live passage whose ``rows[:, column]`` is one of ``values`` (e.g. whole articles)."""
        with self._mutex:
            return self.delete(self._searcher.numbers_where(column, values), metadata=metadata)

    def update_metadata(self, metadata: dict[str, Any]) -> Searcher:
        """Commit a new manifest that only replaces the caller's metadata."""
        with self._mutex:
            return self._commit(self._manifest.segments, metadata)

    def plan_merges(self, *, policy: MergePolicy | None = None) -> list[tuple[str, ...]]:
        """Names of the segments the tiered policy would merge now (runs already merging are left out)."""
        with self._mutex:
            entries = self._manifest.segments
            plans = plan_merges([(e.segment.documents, e.deleted) for e in entries], policy=policy)
            runs = [tuple(entries[i].segment.name for i in run) for run in plans]
            return [run for run in runs if not set(run) & self._merging]

    def begin_merge(self, names: Sequence[str]) -> Merge:
        """Reserve adjacent segments for a merge; run it with ``Merge.run`` (any thread), then ``commit_merge``.

        Raises:
            InvalidOption: the names are not adjacent segments of the current manifest, or already merging.
        """
        with self._mutex:
            entries = self._manifest.segments
            order = [e.segment.name for e in entries]
            names = tuple(names)
            if not names or any(n not in order for n in names):
                raise InvalidOption(f"cannot merge {list(names)}: not all are segments of this index ({order})")
            start = order.index(names[0])
            if tuple(order[start : start + len(names)]) != names:
                raise InvalidOption(f"cannot merge {list(names)}: only adjacent segments, in manifest order, merge")
            if set(names) & self._merging:
                raise InvalidOption(f"cannot merge {list(names)}: some are already being merged")
            self._merging.update(names)
            lives = tuple(self._searcher._lives[start : start + len(names)])
            return Merge(self.root, names, lives)

    def commit_merge(self, merge: Merge, *, metadata: dict[str, Any] | None = None) -> Searcher:
        """Replace the merged segments by the merge's result, keeping deletions that arrived meanwhile.

        The rule: a passage deleted after ``begin_merge`` is still in the merged segment; its new id (from
        the merge's doc map) goes into the new segment's tombstones in this same commit.
        """
        if not merge.done:
            merge.run(progress=self._progress)
        with self._mutex:
            try:
                entries = list(self._manifest.segments)
                order = [e.segment.name for e in entries]
                start = order.index(merge.names[0])
                late: list[np.ndarray] = []
                for offset, (live, doc_map) in enumerate(zip(merge._lives, merge.doc_maps, strict=True)):
                    now = self._tombstones(entries[start + offset])
                    arrived = np.setdiff1d(now, live.tombstones, assume_unique=True)
                    late.append(doc_map[arrived])
                replacement: list[SegmentEntry] = []
                if merge.result is not None:
                    entry = SegmentEntry(merge.result)
                    carried = np.unique(np.concatenate(late)) if late else np.zeros(0, dtype=np.int64)
                    carried = carried[carried >= 0]
                    if len(carried):
                        entry = self._write_tombstones(entry, carried, self._manifest.generation + 1)
                    replacement.append(entry)
                entries[start : start + len(merge.names)] = replacement
                return self._commit(entries, metadata)
            finally:
                self._merging.difference_update(merge.names)

    def abort_merge(self, merge: Merge) -> None:
        """Give up a merge: its segments become mergeable again and its written output is removed."""
        with self._mutex:
            self._merging.difference_update(merge.names)
            if merge.result is not None and merge.result.name not in self._manifest.files():
                _remove(self.root, [merge.result.name])

    def merge(self, names: Sequence[str], *, metadata: dict[str, Any] | None = None) -> Searcher:
        """Merge adjacent segments now (in this thread) and commit."""
        task = self.begin_merge(names)
        try:
            task.run(progress=self._progress)
        except BaseException:
            self.abort_merge(task)
            raise
        return self.commit_merge(task, metadata=metadata)

    def maybe_merge(self, *, policy: MergePolicy | None = None) -> Searcher:
        """Run every merge the policy asks for now, one after another; returns the latest searcher."""
        for names in self.plan_merges(policy=policy):
            self.merge(names)
        return self._searcher


def _open_lock(path: Path) -> Any:
    """The writer's lock file, readable by its owner only like every file of the index (one an older newsbot left
    readable by all is tightened)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
        return os.fdopen(fd, "r+b")
    except BaseException:
        os.close(fd)
        raise


def _ours(root: Path) -> set[str]:
    """Every name under the root that this module writes (LOCK excepted)."""
    return {
        p.name
        for p in root.iterdir()
        if p.name.startswith(("seg-", "del-", "manifest-"))
        or (p.name.startswith("CURRENT.") and p.name.endswith(".tmp"))
    }


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
            manifest = _read_manifest(root)
            lives = [_Live.of(_load_segment(root, e.segment), _load_tombstones(root, e)) for e in manifest.segments]
            return Searcher(root, manifest, lives)
        except FileNotFoundError as exc:
            if attempt + 1 == attempts:
                raise IndexCorrupt(
                    f"index at {str(root)!r} is missing {Path(exc.filename or '?').name}"
                ) from None
    raise AssertionError("unreachable")
