"""The search-backend seam (index.backend) on the local engine: the conformance suite (tests/backend_suite.py)."""

from __future__ import annotations

import pytest

import index
from index import local
from index.backend import Archive
from index.local import LocalWriter

from .backend_suite import *  # noqa: F403
from .backend_suite import Interrupted, update, write_article


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


def test_an_abandoned_local_update_leaves_no_file_behind(tmp_path):
    # More than one segment's worth is written before the commit, so abandoning has segments to remove.
    articles = tmp_path / "articles"
    write_article(articles, "a.md", "Rain", "2020-01-01", "Rain fell on the city all day long.")
    engine = LocalEngine(tmp_path / "ix")
    update(engine, articles)
    before = sorted(p.name for p in engine.root.iterdir())
    for i in range(3):
        write_article(articles, f"n{i}.md", f"Storm {i}", "2020-01-02", f"Storm number {i} closed the harbour.")
    written: list[str] = []

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "saving" and done == 0:
            written.extend(p.name for p in engine.root.iterdir() if p.name not in before)
            raise Interrupted

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(local, "SEGMENT_PASSAGES", 1)  # a segment per passage: written before the commit
        with pytest.raises(Interrupted):
            update(engine, articles, progress=interrupt)
    assert sum(name.startswith("seg-") for name in written) >= 3, "a segment for each new passage"
    assert sorted(p.name for p in engine.root.iterdir()) == before, "abandon removed them all"
    assert engine.load().article_count == 1


def test_a_writer_that_cannot_read_the_state_does_not_keep_the_lock(tmp_path):
    articles = tmp_path / "articles"
    write_article(articles, "a.md", "Rain", "2020-01-01", "Rain fell on the city all day long.")
    engine = LocalEngine(tmp_path / "ix")
    update(engine, articles)
    (info,) = engine.root.glob("info-*.json")
    info.unlink()
    info.mkdir()  # the build information cannot be read (not a file): entering the writer fails
    for _ in range(2):  # and fails the same way again, rather than on a lock the first attempt kept
        with pytest.raises(IsADirectoryError), engine.writer():
            pass
