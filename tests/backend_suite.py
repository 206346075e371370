"""The backend conformance suite: what any search engine behind ``index.backend`` must do.

Each test takes an ``engine`` fixture (see ``Engine``): a writer of an archive of its own, empty at first, and a way
to load the committed state as a new reader would. A test module runs the whole suite against one engine by
importing it and defining ``engine``::

    from .backend_suite import *  # noqa: F403

    @pytest.fixture
    def engine(tmp_path):
        return MyEngine(...)

``tests/test_backend.py`` runs it on the local engine; an engine that keeps its archive elsewhere (a cluster) does
the same in its own module. Every update goes through ``index.core.update_archive``, the recipe all engines share,
so what is checked here is the engine's half of the seam: scores equal to rank-bm25's (which defines them), the
articles' texts kept verbatim, the date order, first-seen times kept across updates, replaced and removed
articles gone with their passages, and commits that are all or nothing.
"""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pytest
from rank_bm25 import BM25L, BM25Okapi, BM25Plus

from index.analysis import analyze
from index.backend import Archive, ArchiveWriter
from index.bm25 import Settings
from index.core import update_archive
from index.dates import naive_utc, parse_date
from index.model import Changes

__all__ = [
    "Engine",
    "articles",
    "test_a_removed_file_removes_its_articles",
    "test_abandon_keeps_the_previous_state_serving",
    "test_an_incremental_update_reads_only_changed_files",
    "test_an_update_replacing_an_article_removes_its_old_passages",
    "test_article_of_and_titles_for",
    "test_catalog_lists_every_live_article",
    "test_document_frequency_and_rarity",
    "test_first_seen_is_kept_across_an_update_and_added_since_names_the_new",
    "test_newest_first_and_recent_titles",
    "test_nothing_is_visible_before_commit",
    "test_passages_and_sentences_are_exact_substrings_of_their_article",
    "test_top_scores_equal_rank_bm25",
]


class Engine(Protocol):
    """How the suite reaches one engine."""

    def writer(self) -> ArchiveWriter:
        """A new writer of the archive under test (a context manager holding the engine's write lock)."""
        ...

    def load(self) -> Archive:
        """The committed state, opened as a new reader (another process, say) would open it."""
        ...


ORACLES = {"okapi": BM25Okapi, "l": BM25L, "plus": BM25Plus}
LONG = " ".join(
    f"The council met for the {n}th time to discuss the harbour budget and its ferry timetable." for n in range(40)
)
ARTICLES = {
    "harbour.md": ("Harbour budget debated", "2024-03-05", LONG),
    "storm.md": ("Storm closes the harbour", "2024-03-04", "A storm shut the harbour on Tuesday. Ferries stayed in."),
    "rail.md": ("Rail strike ends", "2024-03-06", "The rail strike ended after talks. Trains ran again on Friday."),
    "budget.md": ("City budget passed", "2024-02-01", "The city passed its budget. Schools and the harbour get more."),
    "undated.md": ("Museum reopens", "", "The museum reopened. Visitors queued for the new harbour gallery."),
}
QUESTIONS = ("harbour", "harbour budget", "ferries in a storm at the harbour", "trains and strikes", "zeppelin")


def term(word: str) -> str:
    """A word as it is indexed (analysed: lower case, stemmed)."""
    (analysed,) = analyze(word)
    return analysed


def write_article(folder: Path, name: str, title: str, date: str, text: str) -> Path:
    """One article file: Markdown with front matter (its title and, when given, its date), then the text."""
    folder.mkdir(parents=True, exist_ok=True)
    header = f"title: {title}\n" + (f"date: {date}\n" if date else "")
    path = folder / name
    path.write_text(f"---\n{header}---\n\n{text}\n", encoding="utf-8")
    return path


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    for name, (title, date, text) in ARTICLES.items():
        write_article(folder, name, title, date, text)
    return folder


def update(engine: Engine, folder: Path, **options: Any) -> Archive:
    """One update of the engine's archive by the shared recipe (in this process: workers=1)."""
    with engine.writer() as writer:
        return update_archive(writer, folder, workers=1, **options)


def every_passage(archive: Archive) -> list[int]:
    """Every live passage's number (each holds at least one term of its article: a query of all terms finds it)."""
    terms = sorted({t for a in archive.newest_first for t in analyze(a.text)})
    found = archive.top(terms, len(archive)).docs.tolist()
    assert len(found) == len(archive), "a query of every term finds every passage"
    return sorted(found)


def passage_terms(archive: Archive, number: int) -> list[str]:
    """The terms a passage is indexed with: its text's, and its article's title's when titles are on."""
    terms = analyze(archive.passage(number).text)
    return terms + analyze(archive.article_of(number).title) if archive.info.titles else terms


def oracle(settings: Settings, corpus: list[list[str]]) -> Any:
    options: dict[str, Any] = {"k1": settings.k1, "b": settings.b}
    if settings.variant == "okapi":
        options["epsilon"] = settings.epsilon
    else:
        options["delta"] = settings.effective_delta
    return ORACLES[settings.variant](corpus, **options)


