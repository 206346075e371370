"""Answers: the sentences that answer a question, quoted verbatim, or an honest "the articles don't say".

The path of a question:

0. **Markup** typed or pasted into a question (tags, comments, entities) is taken out (``index.talk``).
1. **Small talk** ("hi", "thanks!", "how are you?") is recognised before anything is searched (``index.talk``)
   and gets a friendly line, never quotes. **Time** is read next (``index.timewords.read_time``): "yesterday",
   "in March 1987", "since May 2020" restrict the candidates to articles of that range; "latest" and "what's
   new" order the relevant quotes newest first; a question with nothing but time ("What happened yesterday?")
   gets a briefing of that range instead. A year or date named as such ("in 2019") is also a word of the topic:
   when the stories of its range do not answer, every story is searched with it, and the answer's ``note`` says
   which was done.
2. **Analysis**: the question's terms, each weighed by its rarity (``Archive.rarity``); terms the articles never
   contain weigh the most, so "capital of France" is not answered by a sentence that only shares "capital". The
   one exception is a question's only such word beside words that one story alone holds, all in its title
   ("<b>bold</b> Parasite?"): the question names that story, and its quotes are judged on the other words.
3. **Candidates**: BM25's best passages (``CANDIDATE_PASSAGES``).
4. **Sentences**: every sentence of those passages is scored by the question's rarity mass it holds itself
   (its *coverage*), by the terms it lacks but its neighbours, passage or title hold (at a fraction: *context*),
   by holding the kind of thing the question asks for (a number for "how many", a date for "when", a name for
   "who"; for "which countries" or "which movie", names of that kind, which also stand for the noun itself), and
   by its passage's BM25 score. A follow-up's earlier ``subject`` adds its words at ``SUBJECT_WEIGHT``.
5. **Meaning** (optional): with a ``judge`` (``index.semantic.Judge``), the best sentences by those scores are
   embedded with their titles and scored by their cosine similarity to the question; the decision to answer then
   rests on the meaning too, so a paraphrase ("step in militarily" for "interference") can be answered and a
   question that merely shares words declined.
6. **Quotes**: the best sentences, each possibly extended by a neighbour that holds question terms it lacks,
   never overlapping and never repeating one another (the same sentence from two copies of a wire story is
   quoted once); a later quote is shown only when it reaches the threshold too and lies within
   ``FOLLOWING_MARGIN`` of the first.

The question counts as answered when the best quote's *confidence* reaches the threshold: its coverage on the
lexical path, cosine + half its coverage on the semantic path. Both thresholds were fitted on a calibration
split (bench/quality.py).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from .analysis import analyze, normalize
from .briefs import brief
from .dates import date_text
from .model import Answer, Quote
from .talk import SMALL_TALK_REPLY, is_small_talk, strip_markup
from .timewords import TimeQuery, read_time
from .wordlists import COUNTRIES

if TYPE_CHECKING:
    from .backend import Archive
    from .semantic import Judge

__all__ = [
    "ANSWER_THRESHOLD",
    "LEXICAL_WEIGHTS",
    "SEMANTIC_THRESHOLD",
    "SEMANTIC_WEIGHTS",
    "Weights",
    "answer",
    "judged_passages",
    "matching",
    "quote_key",
]

# Confidence the best quote must reach, one for each path: the lowest that keeps each calibration off-topic set
# answered at 3 % or less (bench/fit.py).
ANSWER_THRESHOLD = 0.69
SEMANTIC_THRESHOLD = 0.72
CANDIDATE_PASSAGES = 30
JUDGED_SENTENCES = 20
# How far below the first quote's confidence a later quote may be and still be shown (on either path's scale; a
# later quote must also reach the threshold itself). On 500 SQuAD calibration questions (semantic path), 60 later
# quotes held the gold answer where the first did not: the threshold alone keeps 55 of them and 151 of all 177
# later quotes; this margin keeps the same 55 and hides 6 more; 0.15 would hide 28 more but lose 2 of the 55.
FOLLOWING_MARGIN = 0.25
# What an earlier question's words weigh in a follow-up, as a share of their rarity: enough to keep the answer on
# the earlier topic, little enough that the follow-up's own words choose the sentence.
SUBJECT_WEIGHT = 0.3


@dataclass(frozen=True, slots=True)
class Weights:
    """How much each sentence feature counts (fitted on the calibration split; see bench/quality.py)."""

    context: float = 1.0  # the question's terms found around the sentence, already counted at a fraction
    neighbour: float = 0.5  # a term in the next or previous sentence of the paragraph counts this much
    passage: float = 0.25  # ... elsewhere in the passage
    title: float = 0.25  # ... in the article's title
    kind: float = 0.1  # holding the kind of thing the question asks for
    bm25: float = 0.3  # the passage's BM25 score, as a share of the best candidate's
    cosine: float = 1.0  # meaning, on the semantic path
    decision_coverage: float = 0.5  # how much the quote's coverage counts in the semantic decision


# Fitted on the calibration sets by bench/fit.py (the best of a grid; the whole table is in bench/results/fit.md).
LEXICAL_WEIGHTS = Weights(context=0.5, kind=0.2, bm25=0.5)
SEMANTIC_WEIGHTS = Weights(cosine=1.5, context=0.5, kind=0.2, bm25=0.3, decision_coverage=0.5)
DEFAULT_WEIGHTS = LEXICAL_WEIGHTS

_NUMBER_QUESTION = re.compile(
    r"\bhow (?:many|much|long|far|old|big|large|high|low|often|fast)\b|\bwhat (?:percent(?:age)?|price|amount|"
    r"number|share|rate|value|total|cost)\b|\bhow much\b",
    re.IGNORECASE,
)
_DATE_QUESTION = re.compile(r"\bwhen\b|\b(?:what|which) (?:year|date|day|month|time)\b", re.IGNORECASE)
_NAME_QUESTION = re.compile(r"\bwho(?:m|se)?\b", re.I)
_PLACE_QUESTION = re.compile(r"\bwhere\b", re.IGNORECASE)
_HAS_NUMBER = re.compile(r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|hundred|thousand|[mb]illion)\b")
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_HAS_DATE = re.compile(
    rf"\b(?:1[6-9]\d\d|20\d\d)\b|\b(?:{_MONTHS})\b|\b(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day\b|\b(?:today|"
    r"yesterday|tomorrow)\b"
)
_HAS_NAME = re.compile(r"(?<=[a-z,;] )[A-Z][a-zA-Z]+")  # a capitalised word that does not start the sentence
_HAS_COUNTRY = re.compile(
    r"(?<![\w.])(?:" + "|".join(re.escape(c) for c in sorted(COUNTRIES, key=len, reverse=True)) + r")(?![\w-])"
)
_HAS_TITLE = re.compile(r"[“\"«‘]\s*[A-Z0-9]|" + _HAS_NAME.pattern)  # a quoted title, or a name
# "Which countries ...", "what Korean movie ...": the noun names the kind of answer, and a sentence that holds
# such names answers it without the noun itself ("Supported by the UAE, Egypt and Russia" for "which countries").
_KIND_NOUNS = {
    r"countr(?:y|ies)|nations?": _HAS_COUNTRY,
    r"movies?|films?|books?|novels?|songs?|albums?|shows?|series|plays?": _HAS_TITLE,
    r"compan(?:y|ies)|firms?|banks?|groups?|teams?|clubs?|part(?:y|ies)|cit(?:y|ies)|towns?|people|persons?"
    r"|leaders?|players?|politicians?|ministers?|officials?": _HAS_NAME,
}
_KIND_QUESTION = re.compile(
    r"\b(?:which|what)\s+(?:(?!(?:did|do|does|is|are|was|were|has|have|had|will|would|can|could|should)\b)"
    r"[\w'’-]+\s+){0,2}?(?P<noun>" + "|".join(_KIND_NOUNS) + r")\b",
    re.IGNORECASE,
)


# How much more holding names of the kind asked for counts than holding a number or a date: a sentence that names
# no country does not answer "which countries", whatever else it shares with the question.
_NAMES_OF_A_KIND = 3.0


@dataclass(frozen=True, slots=True)
class _Asked:
    """What a question asks for: the pattern of such a thing in a sentence, and for "which countries"-like
    questions the noun naming the kind (analysed) and how many names answer it (two for a plural)."""

    pattern: re.Pattern[str]
    noun: str | None = None
    names: int = 1


def _asks_for(question: str) -> _Asked | None:
    """What the question asks for (a number, a date, a name, names of a kind), or None."""
    if _NUMBER_QUESTION.search(question):
        return _Asked(_HAS_NUMBER)
    if _DATE_QUESTION.search(question):
        return _Asked(_HAS_DATE)
    kind = _KIND_QUESTION.search(question)
    if kind is not None:
        noun = kind["noun"].lower()
        pattern = next(p for nouns, p in _KIND_NOUNS.items() if re.fullmatch(nouns, noun))
        terms = analyze(noun)
        plural = (noun.endswith("s") and noun != "series") or noun == "people"
        return _Asked(pattern, terms[0] if terms else None, 2 if plural else 1)
    if _NAME_QUESTION.search(question) or _PLACE_QUESTION.search(question):
        return _Asked(_HAS_NAME)
    return None


def _holds(asked: _Asked | None, text: str) -> bool:
    """Whether a sentence holds what the question asks for (as many names as it asks for)."""
    if asked is None:
        return False
    if asked.names <= 1:
        return asked.pattern.search(text) is not None
    return len(set(asked.pattern.findall(text))) >= asked.names


@dataclass(slots=True)
class _Sentence:
    passage: int
    position: int  # in its passage's sentences
    start: int
    end: int
    terms: frozenset[str]
    coverage: float = 0.0
    context: float = 0.0
    kind: float = 0.0
    bm25: float = 0.0
    cosine: float = 0.0
    score: float = 0.0


def quote_key(text: str) -> str:
    """What two quotes share when they say the same thing: their words, folded (for spotting repeats)."""
    return " ".join(re.findall(r"\w+", normalize(text)))


def _declined(question: str, message: str, **fields: object) -> Answer:
    return Answer(question=question, answered=False, message=message, confidence=-math.inf, **fields)


NOTHING_INDEXED = "Nothing is indexed yet: there are no articles to answer from. Ask again once stories arrive."


def answer(
    idx: Archive,
    question: str,
    *,
    limit: int = 3,
    skip: int = 0,
    threshold: float | None = None,
    judge: Judge | None = None,
    weights: Weights | None = None,
    now: dt.datetime | None = None,
    stories: int = 5,
    subject: str = "",
) -> Answer:
    """Answer ``question`` from ``idx`` with up to ``limit`` verbatim quotes after the first ``skip``, best first.

    Args:
        idx: the archive, on either engine (only the seam's read methods are used: top, rarity, passage_sentences,
            article_of, titles).
        question: the user's words.
        limit: quotes to return; ``skip`` passes over the first ones, for "More" pages.
        threshold: the confidence the best quote must reach; the path's fitted default when None.
        judge: the semantic judge (an embedding model); None answers lexically.
        weights: how the sentence features are combined; the path's fitted defaults when None.
        now: the asker's present, aware, in their time zone ("yesterday" is their yesterday); now in UTC if None.
        stories: how many stories the briefing that answers a question about a time alone holds at most.
        subject: for a follow-up ("and when was that announced?"), the earlier question's words: searched too, each
            weighing ``SUBJECT_WEIGHT`` of what the question's own words weigh, so the answer is about the earlier
            topic while the follow-up's words decide which sentence answers.

    Returns:
        An ``Answer``. ``answered`` is False, with a one-sentence message (and nearby titles when some were
        found), for small talk (``kind == "small talk"``), a question without searchable words, and a question
        the articles do not answer.
    """
    if threshold is None:
        threshold = SEMANTIC_THRESHOLD if judge is not None else ANSWER_THRESHOLD
    if weights is None:
        weights = SEMANTIC_WEIGHTS if judge is not None else LEXICAL_WEIGHTS
    asked = strip_markup(question)
    if is_small_talk(asked, judge=judge):
        return _declined(question, SMALL_TALK_REPLY, kind="small talk")
    if not idx.article_count:  # a normal start for a bot fed by feeds or channels
        return _declined(question, NOTHING_INDEXED)
    when = read_time(asked, now=now or dt.datetime.now(dt.UTC))
    if when.empty:
        return _briefing(idx, question, when, stories)
    options = _Options(limit, skip, threshold, judge, weights, strip_markup(subject))
    result = _search(idx, question, asked, when, options)
    if when.since is None and when.until is None:
        return result
    if result.answered:
        return replace(result, note=f"Searched only the stories dated {when.phrase}.")
    if not when.named or when.newest_first:
        return result
    # A year or a date is also a word of the topic ("emissions in 2019" is told in January 2020): when the
    # stories of the range do not answer, every story may, with the date as one of the words searched.
    anywhen = _search(idx, question, " ".join(asked.split()), TimeQuery(" ".join(asked.split())), options)
    if not anywhen.answered:
        return result
    return replace(anywhen, note=f"No story dated {when.phrase} answers that; these are from stories of any date.")


@dataclass(frozen=True, slots=True)
class _Options:
    limit: int
    skip: int
    threshold: float
    judge: Judge | None
    weights: Weights
    subject: str


def _search(idx: Archive, question: str, asked: str, when: TimeQuery, options: _Options) -> Answer:
    """The quotes that answer ``when.text`` among the stories of ``when``'s range (``asked``: the question as read)."""
    limit, skip, threshold, judge, weights = (
        options.limit, options.skip, options.threshold, options.judge, options.weights
    )
    terms = analyze(when.text)
    if not terms:
        return _declined(
            question,
            "That question has no words to search for; ask with names, places or topics.",
            suggestions=idx.recent_titles(3),
        )
    earlier = [t for t in analyze(options.subject) if t not in terms]
    terms += earlier
    distinct = list(dict.fromkeys(terms))
    rarity = idx.rarity(distinct)
    for term in set(earlier):
        rarity[term] *= SUBJECT_WEIGHT
    total = sum(rarity.values())
    passages, scores = _candidates(idx, terms, when, max(CANDIDATE_PASSAGES, 3 * (limit + skip)))
    if not passages:
        message = "The articles do not mention any of the words in that question."
        if when.since is not None or when.until is not None:
            message = f"No articles from {when.phrase} mention that.{_newest(idx)}"
        return _declined(question, message, terms=tuple(distinct), suggestions=idx.recent_titles(3))
    sentences = _sentences(idx, passages, scores, rarity, total, _asks_for(asked), weights)
    if judge is not None:
        _judge(idx, f"{when.text} {options.subject}".strip(), sentences, judge, weights)
    # Quotes are built lazily: past the page asked for (and a margin for recency ordering), none is needed.
    wanted = skip + limit + (CANDIDATE_PASSAGES if when.newest_first else 3)
    unknown = _lone_unknown(idx, distinct, earlier, passages)
    quotes = _quotes(idx, sentences, rarity, total, judge is not None, weights, wanted, unknown)
    if when.newest_first:
        # Among the quotes that answer, the newest story first; the rest keep their order after them.
        relevant = [q for q in quotes if q[1] >= threshold]
        relevant.sort(key=lambda q: _newest_key(q[0].article.date))
        quotes = relevant + [q for q in quotes if q[1] < threshold]
    suggestions = idx.titles_for(passages)[:3]
    if not quotes or quotes[0][1] < threshold:
        best, coverage = (quotes[0][1], quotes[0][2]) if quotes else (-math.inf, 0.0)
        return replace(
            _declined(question, "The articles do not answer that question.", terms=tuple(distinct)),
            suggestions=suggestions,
            confidence=round(best, 4),
            coverage=round(coverage, 4),
        )
    # A later quote is shown only when it answers too, by the absolute bar and near the first one's confidence: a
    # third quote that merely shares a word ("the tour was put on hold") is filler.
    first = quotes[0][1]
    quotes = quotes[:1] + [q for q in quotes[1:] if q[1] >= max(threshold, first - FOLLOWING_MARGIN)]
    page = [quote for quote, _, _ in quotes[skip : skip + limit]]
    return Answer(
        question=question,
        answered=True,
        quotes=tuple(page),
        terms=tuple(distinct),
        coverage=round(quotes[0][2], 4),
        confidence=round(quotes[0][1], 4),
    )


