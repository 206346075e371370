"""Exceptions raised by the index package.

One root, a few specific subclasses, so callers can catch as broadly or narrowly as they need::

    NewsbotError
    ├── ArticlesNotFound      the articles path does not exist or holds no readable article
    ├── IndexNotFound         there is no index at the given directory
    ├── IndexCorrupt          an index exists but cannot be read (damaged, or written by another format version)
    ├── IndexWriteError       an index cannot be saved (no space left, no permission); the old one stays
    ├── IndexLocked           (index.segments) another process is updating the index
    ├── ArchiveUnavailable    a search cluster (OpenSearch) cannot be reached or fails; try again shortly
    ├── ModelUnavailable      (index.embedding) the embedding model cannot be loaded here
    └── InvalidOption         a parameter outside what is accepted (the message lists what is)

"No answer" is a normal result (``Answer.answered is False``), never an exception.
"""

from __future__ import annotations

__all__ = [
    "ArchiveUnavailable",
    "ArticlesNotFound",
    "IndexCorrupt",
    "IndexNotFound",
    "IndexWriteError",
    "InvalidOption",
    "NewsbotError",
]


class NewsbotError(Exception):
    """Root of every error the index package raises on purpose."""


class ArticlesNotFound(NewsbotError):
    """The articles path is missing, or nothing in it could be ingested."""


class IndexNotFound(NewsbotError):
    """No index has been built at this directory yet."""


class IndexCorrupt(NewsbotError):
    """The index directory exists but cannot be loaded; rebuilding fixes it."""


class IndexWriteError(NewsbotError):
    """The index could not be saved; nothing of the failed save is left, and the previous index still loads."""


class ArchiveUnavailable(NewsbotError):
    """The search cluster holding the archive cannot be reached, timed out or failed; the message is one line."""


class InvalidOption(NewsbotError, ValueError):
    """A parameter is outside the accepted values; the message says which are accepted."""
