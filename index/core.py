"""The Index: articles and their BM25-indexed passages, kept on disk in segments that grow as news arrives.

An index directory holds (see ``index.segments`` and ``index.articles`` for their files)::

    CURRENT, LOCK, manifest-<generation>.json, seg-*/, del-*    the segmented postings and tombstones
    art-<id>/                                                  article batches: texts and fields, memory-mapped
    info-<id>.json                                             sources (each file's size, time and articles), report
    splitter-<id>.json                                         the trained sentence-splitter parameters

The manifest's metadata names the current batches, info and splitter files with their checksums, so one atomic
rename of ``CURRENT`` moves the whole index from one state to the next: a kill at any moment leaves the previous
state loadable, and the next writer removes what no state needs.

``update`` is the one build recipe. It reads only the article files added, changed or removed since the last
build (their sizes and times are kept), writes the new articles as a batch and a segment, and tombstones the
passages of replaced or removed articles, in one commit; ``full=True`` (and any change of analyzer, settings or
articles root, which is known by its resolved path however it is spelled) rebuilds from scratch, also in one
commit. Before committing, it checks that no article read, and none of a file left unread because unchanged,
would be lost. The sentence splitter trained by a full build is saved and reused for every later segment, so old
passages never change their boundaries. ``maintain`` merges segments and compacts article batches when the
tiered policies say so, which keeps the index on disk close to a fresh build's. An ``Index`` is immutable:
callers swap the reference.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

import numpy as np

from . import store
from .analysis import ANALYZER_VERSION
from .articles import ArticleStore, Batch, NewArticle, compact, write_batch
from .bm25 import Scored, Settings
from .dates import naive_utc, parse_date
from .errors import ArticlesNotFound, IndexCorrupt, IndexNotFound, IndexWriteError
from .ingest import ingest, list_sources
from .model import Article, BuildInfo, Changes, IngestReport, Passage, plural
from .pipeline import analyse
from .segments import (
    MergePolicy,
    Searcher,
    SegmentedIndex,
    SegmentInfo,
    open_searcher,
    plan_merges,
    write_segment,
)
from .sentences import SentenceSplitter

__all__ = ["DEFAULT_SETTINGS", "FORMAT_VERSION", "Index", "Progress", "build", "load", "maintain", "update"]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while building."""

# Chosen by measurement (bench/quality.py, README "Benchmarks"): BM25Plus has no IDF floor, and k1=0.9, b=0.4
# ranked best on both SciFact and SQuAD.
DEFAULT_SETTINGS = Settings(variant="plus", k1=0.9, b=0.4)
FORMAT_VERSION = 3
# A passage's row in its segment: article number, start, end, first sentence in the article, sentence count.
ROW_WIDTH = 5
SEGMENT_PASSAGES = 250_000  # passages per segment a large build writes: bounds the memory the terms take
_OURS = ("art-", "info-", "splitter-")


def fingerprint(path: str | os.PathLike[str]) -> dict[str, list[int]]:
    """Size and modification time of every candidate article file, keyed by path relative to ``path``."""
    root = Path(path)
    files = list_sources(root)
    base = root if root.is_dir() else root.parent
    out = {}
    for file in files:
        try:
            st = file.stat()
        except OSError:
            continue
        out[str(file.relative_to(base))] = [st.st_size, st.st_mtime_ns]
    return out


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


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


# ------------------------------------------------------------------------------------------------------ reading


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


# ------------------------------------------------------------------------------------------------------ writing


@dataclass(slots=True)
class _Plan:
    """What an update does: which files to read, which articles die, whether it starts over."""

    full: bool
    read: set[str] | None  # relative paths to read (None: every file)
    dead: set[int]  # article numbers replaced or removed


