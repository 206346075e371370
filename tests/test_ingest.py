"""Ingest: every format, every kind of bad input, ids, dates and duplicates."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys

import pytest

import index
from index.ingest import ingest, parse_date

from .conftest import SEED_TITLE, write


def test_seed_txt(seeds_dir):
    articles, report = ingest(seeds_dir)
    assert report.loaded == 1
    assert not report.skipped
    (seed,) = articles
    assert seed.id == "000_1ac90010c147ba5d"
    assert seed.title == SEED_TITLE
    assert seed.date == dt.datetime(2020, 5, 23, 12, 30)
    assert seed.text.startswith("As Turkish backed National Accord Government")
    assert "Saturday, 23 May 2020" not in seed.text
    assert "\n\nWHAT HAPPENED?\n\n" in seed.text
    assert seed.text.endswith("(GNA) in Tripoli.")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        pytest.param("Saturday, 23 May 2020 12:30", dt.datetime(2020, 5, 23, 12, 30), id="seed-style"),
        pytest.param("23 May 2020", dt.datetime(2020, 5, 23), id="day-month-year"),
        pytest.param("May 23, 2020", dt.datetime(2020, 5, 23), id="month-day-year"),
        pytest.param("Sat, 23 Sept. 2020", dt.datetime(2020, 9, 23), id="abbreviated"),
        pytest.param("2020-05-23", dt.datetime(2020, 5, 23), id="iso-date"),
        pytest.param("2020-05-23T12:30:00", dt.datetime(2020, 5, 23, 12, 30), id="iso-datetime"),
        pytest.param("2020-05-23T12:30:00Z", dt.datetime(2020, 5, 23, 12, 30, tzinfo=dt.UTC), id="iso-utc"),
        pytest.param("31 February 2020", None, id="impossible-date"),
        pytest.param("The army said on 23 May 2020 that", None, id="sentence-with-date"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_date(line, expected):
    assert parse_date(line) == expected


def test_txt_with_iso_date_on_second_line(tmp_path):
    write(tmp_path, "a.txt", "Title here\n2021-03-04\n\nFirst paragraph.\n\nSecond paragraph.\n")
    (art,), _ = ingest(tmp_path)
    assert (art.title, art.date, art.text) == (
        "Title here",
        dt.datetime(2021, 3, 4),
        "First paragraph.\n\nSecond paragraph.",
    )


def test_markdown_front_matter(tmp_path):
    write(
        tmp_path,
        "m.md",
        "---\ntitle: Front title\ndate: 2020-01-02\nurl: https://ex.com/m\nid: m-1\n---\n"
        "# Heading kept as text\n\nBody *text* here.\n",
    )
    (art,), report = ingest(tmp_path)
    assert report.loaded == 1
    assert (art.id, art.title, art.url) == ("m-1", "Front title", "https://ex.com/m")
    assert art.date == dt.datetime(2020, 1, 2)
    assert art.text == "Heading kept as text\n\nBody *text* here."


def test_markdown_heading_title(tmp_path):
    write(tmp_path, "n.md", "# The title\n\nSome body.\n")
    (art,), _ = ingest(tmp_path)
    assert (art.id, art.title, art.text) == ("n", "The title", "Some body.")


def test_html_metadata_and_main_text(tmp_path):
    html = """<html><head><title>Page title</title>
    <link rel="canonical" href="https://news.example/story">
    <meta property="article:published_time" content="2020-05-23T12:30:00Z"></head>
    <body><nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
    <article><h1>Page title</h1>
    <p>The ministry announced new measures on Monday, officials said in a statement to reporters.</p>
    <p>The measures will take effect next week across the whole country, the statement added.</p></article>
    <footer>Copyright 2020 Example News</footer></body></html>"""
    write(tmp_path, "story.html", html)
    (art,), report = ingest(tmp_path)
    assert report.loaded == 1
    assert art.title == "Page title"
    assert art.url == "https://news.example/story"
    assert art.date == dt.datetime(2020, 5, 23)
    assert "The ministry announced new measures" in art.text
    assert "About us" not in art.text
    assert "Copyright" not in art.text


def test_json_single_and_list(tmp_path):
    write(tmp_path, "one.json", json.dumps({"title": "One", "body": "Body one.", "date": "2020-01-01"}))
    write(
        tmp_path,
        "many.json",
        json.dumps(
            [
                {"id": "x1", "title": "X1", "content": "Content one."},
                {"id": "x2", "title": "X2", "text": "Text two."},
                7,
            ]
        ),
    )
    articles, report = ingest(tmp_path)
    assert sorted(a.id for a in articles) == ["one", "x1", "x2"]
    assert [(s.reason, s.detail) for s in report.skipped] == [("not an object", "expected a JSON object, got int")]


def test_jsonl_and_gzip(tmp_path):
    rows = [{"id": f"r{i}", "title": f"T{i}", "text": f"Story number {i}.", "url": f"https://e/{i}"} for i in range(3)]
    write(tmp_path, "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"id": "g1", "title": "G", "text": "Gzipped story."}) + "\n")
    articles, report = ingest(tmp_path)
    assert [a.id for a in articles] == ["r0", "r1", "r2", "g1"]
    assert articles[0].url == "https://e/0"
    assert report.loaded == 4


def test_bad_inputs_are_skipped_with_reasons(tmp_path):
    write(tmp_path, "good.txt", "Good title\n\nGood body text.\n")
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "blank.txt", "\n\n   \n")
    write(tmp_path, "binary.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    write(tmp_path, "broken.json", '{"title": "x", ')
    write(tmp_path, "notext.json", json.dumps({"title": " ", "text": "\u200b"}))
    write(tmp_path, "lines.jsonl", '{"id": "ok", "title": "OK", "text": "Fine."}\nnot json\n{"id": "t"}\n')
    write(tmp_path, "bad-front.md", "---\ntitle: [unclosed\n---\nBody\n")
    write(tmp_path, "photo.pdf", b"%PDF-1.4")
    with gzip.open(tmp_path / "trunc.jsonl.gz", "wb") as handle:
        handle.write(
            b"".join(json.dumps({"id": f"z{i}", "text": f"Zed story {i} " * 50}).encode() + b"\n" for i in range(200))
        )
    data = (tmp_path / "trunc.jsonl.gz").read_bytes()
    (tmp_path / "trunc.jsonl.gz").write_bytes(data[: len(data) // 2])

    articles, report = ingest(tmp_path)
    reasons = {s.source.split("/")[-1]: s.reason for s in report.skipped}
    assert reasons["empty.txt"] == "empty file"
    assert reasons["blank.txt"] == "empty file"
    assert "binary" in reasons["binary.txt"]
    assert "invalid JSON" in reasons["broken.json"]
    assert reasons["notext.json"] == "no text"
    assert "invalid JSON line" in reasons["lines.jsonl:2"]
    assert reasons["lines.jsonl:3"] == "no text"
    assert reasons["bad-front.md"] == "invalid front matter"
    assert reasons["photo.pdf"] == "unsupported file type"
    assert any(r == "truncated or damaged" for s, r in reasons.items() if s.startswith("trunc.jsonl.gz"))
    ids = {a.id for a in articles}
    assert {"good", "ok"} <= ids
    assert any(i.startswith("z") for i in ids), "records before the truncation point are kept"


def test_duplicates_indexed_once_and_ids_unique(tmp_path):
    write(tmp_path, "a.txt", "Same\n\nIdentical body text.\n")
    write(tmp_path, "b.txt", "Same again\n\nIdentical body text.\n")
    write(tmp_path, "c.jsonl", '{"id": "dup", "text": "First."}\n{"id": "dup", "text": "Second."}\n')
    articles, report = ingest(tmp_path)
    assert len(report.duplicates) == 1
    assert report.duplicates[0].reason == "duplicate"
    assert report.duplicate_count == 1
    assert "same text as article 'a'" in report.duplicates[0].detail
    ids = [a.id for a in articles]
    assert len(ids) == len(set(ids)) == 3


def test_missing_path():
    with pytest.raises(index.ArticlesNotFound, match="does not exist"):
        ingest("/no/such/folder")


def test_hidden_files_ignored_and_recursive(tmp_path):
    write(tmp_path, ".hidden.txt", "Hidden\n\nNo.\n")
    write(tmp_path, "sub/deeper/story.txt", "Deep\n\nFound it.\n")
    articles, report = ingest(tmp_path)
    assert [a.id for a in articles] == ["story"]
    assert report.files == 1


@pytest.mark.shared_data
@pytest.mark.slow
def test_reuters_ingests_as_it_is(shared_data):
    articles, report = ingest(shared_data / "reuters21578" / "articles.jsonl.gz")
    assert report.loaded == len(articles) > 19_000
    assert all(s.reason == "no text" for s in report.skipped)
    assert report.headlines > 1700, "stories with a title and no body are headlines, not nothing"
    assert articles[0].id == "reuters-1"
    assert articles[0].title == "BAHIA COCOA REVIEW"
    assert articles[0].date == dt.datetime(1987, 2, 26, 15, 1, 1)


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz"])
def test_json_lines_files_stream_whatever_their_size(tmp_path, monkeypatch, suffix):
    # The size cap is for formats read whole; a JSON Lines file is read a line at a time, so only a line is capped.
    monkeypatch.setattr(sys.modules["index.ingest"], "MAX_DOCUMENT_BYTES", 4096)
    lines = "".join(
        json.dumps({"id": f"a{i}", "title": f"Story {i}", "text": f"The harbour reopened on day {i}. " * 5}) + "\n"
        for i in range(200)
    )
    path = tmp_path / f"big{suffix}"
    data = lines.encode()
    path.write_bytes(gzip.compress(data) if suffix.endswith(".gz") else data)
    assert len(data) > 10 * 4096
    articles, report = ingest(path)
    assert len(articles) == 200
    assert report.skipped_count == 0
