"""The segments' on-disk format: writing one immutable segment durably, and reading it back verified.

A segment is a folder ``seg-<id>/`` of numpy arrays (offsets, docs, tf, lengths, rows) and its vocabulary, with a
``segment.json`` holding every file's size and checksum; a tombstone file ``del-<segment id>-<generation>.npy``
lists a segment's deleted passages. Reading checks every checksum and the arrays' shapes against each other, so
damage of any kind raises ``IndexCorrupt`` with one line. (tantivy's ``segment_serializer`` and ``segment_reader``.)
"""

from __future__ import annotations

import bisect
import io
import itertools
import json
import math
import operator
import os
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import store
from ..bm25 import Settings
from ..errors import IndexCorrupt, InvalidOption

FORMAT_VERSION = 1
_ARRAYS = ("offsets", "docs", "tf", "lengths", "rows")

Progress = Callable[[str], None]
"""Called as ``progress(step)`` before each durable step of a commit (for tests that kill the process)."""


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


def read_verified(path: Path, checksum: str, what: str) -> bytes:
    """The bytes of ``path``, checked against ``checksum`` (IndexCorrupt names ``what`` when they differ)."""
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


def uint_dtype(maximum: int) -> type[np.unsignedinteger[Any]]:
    """The smallest unsigned integer type that holds ``maximum`` (term frequencies)."""
    for dtype in (np.uint8, np.uint16, np.uint32):
        if maximum <= np.iinfo(dtype).max:
            return dtype
    raise InvalidOption(f"a term occurs {maximum} times in one passage; at most {np.iinfo(np.uint32).max} allowed")


def settings_json(settings: Settings) -> dict[str, Any]:
    """BM25 settings as a manifest stores them."""
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


def write_segment_arrays(
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
    vocabulary, rank = _sorted_ranks(first_seen)
    terms = rank[stream]
    del stream
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), doc_len)
    keys, tf = np.unique(terms * n_docs + doc_of, return_counts=True)
    del terms, doc_of
    term_of = keys // n_docs
    docs = keys - term_of * n_docs
    arrays = _postings(len(vocabulary), term_of, docs, tf, doc_len, rows_array)
    return write_segment_arrays(root, vocabulary=vocabulary, arrays=arrays, progress=progress)


def _sorted_ranks(ids: dict[str, int]) -> tuple[list[str], np.ndarray]:
    """The terms sorted (a segment's vocabulary), and each id's position among them."""
    vocabulary = sorted(ids)
    rank = np.empty(len(vocabulary), dtype=np.int64)
    rank[[ids[t] for t in vocabulary]] = np.arange(len(vocabulary))
    return vocabulary, rank


def _postings(
    n_terms: int, term_of: np.ndarray, docs: np.ndarray, tf: np.ndarray, lengths: np.ndarray, rows: np.ndarray
) -> dict[str, np.ndarray]:
    """A segment's arrays from its postings sorted by term, then passage."""
    offsets = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(np.bincount(term_of, minlength=n_terms), out=offsets[1:])
    return {
        "offsets": offsets,
        "docs": docs.astype(np.int32),
        "tf": tf.astype(uint_dtype(int(tf.max()) if len(tf) else 0)),
        "lengths": lengths.astype(np.int32),
        "rows": rows,
    }


def write_counted_segment(
    directory: str | os.PathLike[str],
    *,
    terms: Sequence[str],
    ids: np.ndarray,
    counts: np.ndarray,
    sizes: np.ndarray,
    rows: np.ndarray | None = None,
    progress: Progress | None = None,
) -> SegmentInfo:
    """Write a new segment of passages whose terms are already counted; the same files ``write_segment`` writes
    for the same passages.

    Args:
        directory: the index root.
        terms: the distinct terms (any order); ``ids`` index into it. Terms no passage uses are left out.
        ids: every passage's distinct terms, passage after passage.
        counts: how often each occurs in its passage (at least once).
        sizes: distinct terms per passage (their sum is ``len(ids)``); its length is the number of passages.
        rows: as for ``write_segment``.
        progress: called before each file is written.

    Raises:
        InvalidOption: no passages, or ``rows`` has the wrong shape or type.
    """
    root = Path(directory)
    store.private_dir(root)
    n_docs = len(sizes)
    if n_docs == 0:
        raise InvalidOption("a segment needs at least one passage; got none")
    rows_array = _check_rows(rows, n_docs)
    used = np.bincount(ids, minlength=len(terms)) > 0
    if not used.all():
        # A vocabulary shared by a worker's chunk also holds terms of passages in the next segment.
        renumber = np.cumsum(used) - 1
        ids = renumber[ids]
        terms = list(itertools.compress(terms, used.tolist()))
    vocabulary, rank = _sorted_ranks({term: i for i, term in enumerate(terms)})
    term_of = rank[ids]
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int32), sizes)
    lengths = np.bincount(doc_of, weights=counts, minlength=n_docs).astype(np.int64)
    # Passages come in order, so a stable sort by term leaves each term's passages ascending.
    order = np.argsort(term_of, kind="stable")
    arrays = _postings(len(vocabulary), term_of[order], doc_of[order], counts[order], lengths, rows_array)
    return write_segment_arrays(root, vocabulary=vocabulary, arrays=arrays, progress=progress)


# ------------------------------------------------------------------------------------------------ reading segments


@dataclass(frozen=True, slots=True, eq=False)
class Segment:
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


def load_segment(root: Path, info: SegmentInfo) -> Segment:
    """Read and verify one segment: checksums first, then the invariants a search relies on."""
    folder = root / info.name
    where = f"segment {info.name} at {str(root)!r}"
    meta_bytes = read_verified(folder / "segment.json", info.checksum, f"{where}: segment.json")
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
            name: read_verified(folder / name, files[name][1], f"{where}: {name}")
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
    return Segment(
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


def load_tombstones(root: Path, entry: SegmentEntry) -> np.ndarray:
    """Sorted deleted local ids of one segment (empty when none)."""
    if entry.tombstones is None:
        if entry.deleted:
            raise IndexCorrupt(f"segment {entry.segment.name} lists deletions but no tombstone file")
        return np.zeros(0, dtype=np.int32)
    where = f"tombstones {entry.tombstones} at {str(root)!r}"
    ids = _parse_npy(read_verified(root / entry.tombstones, entry.tombstones_checksum or "", where), where)
    if (
        ids.ndim != 1
        or len(ids) != entry.deleted
        or (len(ids) and (ids[0] < 0 or ids[-1] >= entry.segment.documents or np.any(np.diff(ids) <= 0)))
    ):
        raise IndexCorrupt(f"{where} are inconsistent with their segment")
    return ids.astype(np.int32, copy=False)
