"""The sentence splitter: Punkt's spans exactly, trained parameters that survive JSON, and nltk as the oracle."""

from __future__ import annotations

import gzip
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.tokenize.punkt import PunktLanguageVars, PunktSentenceTokenizer, PunktTrainer

from index.errors import InvalidOption, NewsbotError
from index.passages import paragraph_spans
from index.sentences import (
    _PERIOD_CONTEXT,
    _REALIGN,
    _WORD,
    PARAMETERS_VERSION,
    InvalidSentenceParameters,
    SentenceSplitter,
    _LanguageVars,
    _Token,
    _training_text,
)

from .conftest import SEEDS

SEED_TEXTS = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]

# A sample with abbreviations, initials, numbers and quotes, so training learns more than nothing.
NEWS = [
    "Shares of Acme Corp. rose 3.5 pct to 12.50 dlrs on Monday, the company said. "
    "Mr. J. Smith, the chairman, said the U.S. unit would be sold by Dec. 31. It expects a profit.",
    "The talks ended. “We are not satisfied,” said Gen. Lee. He left at 5 p.m. on Friday... "
    "Officials said (in a statement.) that prices fell. Why? Nobody knows!",
    "In 1987, the E.E.C. said output fell 2.1 pct. The bank's no. 2 official, Dr. A. B. Jones, agreed.",
]


@pytest.fixture(scope="module")
def splitter() -> SentenceSplitter:
    return SentenceSplitter(SEED_TEXTS + NEWS * 20)


def _same_patterns(ours: str, theirs: str) -> bool:
    """Equal regex sources, but for the order nltk's set gives "?" and "!" (it varies with the hash seed)."""
    return _sorted_ends(ours) == _sorted_ends(theirs)


def _sorted_ends(pattern: str) -> str:
    return pattern.replace("!\\?", "?!").replace("\\?!", "?!")


def _nltk_3_10_patterns() -> bool:
    """Whether the installed nltk's own English patterns are the ones pinned in index.sentences (nltk >= 3.10)."""
    language = PunktLanguageVars()
    return (
        _same_patterns(_WORD.pattern, language._word_tokenizer_re().pattern)
        and _same_patterns(_PERIOD_CONTEXT.pattern, language.period_context_re().pattern)
        and _REALIGN.pattern == language.re_boundary_realignment.pattern
    )


needs_nltk_3_10 = pytest.mark.skipif(
    not _nltk_3_10_patterns(), reason="the installed nltk predates 3.10's quote handling, which index.sentences pins"
)


def nltk_spans(tokenizer: PunktSentenceTokenizer, text: str) -> list[tuple[int, int]]:
    """nltk's spans of every paragraph of ``text``, as offsets into ``text``."""
    return [
        (start + a, start + b)
        for start, end in paragraph_spans(text)
        for a, b in tokenizer.span_tokenize(text[start:end])
    ]


def shifted(tokenizer: PunktSentenceTokenizer, text: str) -> list[tuple[int, int]]:
    """nltk's spans of ``text`` with its surrounding whitespace removed, as offsets into ``text``."""
    offset = len(text) - len(text.lstrip())
    return [(offset + a, offset + b) for a, b in tokenizer.span_tokenize(text.strip())]


def our_spans(splitter: SentenceSplitter, text: str) -> list[tuple[int, int]]:
    return [span for start, end in paragraph_spans(text) for span in splitter.spans(text, start, end)]


def nltk_reference(splitter: SentenceSplitter) -> PunktSentenceTokenizer:
    """nltk's own tokenizer, with its own English patterns, and the splitter's parameters."""
    return PunktSentenceTokenizer(splitter.punkt_parameters())


def nltk_algorithm(splitter: SentenceSplitter) -> PunktSentenceTokenizer:
    """nltk's own decision code, with the patterns pinned in index.sentences (any nltk version)."""
    return PunktSentenceTokenizer(splitter.punkt_parameters(), lang_vars=_LanguageVars(), token_cls=_Token)