def _lone_unknown(idx: Archive, terms: Sequence[str], earlier: Sequence[str], passages: Sequence[int]) -> str | None:
    """The question's one word that no passage holds, when its other words are held by one story alone."""
    if earlier:
        return None  # a follow-up's words are the earlier question's as well: not a lone word typed here
    frequency = {t: idx.document_frequency(t) for t in terms}
    unknown = [t for t, df in frequency.items() if df == 0]
    if len(unknown) != 1 or len(terms) < 2:
        return None
    # Every passage holding the other words must be among the candidates and of one story: then those words name
    # that story ("Parasite"), where a common word ("CEO", "animal") is in many and says nothing of the subject.
    stories = {idx.article_of(p).id for p in passages}
    if len(stories) != 1:
        return None
    held = {t: 0 for t in terms if t != unknown[0]}
    title = set(analyze(idx.article_of(passages[0]).title))  # indexed with every passage of the story, as a rule
    for p in passages:
        for t in held.keys() & (set(analyze(idx.passage(p).text)) | title):
            held[t] += 1
    return unknown[0] if all(held[t] >= frequency[t] for t in held) else None


def _newest_key(when: dt.datetime | None) -> tuple[int, float]:
    if when is None:
        return (1, 0.0)
    aware = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return (0, -aware.timestamp())


