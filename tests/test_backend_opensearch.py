"""The search-backend seam on OpenSearch: the conformance suite (tests/backend_suite.py) on a real cluster.

Needs the cluster of ``services/opensearch.py`` (``NEWSBOT_TEST_OPENSEARCH_DIR``); skips with the reason without it.
"""

from __future__ import annotations

import secrets

import pytest

from index.backend import Archive

from .backend_suite import *  # noqa: F403

pytest.importorskip("opensearchpy", reason="the opensearch extra is not installed")

from index.opensearch import ClusterConfig, OpenSearchWriter, connect, open_archive


class OpenSearchEngine:
    """An archive of its own on the test cluster, under a fresh index prefix."""

    def __init__(self, config: ClusterConfig) -> None:
        self.config = config
        self.client = connect(config)

    def writer(self) -> OpenSearchWriter:
        return OpenSearchWriter(self.client, self.config)

    def load(self) -> Archive:
        return open_archive(self.config)


@pytest.fixture
def engine(opensearch):
    config = ClusterConfig(
        urls=opensearch.urls, prefix=f"suite-{secrets.token_hex(5)}", shards=2, replicas=0, timeout=30
    )
    yield OpenSearchEngine(config)
    connect(config).indices.delete(index=f"{config.prefix}-*", ignore_unavailable=True, allow_no_indices=True)
