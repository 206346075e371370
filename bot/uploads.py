"""Files that enter the articles folder from outside: admins' uploads, fetched pages and channel posts.

Uploads get safe names, a check that they hold articles, and an exclusive save. Articles that come from the
network or from Telegram (``save_article``) are written as one JSON record each under a folder of their own
(``feeds/<id>/``, ``pages/``, ``channels/<chat>/``), so a full rebuild reproduces the index without the network.

Telegram-free file work. An upload's name keeps only a plain, readable stem and one of the suffixes that ingestion
reads; a stem with nothing readable left (``новости.txt``) becomes a stable hash. A save writes a temporary file created
exclusively (``tempfile.mkstemp``: ``O_EXCL``, no links followed), then links it to its final name, which fails
rather than overwrite anything that appeared meanwhile; existing names, links included, are never written
through. A process killed mid-save leaves only a hidden ``.newsbot-upload-*.part`` that the next start removes.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import stat
import tempfile
import unicodedata
from pathlib import Path
from typing import Literal, NamedTuple

import index
from index.ingest import SUPPORTED_SUFFIXES

__all__ = [
    "MAX_NAME",
    "PARTIAL_PREFIX",
    "Saved",
    "check_upload",
    "remove_older_than",
    "remove_partial_uploads",
    "safe_name",
    "save_article",
    "store_upload",
]

MAX_NAME = 120
PARTIAL_PREFIX = ".newsbot-upload-"


def _split(name: str) -> tuple[str, str]:
    lower = name.lower()
    suffix = next((s for s in sorted(SUPPORTED_SUFFIXES, key=len, reverse=True) if lower.endswith(s)), "")
    return name[: len(name) - len(suffix)], suffix


def safe_name(name: str | None) -> str | None:
    """A plain file name for an uploaded document, or None when its type is not one ingestion reads.

    No folders, no leading dots, ASCII letters, digits, ``.``, ``_`` and ``-`` only, at most ``MAX_NAME``
    characters with the suffix kept; a stem with nothing readable left becomes ``upload-<hash>``.
    """
    if not name:
        return None
    base = re.split(r"[\\/]", name)[-1]
    stem, suffix = _split(base)
    if not suffix or not stem.strip(" ."):
        return None
    plain = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", plain).strip("._-")
    if not re.search(r"[A-Za-z0-9]", plain):
        plain = "upload-" + hashlib.sha1(stem.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return plain[: MAX_NAME - len(suffix)] + suffix


def check_upload(name: str, data: bytes) -> tuple[list[index.Article], str]:
    """The articles an upload holds, ingested from a private temporary copy, and why there are none if so."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, name)
        path.write_bytes(data)
        articles, report = index.ingest(path)
    reason = str(report.skipped[0]).split(": ", 1)[1] if report.skipped else "it holds no article"
    return articles, reason


def _holds(path: Path, data: bytes) -> bool:
    """Whether ``path`` is a regular file (not a link) with exactly ``data``."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode) or info.st_size != len(data):
        return False
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as handle:
        return handle.read() == data


def store_upload(folder: Path, name: str, data: bytes) -> Path | None:
    """Save ``data`` as ``folder/name``, or ``name-1``, ``name-2``... if taken; None when that file is already there.

    Never overwrites anything and never writes through a link (see the module docstring).
    """
    folder.mkdir(parents=True, exist_ok=True)
    stem, suffix = _split(name)
    fd, partial = tempfile.mkstemp(dir=folder, prefix=PARTIAL_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        for n in range(10_000):
            candidate = folder / (name if n == 0 else f"{stem}-{n}{suffix}")
            if os.path.lexists(candidate):
                if _holds(candidate, data):
                    return None
                continue
            try:
                os.link(partial, candidate)  # unlike a rename, fails if the name appeared meanwhile
            except FileExistsError:
                continue
            return candidate
        raise index.InvalidOption(f"too many files named like {name!r} in {folder}")
    finally:
        os.unlink(partial)


def remove_partial_uploads(folder: Path) -> list[Path]:
    """Remove the hidden partial files that a killed save leaves behind (also older ``.NAME.part`` ones)."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(".") and entry.name.endswith(".part") and not entry.is_dir():
            entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


class Saved(NamedTuple):
    """Where ``save_article`` put an article, and what it did: ``"added"``, ``"replaced"`` or ``"unchanged"``."""

    path: Path
    outcome: Literal["added", "replaced", "unchanged"]


def save_article(folder: Path, subfolder: str, article: index.Article, *, fetched: dt.datetime) -> Saved:
    """Write ``article`` as ``folder/subfolder/<id>.json``, replacing an earlier version of the same article.

    The same article already there (only the fetch time differs) is left as it is, so the index sees no change
    and the record keeps the time it was first fetched. Written to an exclusive temporary file and renamed into
    place, so a reader never sees half a record; the file's name comes from the article id's safe form, never
    from the network.
    """
    target_dir = folder / subfolder
    target_dir.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", article.id).strip("._-")[:100]
    stem = stem or hashlib.sha1(article.id.encode()).hexdigest()
    target = target_dir / f"{stem}.json"
    record = {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "date": article.date.isoformat() if article.date else None,
        "url": article.url,
        "source": article.source,
        "fetched": fetched.astimezone(dt.UTC).isoformat(timespec="seconds"),
    }
    existing = _record(target)
    if existing is not None and {**existing, "fetched": record["fetched"]} == record:
        return Saved(target, "unchanged")
    fd, partial = tempfile.mkstemp(dir=target_dir, prefix=PARTIAL_PREFIX, suffix=".part")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(record, handle, ensure_ascii=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)  # replaces the name itself, never a file a link points to
        return Saved(target, "added" if existing is None else "replaced")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(partial)
        raise


def _record(path: Path) -> dict | None:
    """The JSON object in a regular file (never through a link), or None when there is none to read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        try:
            record = json.loads(handle.read())
        except (ValueError, OSError):
            return {}  # something unreadable is there: replaced
    return record if isinstance(record, dict) else {}


def remove_older_than(folder: Path, subfolders: tuple[str, ...], cutoff: dt.datetime) -> list[Path]:
    """Remove saved articles (``save_article``'s) fetched before ``cutoff``, for the retention setting."""
    removed = []
    for sub in subfolders:
        for path in sorted((folder / sub).rglob("*.json")) if (folder / sub).is_dir() else []:
            try:
                fetched = dt.datetime.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["fetched"])
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not one of ours, or damaged: leave it to the reader's report
            if fetched < cutoff:
                path.unlink(missing_ok=True)
                removed.append(path)
    return removed