def _newest(idx: Archive) -> str:
    newest = idx.newest_first[0].date if idx.newest_first else None
    return f" The newest articles are from {date_text(newest)}." if newest else ""


def _briefing(idx: Archive, question: str, when: TimeQuery, stories: int) -> Answer:
    """A question with nothing but time ("What happened yesterday?"): the stories of that range, newest first."""
    briefing = brief(idx, None, since=when.since, until=when.until, n=stories)
    if not briefing.stories:
        return _declined(question, f"There are no stories from {when.phrase}.{_newest(idx)}", kind="briefing")
    return Answer(question=question, answered=True, kind="briefing", briefing=briefing, confidence=math.inf)


def _candidates(idx: Archive, terms: list[str], when: TimeQuery, k: int) -> tuple[list[int], list[float]]:
    """BM25's best ``k`` passages, of articles in the question's time range when it names one."""
    if when.since is None and when.until is None:
        top = idx.top(terms, k)
        return top.docs.tolist(), top.scores.tolist()
    if not when.may_cover_any(idx.newest_first):
        return [], []  # else every passage with the question's words would be read, to find none in range
    wanted = k
    while True:
        top = idx.top(terms, wanted)
        kept = [(d, s) for d, s in zip(top.docs.tolist(), top.scores.tolist(), strict=True)
                if when.covers(idx.article_of(d).date)]
        if len(kept) >= k or len(top.docs) < wanted:
            return [d for d, _ in kept[:k]], [s for _, s in kept[:k]]
        wanted *= 8  # most candidates were out of range: look further down the ranking


