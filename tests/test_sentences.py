"""The sentence splitter: Punkt's spans exactly, trained parameters that survive JSON, and nltk as the oracle."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nltk.tokenize.punkt import PunktLanguageVars, PunktSentenceTokenizer, PunktToken, PunktTrainer

from index.errors import InvalidOption, NewsbotError
from index.passages import paragraph_spans
from index.sentences import (
    _ALPHA,
    _ELLIPSIS,
    _INITIAL,
    _NON_PUNCT,
    _NUMERIC,
    _PERIOD_CONTEXT,
    _REALIGN,
    _WORD,
    PARAMETERS_VERSION,
    InvalidSentenceParameters,
    SentenceSplitter,
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


class PinnedLanguageVars(PunktLanguageVars):
    """nltk's English language variables with the patterns index.sentences pins, compiled with re."""

    __slots__ = ()
    sent_end_chars = (".", "?", "!")
    internal_punctuation = ",:;"
    re_boundary_realignment = _REALIGN

    def word_tokenize(self, s: str) -> list[str]:
        return _WORD.findall(s)

    def _word_tokenizer_re(self) -> re.Pattern[str]:
        return _WORD

    def period_context_re(self) -> re.Pattern[str]:
        return _PERIOD_CONTEXT


class PinnedToken(PunktToken):
    """nltk's Punkt token with the token patterns index.sentences pins."""

    __slots__ = ()
    _RE_ELLIPSIS = _ELLIPSIS
    _RE_NUMERIC = _NUMERIC
    _RE_INITIAL = _INITIAL
    _RE_ALPHA = _ALPHA

    @property
    def is_non_punct(self) -> re.Match[str] | None:
        return _NON_PUNCT.search(self.type)


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
    return PunktSentenceTokenizer(splitter.punkt_parameters(), lang_vars=PinnedLanguageVars(), token_cls=PinnedToken)


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


def nltk_learned(texts: list[str], *, pinned: bool) -> dict:
    """What nltk's own trainer learns from the sample, plus the news abbreviations, as ``parameters()`` gives it.

    ``pinned`` trains with the patterns index.sentences pins; otherwise with nltk's own.
    """
    trainer = PunktTrainer(lang_vars=PinnedLanguageVars(), token_cls=PinnedToken) if pinned else PunktTrainer()
    trainer.train(_training_text(texts), finalize=False)
    trainer.finalize_training()
    params = trainer.get_params()
    news_abbreviations = SentenceSplitter().parameters()["abbrev_types"]  # an empty sample learns nothing else
    return {
        "version": PARAMETERS_VERSION,
        "abbrev_types": sorted(params.abbrev_types | set(news_abbreviations)),
        "collocations": [list(pair) for pair in sorted(params.collocations)],
        "sent_starters": sorted(params.sent_starters),
        "ortho_context": {typ: flags for typ, flags in sorted(params.ortho_context.items()) if flags},
    }


@needs_nltk_3_10
def test_training_learns_what_nltk_learns():
    """The same parameters as nltk's own trainer, with nltk's own patterns, on the same sample."""
    sample = SEED_TEXTS + NEWS * 20
    assert SentenceSplitter(sample).parameters() == nltk_learned(sample, pinned=False)


@settings(max_examples=150, deadline=None)
@given(sample=st.lists(PARAGRAPHS, min_size=1, max_size=8))
def test_training_learns_what_nltk_learns_from_generated_samples(sample):
    """nltk's trainer with our patterns on generated samples (any nltk version): rare abbreviations,
    collocations of initials and numbers, sentence starters and orthographic contexts all agree."""
    sample = sample * 3  # repeated, so that counts pass Punkt's thresholds
    assert SentenceSplitter(sample).parameters() == nltk_learned(sample, pinned=True)


def crafted_sample(seed: int) -> list[str]:
    """Paragraphs built to reach every statistic Punkt learns: initials and ordinals before names (collocations),
    frequent sentence starters, a starter that also follows an initial (excluded from collocations), rare
    abbreviations before a comma or a lower-case word, and a rare "vwxyz." beside a frequent "vwxy" (Punkt counts
    ``typ[:-1]`` too, a quirk that matters here)."""
    rng = random.Random(seed)
    names = ["Smith", "Jones", "Brown", "Miller", "Davis", "Wilson"]
    words = ["market", "prices", "rose", "fell", "shares", "bank", "said", "year", "oil", "trade", "vwxy", "rates"]
    starters = ["However", "Meanwhile", "The", "He", "It", "Analysts"]
    sentences = []
    for _ in range(1500):
        body = " ".join(rng.choice(words) for _ in range(rng.randrange(3, 12)))
        kind = rng.randrange(12)
        if kind == 0:
            sentences.append(f"{rng.choice('JKRT')}. {rng.choice(names)} said {body}.")
        elif kind == 1:
            sentences.append(f"The {rng.choice(['1st', '2.', '3.'])} {rng.choice(words)} {body}.")
        elif kind == 2:
            sentences.append(f"{rng.choice(starters)} {body}.")
        elif kind == 3:
            sentences.append(f"It was {rng.choice(['approx.', 'xyz.', 'cf.', 'resp.'])}, {body}.")
        elif kind == 4:
            sentences.append(f"They met at {rng.choice(['appt.', 'bldg.'])} {body}.")
        elif kind == 5:
            sentences.append(f"J. He said {body} on {rng.randrange(1, 30)}. Meanwhile {body}!")
        elif kind == 6:
            sentences.append(f"{body.capitalize()}? {rng.choice(starters)} {body}...")
        elif kind == 7:
            sentences.append(f"It closed at {rng.randrange(1, 30)}. However {body}.")
        elif kind in (8, 9):
            sentences.append(f"{body.capitalize()}. However {body}.")
        else:
            sentences.append(f"{body.capitalize()}.")
    sentences.insert(rng.randrange(len(sentences)), "It was vwxyz., they said.")
    paragraphs, start = [], 0
    while start < len(sentences):
        size = rng.randrange(1, 8)
        paragraphs.append(("\n" if rng.random() < 0.2 else " ").join(sentences[start : start + size]))
        start += size
    return paragraphs


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_training_learns_what_nltk_learns_from_a_crafted_sample(seed):
    sample = crafted_sample(seed)
    learned = SentenceSplitter(sample).parameters()
    assert learned == nltk_learned(sample, pinned=True)
    if _nltk_3_10_patterns():
        assert learned == nltk_learned(sample, pinned=False)
    news_abbreviations = set(SentenceSplitter().parameters()["abbrev_types"])
    assert learned["collocations"]
    assert learned["sent_starters"]
    assert set(learned["abbrev_types"]) - news_abbreviations


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
