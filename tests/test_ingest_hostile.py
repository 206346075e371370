"""Hostile and damaged inputs: one bad file or record never stops a run, and every skip has a true reason."""

from __future__ import annotations

import gzip
import json
import os
import tracemalloc
from pathlib import Path

import pytest

import index
from index.ingest import ingest

from .conftest import write

NAV_ONLY_HTML = """<html><head><title>Example News</title></head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/about">About us</a></li></ul></nav>
<div class="menu"><a href="/login">Log in</a> | <a href="/subscribe">Subscribe</a></div>
<footer>Copyright 2024 Example News. All rights reserved.</footer></body></html>"""

ALIAS_BOMB = "---\n" + "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 9)
) + "id: *a8\ntitle: Bomb\n---\nSome body text about bombs.\n"

# name -> (content, the reason the report must give)
BAD = {
    "month-13.md": ("---\ntitle: T\ndate: 2020-13-45\n---\nA body about month thirteen.\n", "invalid front matter"),
    "feb-30.md": ("---\ntitle: T\ndate: 2020-02-30\n---\nA body about February.\n", "invalid front matter"),
    "digits.md": ("---\ntitle: T\nid: " + "9" * 5000 + "\n---\nA body with a huge id.\n", "invalid front matter"),
    "digits.json": ('{"title": "T", "text": "Body", "n": ' + "9" * 5000 + "}", "invalid JSON"),
    "nested.json": ("[" * 50_000 + "]" * 50_000, "invalid JSON"),
    "surrogate-title.json": ('{"title": "T\\ud800", "text": "Body of a story."}', "invalid Unicode"),
    "surrogate-text.json": ('{"title": "T", "text": "Bo\\udc00dy of a story."}', "invalid Unicode"),
    "empty-list.json": ("[]", "no records"),
    "empty.jsonl.gz": (gzip.compress(b""), "no records"),
    "bom-only.json": ('{"title": "", "text": "\\ufeff"}', "no text"),
    "alias-bomb.md": (ALIAS_BOMB, "bad field"),
    "nav-only.html": (NAV_ONLY_HTML, "no main text"),
    "list-id.json": ('{"id": [1, 2], "title": "T", "text": "Body of a story."}', "bad field"),
    "long-title.json": (json.dumps({"title": "T" * 5000, "text": "Body of a story."}), "bad field"),
}

# name -> (content, a question only this article answers, a word its answer must hold)
GOOD = {
    "plain.txt": ("Harbour reopens\n\nThe harbour of Tobruk reopened on Monday after repairs.\n", "Tobruk", "Tobruk"),
    "utf16.txt": (
        "Glacier retreat\n\nThe Aletsch glacier lost forty metres this summer.\n".encode("utf-16"),
        "Aletsch glacier",
        "forty metres",
    ),
    "utf32.txt": (
        "Orchard frost\n\nFrost destroyed half the apricot orchards in Malatya.\n".encode("utf-32"),
        "apricot Malatya",
        "Malatya",
    ),
    "cp1252.txt": (
        "Caf\xe9 owners protest\n\nCaf\xe9 owners in Lyon said the new \u201cterrace tax\u201d is unfair.\n".encode(
            "cp1252"
        ),
        "terrace tax Lyon",
        "Café owners in Lyon",
    ),
    "headline.json": ('{"id": "h1", "title": "Zebra herd crosses the Mara river"}', "zebra herd Mara", "Zebra"),
    "lines.jsonl": (
        '{"id": "j1", "text": "The quarry in Carrara halted work."}\n'
        "{not json\n"
        + "[" * 50_000
        + "]" * 50_000
        + "\n"
        + '{"id": "j2", "text": "Saffron prices in Mashhad doubled."}\n',
        "saffron Mashhad",
        "Saffron",
    ),
    "repeat.md": (
        "---\ntitle: Lighthouse keeper retires\n---\n# Lighthouse keeper retires\n\nThe keeper of Fastnet retired.\n",
        "Fastnet keeper",
        "Fastnet",
    ),
}


