"""Briefings: a short digest of stories, each with one or two sentences quoted verbatim, near-duplicates once.

With a topic, the stories whose passages match it best by BM25, each quoted by the sentences that best match
the topic; without one, the most recent stories by date (undated last), each quoted by its lead. Stories that
are near-duplicates of one already chosen (the same story indexed twice, or rewritten wire copies) are left
out. Two stories are near-duplicates when the Jaccard similarity of their 3-word shingle sets is at least
``NEAR_DUPLICATE`` (0.6), or ``SHORT_NEAR_DUPLICATE`` (0.9) when either has fewer than ``SHORT_WORDS`` (60)
words. Both thresholds were read off Reuters-21578 with ``bench/dedup.py``: long pairs above 0.6 are
corrections and rewritten wire copy of one story, while short templated stories (dividend notices, daily
prices) of different companies or days reach 0.6 to 0.8 and differ only in the names and numbers that matter.
A truncated wire copy (the same title, its paragraphs opening the longer copy) is the same story too.

A story is compared by its first ``SHINGLE_CHARS`` characters (the longest Reuters-21578 story has 12,338), so
a briefing's memory stays small whatever the articles hold; and a quote of two sentences is never longer than a
passage (``MAX_PASSAGE_CHARS``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .analysis import analyze, normalize
from .dates import date_text, within
from .model import Article, Briefing, Quote, Story
from .passages import MAX_PASSAGE_CHARS

if TYPE_CHECKING:
    from .backend import Archive

__all__ = [
    "NEAR_DUPLICATE",
    "Briefing",
    "Story",
    "brief",
    "near_duplicates",
    "shingles",
    "similarity",
    "truncated_copy",
]

NEAR_DUPLICATE = 0.6
SHORT_NEAR_DUPLICATE = 0.9
SHORT_WORDS = 60
LEAD_WORDS = 25  # a lead sentence shorter than this is followed by the next one
SHINGLE_CHARS = 100_000
_WORD = re.compile(r"\w+")
_NON_SPACE = re.compile(r"\S+")


def shingles(text: str, size: int = 3) -> frozenset[str]:
    """The set of ``size``-word shingles of a text (normalized words; its first ``SHINGLE_CHARS`` characters)."""
    words = _WORD.findall(normalize(text[:SHINGLE_CHARS]))
    if len(words) <= size:
        return frozenset([" ".join(words)]) if words else frozenset()
    return frozenset(" ".join(words[i : i + size]) for i in range(len(words) - size + 1))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Jaccard similarity of two shingle sets (0 when both are empty)."""
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def near_duplicates(a: str, b: str, *, sets: tuple[frozenset[str], frozenset[str]] | None = None) -> bool:
    """Whether two texts tell the same story (see the module docstring for the rule and its measurement)."""
    first, second = sets or (shingles(a), shingles(b))
    short = _fewer_words(a, SHORT_WORDS) or _fewer_words(b, SHORT_WORDS)
    return similarity(first, second) >= (SHORT_NEAR_DUPLICATE if short else NEAR_DUPLICATE)


def _fewer_words(text: str, n: int) -> bool:
    """``len(text.split()) < n``, without splitting a long text whole."""
    return sum(1 for _ in itertools.islice(_NON_SPACE.finditer(text), n)) < n


def truncated_copy(a: Article, b: Article) -> bool:
    """Whether one article is a cut-short copy of the other: the same title, and its paragraphs open the other.

    Wire services send a story, then a longer version; their shingles differ too much for ``near_duplicates``
    when the first copy is a fraction of the second, yet a reader sees one story.
    """
    if " ".join(normalize(a.title).split()) != " ".join(normalize(b.title).split()):
        return False
    short, long = sorted((a, b), key=lambda article: len(article.text))
    lead = [p.strip() for p in short.text.split("\n\n") if p.strip()][:2]
    return bool(lead) and long.text.startswith("\n\n".join(lead))


def _joinable(text: str, first: tuple[int, int], second: tuple[int, int]) -> bool:
    """Whether two consecutive sentences may be quoted together: one paragraph, at most a passage long."""
    return "\n\n" not in text[first[1] : second[0]] and second[1] - first[0] <= MAX_PASSAGE_CHARS


def _lead(idx: Archive, article: Article) -> tuple[tuple[int, int], ...]:
    spans = idx.article_sentences(article.id)
    if not spans:
        return ()
    first = spans[0]
    short = len(article.text[first[0] : first[1]].split()) < LEAD_WORDS
    if short and len(spans) > 1 and _joinable(article.text, first, spans[1]):
        return (first, spans[1])
    return (first,)


