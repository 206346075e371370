"""On-disk index format: a directory that is replaced atomically and read without pickle.

Layout of ``INDEX_DIR``::

    CURRENT                 name of the generation being served (replaced with os.replace)
    gen-<time>-<pid>/       one complete build
        meta.json           format version, analyzer and BM25 settings, sources, counts, file sizes
        articles.jsonl      id, title, date, url, source and text of every article
        passages.npy        int64 (P, 4): article number, start, end, first sentence
        sentences.npy       int64 (S, 2): start, end
        vocabulary.json     terms in id order
        offsets.npy docs.npy weights.npy base.npy   BM25 postings (see index.bm25.Postings)

A build writes a new generation next to the old one and only then points ``CURRENT`` at it, so a crash or
kill at any moment leaves the previous index loadable. Stale generations are removed by the next save.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .errors import IndexCorrupt, IndexNotFound
from .model import IngestReport, Skipped

__all__ = ["FORMAT_VERSION", "read_generation", "write_generation"]

FORMAT_VERSION = 1
_ARRAYS = ("passages", "sentences", "offsets", "docs", "weights", "base")
_REBUILD = "rebuild it with `newsbot index`"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_file(path: Path, write: Callable[[Any], None], mode: str = "w") -> None:
    with open(path, mode, encoding=None if "b" in mode else "utf-8") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


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
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = f"gen-{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    gen = root / name
    gen.mkdir()
    steps = len(_ARRAYS) + 3
    step = 0

    def advance() -> None:
        nonlocal step
        step += 1
        if progress:
            progress("saving", step, steps)

    def write_articles(handle: Any) -> None:
        for record in articles:
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")

    _write_file(gen / "articles.jsonl", write_articles)
    advance()
    _write_file(gen / "vocabulary.json", lambda h: json.dump(vocabulary, h, ensure_ascii=False))
    advance()
    for key in _ARRAYS:
        _write_file(gen / f"{key}.npy", lambda h, key=key: np.save(h, arrays[key], allow_pickle=False), "wb")
        advance()
    meta = {**meta, "format": FORMAT_VERSION, "sizes": {p.name: p.stat().st_size for p in gen.iterdir()}}
    _write_file(gen / "meta.json", lambda h: json.dump(meta, h, indent=1, ensure_ascii=False))
    _fsync_dir(gen)
    tmp = root / f"CURRENT.{os.getpid()}.tmp"
    _write_file(tmp, lambda h: h.write(name + "\n"))
    os.replace(tmp, root / "CURRENT")
    _fsync_dir(root)
    advance()
    for old in root.iterdir():
        if old.name.startswith("gen-") and old.name != name:
            shutil.rmtree(old, ignore_errors=True)
        elif old.name.startswith("CURRENT.") and old.name.endswith(".tmp"):
            old.unlink(missing_ok=True)
    return gen


def read_generation(
    root: str | os.PathLike[str],
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, np.ndarray], list[str]]:
    """Read the current generation: meta, article records, arrays (memory-mapped) and vocabulary.

    Raises:
        IndexNotFound: no index was ever saved under ``root``.
        IndexCorrupt: it exists but is damaged or of another format version (the message says how to rebuild).
    """
    root = Path(root)
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexNotFound(f"no index at {str(root)!r}; build one with `newsbot index`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is unreadable ({exc}); {_REBUILD}") from None
    gen = root / name
    try:
        meta = json.loads((gen / "meta.json").read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
            found = meta.get("format") if isinstance(meta, dict) else None
            raise IndexCorrupt(
                f"index at {str(root)!r} has format {found!r}, this newsbot reads format {FORMAT_VERSION}; {_REBUILD}"
            )
        for file, size in meta["sizes"].items():
            if (gen / file).stat().st_size != size:
                raise IndexCorrupt(f"index file {file} at {str(root)!r} is truncated or changed; {_REBUILD}")
        arrays = {key: np.load(gen / f"{key}.npy", mmap_mode="r", allow_pickle=False) for key in _ARRAYS}
        vocabulary = json.loads((gen / "vocabulary.json").read_text(encoding="utf-8"))
        with open(gen / "articles.jsonl", encoding="utf-8") as handle:
            articles = [json.loads(line) for line in handle]
    except IndexCorrupt:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexCorrupt(f"index at {str(root)!r} is damaged ({exc.__class__.__name__}); {_REBUILD}") from None
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


def article_record(article: Any) -> dict[str, Any]:
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