def test_top_scores_equal_rank_bm25(engine, articles):
    for settings in (None, Settings(variant="okapi")):  # the default (plus), and rank-bm25's own default
        archive = update(engine, articles, settings=settings, full=True)
        numbers = every_passage(archive)
        assert len(numbers) > len(ARTICLES), "the long article has several passages"
        reference = oracle(archive.settings, [passage_terms(archive, n) for n in numbers])
        for words in QUESTIONS:
            question = analyze(words)
            expected = reference.get_scores(question)
            top = archive.top(question, 3)
            matched = [n for n in numbers if set(question) & set(passage_terms(archive, n))]
            assert len(top.docs) == min(3, len(matched))
            ours = dict(zip(top.docs.tolist(), top.scores.tolist(), strict=True))
            for number, score in ours.items():
                assert score == pytest.approx(expected[numbers.index(number)], rel=1e-5, abs=1e-6)
            assert list(top.scores) == sorted(top.scores, reverse=True)
            best = sorted(expected, reverse=True)[: len(top.docs)]
            np.testing.assert_allclose(top.scores, best, rtol=1e-5, atol=1e-6)


def test_document_frequency_and_rarity(engine, articles):
    archive = update(engine, articles)
    numbers = every_passage(archive)
    for word in ("harbour", "ferries", "museum", "council", "zeppelin"):
        df = sum(term(word) in passage_terms(archive, n) for n in numbers)
        assert archive.document_frequency(term(word)) == df
    assert 0 < archive.document_frequency(term("harbour")) < len(numbers), "all but the rail story's passages"
    assert archive.document_frequency(term("zeppelin")) == 0
    harbour, zeppelin = term("harbour"), term("zeppelin")
    weights = archive.rarity([harbour, zeppelin, harbour])
    assert list(weights) == [harbour, zeppelin]
    n = len(archive)
    df = archive.document_frequency(harbour)
    assert weights[harbour] == pytest.approx(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    assert weights[zeppelin] == pytest.approx(np.log(1 + (n + 0.5) / 0.5))
    assert weights[zeppelin] > weights[harbour], "a word no passage holds weighs the most"


def test_passages_and_sentences_are_exact_substrings_of_their_article(engine, articles):
    archive = update(engine, articles)
    for number in every_passage(archive):
        passage = archive.passage(number)
        article = archive.article_of(number)
        assert passage.article_id == article.id
        assert article.text[passage.start : passage.end] == passage.text
        spans = archive.passage_sentences(number)
        assert spans, "a passage has sentences"
        assert all(passage.start <= a < b <= passage.end for a, b in spans)
    texts = {title: text for title, _, text in ARTICLES.values()}
    for article in archive.newest_first:
        assert archive.article(article.id).text == texts[article.title], "kept verbatim"
        spans = archive.article_sentences(article.id)
        assert all(a < b for a, b in spans)
        assert all(b1 <= a2 for (_, b1), (a2, _) in itertools.pairwise(spans)), "in text order"
        assert spans[0][0] >= 0
        assert spans[-1][1] <= len(article.text)


def test_article_of_and_titles_for(engine, articles):
    archive = update(engine, articles)
    numbers = every_passage(archive)
    by_title: dict[str, list[int]] = {}
    for number in numbers:
        by_title.setdefault(archive.article_of(number).title, []).append(number)
    assert set(by_title) == {title for title, _, _ in ARTICLES.values()}
    long = by_title["Harbour budget debated"]
    rail = by_title["Rail strike ends"][0]
    assert archive.titles_for([long[0], rail, long[1]]) == ("Harbour budget debated", "Rail strike ends")
    assert archive.titles_for([]) == ()
    with pytest.raises(KeyError):
        archive.article("no such article")


def test_newest_first_and_recent_titles(engine, articles):
    archive = update(engine, articles)
    order = [a.title for a in archive.newest_first]
    # By date, newest first, undated last.
    assert order == [
        "Rail strike ends",
        "Harbour budget debated",
        "Storm closes the harbour",
        "City budget passed",
        "Museum reopens",
    ]
    dates = [naive_utc(parse_date(a.date or None)) for a in archive.newest_first]
    assert dates[-1] is None
    assert archive.recent_titles(2) == ("Rail strike ends", "Harbour budget debated")
    assert len(archive.newest_first) == archive.article_count == len(ARTICLES)


def test_first_seen_is_kept_across_an_update_and_added_since_names_the_new(engine, articles):
    before = update(engine, articles)
    rail = next(a.id for a in before.newest_first if a.title == "Rail strike ends")
    seen = before.first_seen(rail)
    assert seen.tzinfo is not None
    since = max(before.first_seen(a.id) for a in before.newest_first)
    write_article(articles, "rail.md", "Rail strike ends", "2024-03-06", "The rail strike ended after long talks.")
    write_article(articles, "zoo.md", "Zoo welcomes a panda", "2024-03-07", "A panda arrived at the zoo.")
    after = update(engine, articles)
    assert after.first_seen(rail) == seen, "a corrected article keeps the time it first entered the archive"
    panda = next(a.id for a in after.newest_first if a.title == "Zoo welcomes a panda")
    assert after.added_since(since) == [panda]
    assert after.first_seen(panda) > since


def test_an_update_replacing_an_article_removes_its_old_passages(engine, articles):
    before = update(engine, articles)
    assert before.document_frequency(term("Tuesday")) == 1
    write_article(articles, "storm.md", "Storm closes the harbour", "2024-03-04", "A gale shut the port on Wednesday.")
    after = update(engine, articles)
    assert after.document_frequency(term("gale")) == 1
    assert after.document_frequency(term("Tuesday")) == 0, "the old text's passages are gone"
    assert after.top([term("Tuesday")], 5).docs.tolist() == []
    assert len(after) == len(before)
    assert after.article_count == before.article_count
    storm = [a for a in after.newest_first if a.title == "Storm closes the harbour"]
    assert [a.text for a in storm] == ["A gale shut the port on Wednesday."]
    assert after.changed == Changes(changed=(storm[0].id,))
    assert before.document_frequency(term("Tuesday")) == 1, "a state already held never changes"


def test_a_removed_file_removes_its_articles(engine, articles):
    before = update(engine, articles)
    museum = next(a.id for a in before.newest_first if a.title == "Museum reopens")
    (articles / "undated.md").unlink()
    after = update(engine, articles)
    with pytest.raises(KeyError):
        after.article(museum)
    assert after.document_frequency(term("museum")) == 0
    assert museum not in [row[1] for row in after.catalog()]
    assert after.article_count == len(ARTICLES) - 1
    assert after.changed == Changes(removed=(museum,))
    assert after.changes(articles) == Changes(), "the state knows the files it was built from"


def test_an_incremental_update_reads_only_changed_files(engine, articles):
    first = update(engine, articles)
    assert first.report.files == len(ARTICLES)
    assert update(engine, articles).changed == Changes(), "nothing changed: nothing read, nothing committed"
    write_article(articles, "zoo.md", "Zoo welcomes a panda", "2024-03-07", "A panda arrived at the zoo.")
    assert engine.load().changes(articles) == Changes(added=("zoo.md",))
    second = update(engine, articles)
    assert second.report.files == 1
    assert second.article_count == len(ARTICLES) + 1
    assert second.document_frequency(term("harbour")) == first.document_frequency(term("harbour"))
    assert second.document_frequency(term("panda")) == 1
    assert engine.load().article_count == len(ARTICLES) + 1


class Interrupted(Exception):
    """Raised by a test inside an update, after every passage was added and before the commit."""


def test_nothing_is_visible_before_commit(engine, articles):
    update(engine, articles)
    write_article(articles, "zoo.md", "Zoo welcomes a panda", "2024-03-07", "A panda arrived at the zoo.")
    seen: list[tuple[int, int]] = []

    def look_before_the_commit(stage: str, done: int, total: int) -> None:
        if stage == "saving" and done == 0:  # every passage is in the writer
            reader = engine.load()
            seen.append((reader.article_count, reader.document_frequency(term("panda"))))

    committed = update(engine, articles, progress=look_before_the_commit)
    assert seen == [(len(ARTICLES), 0)]
    assert committed.document_frequency(term("panda")) == 1
    assert engine.load().document_frequency(term("panda")) == 1


def test_abandon_keeps_the_previous_state_serving(engine, articles):
    before = update(engine, articles)
    write_article(articles, "zoo.md", "Zoo welcomes a panda", "2024-03-07", "A panda arrived at the zoo.")
    (articles / "rail.md").unlink()

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "saving" and done == 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        update(engine, articles, progress=interrupt)
    after = engine.load()
    assert after.article_count == before.article_count
    assert after.document_frequency(term("panda")) == 0
    assert after.document_frequency(term("rail")) == before.document_frequency(term("rail")) > 0
    assert sorted(row[1] for row in after.catalog()) == sorted(row[1] for row in before.catalog())
    again = update(engine, articles)  # the next update does what the abandoned one did not
    assert again.document_frequency(term("panda")) == 1
    assert again.document_frequency(term("rail")) == 0


def test_catalog_lists_every_live_article(engine, articles):
    # The same text under another name is kept once.
    write_article(articles, "copy.md", "Storm closes the harbour again", "2024-03-04", ARTICLES["storm.md"][2])
    archive = update(engine, articles)
    rows = list(archive.catalog())
    ids = [article_id for _, article_id, _, _ in rows]
    assert sorted(ids) == sorted(a.id for a in archive.newest_first)
    assert len(ids) == len(set(ids)) == len(ARTICLES)
    assert len({number for number, _, _, _ in rows}) == len(rows)
    assert len({digest for _, _, digest, _ in rows}) == len(rows)
    for _, article_id, _, first_seen in rows:
        assert dt.datetime.fromisoformat(first_seen) == archive.first_seen(article_id)
