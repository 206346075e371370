"""Split articles into sentences and passages, keeping character offsets into the article text.

A passage is a run of consecutive sentences inside one paragraph, about 40 to 120 words: long enough for
BM25 to see a topic, short enough that the best sentences are near each other. A sentence longer than that
is a passage of its own; a short paragraph (a subheading such as ``WHAT HAPPENED?``) is one too.

Everything is bounded, whatever the input: a "sentence" longer than ``MAX_SENTENCE_CHARS`` characters or
``MAX_SENTENCE_WORDS`` words (a run with no sentence end, such as a one-line file of 16 MB) is cut at whitespace
into pieces within both (at any character when there is no whitespace), and no passage is longer than
``MAX_PASSAGE_CHARS``, so memory per input byte stays small and no quote, passage or context shown to a user is
longer than a passage. No real sentence is cut: the longest in Reuters-21578 has 688 characters and 160 words,
in SciFact 1,582 and 218.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .sentences import SentenceSplitter

__all__ = [
    "MAX_PASSAGE_CHARS",
    "MAX_SENTENCE_CHARS",
    "MAX_SENTENCE_WORDS",
    "MAX_WORDS",
    "MIN_WORDS",
    "paragraph_around",
    "paragraph_spans",
    "split_passages",
]

MIN_WORDS = 40
MAX_WORDS = 120
MAX_SENTENCE_CHARS = 2000
MAX_SENTENCE_WORDS = 250
MAX_PASSAGE_CHARS = 2000
# A newline that ends a paragraph: a blank line (only spaces or tabs) follows it. Found one at a time, so the
# scan keeps no state per character (a pattern repeating a group per character held ~115 bytes of backtracking
# state per character of a paragraph: 1.9 GB for a 16 MB line).
_PARAGRAPH_END = re.compile(r"\n(?=[ \t]*\n)")
_LAST_SPACE = re.compile(r".*\s", re.DOTALL)  # greedy: matched from a position, ends after the last whitespace
_SPACE = re.compile(r"\s")
_WORD_RUN = re.compile(r"\S+")


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the paragraphs of ``text`` (blocks between blank lines), surrounding whitespace trimmed."""
    spans = []
    start = 0
    for match in _PARAGRAPH_END.finditer(text):
        first, last = _trimmed(text, start, match.start())
        if last > first:
            spans.append((first, last))
        start = match.end()
    first, last = _trimmed(text, start, len(text))
    if last > first:
        spans.append((first, last))
    return spans


def bounded(
    text: str, start: int, end: int, *, chars: int = MAX_SENTENCE_CHARS, words: int = MAX_SENTENCE_WORDS
) -> list[tuple[int, int]]:
    """``text[start:end]`` (trimmed) as pieces of at most ``chars`` characters and ``words`` words, each trimmed.

    A piece ends before its ``words + 1``-th word, else at the last whitespace within ``chars`` characters, else
    (a run without whitespace) after ``chars`` characters. A short enough range is one piece.
    """
    start, end = _trimmed(text, start, end)
    pieces = []
    while start < end:
        stop = min(end, start + chars)
        cut = next((w.start() for n, w in enumerate(_WORD_RUN.finditer(text, start, stop)) if n == words), None)
        if cut is None and stop == end:
            cut = end
        elif cut is None:
            found = _LAST_SPACE.match(text, start, stop + 1)
            cut = found.end() - 1 if found and found.end() - 1 > start else stop
        pieces.append(_trimmed(text, start, cut))
        start = _trimmed(text, cut, end)[0]
    return pieces


def _bounded_sentences(text: str, spans: list[tuple[int, int]]) -> Iterator[tuple[int, int, int]]:
    """The sentence spans with their word counts, over-long ones cut by ``bounded`` (the rest untouched)."""
    for start, end in spans:
        # A long range's words are never counted whole: splitting 16 MB into words takes 130 MB.
        count = len(text[start:end].split()) if end - start <= MAX_SENTENCE_CHARS else MAX_SENTENCE_WORDS + 1
        if count > MAX_SENTENCE_WORDS:
            for a, b in bounded(text, start, end):
                yield a, b, len(text[a:b].split())
        else:
            yield start, end, count


def paragraph_around(text: str, start: int, end: int, *, limit: int = MAX_PASSAGE_CHARS) -> tuple[int, int]:
    """Offsets of the paragraph of ``text`` that holds ``text[start:end]`` (a quote never crosses paragraphs).

    A paragraph longer than ``limit`` characters is cut, at whitespace, to at most ``limit`` around the quote
    (never cutting the quote), so the context shown with a quote is never longer than a passage.
    """
    before = text.rfind("\n\n", max(0, start - limit), start)
    after = text.find("\n\n", end, end + limit)
    first = before + 2 if before >= 0 else max(0, start - limit)
    last = after if after >= 0 else min(len(text), end + limit)
    room = max(0, limit - (end - start))
    if (start - first) + (last - end) > room:
        side_before = min(start - first, max(room // 2, room - (last - end)))
        side_after = min(last - end, room - side_before)
        if start - first > side_before:
            first = start - side_before
            space = _SPACE.search(text, first, start)  # begin at a word
            first = space.end() if space else first
        if last - end > side_after:
            last = end + side_after
            space = _LAST_SPACE.match(text, end, last + 1)  # end after a word
            last = space.end() - 1 if space else last
    while first < start and text[first].isspace():
        first += 1
    while last > end and text[last - 1].isspace():
        last -= 1
    return first, last


def split_passages(text: str, splitter: SentenceSplitter) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    """Sentences and passages of one article.

    Args:
        text: the article text.
        splitter: the corpus's sentence splitter.

    Returns:
        ``(sentences, passages)``: sentence spans ``(start, end)`` in text order, and passages as
        ``(start, end, first_sentence)`` where ``first_sentence`` indexes ``sentences``; a passage holds the
        sentences from its first up to the next passage's first.
    """
    sentences: list[tuple[int, int]] = []
    passages: list[tuple[int, int, int]] = []
    for p_start, p_end in paragraph_spans(text):
        spans = splitter.spans(text, p_start, p_end) or [(p_start, p_end)]
        first_in_paragraph = len(passages)
        group_first = len(sentences)
        words = 0
        for start, end, count in _bounded_sentences(text, spans):
            too_long = words and end - sentences[group_first][0] > MAX_PASSAGE_CHARS
            if words and (words + count > MAX_WORDS or too_long):
                passages.append((sentences[group_first][0], sentences[-1][1], group_first))
                group_first, words = len(sentences), 0
            sentences.append((start, end))
            words += count
            if words >= MIN_WORDS:
                passages.append((sentences[group_first][0], end, group_first))
                group_first, words = len(sentences), 0
        if group_first < len(sentences):
            tail = (sentences[group_first][0], sentences[-1][1], group_first)
            last = passages[-1] if len(passages) > first_in_paragraph else None
            joined = last and tail[1] - last[0] <= MAX_PASSAGE_CHARS
            if joined and len(text[last[0] : tail[1]].split()) <= MAX_WORDS:
                passages[-1] = (last[0], tail[1], last[2])  # a short tail joins the passage before it
            else:
                passages.append(tail)
    return sentences, passages
