"""Split articles into sentences and passages, keeping character offsets into the article text.

A passage is a run of consecutive sentences inside one paragraph, about 40 to 120 words: long enough for
BM25 to see a topic, short enough that the best sentences are near each other. A sentence longer than that
is a passage of its own; a short paragraph (a subheading such as ``WHAT HAPPENED?``) is one too.
"""

from __future__ import annotations

import re

from .sentences import SentenceSplitter

__all__ = ["MAX_WORDS", "MIN_WORDS", "paragraph_around", "paragraph_spans", "split_passages"]

MIN_WORDS = 40
MAX_WORDS = 120
_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    """Offsets of the paragraphs of ``text`` (blocks between blank lines), surrounding whitespace trimmed."""
    spans = []
    for match in _PARAGRAPH.finditer(text):
        start, end = match.span()
        chunk = match.group()
        start += len(chunk) - len(chunk.lstrip())
        end -= len(chunk) - len(chunk.rstrip())
        if end > start:
            spans.append((start, end))
    return spans


def paragraph_around(text: str, start: int, end: int) -> tuple[int, int]:
    """Offsets of the paragraph of ``text`` that holds ``text[start:end]`` (a quote never crosses paragraphs)."""
    before = text.rfind("\n\n", 0, start)
    after = text.find("\n\n", end)
    first = 0 if before < 0 else before + 2
    last = len(text) if after < 0 else after
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
        for start, end in spans:
            count = len(text[start:end].split())
            if words and words + count > MAX_WORDS:
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
            if last and len(text[last[0] : tail[1]].split()) <= MAX_WORDS:
                passages[-1] = (last[0], tail[1], last[2])  # a short tail joins the passage before it
            else:
                passages.append(tail)
    return sentences, passages