def _plan(previous: Index | None, sources: dict[str, list[int]], full: bool) -> _Plan:
    if full or previous is None:
        dead = set(previous.store.numbers()) if previous is not None else set()
        return _Plan(full=True, read=None, dead=dead)
    then = previous.info.sources
    changed = {p for p in sources if p not in then or tuple(sources[p]) != tuple(then[p])}
    removed = set(then) - set(sources)
    dead = {n for p in changed | removed for n in previous.info.files.get(p, ())}
    return _Plan(full=False, read=changed, dead=dead)


def _relative(source: str, base: Path) -> str:
    """The articles file a source names ("file", "file:line" for JSON Lines, "file#n"), relative to ``base``."""
    file = source.split("#", 1)[0]
    head, colon, tail = file.rpartition(":")
    if colon and tail.isdigit() and "/" not in tail:
        file = head
    return _relative_file(file, base)


@functools.lru_cache(maxsize=4096)
def _relative_file(file: str, base: Path) -> str:
    # Cached because a JSON Lines file's every record names it: pathlib per record cost seconds at a million passages.
    path = Path(file)
    with contextlib.suppress(ValueError):
        return str(path.relative_to(base))
    return str(path)


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


def update(
    index_dir: str | os.PathLike[str],
    articles_path: str | os.PathLike[str],
    *,
    full: bool = False,
    settings: Settings | None = None,
    titles: bool = True,
    progress: Progress | None = None,
    workers: int | None = None,
) -> Index:
    """Bring the index in ``index_dir`` up to date with ``articles_path``: the one build recipe.

    Only the files added, changed or removed since the last update are read; their new articles are added and
    the replaced or removed ones deleted, in one atomic commit. ``full`` (or a different analyzer, settings or
    articles root, or no index yet) rebuilds from every file, also in one commit. Articles keep the time they
    first entered the index across updates (for briefings of what is new).

    Args:
        index_dir: the index directory (created when missing).
        articles_path: a folder (recursively) or one file of articles.
        full: rebuild from scratch, retraining the sentence splitter.
        settings: BM25 variant and parameters of a rebuild; ``DEFAULT_SETTINGS`` when None.
        titles: add each article's title terms to its passages (a rebuild when it differs).
        progress: called as ``progress(stage, done, total)``.
        workers: processes for text analysis (both cores when None; 1 to stay in this process).

    Returns:
        The new index; ``index.report`` says what the files read held and skipped, ``index.changed`` which
        article ids were added, changed or removed.

    Raises:
        ArticlesNotFound: the articles path does not exist, or nothing in it could be read while the index
            holds articles (an unreadable folder never empties an index).
        IndexLocked: another process is updating this index.
        IndexWriteError: no space left (or another write error), or the update would drop articles whose files
            are still there (a bug, refused); nothing of the failed update remains.
    """
    started = time.perf_counter()
    settings = settings or DEFAULT_SETTINGS
    root = Path(index_dir)
    articles_root = Path(articles_path)
    sources = fingerprint(articles_root)  # raises ArticlesNotFound before anything is created
    base = articles_root if articles_root.is_dir() else articles_root.parent
    # The folder's identity is where it resolves to: "a", "$PWD/a", "a/" and a link to it are one folder (file
    # keys are relative to it, so they agree whatever the spelling; sources keep the spelling the user gave).
    folder = str(articles_root.resolve())
    try:
        store.private_dir(root)
    except OSError as exc:
        raise IndexWriteError(f"cannot create the index folder {str(root)!r} ({exc.strerror or exc})") from None
    _retire_old_format(root)
    with SegmentedIndex.open(root) as writer:
        previous: Index | None = None
        with contextlib.suppress(IndexNotFound, IndexCorrupt):
            previous = _open_locked(root, writer.searcher)
        meta = dict(writer.searcher.metadata)
        compatible = previous is not None and (
            writer.searcher.settings == settings
            and meta.get("titles") == titles
            and _same_folder(meta.get("articles_path"), folder)
        )
        # A rebuild still knows the previous state: every article of it dies (and is read again from its file).
        plan = _plan(previous, sources, full or not compatible)
        if previous is not None and not plan.full and not plan.read and not plan.dead:
            previous.changed = Changes()  # nothing changed since the last update (its record says what that did)
            return previous
        if progress:
            progress("reading articles", 0, 0)
        articles, report = ingest(articles_root, only=plan.read)
        new, staying = _admit(articles, previous, plan, base)
        _check_nothing_lost(previous, plan, articles, new, staying, sources)
        emptied = previous is not None and previous.article_count and not new and plan.dead >= set(previous.store.live)
        if emptied and report.skipped_count:
            # Every file is unreadable: keep serving what we had rather than an empty index.
            reasons = "; ".join(str(s) for s in report.skipped[:3])
            raise ArticlesNotFound(f"no article could be read from {str(articles_path)!r} ({reasons})")
        if plan.full or "splitter" not in meta:
            splitter = SentenceSplitter(a.article.text for a in new)
        else:
            splitter = SentenceSplitter.from_parameters(_read_json(root, meta["splitter"], "sentence splitter"))
        try:
            meta = _write(
                writer, root, meta, new, plan, report, sources, splitter, settings, titles, folder,
                previous, progress, workers, started,
            )
        except OSError as exc:
            # Nothing of a failed update may stay: a full disk must not fill up further with each retry.
            writer.clean()
            _clean(root, writer.searcher.metadata)
            needed = sum(len(a.article.text) * 3 for a in new) + 1_000_000
            if exc.errno in store.NO_SPACE:
                raise IndexWriteError(f"no space left on the index disk ({_mb(needed)} MB needed)") from None
            raise IndexWriteError(f"cannot write the index in {str(root)!r} ({exc.strerror or exc})") from None
        _clean(root, meta)
        result = _open_state(root, writer.searcher, previous.store.batches if previous else ())
    return result


