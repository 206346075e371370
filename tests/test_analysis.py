"""The analyzer and the sentence splitter, offline."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.analysis import analyze, normalize
from index.sentences import SentenceSplitter


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Hafter’s forces", ["hafter", "forc"], id="curly-apostrophe"),
        pytest.param("Hafter's forces", ["hafter", "forc"], id="straight-apostrophe"),
        pytest.param("Al-Watiya Air Base", ["al", "watiya", "alwatiya", "air", "base"], id="hyphenated-name"),
        pytest.param("Al–Watiya", ["al", "watiya", "alwatiya"], id="en-dash-name"),
        pytest.param("a 1.5 pct rise of 1,000", ["1.5", "pct", "rise", "1000"], id="numbers"),
        pytest.param("The U.S. said", ["us", "say"], id="acronym"),
        pytest.param("Zürich CAFÉ", ["zurich", "cafe"], id="accents"),
        pytest.param("hid\u200bden \u202eword", ["hidden", "word"], id="invisible-characters"),
        pytest.param("the of and is to", [], id="only-stopwords"),
        pytest.param("<b>plan</b> B", ["plan"], id="single-letters"),
        pytest.param("?!... ---", [], id="only-punctuation"),
        pytest.param("seized seizing seizes", ["seiz", "seiz", "seiz"], id="stemming"),
        pytest.param("he said, she says, they say", ["say", "say", "say"], id="irregular-verbs"),
        pytest.param("Who won the World Series?", ["win", "world", "seri"], id="won-is-a-verb-not-a-stopword"),
        pytest.param("Jack Ma and Don King", ["jack", "ma", "don", "king"], id="contraction-stubs-are-names"),
        pytest.param("they won't, don't", [], id="whole-contractions-stay-stopwords"),
        pytest.param("AT&T, S&P and P&G", ["at&t", "s&p", "p&g"], id="ampersand-names"),
        pytest.param("France paid francs", ["france", "pay", "franc"], id="france-is-not-francs"),
        pytest.param("the United States unit", ["united", "state", "unit"], id="united-is-not-unit"),
        pytest.param("AIDS aid", ["aids", "aid"], id="aids-is-not-aid"),
    ],
)
def test_analyze(text, expected):
    assert analyze(text) == expected


def test_question_and_passage_share_terms():
    assert set(analyze("Which air base did the GNA seize?")) <= set(
        analyze("the GNA seized Al-Watiya Air Base from General Khalifa Haftar’s LNA")
    )


def test_normalize_folds_quotes():
    assert normalize("“Hafter’s”") == '"hafter\'s"'


def test_sentences_keep_abbreviations():
    text = "The U.S. Army said on Feb. 3 that Gen. Smith left Washington. He went home to Texas."
    splitter = SentenceSplitter()
    spans = splitter.spans(text)
    assert [text[a:b] for a, b in spans] == [
        "The U.S. Army said on Feb. 3 that Gen. Smith left Washington.",
        "He went home to Texas.",
    ]


def test_works_without_nltk_data(tmp_path):
    """No NLTK data directory at all: analysis and sentence splitting still work, nothing is downloaded."""
    code = (
        "import nltk, index\n"
        "nltk.download = None\n"  # any download attempt would now fail loudly
        "idx = index.build('seeds')\n"
        "print(index.answer(idx, 'Which air base did the GNA seize?').answered)\n"
    )
    env = {**os.environ, "NLTK_DATA": str(tmp_path / "nothing"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=os.path.dirname(os.path.dirname(__file__)),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "True"


def _reference_normalize(text: str) -> str:
    """The plain definition that normalize() implements faster."""
    import unicodedata

    from index.analysis import _FOLD, _INVISIBLE

    decomposed = unicodedata.normalize("NFKD", _INVISIBLE.sub("", text).translate(_FOLD))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", stripped).casefold()


@settings(max_examples=300, deadline=None)
@given(text=st.text(alphabet=st.characters(max_codepoint=0x2FFFF), max_size=40))
def test_normalize_matches_its_definition(text):
    assert normalize(text) == _reference_normalize(text)
