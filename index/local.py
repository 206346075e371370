"""The local engine: an archive kept in segments on disk (``Index``, what answers read) and its writer
(``LocalWriter``, what ``index.core.update_archive`` writes through), both behind the seam of ``index.backend``.

An index directory holds (see ``index.segments`` and ``index.articles`` for their files)::

    CURRENT, LOCK, manifest-<generation>.json, seg-*/, del-*    the segmented postings and tombstones
    art-<id>/                                                  article batches: texts and fields, memory-mapped
    info-<id>.json                                             sources (each file's size, time and articles), report
    splitter-<id>.json                                         the trained sentence-splitter parameters

The manifest's metadata names the current batches, info and splitter files with their checksums, so one atomic
rename of ``CURRENT`` moves the whole index from one state to the next: a kill at any moment leaves the previous
state loadable, and the next writer removes what no state needs. ``maintain`` merges segments and compacts
article batches when the tiered policies say so, which keeps the index on disk close to a fresh build's. An
``Index`` is immutable: callers swap the reference.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from . import store
from .analysis import ANALYZER_VERSION
from .articles import ArticleStore, Batch, NewArticle, compact, write_batch
from .backend import Commit, PassageRow
from .bm25 import Scored, Settings
from .dates import naive_utc, parse_date
from .errors import IndexCorrupt, IndexNotFound, IndexWriteError
from .ingest import fingerprint
from .model import Article, BuildInfo, Changes, IngestReport, Passage
from .pipeline import Bag
from .segments import (
    MergePolicy,
    Searcher,
    SegmentedIndex,
    SegmentInfo,
    open_searcher,
    plan_merges,
    write_counted_segment,
)

__all__ = ["FORMAT_VERSION", "SEGMENT_PASSAGES", "Index", "LocalWriter", "load", "maintain"]

FORMAT_VERSION = 3
# A passage's row in its segment: article number, start, end, first sentence in the article, sentence count.
ROW_WIDTH = 5
SEGMENT_PASSAGES = 250_000  # passages per segment a large build writes: bounds the memory the terms take
_OURS = ("art-", "info-", "splitter-")


class _InOrder(Sequence[Article]):
    """Articles in a given order, read from the store only when asked for."""

    def __init__(self, articles: ArticleStore, numbers: np.ndarray) -> None:
        self._articles = articles
        self._numbers = numbers

    def __len__(self) -> int:
        return len(self._numbers)

    @overload
    def __getitem__(self, i: int) -> Article: ...

    @overload
    def __getitem__(self, i: slice) -> tuple[Article, ...]: ...

    def __getitem__(self, i: int | slice) -> Article | tuple[Article, ...]:
        if isinstance(i, slice):
            return tuple(self._articles.article(int(n)) for n in self._numbers[i])
        return self._articles.article(int(self._numbers[i]))


class Index:
    """Articles and their BM25-indexed passages, as one committed state of an index directory.

    Build or update with ``index.update`` (or ``index.build`` in memory), load with ``index.load``. Reading is
    thread-safe; an Index never changes (an update gives a new one).
    """

    def __init__(self, *, searcher: Searcher, store: ArticleStore, info: BuildInfo, root: Path | None) -> None:
        self.searcher = searcher
        self.store = store
        self.info = info
        self.root = root
        self.changed = Changes()  # what the update that made this index changed (ids)

    def __len__(self) -> int:
        """Number of live passages."""
        return len(self.searcher)

    def __repr__(self) -> str:
        return f"<Index {self.article_count} articles, {len(self)} passages, {self.settings.variant}>"

    @property
    def settings(self) -> Settings:
        """The BM25 variant and parameters the index was built with."""
        return self.searcher.settings

    @property
    def built_at(self) -> dt.datetime:
        """When the index was last updated (aware, UTC)."""
        return self.info.built_at

    @property
    def report(self) -> IngestReport:
        """The ingestion report of the update that made this index (the files it read)."""
        return self.info.report

    @property
    def article_count(self) -> int:
        """Number of live articles."""
        return len(self.store)

    @functools.cached_property
    def articles(self) -> tuple[Article, ...]:
        """Every live article, in number order (made on first use: prefer ``article`` and ``newest_first``)."""
        return tuple(self.store.article(n) for n in self.store.numbers())

    def article(self, article_id: str) -> Article:
        """The article with this id. Raises KeyError when there is none."""
        return self.store.article(self.store.number_of(article_id))

    def first_seen(self, article_id: str) -> dt.datetime:
        """When the article first entered an index of this lineage, in UTC."""
        seen = self.store.field(self.store.number_of(article_id), "first_seen")
        return dt.datetime.fromisoformat(seen) if seen else self.info.built_at

    def added_since(self, when: dt.datetime) -> list[str]:
        """Ids of the articles that first entered the index after ``when`` (an aware datetime)."""
        out = []
        for number in self.store.numbers():
            seen = self.store.field(number, "first_seen")
            if seen and dt.datetime.fromisoformat(seen) > when:
                out.append(self.store.field(number, "id"))
        return out

    def catalog(self) -> Iterator[tuple[int, str, str, str]]:
        """``(number, id, digest, first_seen)`` of every live article, one pass per batch."""
        return self.store.columns("id", "digest", "first_seen")

    def _row(self, passage: int) -> np.ndarray:
        return self.searcher.rows(passage)

    def article_of(self, passage: int) -> Article:
        """The article that passage number ``passage`` belongs to."""
        return self.store.article(int(self._row(passage)[0]))

    def passage(self, number: int) -> Passage:
        """Passage ``number``."""
        art, start, end = (int(x) for x in self._row(number)[:3])
        article = self.store.article(art)
        return Passage(article_id=article.id, start=start, end=end, text=article.text[start:end], number=number)

    def passage_sentences(self, number: int) -> list[tuple[int, int]]:
        """Sentence spans (offsets into the article) of passage ``number``."""
        art, _, _, first, count = (int(x) for x in self._row(number))
        return [(int(a), int(b)) for a, b in self.store.sentences(art)[first : first + count]]

    def article_sentences(self, article_id: str) -> list[tuple[int, int]]:
        """Sentence spans of one whole article, in text order."""
        return [(int(a), int(b)) for a, b in self.store.sentences(self.store.number_of(article_id))]

    def top(self, terms: list[str], k: int) -> Scored:
        """The ``k`` passages with the best BM25 scores for analysed ``terms`` (numbers and scores, best first)."""
        if k <= 0 or len(self) == 0:
            return Scored(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64))
        return self.searcher.top(terms, k)

    def document_frequency(self, term: str) -> int:
        """How many passages contain the analysed ``term``."""
        return self.searcher.document_frequency(term)

    def rarity(self, terms: Iterable[str]) -> dict[str, float]:
        """Each distinct term's rarity: a smoothed IDF, log(1 + (N - df + 0.5) / (df + 0.5)).

        Positive for every term (unlike BM25Okapi's floored IDF) and highest for terms no passage contains, so a
        question's unknown words weigh the most. Answers and briefings weigh question terms with it.
        """
        n = len(self)
        weights = {}
        for term in dict.fromkeys(terms):
            df = self.document_frequency(term)
            weights[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return weights

    def titles_for(self, passages: Iterable[int]) -> tuple[str, ...]:
        """Distinct article titles of these passages, in order."""
        seen: dict[str, None] = {}
        for p in passages:
            seen.setdefault(self.article_of(p).title, None)
        return tuple(seen)

    @functools.cached_property
    def newest_first(self) -> Sequence[Article]:
        """The articles by publication date, newest first, undated last (ordered once: an Index never changes).

        Only the order is kept; each article is read from the store when it is used, so a question that only
        needs the newest date never holds every article's text in memory."""
        keyed = []
        for number, date in self.store.columns("date"):
            when = naive_utc(parse_date(date or None))
            keyed.append(((0, dt.datetime.max - when) if when else (1, dt.timedelta(0)), number))
        keyed.sort()
        return _InOrder(self.store, np.array([number for _, number in keyed], dtype=np.int64))

    def recent_titles(self, n: int) -> tuple[str, ...]:
        """Titles of the ``n`` most recent articles (undated last)."""
        return tuple(a.title for a in self.newest_first[:n])

    def changes(self, articles_path: str | os.PathLike[str]) -> Changes:
        """Which article files were added, changed or removed since this index was built (relative paths)."""
        then = self.info.sources
        now = fingerprint(articles_path)
        return Changes(
            added=tuple(sorted(set(now) - set(then))),
            changed=tuple(sorted(p for p in set(now) & set(then) if tuple(now[p]) != tuple(then[p]))),
            removed=tuple(sorted(set(then) - set(now))),
        )


def _retire_old_format(root: Path) -> bool:
    """An index of format 2 or older (``CURRENT`` naming a ``gen-`` folder) is not ours to read: remove it."""
    try:
        current = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return False
    if not current.startswith("gen-"):
        return False
    for entry in root.iterdir():
        if entry.name.startswith("gen-") and entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
    (root / "CURRENT").unlink(missing_ok=True)
    return True


def _read_json(root: Path, reference: dict[str, str], what: str) -> Any:
    data = (root / reference["file"]).read_bytes()
    if store.checksum(data) != reference["xxh3"]:
        raise IndexCorrupt(f"{what} {reference['file']} at {str(root)!r} is damaged (checksum mismatch)")
    return json.loads(data)


def _info(record: dict[str, Any], meta: dict[str, Any], settings: Settings) -> BuildInfo:
    return BuildInfo(
        analyzer=int(meta["analyzer"]),
        titles=bool(meta["titles"]),
        settings=settings,
        built_at=dt.datetime.fromisoformat(record["built_at"]),
        build_seconds=float(record["build_seconds"]),
        articles_path=str(meta["articles_path"]),
        sources={path: (int(size), int(mtime)) for path, (size, mtime) in record["sources"].items()},
        files={path: tuple(int(n) for n in numbers) for path, numbers in record["files"].items()},
        report=store.report_from_record(record["report"]),
    )


def _open_state(root: Path, searcher: Searcher, known: Sequence[Batch] = ()) -> Index:
    """The Index of a committed state: its searcher, batches and build information (``known``: batches already
    verified, reused when the state names them, as it does the previous state's after an update)."""
    meta = searcher.metadata
    if not meta:
        raise IndexNotFound(f"no index at {str(root)!r}")
    try:
        if meta.get("format") != FORMAT_VERSION:
            raise IndexCorrupt(
                f"index at {str(root)!r} has format {meta.get('format')!r}, this newsbot reads {FORMAT_VERSION}"
            )
        if meta["analyzer"] != ANALYZER_VERSION:
            raise IndexCorrupt(
                f"index at {str(root)!r} was analysed with analyzer {meta['analyzer']}, this newsbot uses "
                f"{ANALYZER_VERSION}"
            )
        record = _read_json(root, meta["info"], "index information")
        info = _info(record, meta, searcher.settings)
        verified = {(b.name, b.checksum): b for b in known}
        batches = [verified.get((name, sum_)) or Batch(root, name, sum_) for name, sum_ in meta["batches"]]
        live = np.array(sorted(n for numbers in info.files.values() for n in numbers), dtype=np.int64)
        index = Index(searcher=searcher, store=ArticleStore(batches, live), info=info, root=root)
        index.changed = Changes(**{k: tuple(v) for k, v in record.get("changed", {}).items()})
        return index
    except IndexCorrupt:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is inconsistent ({exc.__class__.__name__}: {exc})") from None


def _open_locked(root: Path, searcher: Searcher) -> Index:
    """The Index of the state a writer holds: no one else removes its files, so a missing one is damage."""
    try:
        return _open_state(root, searcher)
    except FileNotFoundError as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is missing {Path(exc.filename or '?').name}") from None


def load(directory: str | os.PathLike[str]) -> Index:
    """Load the index saved in ``directory`` (read-only: no lock, nothing removed).

    Raises:
        IndexNotFound: nothing was saved there (or only an index of an older format, which ``update`` replaces).
        IndexCorrupt: the index is damaged or inconsistent.
    """
    root = Path(directory)
    try:
        current = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        current = ""
    if current.startswith("gen-"):
        raise IndexNotFound(f"the index at {str(root)!r} has an older format; it is rebuilt by the next update")
    for attempt in range(3):
        try:
            return _open_state(root, open_searcher(root))
        except FileNotFoundError as exc:  # a writer in another process replaced the state as we read it
            if attempt == 2:
                raise IndexCorrupt(f"index at {str(root)!r} is missing {Path(exc.filename or '?').name}") from None
    raise AssertionError("unreachable")


def _write_json(root: Path, prefix: str, data: Any) -> dict[str, str]:
    payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
    name = f"{prefix}-{uuid.uuid4().hex[:16]}.json"
    store.write_durably(root / name, payload)
    return {"file": name, "xxh3": store.checksum(payload)}


def _clean(root: Path, meta: dict[str, Any]) -> None:
    """Remove our files (batches, info, splitter) that the committed state does not name."""
    keep = {name for name, _ in meta.get("batches", [])}
    keep |= {meta[key]["file"] for key in ("info", "splitter") if key in meta}
    for entry in root.iterdir():
        if entry.name.startswith(_OURS) and entry.name not in keep:
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}" if size < 10e6 else f"{size / 1e6:.0f}"


