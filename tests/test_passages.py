"""Passages: offsets into the article, sentence boundaries, sizes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from index.passages import MAX_WORDS, paragraph_spans, split_passages
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
