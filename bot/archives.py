"""Which archive the CLI and the bot search: the local index, or the archive on an OpenSearch cluster.

``SEARCH_BACKEND`` chooses (bot/config.py). ``open_cluster_archive`` opens the cluster's committed archive;
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
from index.errors import InvalidOption
from index.opensearch import ClusterConfig, OpenSearchArchive, OpenSearchWriter, connect, copy_index, open_archive

__all__ = ["UNREACHABLE", "Copied", "cluster_of", "copy_local_archive", "open_cluster_archive"]

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
    return Copied(archive=archive, seconds=time.perf_counter() - started, where=f"{archive.alias} at {config.where}")