@pytest.fixture
def hostile_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    for name, (content, _) in BAD.items():
        write(folder, name, content)
    for name, (content, _, _) in GOOD.items():
        write(folder, name, content)
    return folder


def test_bad_files_are_reported_and_good_ones_answered(hostile_folder):
    idx = index.build(hostile_folder)
    report = idx.report
    reasons = {Path(s.source).name.split(":")[0]: s.reason for s in report.skipped}
    for name, (_, reason) in BAD.items():
        assert reasons.get(name) == reason, (name, reasons.get(name))
    for name, (_, question, expected) in GOOD.items():
        answer = index.answer(idx, question)
        assert answer.answered, name
        assert expected in answer.quotes[0].text, (name, answer.quotes[0].text)


def test_a_bad_line_skips_that_line_only(hostile_folder):
    articles, report = ingest(hostile_folder / "lines.jsonl")
    assert [a.id for a in articles] == ["j1", "j2"]
    assert [(Path(s.source).name, s.reason) for s in report.skipped] == [
        ("lines.jsonl:2", "invalid JSON line"),
        ("lines.jsonl:3", "invalid JSON line"),
    ]


def test_legacy_encodings_are_decoded_and_reported(hostile_folder):
    articles, report = ingest(hostile_folder)
    cafe = next(a for a in articles if a.id == "cp1252")
    assert cafe.title == "Café owners protest"
    assert "“terrace tax”" in cafe.text
    decoded = {Path(source).name: encoding for source, encoding in report.decoded}
    assert decoded["cp1252.txt"] == "Windows-1252"
    assert decoded["utf16.txt"] == "UTF-16"
    assert decoded["utf32.txt"] == "UTF-32"


def test_cyrillic_legacy_text_is_decoded(tmp_path):
    text = "Новости дня\n\nПравительство объявило в понедельник о новых мерах поддержки экономики.\n"  # noqa: RUF001
    write(tmp_path, "ru.txt", text.encode("cp1251"))
    (article,), report = ingest(tmp_path)
    assert article.title == "Новости дня"
    assert report.decoded[0][1] == "cp1251"


def test_headlines_are_counted(hostile_folder):
    articles, report = ingest(hostile_folder)
    headline = next(a for a in articles if a.id == "h1")
    assert headline.text == headline.title == "Zebra herd crosses the Mara river"
    assert report.headlines == 1


def test_repeated_markdown_title_is_not_the_lead(hostile_folder):
    articles, _ = ingest(hostile_folder / "repeat.md")
    assert articles[0].text == "The keeper of Fastnet retired."


@pytest.mark.slow
def test_decompression_bomb_stops_early_and_stays_small(tmp_path):
    folder = tmp_path / "articles"
    write(folder, "bomb.jsonl.gz", gzip.compress(b"{}\n" * 3_000_000, compresslevel=9))
    write(folder, "good.txt", "Kept\n\nThe good story about mangroves survives.\n")
    idx = index.update(tmp_path / "ix", folder)
    reasons = {s.reason for s in idx.report.skipped}
    assert "decompression bomb" in reasons
    assert idx.report.skipped_count < 1_500_000, "reading stopped at the cap, not at the end"
    (info,) = (tmp_path / "ix").glob("info-*.json")
    assert info.stat().st_size < 100_000, "skips are stored as counts and a bounded sample"
    assert index.answer(index.load(tmp_path / "ix"), "mangroves").answered


def test_many_skipped_records_are_counted_not_stored(tmp_path):
    write(tmp_path, "empty-records.jsonl", "{}\n" * 50_000 + '{"id": "k", "text": "Kelp forests recover."}\n')
    idx = index.build(tmp_path)
    assert idx.report.skipped_count == 50_000
    assert dict(idx.report.skip_counts) == {"no text": 50_000}
    assert len(idx.report.skipped) <= 100
    assert index.answer(idx, "kelp forests").answered