def matching(
    idx: Archive,
    topic: str,
    *,
    only: set[str],
    judge: Judge | None = None,
    threshold: float | None = None,
) -> list[Quote]:
    """The stories among ``only`` (article ids) that answer ``topic`` as well as an answer must: one quote each.

    The same relevance as ``answer`` (its weights and threshold for the path), for followed topics: a story is
    sent when its best quote would have been good enough to answer the topic as a question. Best first.
    """
    if threshold is None:
        threshold = SEMANTIC_THRESHOLD if judge is not None else ANSWER_THRESHOLD
    weights = SEMANTIC_WEIGHTS if judge is not None else LEXICAL_WEIGHTS
    terms = analyze(topic)
    if not terms or not only:
        return []
    rarity = idx.rarity(terms)
    total = sum(rarity.values())
    wanted = max(CANDIDATE_PASSAGES, 5 * len(only))
    while True:
        top = idx.top(terms, wanted)
        kept = [(d, s) for d, s in zip(top.docs.tolist(), top.scores.tolist(), strict=True)
                if idx.article_of(d).id in only]
        if len(kept) >= CANDIDATE_PASSAGES or len(top.docs) < wanted:
            break
        wanted *= 8
    if not kept:
        return []
    passages, scores = [d for d, _ in kept], [s for _, s in kept]
    sentences = _sentences(idx, passages, scores, rarity, total, _asks_for(topic), weights)
    if judge is not None:
        _judge(idx, topic, sentences, judge, weights)
    out: dict[str, Quote] = {}
    for quote, confidence, _ in _quotes(idx, sentences, rarity, total, judge is not None, weights, len(sentences)):
        if confidence >= threshold and quote.article.id not in out:
            out[quote.article.id] = quote
    return list(out.values())


