"""On-disk index format: a directory that is replaced atomically, read without pickle, and checked at load.

Layout of ``INDEX_DIR``::

    CURRENT                 name of the generation being served (replaced with os.replace)
    LOCK                    held by the one process writing a generation
    gen-<time>-<pid>/       one complete build
        meta.json           format version, analyzer and BM25 settings, sources, counts, sizes and checksums
        articles.jsonl      id, title, date, url, source and text of every article
        passages.npy        int64 (P, 4): article number, start, end, first sentence
        sentences.npy       int64 (S, 2): start, end
        vocabulary.json     terms in id order
        offsets.npy docs.npy weights.npy base.npy   BM25 postings (see index.bm25.Postings)

A build writes a new generation next to the old one and only then points ``CURRENT`` at it, so a crash or
kill at any moment leaves the previous index loadable. Generations that ``CURRENT`` does not name (left by a
crash) are removed before a new one is written, and a save that fails (a full disk) removes its own partial
generation at once, so failures never pile up. Every file's CRC-32 is recorded at save and verified at load, so
damage that keeps a file's size is found instead of changing answers. Everything is readable by its owner only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .bm25 import Settings
from .dates import parse_date
from .errors import IndexCorrupt, IndexNotFound, IndexWriteError
from .model import Article, BuildInfo, IngestReport, Skipped

__all__ = [
    "FORMAT_VERSION",
    "article_from_record",
    "article_record",
    "info_from_record",
    "info_record",
    "read_generation",
    "report_from_record",
    "report_record",
    "write_generation",
]

FORMAT_VERSION = 2
_ARRAYS = ("passages", "sentences", "offsets", "docs", "weights", "base")
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def private_dir(path: Path) -> None:
    """Create ``path`` (and its parents) readable by its owner only; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours to change (a shared parent): leave it
        if path.stat().st_mode & 0o077:
            path.chmod(0o700)


class _Checksummed:
    """A binary file opened for its owner only, whose CRC-32 is computed as it is written."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.crc = 0

    def write(self, data: bytes | memoryview) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return self.handle.write(data)


def _write_file(path: Path, write: Callable[[_Checksummed], None]) -> int:
    """Write a new file through ``write`` (fsynced, mode 0600) and return its CRC-32."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        out = _Checksummed(handle)
        write(out)
        handle.flush()
        os.fsync(handle.fileno())
    return out.crc


def _array_bytes(array: np.ndarray) -> memoryview:
    return memoryview(np.ascontiguousarray(array)).cast("B")