class LocalWriter:
    """The local engine's ``ArchiveWriter``: the index directory's one writer, holding its lock while open.

    Passages become segments of ``SEGMENT_PASSAGES`` as they come (a large build's terms are never all in
    memory); ``commit`` writes the new article batch, the build information and the splitter, and commits the
    manifest that names them in one atomic step. On leaving with an exception everything written since the last
    commit is removed (a full disk must not fill up further with each retry), and a write error met after
    ``reserve`` becomes an ``IndexWriteError``.

    Raises (on entering):
        IndexLocked: another process is updating this index.
        IndexWriteError: the index folder cannot be created.
    """

    def __init__(self, index_dir: str | os.PathLike[str]) -> None:
        self.root = Path(index_dir)
        self._writer: SegmentedIndex | None = None
        self._previous: Index | None = None
        self._infos: list[SegmentInfo] = []
        self._rows: list[PassageRow] = []
        self._terms: dict[str, int] = {}  # the segment being gathered: its terms, numbered as first met
        self._bags: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # ids (the segment's), counts, sizes
        self._known: tuple[list[str], np.ndarray] | None = None  # the last bag vocabulary met, and its ids here
        self._needed = 0  # bytes the reserved articles need (0: nothing reserved, nothing written yet)

    def __enter__(self) -> LocalWriter:
        try:
            store.private_dir(self.root)
        except OSError as exc:
            folder = str(self.root)
            raise IndexWriteError(f"cannot create the index folder {folder!r} ({exc.strerror or exc})") from None
        _retire_old_format(self.root)
        self._writer = SegmentedIndex.open(self.root)
        try:
            self._previous = _open_locked(self.root, self._writer.searcher)
        except (IndexNotFound, IndexCorrupt):
            self._previous = None  # rebuilt from scratch by the update
        except BaseException:
            self._writer.close()  # __exit__ does not run when __enter__ fails: the lock must not stay held
            raise
        return self

    def __exit__(self, exc_type: object, exc: BaseException | None, traceback: object) -> None:
        try:
            if exc is not None:
                self.abandon()
        finally:
            self._segments.close()
        if isinstance(exc, OSError) and self._needed:
            if exc.errno in store.NO_SPACE:
                raise IndexWriteError(f"no space left on the index disk ({_mb(self._needed)} MB needed)") from None
            raise IndexWriteError(f"cannot write the index in {str(self.root)!r} ({exc.strerror or exc})") from None

    @property
    def _segments(self) -> SegmentedIndex:
        if self._writer is None:
            raise RuntimeError("a LocalWriter is used only inside its with block")
        return self._writer

    def previous(self) -> Index | None:
        """The committed state this writer builds on, or None (no index yet, or one that cannot be read)."""
        return self._previous

    def metadata(self) -> dict[str, Any]:
        """The committed manifest's metadata."""
        return dict(self._segments.searcher.metadata)

    def splitter(self) -> dict[str, Any] | None:
        """The committed sentence splitter's parameters, or None."""
        meta = self._segments.searcher.metadata
        return _read_json(self.root, meta["splitter"], "sentence splitter") if "splitter" in meta else None

    def reserve(self, articles: Sequence[NewArticle]) -> None:
        """Refuse, before the analysis, articles the index disk has no room for.

        Raises:
            IndexWriteError: the free space is below the estimate (three bytes of text, sentences and postings
                per character, roughly, and a megabyte).
        """
        self._needed = sum(len(a.article.text) * 3 for a in articles) + 1_000_000
        free = shutil.disk_usage(self.root).free
        if free < self._needed:
            raise IndexWriteError(
                f"no space left on the index disk ({_mb(self._needed)} MB needed, {_mb(free)} MB free)"
            )

    def add_passages(self, rows: Sequence[PassageRow], terms: Sequence[list[str]]) -> None:
        """Buffer passages; every ``SEGMENT_PASSAGES`` of them are written as a segment (not yet committed)."""
        vocabulary: dict[str, int] = {}
        ids: list[int] = []
        counts: list[int] = []
        sizes: list[int] = []
        for passage in terms:
            counted = Counter(passage)
            ids.extend([vocabulary.setdefault(term, len(vocabulary)) for term in counted])
            counts.extend(counted.values())
            sizes.append(len(counted))
        bag = Bag(
            vocabulary=list(vocabulary),
            ids=np.array(ids, dtype=np.int32),
            counts=np.array(counts, dtype=np.int32),
            sizes=np.array(sizes, dtype=np.int32),
        )
        self.add_counted(rows, bag)

    def add_counted(self, rows: Sequence[PassageRow], bag: Bag) -> None:
        """``add_passages`` with the terms already counted (by the analysis workers; ``update_archive`` uses it
        when the writer has it): only the bag's vocabulary is walked here, once per vocabulary, not every term."""
        if len(bag.sizes) != len(rows):
            raise ValueError(f"{len(rows)} rows but {len(bag.sizes)} counted passages")
        known = self._known
        if known is None or known[0] is not bag.vocabulary:
            terms = self._terms
            mapped = np.fromiter(
                (terms.setdefault(term, len(terms)) for term in bag.vocabulary),
                dtype=np.int32,
                count=len(bag.vocabulary),
            )
            known = self._known = (bag.vocabulary, mapped)
        self._bags.append((known[1][bag.ids], bag.counts, bag.sizes))
        self._rows.extend(rows)
        if len(self._rows) >= SEGMENT_PASSAGES:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            rows = np.asarray(self._rows, dtype=np.int64).reshape(-1, ROW_WIDTH)
            ids, counts, sizes = (np.concatenate(parts) for parts in zip(*self._bags, strict=True))
            info = write_counted_segment(
                self.root, terms=list(self._terms), ids=ids, counts=counts, sizes=sizes, rows=rows
            )
            self._infos.append(info)
        self._rows, self._bags, self._terms, self._known = [], [], {}, None

    def commit(self, commit: Commit) -> Index:
        """Write the batch, information and splitter, and commit them with the segments written; the new Index."""
        writer = self._segments
        self._flush()
        meta = self.metadata()
        batches = [] if commit.full else [list(b) for b in meta.get("batches", [])]
        if commit.articles:
            batches.append(list(write_batch(self.root, commit.articles, commit.numbers)))
        new_meta: dict[str, Any] = {
            "format": FORMAT_VERSION,
            **commit.metadata,
            "batches": batches,
            "info": _write_json(self.root, "info", dict(commit.record)),
        }
        if commit.splitter is not None:
            new_meta["splitter"] = _write_json(self.root, "splitter", dict(commit.splitter))
        elif "splitter" in meta:
            new_meta["splitter"] = meta["splitter"]
        infos, self._infos = self._infos, []
        if commit.full:
            writer.replace_all(infos, settings=commit.settings, metadata=new_meta)
        elif infos:
            writer.add_segments(infos, delete_where=(0, sorted(commit.dead)), metadata=new_meta)
        else:
            writer.delete_where(0, sorted(commit.dead), metadata=new_meta)
        _clean(self.root, new_meta)
        known = self._previous.store.batches if self._previous is not None else ()
        self._previous = _open_state(self.root, writer.searcher, known)
        self._needed = 0
        return self._previous

    def abandon(self) -> None:
        """Remove every segment, batch and file written since the last commit; the committed state stays."""
        self._infos, self._rows, self._bags, self._terms, self._known = [], [], [], {}, None
        if self._writer is not None:
            self._writer.clean()
            _clean(self.root, self._writer.searcher.metadata)