def judged_passages(
    idx: Archive, query: str, passages: Sequence[int], scores: Sequence[float], judge: Judge
) -> list[tuple[int, float]]:
    """Candidate passages re-ranked by their best sentence as the semantic answer path scores it.

    Passages without a judged sentence follow, in their BM25 order. Used by search with a judge.
    """
    terms = analyze(query)
    rarity = idx.rarity(terms)
    sentences = _sentences(idx, passages, scores, rarity, sum(rarity.values()), _asks_for(query), SEMANTIC_WEIGHTS)
    _judge(idx, query, sentences, judge, SEMANTIC_WEIGHTS)
    best: dict[int, float] = {}
    for sentence in sentences:
        if sentence.score != -math.inf:
            best.setdefault(sentence.passage, sentence.score)
    judged = sorted(best.items(), key=lambda item: (-item[1], item[0]))
    return judged + [(p, -math.inf) for p in passages if p not in best]


def _sentences(
    idx: Archive,
    passages: Sequence[int],
    scores: Sequence[float],
    rarity: dict[str, float],
    total: float,
    asked: _Asked | None,
    weights: Weights,
) -> list[_Sentence]:
    """Every sentence of the candidate passages, with its lexical features and score."""
    top_score = scores[0] or 1.0
    out: list[_Sentence] = []
    wanted = rarity.keys()
    for passage, score in zip(passages, scores, strict=True):
        article = idx.article_of(passage)
        spans = idx.passage_sentences(passage)
        texts = [article.text[a:b] for a, b in spans]
        found = [frozenset(analyze(t)) & wanted for t in texts]
        holds = [_holds(asked, t) for t in texts]
        if asked is not None and asked.noun in wanted:
            # The names answer the noun that asked for them: "Egypt" is the country "which country" asks for, and
            # "the country" without a name answers nothing.
            found = [f | {asked.noun} if h and f else f - {asked.noun} for f, h in zip(found, holds, strict=True)]
        in_passage = frozenset().union(*found)
        in_title = frozenset(analyze(article.title)) & wanted
        for i, ((start, end), have) in enumerate(zip(spans, found, strict=True)):
            if not have:
                continue  # a sentence without a question term is nothing to quote
            near = set()
            for j in (i - 1, i + 1):
                if 0 <= j < len(spans) and "\n\n" not in article.text[min(end, spans[j][1]) : max(start, spans[j][0])]:
                    near |= found[j]
            context = 0.0
            for term in wanted - have:
                fraction = max(
                    weights.neighbour if term in near else 0.0,
                    weights.passage if term in in_passage else 0.0,
                    weights.title if term in in_title else 0.0,
                )
                context += rarity[term] * fraction
            sentence = _Sentence(
                passage=passage,
                position=i,
                start=start,
                end=end,
                terms=have,
                coverage=sum(rarity[t] for t in have) / total,
                context=context / total,
                kind=(_NAMES_OF_A_KIND if asked.noun else 1.0) if holds[i] else 0.0,
                bm25=score / top_score,
            )
            sentence.score = _lexical_score(sentence, weights)
            out.append(sentence)
    out.sort(key=lambda s: (-s.score, s.passage, s.position))
    return out