# Paragraphs made of the pieces Punkt has rules for: words, abbreviations, initials, numbers, quotes and
# brackets, ellipses, end punctuation, glued together or separated by assorted whitespace.
WORDS = st.sampled_from(
    ["the", "The", "said", "Said", "market", "Market", "it", "It", "in", "He", "prices", "rose", "Zürich", "ÉTÉ", "x"]
)
ABBREVIATIONS = st.sampled_from(["Mr.", "Corp.", "U.S.", "u.s.", "Gen.", "Dec.", "e.g.", "no.", "No.", "p.m.", "Inc."])
INITIALS = st.sampled_from(["J.", "A.", "b.", "Z.", "É."])
NUMBERS = st.sampled_from(["3.5", "1,000", "12.", "1987.", "-2.1", ".5", "2nd", "1.", "4-5"])
QUOTES = st.sampled_from(['"', "'", "“", "”", "‘", "’", "«", "»", "(", ")", "[", "]", "{", "}", "--"])
ENDS = st.sampled_from([".", "?", "!", "?!", "!!!", "...", ". . .", "..", ":", ";", ",", "-"])
SPACES = st.sampled_from([" ", " ", " ", "  ", "", "\n", " \n ", "\t", "\xa0", "\r", "\x0c"])
PIECES = st.one_of(WORDS, WORDS, ABBREVIATIONS, INITIALS, NUMBERS, QUOTES, ENDS)
PARAGRAPHS = st.lists(st.tuples(PIECES, SPACES), min_size=1, max_size=40).map(
    lambda pairs: "".join(piece + space for piece, space in pairs)
)


@needs_nltk_3_10
def test_spans_equal_nltk_on_seeds(splitter):
    reference = nltk_reference(splitter)
    for text in [*SEED_TEXTS, *NEWS]:
        assert our_spans(splitter, text) == nltk_spans(reference, text)


@needs_nltk_3_10
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=PARAGRAPHS)
def test_spans_equal_nltk_on_generated_paragraphs(splitter, text):
    assert splitter.spans(text) == shifted(nltk_reference(splitter), text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(PARAGRAPHS, st.text(alphabet=st.characters(codec="utf-8"), max_size=80)))
def test_spans_equal_nltk_decisions_on_any_text(splitter, text):
    """nltk's algorithm with our patterns, on any text: every character, whatever nltk version is installed."""
    assert splitter.spans(text) == shifted(nltk_algorithm(splitter), text)


def test_spans_are_offsets_into_the_text_and_trimmed(splitter):
    text = "Headline\n\n  The U.S. Army said on Feb. 3 that Gen. Smith left.  He went home.  \n\nEnd"
    start, end = text.index("  The"), text.index("\n\nEnd")
    spans = splitter.spans(text, start, end)
    assert [text[a:b] for a, b in spans] == [
        "The U.S. Army said on Feb. 3 that Gen. Smith left.",
        "He went home.",
    ]
    assert splitter.spans(text, 0, 0) == []
    assert splitter.spans("   \n  ") == []
    assert splitter.spans("No period here") == [(0, 14)]


def test_closing_quotes_stay_with_their_sentence(splitter):
    text = "Thoreau had advised, “Resign.” If a man chose to be an agent of injustice, he knew it."
    assert [text[a:b] for a, b in splitter.spans(text)] == [
        "Thoreau had advised, “Resign.”",
        "If a man chose to be an agent of injustice, he knew it.",
    ]
    spaced = "It is called a “baby machine. ” Mother cells are attached to a membrane."
    assert [spaced[a:b] for a, b in splitter.spans(spaced)] == [
        "It is called a “baby machine. ”",
        "Mother cells are attached to a membrane.",
    ]


@pytest.mark.parametrize(
    ("start", "end"),
    [pytest.param(-1, None, id="negative-start"), pytest.param(5, 3, id="end-before-start"), pytest.param(0, 99)],
)
def test_spans_reject_a_range_outside_the_text(splitter, start, end):
    with pytest.raises(InvalidOption, match="not within the text"):
        splitter.spans("Short text.", start, end)


def test_parameters_survive_a_json_round_trip(splitter):
    parameters = splitter.parameters()
    restored = SentenceSplitter.from_parameters(json.loads(json.dumps(parameters)))
    assert restored.parameters() == parameters
    for text in [*SEED_TEXTS, *NEWS]:
        assert our_spans(restored, text) == our_spans(splitter, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=PARAGRAPHS)
def test_restored_parameters_split_generated_paragraphs_alike(splitter, text):
    restored = SentenceSplitter.from_parameters(json.loads(json.dumps(splitter.parameters())))
    assert restored.spans(text) == splitter.spans(text)


