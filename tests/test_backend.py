"""The search-backend seam (index.backend) on the local engine: the conformance suite (tests/backend_suite.py)."""

from __future__ import annotations

import pytest

import index
from index.backend import Archive
from index.local import LocalWriter

from .backend_suite import *  # noqa: F403


class LocalEngine:
    """The segmented index in a folder of the test's own."""

    def __init__(self, root) -> None:
        self.root = root

    def writer(self) -> LocalWriter:
        return LocalWriter(self.root)

    def load(self) -> Archive:
        return index.load(self.root)


@pytest.fixture
def engine(tmp_path):
    return LocalEngine(tmp_path / "ix")


def test_the_local_index_is_an_archive(tmp_path):
    (tmp_path / "a.txt").write_text("Title: Rain\nDate: 2020-01-01\n\nRain fell on the city all day long.\n")
    built = index.build(tmp_path)
    assert isinstance(built, Archive)
    assert [row[1] for row in built.catalog()] == [a.id for a in built.articles]