def _lexical_score(sentence: _Sentence, weights: Weights) -> float:
    return (
        sentence.coverage
        + weights.context * sentence.context
        + weights.kind * sentence.kind
        + weights.bm25 * sentence.bm25
    )


def _judge(idx: Archive, question: str, sentences: list[_Sentence], judge: Judge, weights: Weights) -> None:
    """Re-score the best sentences by meaning: cosine to the question, with their titles for context."""
    chosen = sentences[:JUDGED_SENTENCES]
    texts = []
    for sentence in chosen:
        article = idx.article_of(sentence.passage)
        texts.append(f"{article.title}. {article.text[sentence.start : sentence.end]}")
    cosines = judge.similarities(question, texts)
    for sentence, cosine in zip(chosen, cosines, strict=True):
        sentence.cosine = float(cosine)
        sentence.score = weights.cosine * sentence.cosine + _lexical_score(sentence, weights)
    for sentence in sentences[JUDGED_SENTENCES:]:
        sentence.score = -math.inf  # not judged: never above a judged one
    sentences.sort(key=lambda s: (-s.score, s.passage, s.position))


def _quotes(
    idx: Archive,
    sentences: list[_Sentence],
    rarity: dict[str, float],
    total: float,
    semantic: bool,
    weights: Weights,
    wanted: int,
    unknown: str | None = None,
) -> list[tuple[Quote, float, float]]:
    """Quotes best first, each with its confidence and coverage; none overlapping, none repeating another's words.

    ``unknown``, the question's one word no passage holds, is left out of the coverage of a quote whose article's
    title holds every other word of the question ("<b>bold</b> Parasite?" of "'Parasite' scores historic upset"):
    the question names that story, and a word the archive never uses cannot be answered by another one.
    """
    chosen: list[tuple[Quote, float, float]] = []
    taken: list[tuple[str, int, int]] = []  # article id, start, end
    seen: set[str] = set()
    for sentence in sentences:
        if sentence.score == -math.inf or len(chosen) >= wanted:
            break
        article = idx.article_of(sentence.passage)
        if any(a == article.id and s < sentence.end and sentence.start < e for a, s, e in taken):
            continue
        start, end, have = _extend(idx, sentence, rarity)
        if any(a == article.id and s < end and start < e for a, s, e in taken):
            start, end, have = sentence.start, sentence.end, sentence.terms
        text = article.text[start:end]
        key = quote_key(text)
        if key in seen:
            continue  # the same words from another copy of the story
        seen.add(key)
        taken.append((article.id, start, end))
        coverage = sum(rarity[t] for t in have) / total
        if unknown is not None and rarity.keys() - {unknown} <= frozenset(analyze(article.title)):
            coverage = sum(rarity[t] for t in have) / (total - rarity[unknown])
        confidence = sentence.cosine + weights.decision_coverage * coverage if semantic else coverage
        chosen.append(
            (
                Quote(
                    text=text,
                    score=round(sentence.score, 4),
                    start=start,
                    end=end,
                    article=article,
                    terms=tuple(t for t in rarity if t in have),
                ),
                confidence,
                coverage,
            )
        )
    return chosen


def _extend(idx: Archive, sentence: _Sentence, rarity: dict[str, float]) -> tuple[int, int, frozenset[str]]:
    """The sentence, joined by the neighbour in its paragraph that adds the most question terms it lacks."""
    article = idx.article_of(sentence.passage)
    spans = idx.passage_sentences(sentence.passage)
    best_gain, best = 0.0, None
    for j in (sentence.position + 1, sentence.position - 1):
        if not 0 <= j < len(spans):
            continue
        a, b = spans[j]
        if "\n\n" in article.text[min(sentence.end, b) : max(sentence.start, a)]:
            continue  # never across a paragraph
        extra = (frozenset(analyze(article.text[a:b])) & rarity.keys()) - sentence.terms
        gain = sum(rarity[t] for t in extra)
        if gain > best_gain:
            best_gain, best = gain, (min(sentence.start, a), max(sentence.end, b), sentence.terms | extra)
    return best if best is not None else (sentence.start, sentence.end, sentence.terms)