def maintain(index_dir: str | os.PathLike[str]) -> Index | None:
    """Merge segments and compact article batches when the tiered policies say so; the new Index, or None.

    Merges drop deleted passages; compaction rewrites the batches whose removed articles take a fifth of their
    bytes or more (and runs of small batches) with their live articles alone, so the index on disk stays within
    1.5x a fresh build's through any history of adds and removes. Run it after updates, in the background:
    searching goes on from the previous state while it works.

    Raises:
        IndexLocked: another process is updating this index.
        IndexWriteError: no space left to write the merged files (nothing of them remains).
    """
    root = Path(index_dir)
    with SegmentedIndex.open(root) as writer:
        plans = writer.plan_merges(policy=SEGMENT_POLICY)
        state = _open_locked(root, writer.searcher) if writer.searcher.metadata else None
        try:
            for names in plans:
                merge = writer.begin_merge(names)
                merge.run()
                writer.commit_merge(merge)
            compacted = state is not None and _compact(writer, root, state)
        except OSError as exc:
            writer.clean()
            _clean(root, writer.searcher.metadata)
            if exc.errno in store.NO_SPACE:
                raise IndexWriteError("no space left on the index disk to merge the index's files") from None
            raise IndexWriteError(f"cannot write the index in {str(root)!r} ({exc.strerror or exc})") from None
        if not plans and not compacted:
            return None
        return _open_state(root, writer.searcher, state.store.batches if state else ())


