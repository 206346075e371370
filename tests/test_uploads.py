"""Uploaded files on their own: safe names, exclusive saves that never write through links, stale partials."""

from __future__ import annotations

import os

import pytest

from bot.uploads import remove_partial_uploads, safe_name, store_upload


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
