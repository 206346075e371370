"""Records as JSON, and the few file-system rules every writer of the index follows.

The one serialiser pair of each record that is saved or printed: ``Article`` (``article_record`` /
``article_from_record``) and ``IngestReport`` (``report_record`` / ``report_from_record``). The index's own files
are written by ``index.segments`` (postings), ``index.articles`` (texts) and ``index.local`` (build information),
all with the helpers here: synced to disk, readable by their owner only, checksummed (xxh3) and replaced
atomically; their folder is readable by its owner only (``private_dir``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from .dates import parse_date
from .model import Article, IngestReport, Skipped

__all__ = [
    "NO_SPACE",
    "DurableFile",
    "article_from_record",
    "article_record",
    "checksum",
    "fsync_dir",
    "npy_bytes",
    "private_dir",
    "report_from_record",
    "report_record",
    "write_durably",
]

# errno values that mean the disk is full: the message then says so and how much was needed.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def checksum(data: bytes | memoryview) -> str:
    """The xxh3 checksum every index file is verified by at load (fast enough to check a million passages)."""
    return xxhash.xxh3_64_hexdigest(data)


def npy_bytes(array: np.ndarray) -> bytes:
    """``array`` as the bytes of a ``.npy`` file (never pickled)."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_durably(path: Path, data: bytes, *, exclusive: bool = True) -> None:
    """Write ``data`` to a new file readable by its owner only and sync it to disk (``exclusive``: the file must
    not exist; otherwise a leftover of an interrupted write is replaced)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


class DurableFile:
    """A new file written in pieces (so a large one is never whole in memory), readable by its owner only, synced
    to disk when closed; ``close`` returns its xxh3 checksum (the same as ``checksum`` of its whole content)."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(fd, "wb")
        self._hash = xxhash.xxh3_64()
        self.size = 0

    def write(self, data: bytes | memoryview) -> None:
        """Append ``data``."""
        self._handle.write(data)
        self._hash.update(data)
        self.size += len(data)

    def close(self) -> str:
        """Sync and close the file; its checksum."""
        if not self._handle.closed:
            self._handle.flush()
            os.fsync(self._handle.fileno())
            self._handle.close()
        return self._hash.hexdigest()

    def __enter__(self) -> DurableFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()


def fsync_dir(path: Path) -> None:
    """Sync a directory, so the names just written in it survive a crash."""
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
