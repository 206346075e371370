"""The writer: the one ``SegmentedIndex`` of a directory, holding its lock; adds, deletes and merges, each a
durable commit. (tantivy's ``index_writer``.)

Concurrency: one writer per directory (``LOCK``); commits are serialised; a searcher is immutable and safe to
share between threads. A merge may run in a background thread; deletions that reach its segments meanwhile are
carried onto the merged segment when it commits (``SegmentedIndex.commit_merge``).
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import store
from ..bm25 import Settings
from ..errors import IndexCorrupt, IndexNotFound, InvalidOption, NewsbotError
from .format import Progress, SegmentEntry, SegmentInfo, load_segment, load_tombstones, write_segment
from .manifest import Manifest, commit_manifest, our_files, read_manifest, remove_files
from .merge import Merge, MergePolicy, plan_merges
from .searcher import Live, Searcher, TermUnion


class IndexLocked(NewsbotError):
    """Another writer (this process or another) holds the index directory."""


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
        self._union = TermUnion()
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
                manifest = read_manifest(root)
            except IndexNotFound:
                manifest = Manifest(generation=0, settings=settings or Settings())
                remove_files(root, our_files(root))
                commit_manifest(root, manifest, progress)
            if settings is not None and settings != manifest.settings:
                raise InvalidOption(
                    f"the index at {str(root)!r} uses {manifest.settings}; got {settings}; rebuild to change them"
                )
            remove_files(root, our_files(root) - manifest.files())
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
            known = self._tombstone_cache[key] = load_tombstones(self.root, entry)
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
                segment = segments.get(entry.segment.name) or load_segment(self.root, entry.segment)
                live = Live.of(segment, self._tombstones(entry))
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
        commit_manifest(self.root, manifest, self._progress)
        self._manifest, self._searcher = manifest, searcher
        if self._progress:
            self._progress("cleanup")
        # In-process searchers hold their data in memory; another process reading the old manifest retries.
        remove_files(self.root, old.files() - manifest.files())
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
            remove_files(self.root, our_files(self.root) - self._manifest.files())

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
                remove_files(self.root, [merge.result.name])

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
