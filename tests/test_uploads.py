"""Uploaded and fetched files on their own: safe names, exclusive saves that never write through links, stale
partials, fetched articles saved as records and removed by retention."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os

import pytest

import index
from bot.uploads import remove_older_than, remove_partial_uploads, safe_name, save_article, store_upload


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("volcano.md", "volcano.md", id="plain"),
        pytest.param("../../etc/passwd.txt", "passwd.txt", id="traversal"),
        pytest.param(".hidden.json", "hidden.json", id="leading-dot"),
        pytest.param("Café menu.txt", "Cafe_menu.txt", id="accents"),
        pytest.param("notes.exe", None, id="unsupported"),
        pytest.param(".txt", None, id="suffix-only"),
        pytest.param(None, None, id="no-name"),
        pytest.param("reuters.jsonl.gz", "reuters.jsonl.gz", id="double-suffix"),
    ],
)
def test_safe_names(name, expected):
    assert safe_name(name) == expected


@pytest.mark.parametrize("name", ["новости.txt", "新闻.json", "📰.md"])
def test_names_without_latin_letters_get_a_stable_hashed_stem(name):
    safe = safe_name(name)
    assert safe is not None
    assert safe.startswith("upload-")
    assert safe.endswith(os.path.splitext(name)[1])
    assert safe_name(name) == safe


def test_long_names_keep_their_suffix():
    safe = safe_name("a" * 300 + ".jsonl")
    assert safe.endswith(".jsonl")
    assert len(safe) <= 120


def test_save_never_writes_through_planted_links(tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    outside = tmp_path / "outside.txt"
    outside.write_text("precious")
    os.symlink(outside, folder / ".story.txt.part")
    os.symlink(outside, folder / "story.txt")
    target = store_upload(folder, "story.txt", b"Title\n\nBody.\n")
    assert target is not None
    assert target.name == "story-1.txt"
    assert outside.read_text() == "precious"
    assert target.read_bytes() == b"Title\n\nBody.\n"
    assert not target.is_symlink()


def test_same_file_twice_is_not_saved_twice(tmp_path):
    assert store_upload(tmp_path, "a.txt", b"A\n\nBody.\n") is not None
    assert store_upload(tmp_path, "a.txt", b"A\n\nBody.\n") is None
    assert store_upload(tmp_path, "a.txt", b"A\n\nOther.\n").name == "a-1.txt"


def test_stale_partial_uploads_are_removed(tmp_path):
    (tmp_path / ".newsbot-upload-x1y2.part").write_bytes(b"half a file")
    (tmp_path / ".volcano.md.part").write_bytes(b"from an older newsbot")
    (tmp_path / "keep.txt").write_text("Keep\n\nMe.\n")
    removed = remove_partial_uploads(tmp_path)
    assert sorted(p.name for p in removed) == [".newsbot-upload-x1y2.part", ".volcano.md.part"]
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_saving_the_same_article_again_leaves_its_file_alone(tmp_path):
    fetched = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    story = index.Article(id="a1", title="Bridge approved", text="The council approved the bridge.", date=None,
                          url="https://example.com/news/1", source="Example")
    path, _ = save_article(tmp_path, "pages", story, fetched=fetched)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    assert save_article(tmp_path, "pages", story, fetched=fetched + dt.timedelta(days=1)) == (path, "unchanged")
    # Untouched: the index sees no change, and retention counts from the first fetch.
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before


def test_saved_articles_replace_their_earlier_version_and_read_back(tmp_path):
    fetched = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
    story = index.Article(
        id="https://example.com/news/1?x=../../", title="Bridge approved", text="The council approved the bridge.",
        date=fetched, url="https://example.com/news/1", source="Example",
    )
    first, outcome = save_article(tmp_path, "feeds/1", story, fetched=fetched)
    assert outcome == "added"
    edited = dataclasses.replace(story, text="The council approved the new bridge.")
    assert save_article(tmp_path, "feeds/1", edited, fetched=fetched) == (first, "replaced")
    assert first.parent == tmp_path / "feeds" / "1"
    (read,), _ = index.ingest(tmp_path)
    assert (read.id, read.title, read.text, read.url, read.date) == (
        story.id, story.title, edited.text, story.url, fetched
    )


def test_retention_removes_only_saved_articles_fetched_before_the_cutoff(tmp_path):
    now = dt.datetime(2026, 11, 25, tzinfo=dt.UTC)
    old = index.Article(id="old", title="Old", text="Old news.", date=None, url=None, source=None)
    new = index.Article(id="new", title="New", text="New news.", date=None, url=None, source=None)
    save_article(tmp_path, "feeds/1", old, fetched=now - dt.timedelta(days=40))
    save_article(tmp_path, "channels/5", new, fetched=now)
    (tmp_path / "feeds" / "1" / "notes.json").write_text("{not ours")
    (tmp_path / "mine.md").write_text("# Mine\n\nKept whatever its age.\n")
    removed = remove_older_than(tmp_path, ("feeds", "pages", "channels"), now - dt.timedelta(days=30))
    assert [p.name for p in removed] == ["old.json"]
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["mine.md", "new.json", "notes.json"]