def _write_array(out: _Checksummed, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    header = np.lib.format.header_data_from_array_1_0(array)
    np.lib.format.write_array_header_1_0(out.handle, header)  # the header is checked by np.load, not the CRC
    out.write(_array_bytes(array))


@contextlib.contextmanager
def _writer_lock(root: Path) -> Iterator[None]:
    """One writer per index directory: another process's half-written generation is not stale to us."""
    fd = os.open(root / "LOCK", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _current_name(root: Path) -> str | None:
    try:
        return (root / "CURRENT").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def remove_stale(root: Path, keep: str | None = None) -> None:
    """Remove generations that ``CURRENT`` does not name (and ``keep``), and temporary pointer files."""
    current = _current_name(root)
    for entry in root.iterdir():
        if entry.name.startswith("gen-") and entry.name not in (current, keep):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.name.startswith("CURRENT.") and entry.name.endswith(".tmp"):
            entry.unlink(missing_ok=True)


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f}" if size < 10e6 else f"{size / 1e6:.0f}"


def write_generation(
    root: str | os.PathLike[str],
    *,
    meta: dict[str, Any],
    articles: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
    vocabulary: list[str],
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Write a complete generation under ``root`` and make it current.

    Returns:
        The generation's directory.

    Raises:
        IndexWriteError: the disk is full or not writable; the partial generation is already removed and the
            previous index is still current.
    """
    root = Path(root)
    try:
        private_dir(root)
    except OSError as exc:
        raise IndexWriteError(f"cannot create the index folder {str(root)!r} ({exc.strerror or exc})") from None
    # JSON of the texts is about their length in bytes; a little room for the rest.
    needed = sum(a.nbytes for a in arrays.values()) + sum(len(r["text"]) + 300 for r in articles)
    needed += sum(len(t) + 4 for t in vocabulary) + 1_000_000
    with _writer_lock(root):
        remove_stale(root)
        free = shutil.disk_usage(root).free
        if free < needed:
            raise IndexWriteError(f"no space left on the index disk ({_mb(needed)} MB needed, {_mb(free)} MB free)")
        name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        gen = root / name
        try:
            _write_generation(gen, meta, articles, arrays, vocabulary, progress)
            tmp = root / f"CURRENT.{os.getpid()}.tmp"
            _write_file(tmp, lambda h: h.write((name + "\n").encode()))
            os.replace(tmp, root / "CURRENT")
            _fsync_dir(root)
        except OSError as exc:
            shutil.rmtree(gen, ignore_errors=True)
            remove_stale(root)
            if exc.errno in _NO_SPACE:
                raise IndexWriteError(f"no space left on the index disk ({_mb(needed)} MB needed)") from None
            raise IndexWriteError(f"cannot write the index in {str(root)!r} ({exc.strerror or exc})") from None
        if progress:
            progress("saving", len(_ARRAYS) + 3, len(_ARRAYS) + 3)
        remove_stale(root)
    return gen


def _write_generation(
    gen: Path,
    meta: dict[str, Any],
    articles: list[dict[str, Any]],
    arrays: dict[str, np.ndarray],
    vocabulary: list[str],
    progress: Callable[[str, int, int], None] | None,
) -> None:
    gen.mkdir(mode=0o700)
    steps = len(_ARRAYS) + 3
    checksums: dict[str, int] = {}

    def advance(step: int) -> None:
        if progress:
            progress("saving", step, steps)

    def write_articles(out: _Checksummed) -> None:
        for record in articles:
            out.write(json.dumps(record, ensure_ascii=False).encode("utf-8") + b"\n")

    checksums["articles.jsonl"] = _write_file(gen / "articles.jsonl", write_articles)
    advance(1)
    checksums["vocabulary.json"] = _write_file(
        gen / "vocabulary.json", lambda out: out.write(json.dumps(vocabulary, ensure_ascii=False).encode("utf-8"))
    )
    advance(2)
    for step, key in enumerate(_ARRAYS, 3):
        checksums[f"{key}.npy"] = _write_file(gen / f"{key}.npy", lambda out, key=key: _write_array(out, arrays[key]))
        advance(step)
    meta = {
        **meta,
        "format": FORMAT_VERSION,
        "sizes": {p.name: p.stat().st_size for p in gen.iterdir()},
        "crc32": checksums,
    }
    _write_file(gen / "meta.json", lambda out: out.write(json.dumps(meta, indent=1, ensure_ascii=False).encode()))
    _fsync_dir(gen)


def _damaged(root: Path, file: str) -> IndexCorrupt:
    return IndexCorrupt(f"index file {file} at {str(root)!r} is damaged (checksum mismatch)")


def read_generation(
    root: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, np.ndarray], list[str]]:
    """Read the current generation: meta, article records, arrays (memory-mapped) and vocabulary, all verified.

    Raises:
        IndexNotFound: no index was ever saved under ``root``.
        IndexCorrupt: it exists but is damaged or of another format version (the message says how to rebuild).
    """
    root = Path(root)
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFound(f"no index at {str(root)!r}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is unreadable ({exc})") from None
    gen = root / name
    try:
        meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise IndexCorrupt(
                f"index at {str(root)!r} has format {found!r}, this newsbot reads format {FORMAT_VERSION}"
            )
        for file, size in meta["sizes"].items():
            if (gen / file).stat().st_size != size:
                raise IndexCorrupt(f"index file {file} at {str(root)!r} is truncated or changed")
        crc = meta["crc32"]
        arrays = {key: np.load(gen / f"{key}.npy", mmap_mode="r", allow_pickle=False) for key in _ARRAYS}
        for key, array in arrays.items():
            # Reading every page once here also warms the cache the first questions would otherwise wait on.
            if zlib.crc32(_array_bytes(array)) != crc[f"{key}.npy"]:
                raise _damaged(root, f"{key}.npy")
        raw = (gen / "vocabulary.json").read_bytes()
        if zlib.crc32(raw) != crc["vocabulary.json"]:
            raise _damaged(root, "vocabulary.json")
        vocabulary = json.loads(raw)
        raw = (gen / "articles.jsonl").read_bytes()
        if zlib.crc32(raw) != crc["articles.jsonl"]:
            raise _damaged(root, "articles.jsonl")
        articles = [json.loads(line) for line in raw.splitlines()]
        del raw
    except IndexCorrupt:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is damaged ({exc.__class__.__name__})") from None
    return meta, articles, arrays, vocabulary


def report_record(report: IngestReport) -> dict[str, Any]:
    """An IngestReport as a JSON-able dict (its samples are bounded, so this stays small)."""
    return {
        "loaded": report.loaded,
        "files": report.files,
        "skip_counts": dict(report.skip_counts),
        "skipped": [[s.source, s.reason, s.detail] for s in report.skipped],
        "duplicate_count": report.duplicate_count,
        "duplicates": [[s.source, s.reason, s.detail] for s in report.duplicates],
        "headlines": report.headlines,
        "decoded": [list(pair) for pair in report.decoded],
        "decoded_count": report.decoded_count,
    }


def report_from_record(record: dict[str, Any], *, loaded: int = 0) -> IngestReport:
    """The IngestReport saved by ``report_record``."""
    return IngestReport(
        loaded=record.get("loaded", loaded),
        files=record.get("files", 0),
        skipped=tuple(Skipped(*s) for s in record.get("skipped", [])),
        duplicates=tuple(Skipped(*s) for s in record.get("duplicates", [])),
        skip_counts=tuple(record.get("skip_counts", {}).items()),
        duplicate_count=record.get("duplicate_count", 0),
        headlines=record.get("headlines", 0),
        decoded=tuple((a, b) for a, b in record.get("decoded", [])),
        decoded_count=record.get("decoded_count", 0),
    )


def article_record(article: Article) -> dict[str, Any]:
    """An Article as a JSON-able dict."""
    date = article.date.isoformat() if isinstance(article.date, dt.datetime) else None
    return {
        "id": article.id,
        "title": article.title,
        "date": date,
        "url": article.url,
        "source": article.source,
        "text": article.text,
    }


def article_from_record(record: dict[str, Any]) -> Article:
    """The Article saved by ``article_record``."""
    return Article(
        id=record["id"],
        title=record["title"],
        text=record["text"],
        date=parse_date(record["date"]),
        url=record["url"],
        source=record.get("source", ""),
    )


def info_record(info: BuildInfo) -> dict[str, Any]:
    """A BuildInfo as a JSON-able dict (the generation's meta.json, before sizes and checksums are added)."""
    return {
        "analyzer": {
            "version": info.analyzer,
            "stopwords": "nltk-english",
            "stemmer": "snowball-english",
            "titles": info.titles,
        },
        "bm25": dataclasses.asdict(info.settings),
        "built_at": info.built_at.isoformat(),
        "build_seconds": info.build_seconds,
        "articles_path": info.articles_path,
        "sources": {path: list(stamp) for path, stamp in info.sources.items()},
        "digests": dict(info.digests),
        "first_seen": dict(info.first_seen),
        "report": report_record(info.report),
    }


def info_from_record(record: dict[str, Any]) -> BuildInfo:
    """The BuildInfo saved by ``info_record``.

    Raises:
        KeyError, TypeError, ValueError: the record is not one ``info_record`` wrote.
    """
    return BuildInfo(
        analyzer=int(record["analyzer"]["version"]),
        titles=bool(record["analyzer"]["titles"]),
        settings=Settings(**record["bm25"]),
        built_at=dt.datetime.fromisoformat(record["built_at"]),
        build_seconds=float(record["build_seconds"]),
        articles_path=str(record["articles_path"]),
        sources={path: (int(size), int(mtime)) for path, (size, mtime) in record["sources"].items()},
        digests=record["digests"],
        first_seen=record["first_seen"],
        report=report_from_record(record["report"]),
    )
