"""Text analysis: one analyzer for passages and questions (sentences are split by ``index.sentences``).

Everything here works on a machine with no NLTK data downloaded: the word lists (NLTK's English stopwords,
irregular verbs, news abbreviations) are data in ``index.wordlists``, and the Snowball stemmer is pure code.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from functools import lru_cache

from nltk.stem.snowball import SnowballStemmer

from .wordlists import IRREGULAR_VERBS, NAMES_KEPT_WHOLE, STOPWORDS

__all__ = ["ANALYZER_VERSION", "STOPWORDS", "analyze", "normalize"]

# Bump when analyze() would give different tokens for the same text: saved indexes record it.
ANALYZER_VERSION = 4

# Characters that look alike to a reader but not to a computer. Curly quotes and apostrophes fold to ASCII so
# that "Hafter’s" matches "Hafter's"; dashes fold to "-" so hyphenated names match however they were typed.
_FOLD = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u201b": "'",
        "\u2032": "'",
        "\u00b4": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u201f": '"',
        "\u00ab": '"',
        "\u00bb": '"',
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
    }
)
# Zero-width and bidirectional controls carry no meaning for search and would split or hide words.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

# A word: letters/digits joined by inner hyphens, apostrophes, dots or commas ("Al-Watiya", "Haftar's",
# "1.5", "1,000", "U.S"). Inner dots and commas only join digits or single letters, handled below.
_TOKEN = re.compile(r"[^\W_]+(?:[-'.,&][^\W_]+)*")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_ACRONYM = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")

_stemmer = SnowballStemmer("english")
# Irregular verb forms that Snowball leaves apart from their base form. News reports in the past tense
# ("Turkey said") while questions ask in the present ("What did Turkey say?"), so these are folded first.
def _combining_class() -> re.Pattern[str]:
    """A character class of every code point with a non-zero combining class (accents and other marks)."""
    ranges: list[str] = []
    start = previous = -2
    for code in range(0x300, 0x30000):
        if unicodedata.combining(chr(code)):
            if code != previous + 1:
                if start >= 0:
                    ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
                start = code
            previous = code
    ranges.append(f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
    return re.compile(f"[{''.join(ranges)}]")


_COMBINING = _combining_class()


def normalize(text: str) -> str:
    """Fold a text to the form the analyzer sees: NFKC, accents removed, quotes and dashes unified, lower case.

    Args:
        text: any Unicode text.

    Returns:
        The folded text (not length-preserving; use it for matching, never for quoting).
    """
    text = _INVISIBLE.sub("", text).translate(_FOLD)
    if text.isascii():
        return text.lower()  # the same result as below, without the Unicode work
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize("NFKC", _COMBINING.sub("", decomposed)).casefold()


@lru_cache(maxsize=500_000)
def _term(word: str) -> str | None:
    """Stem one lower-case word, or None for a stopword. Cached: news vocabularies repeat heavily."""
    word = IRREGULAR_VERBS.get(word, word)  # first, so "won" becomes "win" before any stopword check
    if word in STOPWORDS or (len(word) == 1 and word.isalpha()):
        return None  # single letters are initials or markup ("<b>"), not topics
    if word[0].isdigit() and _NUMBER.fullmatch(word):
        return word.replace(",", "")
    if "&" in word or word in NAMES_KEPT_WHOLE:
        return word  # a name such as "at&t", "s&p" or "france" is found as written, not stemmed
    return _stemmer.stem(word)


def _words(match: str) -> Iterator[str]:
    """Split one regex match into the words that are indexed."""
    if "." in match or "," in match:
        if _NUMBER.fullmatch(match) or _ACRONYM.fullmatch(match):
            yield match.replace(".", "") if not match[0].isdigit() else match
            return
        for piece in re.split(r"[.,]", match):
            yield from _words(piece)
        return
    if "&" in match:
        # "AT&T", "S&P", "P&G": the whole name is a term; its parts are too, when they are words.
        yield from (part for part in match.split("&") if part)
        yield match
        return
    if "-" in match:
        parts = [p for p in match.split("-") if p]
        yield from parts
        if len(parts) > 1:
            # The whole compound too, so an exact "Al-Watiya" outranks passages with "al" and "Watiya" apart.
            yield "".join(parts)
        return
    yield match


def analyze(text: str) -> list[str]:
    """Turn text into index terms: normalized, tokenized, stopwords dropped, Snowball-stemmed.

    The same function analyses passages and questions, so whatever a passage says can be found by
    asking with the same words.

    Args:
        text: a passage, a question or any other text.

    Returns:
        The terms in text order, repeated as often as they occur (BM25 counts them).
    """
    cache = _MATCH_TERMS
    terms: list[str] = []
    for match in _TOKEN.findall(normalize(text)):
        found = cache.get(match)
        if found is None:
            found = _match_terms(match)
        terms.extend(found)
    return terms


# Raw token -> its terms. News repeats the same tokens endlessly, so each is split and stemmed once.
_MATCH_TERMS: dict[str, tuple[str, ...]] = {}


def _match_terms(match: str) -> tuple[str, ...]:
    terms = tuple(term for word in _words(match.strip("'")) if word for term in (_term(word),) if term)
    if len(_MATCH_TERMS) > 1_000_000:
        _MATCH_TERMS.clear()  # bound the memory; it refills with what is common
    _MATCH_TERMS[match] = terms
    return terms
