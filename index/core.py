"""The update recipe: bring an archive up to date with a folder of article files, whatever engine keeps it.

``update_archive`` is the one build recipe, written against the seam of ``index.backend`` (an ``ArchiveWriter``
and the ``Archive`` it built on), so the local engine and a cluster run it unchanged. It reads only the article
files added, changed or removed since the last build (their sizes and times are kept), streams the new
articles' analysed passages into the writer, and commits them with the deletion of the passages of replaced or
removed articles as one ``Commit``; ``full=True`` (and any change of analyzer, settings or articles root, which is
known by its resolved path however it is spelled) rebuilds from scratch, also in one commit. Before committing,
it checks that no article read, and none of a file left unread because unchanged, would be lost. The sentence
splitter trained by a full build is saved and reused for every later update, so old passages never change their
boundaries. ``update`` runs it on the local engine (``index.local``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from . import store
from .analysis import ANALYZER_VERSION
from .articles import NewArticle
from .backend import Archive, ArchiveWriter, Commit, PassageRow
from .bm25 import Settings
from .errors import ArticlesNotFound, IndexNotFound, IndexWriteError
from .ingest import fingerprint, ingest
from .local import Index, LocalWriter, load, maintain
from .model import Article, Changes, IngestReport, plural
from .pipeline import analyse
from .sentences import SentenceSplitter

__all__ = [
    "DEFAULT_SETTINGS",
    "Index",
    "Progress",
    "build",
    "fingerprint",
    "load",
    "maintain",
    "update",
    "update_archive",
]

Progress = Callable[[str, int, int], None]
"""Called as ``progress(stage, done, total)`` while building."""

# Chosen by measurement (bench/quality.py, README "Benchmarks"): BM25Plus has no IDF floor, and k1=0.9, b=0.4
# ranked best on both SciFact and SQuAD.
DEFAULT_SETTINGS = Settings(variant="plus", k1=0.9, b=0.4)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _live(previous: Archive) -> set[int]:
    """The live article numbers of a state (every number its files hold)."""
    return {n for numbers in previous.info.files.values() for n in numbers}


@dataclass(slots=True)
class _Plan:
    """What an update does: which files to read, which articles die, whether it starts over."""

    full: bool
    read: set[str] | None  # relative paths to read (None: every file)
    dead: set[int]  # article numbers replaced or removed


def _plan(previous: Archive | None, sources: dict[str, list[int]], full: bool) -> _Plan:
    if full or previous is None:
        dead = _live(previous) if previous is not None else set()
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


def update_archive(
    writer: ArchiveWriter,
    articles_path: str | os.PathLike[str],
    *,
    full: bool = False,
    settings: Settings | None = None,
    titles: bool = True,
    progress: Progress | None = None,
    workers: int | None = None,
    sources: dict[str, list[int]] | None = None,
) -> Archive:
    """Bring the archive ``writer`` writes up to date with ``articles_path``, in one commit (see ``update``).

    Args:
        writer: an open ``ArchiveWriter`` (inside its ``with`` block); what a failed update wrote is abandoned.
        articles_path: a folder (recursively) or one file of articles.
        full, settings, titles, progress, workers: as for ``update``.
        sources: ``fingerprint(articles_path)`` when the caller has already taken it.

    Returns:
        The new state, or the previous one (its ``changed`` emptied) when no file changed.

    Raises:
        ArticlesNotFound: the articles path does not exist, or nothing in it could be read while the archive
            holds articles.
        IndexWriteError: the engine cannot write, or the update would drop articles whose files are still there.
    """
    started = time.perf_counter()
    settings = settings or DEFAULT_SETTINGS
    articles_root = Path(articles_path)
    if sources is None:
        sources = fingerprint(articles_root)
    base = articles_root if articles_root.is_dir() else articles_root.parent
    # The folder's identity is where it resolves to: "a", "$PWD/a", "a/" and a link to it are one folder (file
    # keys are relative to it, so they agree whatever the spelling; sources keep the spelling the user gave).
    folder = str(articles_root.resolve())
    previous = writer.previous()
    meta = writer.metadata()
    compatible = previous is not None and (
        previous.settings == settings
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
    emptied = previous is not None and previous.article_count and not new and plan.dead >= _live(previous)
    if emptied and report.skipped_count:
        # Every file is unreadable: keep serving what we had rather than an empty archive.
        reasons = "; ".join(str(s) for s in report.skipped[:3])
        raise ArticlesNotFound(f"no article could be read from {str(articles_path)!r} ({reasons})")
    stored_splitter = None if plan.full else writer.splitter()
    if stored_splitter is None:
        splitter = SentenceSplitter(a.article.text for a in new)
    else:
        splitter = SentenceSplitter.from_parameters(stored_splitter)
    first = 0 if plan.full else int(meta.get("next_article", 0))
    numbers = list(range(first, first + len(new)))
    try:
        writer.reserve(new)
        stored = _analyse_into(writer, new, numbers, splitter, titles=titles, progress=progress, workers=workers)
        if progress:
            progress("saving", 0, 1)
        archive = writer.commit(
            Commit(
                full=plan.full,
                articles=stored,
                numbers=numbers,
                dead=frozenset(plan.dead),
                settings=settings,
                metadata={
                    "analyzer": ANALYZER_VERSION,
                    "titles": titles,
                    "articles_path": folder,
                    "next_article": first + len(new),
                },
                splitter=splitter.parameters() if stored_splitter is None else None,
                record=_record(previous, plan, stored, numbers, sources, report, started),
            )
        )
    except BaseException:
        writer.abandon()  # nothing of a failed update stays, whatever the engine (a full disk must not fill up)
        raise
    if progress:
        progress("saving", 1, 1)
    return archive


def _analyse_into(
    writer: ArchiveWriter,
    new: Sequence[NewArticle],
    numbers: Sequence[int],
    splitter: SentenceSplitter,
    *,
    titles: bool,
    progress: Progress | None,
    workers: int | None,
) -> list[NewArticle]:
    """Analyse the new articles, streaming each one's passages into ``writer``; the articles with their sentences."""
    total = len(new)

    def analysed_progress(done: int) -> None:
        if progress:
            progress("indexing", done, total)

    pairs = [(a.article.title, a.article.text) for a in new]
    canonical: dict[str, str] = {}
    stored: list[NewArticle] = []
    # An engine that takes terms counted (the local one) gets them counted by the analysis workers.
    add_counted = getattr(writer, "add_counted", None)
    results = analyse(
        pairs, splitter, titles=titles, workers=workers, progress=analysed_progress, counted=add_counted is not None
    )
    for item, number, result in zip(new, numbers, results, strict=True):
        stored.append(
            NewArticle(
                article=item.article,
                file=item.file,
                digest=item.digest,
                first_seen=item.first_seen,
                sentences=result.sentences,
            )
        )
        rows: list[PassageRow] = [(number, *passage) for passage in result.passages]
        if add_counted is not None and result.bag is not None:
            add_counted(rows, result.bag)
            continue
        documents: list[list[str]] = []
        for terms in result.terms:
            split = terms.split()
            # One object per distinct term, not per occurrence: 8 bytes a token instead of ~60 (a 16 MB article
            # held 130 MB of token strings), and the hash of a shared string is computed once.
            documents.append(list(map(canonical.setdefault, split, split)))
        writer.add_passages(rows, documents)
    return stored


