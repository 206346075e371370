"""Passages: offsets into the article, sentence boundaries, sizes."""

from __future__ import annotations

import random
import re
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.passages import (
    MAX_PASSAGE_CHARS,
    MAX_SENTENCE_CHARS,
    MAX_SENTENCE_WORDS,
    MAX_WORDS,
    paragraph_around,
    paragraph_spans,
    split_passages,
)
from index.sentences import SentenceSplitter

SPLITTER = SentenceSplitter()


def test_seed_passages_are_exact_slices(seed_index):
    assert len(seed_index) > 5
    for number in range(len(seed_index)):
        passage = seed_index.passage(number)
        article = seed_index.article(passage.article_id)
        assert article.text[passage.start : passage.end] == passage.text
        assert "\n\n" not in passage.text, "a passage never crosses a paragraph"
        assert len(passage.text.split()) <= MAX_WORDS


def test_paragraph_spans_trim():
    text = "  One.\nstill one.  \n\n\n Two. \n \nThree"
    assert [text[a:b] for a, b in paragraph_spans(text)] == ["One.\nstill one.", "Two.", "Three"]


sentence = st.lists(
    st.sampled_from(["news", "army", "said", "Gen.", "U.S.", "1.5", "base", "Tripoli"]), min_size=1, max_size=30
).map(lambda ws: " ".join(ws) + ".")
paragraph = st.lists(sentence, min_size=1, max_size=12).map(" ".join)
article = st.lists(paragraph, min_size=1, max_size=5).map("\n\n".join)


@settings(max_examples=80, deadline=None)
@given(text=article)
def test_passages_cover_sentences_in_order(text):
    sentences, passages = split_passages(text, SPLITTER)
    assert passages
    previous_end = 0
    for start, end, first in passages:
        assert text[start:end] == text[start:end].strip()
        assert start >= previous_end
        assert sentences[first][0] == start
        previous_end = end
    for a, b in sentences:
        assert 0 <= a < b <= len(text)


# What paragraph_spans did before issue 15 (one regex match per paragraph), as the oracle of what it does now.
_OLD_PARAGRAPH = re.compile(r"(?:[^\n]|\n(?![ \t]*\n))+")


def _old_paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans = []
    for match in _OLD_PARAGRAPH.finditer(text):
        start, end = match.span()
        chunk = match.group()
        start += len(chunk) - len(chunk.lstrip())
        end -= len(chunk) - len(chunk.rstrip())
        if end > start:
            spans.append((start, end))
    return spans


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.sampled_from("\n \ta.\r\x1c\u2028\xa0"), max_size=40))
def test_paragraphs_are_found_as_before(text):
    assert paragraph_spans(text) == _old_paragraph_spans(text)


def _one_line(kind: str, size: int) -> str:
    rng = random.Random(kind)
    if kind == "no whitespace":
        return "".join(rng.choices("abcdefgh", k=size))
    words = ["harbour", "ferry", "storm", "officials", "said", "a", "x" * 300, "Gen.", "U.S.", "1.5"]
    out, total = [], 0
    while total < size:
        out.append(rng.choice(words))
        total += len(out[-1]) + 1
    return " ".join(out)


@pytest.mark.parametrize("kind", ["words", "no whitespace"])
def test_a_run_without_a_sentence_end_becomes_bounded_sentences_and_passages(kind):
    # Issue 15, finding 2: a 16.5 MB one-line file was one 16.5 MB sentence and passage, printed whole by
    # `newsbot search` and `brief`. Long runs are cut at whitespace (anywhere when there is none).
    body = _one_line(kind, 300_000)
    text = f"A short lead. It ends.\n\n{body}\n\nA last paragraph, short."
    sentences, passages = split_passages(text, SPLITTER)
    assert max(b - a for a, b in sentences) <= MAX_SENTENCE_CHARS
    assert max(len(text[a:b].split()) for a, b in sentences) <= MAX_SENTENCE_WORDS
    for start, end, first in passages:
        assert end - start <= MAX_PASSAGE_CHARS
        alone = text[start:end] == text[slice(*sentences[first])]
        assert alone or len(text[start:end].split()) <= MAX_WORDS, "more words only for one sentence alone"
        assert text[start:end] == text[start:end].strip()
    inside = [text[a:b] for a, b in sentences if a >= text.index(body) and b <= text.index(body) + len(body)]
    if kind == "words":
        assert " ".join(inside).split() == body.split(), "every word kept, in order, none cut"
    else:
        assert "".join(inside) == body
        assert {len(piece) for piece in inside[:-1]} == {MAX_SENTENCE_CHARS}
    assert text[sentences[0][0] : sentences[0][1]] == "A short lead.", "real sentences are not touched"


def test_a_long_paragraph_takes_memory_in_proportion_to_its_passages():
    # The paragraph pattern kept ~115 bytes of backtracking state per character: 1.9 GB for a 16 MB line.
    text = "Lead.\n\n" + _one_line("words", 1_000_000)
    tracemalloc.start()
    try:
        split_passages(text, SPLITTER)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * len(text), f"{peak / len(text):.1f} bytes per character"


def test_the_context_of_a_quote_is_at_most_a_passage():
    body = _one_line("words", 200_000)
    text = f"Lead.\n\n{body}\n\nEnd."
    sentences, _ = split_passages(text, SPLITTER)
    for start, end in sentences[1:-1:37]:
        first, last = paragraph_around(text, start, end)
        assert first <= start < end <= last
        assert last - first <= MAX_PASSAGE_CHARS
        assert last - first >= MAX_PASSAGE_CHARS - 2 * 301, "the room around the quote is used"
        assert text[first:last] == text[first:last].strip()
        assert first == text.index(body) or text[first - 1].isspace(), "begins at a word"
        assert last == text.index(body) + len(body) or text[last].isspace(), "ends at a word"
    short = "One.\n\nThe quote. After it.\n\nThree."
    assert paragraph_around(short, short.index("The"), short.index(" After")) == (6, 26), "a short one stays whole"