def _best_sentences(idx: Archive, article: Article, weights: dict[str, float]) -> tuple[tuple[int, int], ...]:
    spans = idx.article_sentences(article.id)
    scored = [(sum(weights.get(t, 0.0) for t in set(analyze(article.text[a:b]))), i) for i, (a, b) in enumerate(spans)]
    if not scored:
        return ()
    best_score, best = max(scored, key=lambda x: (x[0], -x[1]))
    chosen = [best]
    neighbours = [
        (scored[j][0], j)
        for j in (best - 1, best + 1)
        if 0 <= j < len(spans) and _joinable(article.text, spans[min(j, best)], spans[max(j, best)])
    ]
    if neighbours:
        score, j = max(neighbours)
        if score > 0 and score >= best_score / 2:
            chosen.append(j)
    return tuple(spans[i] for i in sorted(chosen))


def _quote(article: Article, spans: Iterable[tuple[int, int]], score: float) -> tuple[Quote, ...]:
    spans = list(spans)
    if not spans:
        return ()
    start, end = spans[0][0], spans[-1][1]  # consecutive sentences: one quote from the first to the last
    return (Quote(text=article.text[start:end], score=round(score, 4), start=start, end=end, article=article),)


def brief(
    idx: Archive,
    topic: str | None = None,
    *,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    n: int = 5,
    exclude: Iterable[str] = (),
    only: Iterable[str] | None = None,
) -> Briefing:
    """A digest of ``n`` stories.

    Args:
        idx: the index.
        topic: what the stories should be about; None or empty for the latest stories.
        since: only stories published at or after this date (undated stories are left out then); a naive
            date is taken as UTC against aware article dates, an aware one by the wall clock against naive ones.
        until: only stories published before this date.
        n: how many stories at most.
        exclude: article ids to leave out (already sent).
        only: when given, only these article ids may appear (e.g. stories new since a previous briefing).

    Returns:
        The briefing; ``stories`` is empty (with a ``message``) when nothing matches.
    """
    excluded = set(exclude)
    allowed = set(only) if only is not None else None

    def eligible(article: Article) -> bool:
        if article.id in excluded or (allowed is not None and article.id not in allowed):
            return False
        return within(article.date, since, until)

    topic = (topic or "").strip() or None
    candidates: list[tuple[Article, float, tuple[tuple[int, int], ...]]] = []
    if topic:
        terms = analyze(topic)
        if not terms:
            return Briefing(topic, since, (), message="That topic has no words to search for.")
        weights = idx.rarity(terms)
        seen: set[str] = set()
        top = idx.top(terms, max(200, 20 * n))
        for passage, score in zip(top.docs.tolist(), top.scores.tolist(), strict=True):
            article = idx.article_of(passage)
            if article.id in seen or not eligible(article):
                continue
            seen.add(article.id)
            candidates.append((article, score, _best_sentences(idx, article, weights)))
            if len(candidates) >= 4 * n:
                break
    else:
        newest = (a for a in idx.newest_first if eligible(a))
        for article in itertools.islice(newest, 4 * n):
            candidates.append((article, 0.0, _lead(idx, article)))
    stories: list[Story] = []
    kept: list[tuple[Article, frozenset[str]]] = []
    duplicates = 0
    for article, score, spans in candidates:
        if len(stories) >= n:
            break
        fingerprint = shingles(article.text)
        if any(
            near_duplicates(article.text, other.text, sets=(fingerprint, fp)) or truncated_copy(article, other)
            for other, fp in kept
        ):
            duplicates += 1
            continue
        quotes = _quote(article, spans, score)
        if quotes:
            kept.append((article, fingerprint))
            stories.append(Story(article=article, quotes=quotes, score=score))
    message = ""
    if not stories:
        message = "No stories match that topic" if topic else "No stories to brief"
        if not idx.article_count:
            message = "Nothing is indexed yet: there are no articles to brief from"
        if since is not None and until is not None:
            message += f" published from {date_text(since)} to before {date_text(until)}"
        elif since is not None:
            message += f" published since {date_text(since)}"
        elif until is not None:
            message += f" published before {date_text(until)}"
        message += "."
        if (since is not None or until is not None) and idx.newest_first and idx.newest_first[0].date:
            message += f" The newest articles are from {date_text(idx.newest_first[0].date)}."
    return Briefing(topic, since, tuple(stories), duplicates, message, until=until)
