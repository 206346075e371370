"""Which archive the CLI and the bot search: the local index, or the archive on an OpenSearch cluster.

``SEARCH_BACKEND`` chooses (bot/config.py). ``open_or_build``, ``update`` and ``maintain`` do for either
engine what the CLI and the bot's library need; ``open_cluster_archive`` opens the cluster's committed archive;
``copy_local_archive`` copies the local index in ``INDEX_DIR`` into the cluster (``newsbot backend copy``) without
reading article files. Both raise index's errors (``ArchiveUnavailable``, ``IndexNotFound``, ...), one line
each, which the CLI prints and the bot turns into an admin notice and a soft reply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import index
from bot.config import Settings
from index.backend import Archive
from index.core import Progress, update_archive
from index.errors import IndexNotFound, InvalidOption
from index.ingest import fingerprint
from index.opensearch import (
    ClusterConfig,
    OpenSearchArchive,
    OpenSearchWriter,
    connect,
    copy_index,
    open_archive,
    schema,
)

__all__ = [
    "UNREACHABLE",
    "Copied",
    "cluster_of",
    "copy_local_archive",
    "describe",
    "load",
    "maintain",
    "open_cluster_archive",
    "open_or_build",
    "update",
    "where",
]

UNREACHABLE = "The archive is unreachable, try again shortly."  # what a user is told when the cluster fails


def cluster_of(settings: Settings) -> ClusterConfig:
    """The cluster the settings name. Raises InvalidOption when SEARCH_BACKEND is not opensearch."""
    if settings.opensearch is None:
        raise InvalidOption("no OpenSearch cluster is configured; set SEARCH_BACKEND=opensearch and OPENSEARCH_URL")
    return settings.opensearch


def open_cluster_archive(settings: Settings) -> OpenSearchArchive:
    """The committed archive on the configured cluster."""
    return open_archive(cluster_of(settings))


@dataclass(frozen=True, slots=True)
class Copied:
    """What ``copy_local_archive`` did."""

    archive: OpenSearchArchive
    seconds: float
    where: str


def copy_local_archive(settings: Settings, progress: Callable[[int, int], None] | None = None) -> Copied:
    """Copy the index in ``settings.index_dir`` into the configured cluster as a full build (alias swapped)."""
    config = cluster_of(settings)
    started = time.perf_counter()
    local = index.load(settings.index_dir)
    with OpenSearchWriter(connect(config), config) as writer:
        archive = copy_index(local, writer, progress=progress)
    return Copied(archive=archive, seconds=time.perf_counter() - started, where=where(settings))


def where(settings: Settings) -> str:
    """Where the archive SEARCH_BACKEND names lives, for messages (never with a password)."""
    if settings.search_backend != "opensearch":
        return str(settings.index_dir)
    config = cluster_of(settings)
    return f"{schema.alias(config.prefix)} at {config.where}"


def describe(archive: OpenSearchArchive) -> str:
    """One line on a cluster's archive: its size, generation and when it was built."""
    return (
        f"{archive.alias}: {index.plural(archive.article_count, 'article')}, {index.plural(len(archive), 'passage')}, "
        f"generation {archive.generation}, built {archive.built_at:%Y-%m-%d %H:%M} UTC"
    )


def load(settings: Settings) -> Archive:
    """The committed archive SEARCH_BACKEND names (``IndexNotFound`` when there is none)."""
    if settings.search_backend != "opensearch":
        return index.load(settings.index_dir)
    return open_cluster_archive(settings)


def open_or_build(settings: Settings, progress: Progress | None = None) -> tuple[Archive, bool]:
    """The archive SEARCH_BACKEND names, built from the articles folder when there is none; ``(archive, built)``."""
    if settings.search_backend != "opensearch":
        return index.open_or_build(settings.index_dir, settings.articles_dir, progress=progress)
    try:
        return open_cluster_archive(settings), False
    except IndexNotFound:
        return update(settings, progress=progress), True


def update(settings: Settings, *, full: bool = False, progress: Progress | None = None) -> Archive:
    """Bring the archive SEARCH_BACKEND names up to date with the articles folder: the one recipe,
    ``index.core.update_archive``, through the engine's writer (``newsbot index``, /reindex, feeds)."""
    if settings.search_backend != "opensearch":
        return index.update(settings.index_dir, settings.articles_dir, full=full, progress=progress)
    config = cluster_of(settings)
    sources = fingerprint(settings.articles_dir)  # ArticlesNotFound before the cluster is touched
    with OpenSearchWriter(connect(config), config) as writer:
        return update_archive(writer, settings.articles_dir, full=full, progress=progress, sources=sources)


def maintain(settings: Settings) -> Archive | None:
    """Merge the local index's segments when its policy asks (``index.maintain``); a cluster merges on its own."""
    if settings.search_backend != "opensearch":
        return index.maintain(settings.index_dir)
    return None