# What keeps the index on disk within 1.5x a fresh build through any history (bench/drill.py measured it: the
# default policy reached 1.7x, ten segments per tier and a quarter deleted): a segment a fifth deleted is
# rewritten, and three small segments (tier 0: up to 1,000 live passages) merge, since each keeps its own
# vocabulary; larger tiers keep merging ten at a time, so a large index is not rewritten more often. Batches are
# planned the same way by bytes (tier 0: up to 1 MB live): one a fifth dead is rewritten with its live articles
# alone, and the one-article batches of a polling bot become one.
SEGMENT_POLICY = MergePolicy(deleted_ratio=0.2, floor_segments=3)
BATCH_POLICY = MergePolicy(deleted_ratio=0.2, floor_segments=3, floor=1 << 20)


def _compact(writer: SegmentedIndex, root: Path, state: Index) -> bool:
    """Rewrite the batches the policy picks with their live articles alone, in one commit; whether it did."""
    batches = state.store.batches
    live = state.store.live
    plans = plan_merges([batch.sizes(live) for batch in batches], policy=BATCH_POLICY)
    if not plans:
        return False
    kept = [[b.name, b.checksum] for b in batches]
    for run in reversed(plans):  # from the end, so earlier positions stay put
        written = compact(root, batches[run.start : run.stop], live)
        kept[run.start : run.stop] = [list(written)] if written else []
    meta = {**writer.searcher.metadata, "batches": kept}
    writer.update_metadata(meta)
    _clean(root, meta)
    return True
