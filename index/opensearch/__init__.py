"""newsbot's archive on an OpenSearch cluster: the second engine behind the search-backend seam (issue 17).

- ``ClusterConfig``, ``connect``: where the cluster is (bot/config.py reads ``OPENSEARCH_*`` into it).
- ``OpenSearchArchive``: the ``Archive`` a question reads (``open_archive(config)``).
- ``OpenSearchWriter``: the ``ArchiveWriter`` an update writes through (one at a time, by a lock document).
- ``copy_index``: a local archive copied into the cluster without reading article files.

Layout and scoring are described in ``index.opensearch.schema``. The ``opensearch`` extra installs the client.
"""

from __future__ import annotations

from .archive import OpenSearchArchive
from .client import ClusterConfig, connect
from .copy import copy_index
from .writer import OpenSearchWriter

__all__ = ["ClusterConfig", "OpenSearchArchive", "OpenSearchWriter", "connect", "copy_index", "open_archive"]


def open_archive(config: ClusterConfig) -> OpenSearchArchive:
    """The committed archive in the cluster ``config`` names (see ``OpenSearchArchive.open`` for what it raises)."""
    return OpenSearchArchive.open(connect(config), config)