def _record(
    previous: Archive | None,
    plan: _Plan,
    stored: Sequence[NewArticle],
    numbers: Sequence[int],
    sources: dict[str, list[int]],
    report: IngestReport,
    started: float,
) -> dict[str, object]:
    """The build information a commit keeps: when, how long, the files read and which articles each holds."""
    files: dict[str, list[int]] = {}
    if previous is not None and not plan.full:
        for path, kept_numbers in previous.info.files.items():
            alive = [n for n in kept_numbers if n not in plan.dead]
            if alive and path in sources:
                files[path] = alive
    for item, number in zip(stored, numbers, strict=True):
        files.setdefault(item.file, []).append(number)
    changed = _changes(previous, plan, stored)
    return {
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "build_seconds": round(time.perf_counter() - started, 3),
        "sources": sources,
        "files": files,
        "report": store.report_record(report),
        "changed": {"added": list(changed.added), "changed": list(changed.changed), "removed": list(changed.removed)},
    }


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
    """Bring the index in ``index_dir`` up to date with ``articles_path``: ``update_archive`` on the local engine.

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
    sources = fingerprint(articles_path)  # raises ArticlesNotFound before anything is created
    with LocalWriter(index_dir) as writer:
        result = update_archive(
            writer, articles_path, full=full, settings=settings, titles=titles, progress=progress, workers=workers,
            sources=sources,
        )
    return cast(Index, result)  # a LocalWriter's states are Indexes


def _same_folder(stored: object, folder: str) -> bool:
    """Whether the articles root an index names is ``folder`` (resolved). Indexes before issue 15 stored the
    path as spelled, perhaps relative: it still counts when it resolves to the same place."""
    if not isinstance(stored, str) or not stored:
        return False
    return stored == folder or str(Path(stored).resolve()) == folder


def _admit(
    articles: list[Article], previous: Archive | None, plan: _Plan, base: Path
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
    previous: Archive | None,
    plan: _Plan,
    articles: Sequence[Article],
    new: Sequence[NewArticle],
    staying: dict[str, int],
    sources: dict[str, list[int]],
) -> None:
    """Refuse an update that would commit the loss of articles whose files are still there.

    What the commit keeps is judged the way the commit keeps it (a full plan keeps only the new articles), not
    the way the plan was made, so a plan that disagrees with itself (as the one that emptied an index whose
    folder was spelled differently did, issue 15) is caught before anything is written.

    Raises:
        IndexWriteError: an article read from a file, or one of an unchanged file that was not read, would be
            missing from the committed state.
    """
    if previous is None:
        return
    kept = set() if plan.full else _live(previous) - plan.dead
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


def _changes(previous: Archive | None, plan: _Plan, stored: Sequence[NewArticle]) -> Changes:
    before = set()
    if previous is not None and plan.dead:
        before = {article_id for number, article_id, _, _ in previous.catalog() if number in plan.dead}
    after = {item.article.id for item in stored}
    return Changes(
        added=tuple(sorted(after - before)),
        changed=tuple(sorted(after & before)),
        removed=tuple(sorted(before - after)),
    )



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


def compare(previous: Archive | None, current: Index) -> Changes:
    """Which article ids ``current``'s update added, changed or removed (``current.changed``)."""
    del previous  # kept for callers that pass it; the update records what it changed
    return current.changed