def _same_folder(stored: object, folder: str) -> bool:
    """Whether the articles root an index names is ``folder`` (resolved). Indexes before issue 15 stored the
    path as spelled, perhaps relative: it still counts when it resolves to the same place."""
    if not isinstance(stored, str) or not stored:
        return False
    return stored == folder or str(Path(stored).resolve()) == folder


def _admit(
    articles: list[Article], previous: Index | None, plan: _Plan, base: Path
) -> tuple[list[NewArticle], dict[str, int]]:
    """The articles read, less exact duplicates of articles that stay, with unique ids and first-seen times; and
    the staying articles' numbers by digest (what the left-out duplicates are copies of).

    An article keeps the time it first entered the index through corrections and rebuilds (by its id), so a
    briefing of "what is new" never offers an old story again.
    """
    if not articles:
        return [], {}  # only deletions: nothing to compare with the articles that stay
    now = dt.datetime.now(dt.UTC).isoformat()
    staying: dict[str, int] = {}
    ids: dict[str, int] = {}
    first_seen: dict[str, str] = {}
    if previous is not None:
        # One pass per batch over the stored fields: at a million passages a lookup per article took a second.
        for number, article_id, digest, seen in previous.catalog():
            if number in plan.dead:
                first_seen[article_id] = seen
                continue
            staying[digest] = number
            ids[article_id] = number
    digests = set(staying)
    out = []
    for article in articles:
        digest = _digest(article.text)
        if digest in digests:
            continue  # the same text as an article that stays (another copy of a wire story, say)
        digests.add(digest)
        if article.id in ids:
            article = Article(
                id=f"{article.id}-{digest[:8]}",
                title=article.title,
                text=article.text,
                date=article.date,
                url=article.url,
                source=article.source,
            )
        ids[article.id] = -1
        out.append(
            NewArticle(
                article=article,
                file=_relative(article.source, base),
                digest=digest,
                first_seen=first_seen.get(article.id, now),
                sentences=np.zeros((0, 2), dtype=np.int64),
            )
        )
    return out, staying


