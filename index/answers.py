"""Answers: pick whole sentences from the best passages and quote them verbatim.

Passages come from BM25. Inside each, sentences are weighed by the question terms they hold, each term
counting by its rarity (a smoothed IDF that is positive for every term, so frequent words never weigh
negative or zero as they can under BM25Okapi's floor). A quote is the best sentence of a passage,
extended by the next or previous sentence when that one holds question terms the best one lacks.

A question is "answered" when the best quote covers enough of the question's rarity mass. Terms the articles
never contain count at the highest rarity: asking about "France" in a corpus without it must not be answered
by a sentence that only shares "capital".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .analysis import analyze
from .model import Answer, Quote

if TYPE_CHECKING:
    from .core import Index

__all__ = ["ANSWER_THRESHOLD", "answer"]

# Share of the question's rarity mass the best quote must hold. Chosen on SQuAD dev (see bench/quality.py).
ANSWER_THRESHOLD = 0.5
CANDIDATE_PASSAGES = 30
_PASSAGE_WEIGHT = 0.3  # how much the passage's BM25 score counts next to the sentence's coverage


@dataclass(slots=True)
class _Candidate:
    passage: int
    start: int
    end: int
    coverage: float
    score: float
    terms: tuple[str, ...]


def _best_span(
    sentences: Sequence[tuple[int, int]], sentence_terms: list[set[str]], weights: dict[str, float]
) -> tuple[int, int, set[str]]:
    """Indices [i, j) of the best sentence, possibly with a neighbour that adds new question terms."""

    def mass(terms: set[str]) -> float:
        return sum(weights.get(t, 0.0) for t in terms)

    best = max(range(len(sentences)), key=lambda i: (mass(sentence_terms[i]), -i))
    have = sentence_terms[best]
    first, last = best, best + 1
    gains = []
    for neighbour in (best + 1, best - 1):
        if 0 <= neighbour < len(sentences):
            gains.append((mass(sentence_terms[neighbour] - have), neighbour))
    if gains:
        gain, neighbour = max(gains)
        if gain > 0:
            first, last = min(first, neighbour), max(last, neighbour + 1)
            have = have | sentence_terms[neighbour]
    return first, last, have


def answer(
    idx: Index,
    question: str,
    *,
    limit: int = 3,
    skip: int = 0,
    threshold: float = ANSWER_THRESHOLD,
    judge: object = None,
) -> Answer:
    """Answer ``question`` from ``idx`` with up to ``limit`` verbatim quotes after the first ``skip``, best first.

    Args:
        idx: the index (only its read methods are used: top, rarity, passage_sentences, article_of, titles).
        question: the user's words.
        limit: quotes to return; ``skip`` passes over the first ones, for "More" pages.
        threshold: share of the question's rarity mass the best quote must hold to count as an answer.

    Returns:
        An ``Answer``; ``answered`` is False (with a one-sentence message and nearby titles) when the articles
        do not hold the question's informative terms, or when the question has no searchable words.
    """
    terms = analyze(question)
    if not terms:
        return Answer(
            question=question,
            answered=False,
            message="That question has no words to search for; ask with names, places or topics.",
            suggestions=idx.recent_titles(3),
        )
    distinct = list(dict.fromkeys(terms))
    weights = idx.rarity(distinct)
    total = sum(weights.values())
    hits = idx.top(terms, k=max(CANDIDATE_PASSAGES, 3 * (limit + skip)))
    if len(hits.docs) == 0:
        return Answer(
            question=question,
            answered=False,
            terms=tuple(distinct),
            message="The articles do not mention any of the words in that question.",
            suggestions=idx.recent_titles(3),
        )
    top_score = float(hits.scores[0]) or 1.0
    candidates = []
    for passage, score in zip(hits.docs.tolist(), hits.scores.tolist(), strict=True):
        sentences = idx.passage_sentences(passage)
        article = idx.article_of(passage)
        sentence_terms = [set(analyze(article.text[a:b])) & weights.keys() for a, b in sentences]
        first, last, have = _best_span(sentences, sentence_terms, weights)
        coverage = sum(weights[t] for t in have) / total
        candidates.append(
            _Candidate(
                passage=passage,
                start=sentences[first][0],
                end=sentences[last - 1][1],
                coverage=coverage,
                score=coverage + _PASSAGE_WEIGHT * score / top_score,
                terms=tuple(t for t in distinct if t in have),
            )
        )
    candidates.sort(key=lambda c: (-c.score, c.passage))
    best = candidates[0]
    if best.coverage < threshold:
        return Answer(
            question=question,
            answered=False,
            terms=tuple(distinct),
            message="The articles do not answer that question.",
            suggestions=idx.titles_for(c.passage for c in candidates)[:3],
            coverage=round(best.coverage, 4),
            confidence=round(best.coverage, 4),
        )
    # A passage can match through its article's title alone; with no question term in its own sentences it
    # has nothing to quote, and must neither end the list nor count as a page of "More".
    quotable = [c for c in candidates if c.coverage > 0]
    quotes = []
    for cand in quotable[skip : skip + limit]:
        article = idx.article_of(cand.passage)
        quotes.append(
            Quote(
                text=article.text[cand.start : cand.end],
                score=round(cand.score, 4),
                start=cand.start,
                end=cand.end,
                article=article,
                terms=cand.terms,
            )
        )
    return Answer(
        question=question,
        answered=True,
        quotes=tuple(quotes),
        terms=tuple(distinct),
        coverage=round(best.coverage, 4),
        confidence=round(best.coverage, 4),
    )
