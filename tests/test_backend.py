"""The search-backend seam (index.backend): every engine is an Archive."""

from __future__ import annotations

import index
from index.backend import Archive


def test_the_local_index_is_an_archive(tmp_path):
    (tmp_path / "a.txt").write_text("Title: Rain\nDate: 2020-01-01\n\nRain fell on the city all day long.\n")
    built = index.build(tmp_path)
    assert isinstance(built, Archive)
    assert [row[1] for row in built.catalog()] == [a.id for a in built.articles]