@pytest.mark.slow
def test_one_huge_line_uses_little_memory(tmp_path):
    # Incompressible, so this is an honest file with one absurd line rather than a decompression bomb.
    big = b'{"text": "' + os.urandom(32 << 20).hex().encode() + b'"}\n'
    write(tmp_path, "huge.jsonl.gz", gzip.compress(big + b'{"id": "ok", "text": "Bees returned."}\n', 1))
    tracemalloc.start()
    try:
        articles, report = ingest(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [a.id for a in articles] == ["ok"]
    assert report.skipped[0].reason == "line too long"
    assert peak < 32 << 20, f"peak {peak / 2**20:.0f} MiB for one 64 MiB line"


def test_alias_bomb_is_refused_quickly(tmp_path):
    write(tmp_path, "bomb.md", ALIAS_BOMB)
    tracemalloc.start()
    try:
        articles, report = ingest(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert articles == []
    assert report.skipped[0].reason == "bad field"
    assert peak < 16 << 20


def test_links_outside_the_articles_folder_are_not_followed(tmp_path):
    secret = write(tmp_path / "private", "vault.txt", "Vault\n\nThe vault code is 4711-SECRET.\n")
    write(tmp_path / "private", "more/other.txt", "Other\n\nAnother private note about the vault code.\n")
    folder = tmp_path / "articles"
    write(folder, "story.txt", "Story\n\nA public story about vaults in banks.\n")
    write(folder, "inside/real.txt", "Inside\n\nA story about the river delta.\n")
    os.symlink(secret, folder / "leak.txt")
    os.symlink(tmp_path / "private" / "more", folder / "leakdir")
    os.symlink(folder / "inside" / "real.txt", folder / "alias.txt")
    idx = index.build(folder)
    assert "4711" not in " ".join(a.text for a in idx.articles)
    reasons = {Path(s.source).name: s.reason for s in idx.report.skipped}
    assert reasons["leak.txt"] == "link outside the articles folder"
    assert reasons["leakdir"] == "link outside the articles folder"
    assert index.answer(idx, "river delta").answered, "a link that stays inside the folder is followed"
    assert "leak.txt" not in idx.info.sources


@pytest.mark.slow
@pytest.mark.parametrize("kind", [".txt one line", "feed item .json"])
def test_a_one_line_article_is_indexed_in_memory_proportional_to_it(tmp_path, kind):
    # Issue 15, finding 2: a 16.5 MB one-line .txt (or a feed item of that size) peaked at 2.04 GB, 124 bytes per
    # byte, and became one 16.5 MB passage. Now passages stay within their bounds and memory follows them.
    import random

    from index.passages import MAX_PASSAGE_CHARS

    rng = random.Random(kind)
    vocabulary = ["".join(rng.choices("abcdefghijklmnop", k=rng.randint(2, 10))) for _ in range(20_000)]
    body = " ".join(rng.choices(vocabulary, k=300_000))  # about 2 MB, no sentence end, no line break
    if kind == "feed item .json":
        write(tmp_path / "a" / "feeds" / "1", "item.json", json.dumps({"title": "Feed item", "text": body}))
    else:
        write(tmp_path / "a", "one.txt", f"A one-line article\n\n{body}\n")
    tracemalloc.start()
    try:
        idx = index.update(tmp_path / "ix", tmp_path / "a", workers=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 40 * len(body), f"{peak / len(body):.0f} bytes per byte"
    assert len(idx) >= len(body) // MAX_PASSAGE_CHARS
    longest = max(len(idx.passage(n).text) for n in range(len(idx)))
    assert longest <= MAX_PASSAGE_CHARS
    hit = index.search(idx, " ".join(body.split()[1000:1005]))[0]
    assert hit.passage.text in body