def test_parameters_hold_what_punkt_learned(splitter):
    parameters = splitter.parameters()
    assert parameters["version"] == PARAMETERS_VERSION
    assert {"corp", "u.s", "gen", "mr"} <= set(parameters["abbrev_types"])  # news abbreviations are added
    assert parameters["ortho_context"]["the"] > 0
    assert all(flags > 0 for flags in parameters["ortho_context"].values())
    assert list(parameters["ortho_context"]) == sorted(parameters["ortho_context"])


def test_training_twice_gives_the_same_parameters():
    sample = SEED_TEXTS + NEWS * 20
    assert SentenceSplitter(sample).parameters() == SentenceSplitter(iter(sample)).parameters()


def test_training_learns_what_nltk_learns():
    """The same parameters as nltk's own trainer, with nltk's own patterns, on the same sample."""
    sample = SEED_TEXTS + NEWS * 20
    trainer = PunktTrainer()
    trainer.train(_training_text(sample), finalize=False)
    trainer.finalize_training()
    expected = trainer.get_params()
    ours = SentenceSplitter(sample).punkt_parameters()
    news_abbreviations = set(SentenceSplitter().parameters()["abbrev_types"])  # an empty sample learns nothing
    assert ours.abbrev_types == expected.abbrev_types | news_abbreviations
    assert ours.collocations == expected.collocations
    assert ours.sent_starters == expected.sent_starters
    assert dict(ours.ortho_context) == {typ: flags for typ, flags in expected.ortho_context.items() if flags}


def test_an_empty_sample_still_splits():
    text = "The U.S. Army said on Feb. 3 that Gen. Smith left Washington. He went home to Texas."
    spans = SentenceSplitter().spans(text)
    assert [text[a:b] for a, b in spans] == [
        "The U.S. Army said on Feb. 3 that Gen. Smith left Washington.",
        "He went home to Texas.",
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        pytest.param({"version": 99}, "version 99", id="other-version"),
        pytest.param({"abbrev_types": "mr"}, "'abbrev_types' must be a list of strings", id="abbreviations-string"),
        pytest.param({"sent_starters": None}, "'sent_starters' must be a list of strings", id="starters-missing"),
        pytest.param({"collocations": [["a"]]}, "'collocations' must be a list of", id="collocation-single"),
        pytest.param({"ortho_context": {"the": "2"}}, "'ortho_context' must map words", id="flags-text"),
        pytest.param({"ortho_context": {"the": 1000}}, "'ortho_context' must map words", id="flags-out-of-range"),
    ],
)
def test_malformed_parameters_are_refused(splitter, change, message):
    parameters = {**splitter.parameters(), **change}
    with pytest.raises(InvalidSentenceParameters, match=message) as caught:
        SentenceSplitter.from_parameters(parameters)
    assert isinstance(caught.value, NewsbotError)


def test_non_mapping_parameters_are_refused():
    with pytest.raises(InvalidSentenceParameters, match="must be a mapping"):
        SentenceSplitter.from_parameters(["version", 1])  # type: ignore[arg-type]


def test_patterns_are_nltk_3_10s():
    """The pinned patterns are Punkt's own (nltk 3.10's), only compiled with re rather than nltk.redos."""
    if PunktLanguageVars().re_boundary_realignment.pattern != _REALIGN.pattern:
        pytest.skip("the installed nltk predates 3.10's quote handling")
    assert _nltk_3_10_patterns()
    assert all(isinstance(pattern, re.Pattern) for pattern in (_WORD, _PERIOD_CONTEXT, _REALIGN))


@pytest.mark.shared_data
@needs_nltk_3_10
def test_spans_equal_nltk_on_shared_data_samples(shared_data):
    """The first 300 articles of Reuters, SQuAD and SciFact (bench/sentences.py checks all of them)."""
    files = ["reuters21578/articles.jsonl.gz", "squad-v1.1-dev/articles.jsonl.gz", "beir-scifact/corpus.jsonl.gz"]
    texts = []
    for name in files:
        with gzip.open(shared_data / name, "rt", encoding="utf-8") as lines:
            texts += [record["text"] for record in map(json.loads, itertools.islice(lines, 300)) if record["text"]]
    splitter = SentenceSplitter(texts)
    reference = nltk_reference(splitter)
    assert [text for text in texts if our_spans(splitter, text) != nltk_spans(reference, text)] == []
