"""Answers by meaning: the embedding model judges BM25's candidates; time in questions; both paths side by side."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from zoneinfo import ZoneInfo

import pytest

import index
from index.semantic import Judge, load_judge
from index.talk import is_small_talk

from .conftest import ROOT, SEED_TITLE

ISTANBUL = ZoneInfo("Europe/Istanbul")
DAY_AFTER = dt.datetime(2020, 5, 24, 9, 0, tzinfo=ISTANBUL)  # the seed article is dated 23 May 2020
PARAPHRASE = "When did NATO intervene in Libya?"  # the seed says "NATO's interference in 2011"


@pytest.fixture(scope="session")
def judge():
    return load_judge()


def test_a_paraphrase_is_answered_with_the_sentence_that_answers_it(seed_index, judge):
    answer = index.answer(seed_index, PARAPHRASE, judge=judge)
    assert answer.answered
    assert "NATO’s interference in 2011" in answer.quotes[0].text
    assert not index.answer(seed_index, PARAPHRASE).answered, "words alone do not reach it"


def test_the_issue_paraphrase_is_answered(seed_index, judge):
    answer = index.answer(seed_index, "what year did nato step in militarily in libya", judge=judge)
    assert answer.answered
    assert "NATO’s interference in 2011" in answer.quotes[0].text


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Who won the 1987 World Series?",
        "How do vaccines work?",
        "Tell me a joke",
        "How do I bake sourdough bread?",
    ],
)
@pytest.mark.parametrize("semantic", [False, True], ids=["lexical", "semantic"])
def test_everyday_questions_are_declined_on_both_paths(seed_index, judge, question, semantic):
    answer = index.answer(seed_index, question, judge=judge if semantic else None)
    assert not answer.answered
    assert answer.quotes == ()


@pytest.mark.parametrize("semantic", [False, True], ids=["lexical", "semantic"])
def test_the_seed_question_is_answered_on_both_paths(seed_index, judge, semantic):
    answer = index.answer(seed_index, "Which air base did the GNA seize?", judge=judge if semantic else None)
    assert answer.answered
    assert "Al-Watiya Air Base" in answer.quotes[0].text


def test_the_judge_finds_the_nearest_phrase_of_a_set(judge):
    phrases = frozenset({"thank you", "good morning"})
    assert judge.nearest("thanks a lot", phrases) > judge.nearest("oil prices in Libya", phrases)
    assert judge.nearest("thank you", phrases) == pytest.approx(1.0, abs=1e-3)
    assert judge.nearest("anything", frozenset()) == 0.0


class CountingEmbedder:
    """The real model, noting every text it is asked to embed."""

    def __init__(self, real) -> None:
        self.real = real
        self.texts: list[str] = []

    @property
    def dimension(self) -> int:
        return self.real.dimension

    def embed(self, texts, **options):
        self.texts.extend(texts)
        return self.real.embed(texts, **options)


def test_a_question_asked_again_is_not_embedded_again(seed_index, judge):
    counting = CountingEmbedder(judge.embedder)
    fresh = Judge(counting)
    first = index.answer(seed_index, "Which air base did the GNA seize?", judge=fresh)
    assert "Which air base did the GNA seize?" in counting.texts
    embedded = len(counting.texts)
    again = index.answer(seed_index, "Which air base did the GNA seize?", judge=fresh)
    assert again == first
    assert len(counting.texts) == embedded, "the question and its sentences come from the caches the second time"
    assert fresh.similarities("thanks", []).shape == (0,)


def test_the_python_api_reaches_the_judge_from_a_plain_import_index():
    # The README's Python API shows ``import index`` then ``index.semantic.load_judge()``: a fresh interpreter,
    # where nothing else has imported the submodule, must find it.
    code = "import index; print(callable(index.semantic.load_judge))"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.stdout.strip() == "True", done.stderr


def test_small_talk_by_meaning(judge):
    assert is_small_talk("hello my friend", judge=judge)
    assert is_small_talk("thank you very much", judge=judge)
    assert not is_small_talk("oil prices in Libya", judge=judge)
    assert not is_small_talk("who is Haftar", judge=judge)


def test_search_reranks_by_meaning(seed_index, judge):
    lexical = index.search(seed_index, PARAPHRASE, k=3)
    semantic = index.search(seed_index, PARAPHRASE, k=3, judge=judge)
    candidates = {h.passage.number for h in index.search(seed_index, PARAPHRASE, k=30)}
    assert {h.passage.number for h in semantic} <= candidates, "the judge re-ranks BM25's candidates only"
    assert "NATO’s interference in 2011" in semantic[0].passage.text
    assert [h.score for h in semantic] == sorted((h.score for h in semantic), reverse=True)
    assert lexical, "the lexical path still finds candidates"


def test_what_happened_yesterday_is_a_briefing_of_that_day(seed_index):
    answer = index.answer(seed_index, "What happened yesterday?", now=DAY_AFTER)
    assert answer.answered
    assert answer.kind == "briefing"
    assert [s.article.title for s in answer.briefing.stories] == [SEED_TITLE]


def test_a_range_with_no_stories_names_the_newest_date(seed_index):
    later = dt.datetime(2026, 11, 25, 10, 0, tzinfo=ISTANBUL)
    answer = index.answer(seed_index, "What happened yesterday?", now=later)
    assert not answer.answered
    assert answer.message == "There are no stories from yesterday. The newest articles are from 23 May 2020."
    topical = index.answer(seed_index, "What did Haftar threaten last week?", now=later)
    assert not topical.answered
    assert "The newest articles are from 23 May 2020." in topical.message


def test_time_words_are_not_search_terms(seed_index):
    answer = index.answer(seed_index, "latest news about the Pantsir air defense systems", now=DAY_AFTER)
    assert answer.answered
    assert "latest" not in answer.terms
    assert "news" not in answer.terms
    assert "Pantsir" in answer.quotes[0].text


def test_latest_orders_relevant_quotes_newest_first(tmp_path):
    from .conftest import write

    for day in (3, 9, 20):
        write(
            tmp_path,
            f"opec-{day}.txt",
            f"OPEC meets\n1987-03-{day:02d}\n\nOPEC ministers met on March {day} to discuss oil output quotas.\n",
        )
    idx = index.build(tmp_path)
    now = dt.datetime(1987, 3, 25, 12, 0, tzinfo=dt.UTC)
    answer = index.answer(idx, "latest news about OPEC oil quotas", now=now)
    assert [q.article.date.day for q in answer.quotes] == [20, 9, 3]
