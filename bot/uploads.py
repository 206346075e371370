"""Files that admins upload as articles: safe names, a check that they hold articles, and an exclusive save.

Telegram-free file work. A name keeps only a plain, readable stem and one of the suffixes that ingestion reads;
a stem with nothing readable left (``новости.txt``) becomes a stable hash. A save writes a temporary file created
exclusively (``tempfile.mkstemp``: ``O_EXCL``, no links followed), then links it to its final name, which fails
rather than overwrite anything that appeared meanwhile; existing names, links included, are never written
through. A process killed mid-save leaves only a hidden ``.newsbot-upload-*.part`` that the next start removes.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import unicodedata
from pathlib import Path

import index
from index.ingest import SUPPORTED_SUFFIXES

__all__ = ["MAX_NAME", "PARTIAL_PREFIX", "check_upload", "remove_partial_uploads", "safe_name", "store_upload"]

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