def _check_nothing_lost(
    previous: Index | None,
    plan: _Plan,
    articles: Sequence[Article],
    new: Sequence[NewArticle],
    staying: dict[str, int],
    sources: dict[str, list[int]],
) -> None:
    """Refuse an update that would commit the loss of articles whose files are still there.

    What the commit keeps is judged the way ``_write`` commits it (a full plan keeps only the new articles), not
    the way the plan was made, so a plan that disagrees with itself (as the one that emptied an index whose
    folder was spelled differently did, issue 15) is caught before anything is written.

    Raises:
        IndexWriteError: an article read from a file, or one of an unchanged file that was not read, would be
            missing from the committed state.
    """
    if previous is None:
        return
    kept = set() if plan.full else set(previous.store.live.tolist()) - plan.dead
    added = {item.digest for item in new}
    lost: list[str] = []
    for article in articles:  # every article read must be new, or a copy of one that stays
        digest = _digest(article.text)
        if digest not in added and staying.get(digest, -1) not in kept:
            lost.append(article.source)
    if not plan.full and plan.read is not None:
        then = previous.info.sources
        for path, numbers in previous.info.files.items():  # unchanged files that were not read keep theirs
            unchanged = path in sources and tuple(sources[path]) == tuple(then.get(path, ()))
            if unchanged and path not in plan.read:
                lost.extend(path for n in numbers if n not in kept)
    if lost:
        raise IndexWriteError(
            f"this update would drop {plural(len(lost), 'article')} whose files are still there (such as {lost[0]!r}); "
            "nothing was written. This is a bug in newsbot: please report it"
        )


def _write(
    writer: SegmentedIndex,
    root: Path,
    meta: dict[str, Any],
    new: list[NewArticle],
    plan: _Plan,
    report: IngestReport,
    sources: dict[str, list[int]],
    splitter: SentenceSplitter,
    settings: Settings,
    titles: bool,
    folder: str,
    previous: Index | None,
    progress: Progress | None,
    workers: int | None,
    started: float,
) -> dict[str, Any]:
    """Analyse, write the batch and segments, and commit; returns the committed metadata."""
    needed = sum(len(a.article.text) * 3 for a in new) + 1_000_000  # text, sentences and postings, roughly
    free = shutil.disk_usage(root).free
    if free < needed:
        raise IndexWriteError(f"no space left on the index disk ({_mb(needed)} MB needed, {_mb(free)} MB free)")
    first = 0 if plan.full else int(meta.get("next_article", 0))
    numbers = list(range(first, first + len(new)))
    total = len(new)

    def analysed_progress(done: int) -> None:
        if progress:
            progress("indexing", done, total)

    pairs = [(a.article.title, a.article.text) for a in new]
    infos: list[SegmentInfo] = []
    documents: list[list[str]] = []
    canonical: dict[str, str] = {}
    rows: list[tuple[int, int, int, int, int]] = []
    stored: list[NewArticle] = []
    for item, number, result in zip(
        new, numbers, analyse(pairs, splitter, titles=titles, workers=workers, progress=analysed_progress),
        strict=True,
    ):
        stored.append(
            NewArticle(
                article=item.article,
                file=item.file,
                digest=item.digest,
                first_seen=item.first_seen,
                sentences=result.sentences,
            )
        )
        for (start, end, first_sentence, count), terms in zip(result.passages, result.terms, strict=True):
            rows.append((number, start, end, first_sentence, count))
            split = terms.split()
            # One object per distinct term, not per occurrence: 8 bytes a token instead of ~60 (a 16 MB article
            # held 130 MB of token strings), and the hash of a shared string is computed once.
            documents.append(list(map(canonical.setdefault, split, split)))
        if len(documents) >= SEGMENT_PASSAGES:
            infos.append(_segment(root, documents, rows))
            documents, rows = [], []
    if documents:
        infos.append(_segment(root, documents, rows))
    if progress:
        progress("saving", 0, 1)
    batches = [] if plan.full else [list(b) for b in meta.get("batches", [])]
    if stored:
        batches.append(list(write_batch(root, stored, numbers)))
    files: dict[str, list[int]] = {}
    if previous is not None and not plan.full:
        for path, kept_numbers in previous.info.files.items():
            alive = [n for n in kept_numbers if n not in plan.dead]
            if alive and path in sources:
                files[path] = alive
    for item, number in zip(stored, numbers, strict=True):
        files.setdefault(item.file, []).append(number)
    changed = _changes(previous, plan, stored)
    record = {
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "build_seconds": round(time.perf_counter() - started, 3),
        "sources": sources,
        "files": files,
        "report": store.report_record(report),
        "changed": {"added": list(changed.added), "changed": list(changed.changed), "removed": list(changed.removed)},
    }
    info = _write_json(root, "info", record)
    new_meta: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "analyzer": ANALYZER_VERSION,
        "titles": titles,
        "articles_path": folder,
        "batches": batches,
        "info": info,
        "next_article": first + len(new),
    }
    if plan.full or "splitter" not in meta:
        new_meta["splitter"] = _write_json(root, "splitter", splitter.parameters())
    else:
        new_meta["splitter"] = meta["splitter"]
    if plan.full:
        writer.replace_all(infos, settings=settings, metadata=new_meta)
    elif infos:
        writer.add_segments(infos, delete_where=(0, sorted(plan.dead)), metadata=new_meta)
    else:
        writer.delete_where(0, sorted(plan.dead), metadata=new_meta)
    if progress:
        progress("saving", 1, 1)
    return new_meta


def _segment(root: Path, documents: list[list[str]], rows: list[tuple[int, ...]]) -> SegmentInfo:
    return write_segment(root, documents, rows=np.asarray(rows, dtype=np.int64).reshape(-1, ROW_WIDTH))


def _changes(previous: Index | None, plan: _Plan, stored: Sequence[NewArticle]) -> Changes:
    before = {previous.store.field(n, "id") for n in plan.dead} if previous is not None else set()
    after = {item.article.id for item in stored}
    return Changes(
        added=tuple(sorted(after - before)),
        changed=tuple(sorted(after & before)),
        removed=tuple(sorted(before - after)),
    )


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


def build(
    path: str | os.PathLike[str],
    *,
    settings: Settings | None = None,
    progress: Progress | None = None,
    titles: bool = True,
    workers: int | None = None,
) -> Index:
    """Build an index of the articles under ``path`` in a temporary directory (for one-off use and tests).

    The index's files live as long as the process (they are memory-mapped); ``update`` keeps an index instead.

    Raises:
        ArticlesNotFound: the path does not exist or yields no article.
    """
    import atexit
    import tempfile

    folder = tempfile.mkdtemp(prefix="newsbot-index-")
    atexit.register(shutil.rmtree, folder, True)
    idx = update(folder, path, full=True, settings=settings, titles=titles, progress=progress, workers=workers)
    if idx.article_count == 0:
        reasons = "; ".join(str(s) for s in idx.report.skipped[:3])
        raise ArticlesNotFound(f"no article could be read from {str(path)!r}" + (f" ({reasons})" if reasons else ""))
    return idx


def open_or_build(
    index_dir: str | os.PathLike[str], articles_path: str | os.PathLike[str], *, progress: Progress | None = None
) -> tuple[Index, bool]:
    """Load the index in ``index_dir``, or build it from ``articles_path`` and save it there when there is none.

    Returns:
        ``(index, built)``: ``built`` is True when a new index was made.

    Raises:
        IndexCorrupt: an index exists but cannot be read (it is not silently replaced).
        ArticlesNotFound: there was no index and the articles cannot be read.
    """
    try:
        return load(index_dir), False
    except IndexNotFound:
        return update(index_dir, articles_path, progress=progress), True


def compare(previous: Index | None, current: Index) -> Changes:
    """Which article ids ``current``'s update added, changed or removed (``current.changed``)."""
    del previous  # kept for callers that pass it; the update records what it changed
    return current.changed
