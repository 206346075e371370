"""Sentence boundaries with character offsets: Punkt, trained on the corpus, fast and reproducible.

A ``SentenceSplitter`` learns Punkt's parameters (abbreviations, collocations, frequent sentence starters and
the orthographic context of every word) from a sample of the corpus, adds common news abbreviations, and
finds sentence boundaries exactly where nltk's ``PunktSentenceTokenizer.span_tokenize`` finds them with the
same parameters. Its parameters are plain JSON (``parameters()``), so an index can save them and a later
process splits new articles exactly as the first did (``SentenceSplitter.from_parameters``), whatever nltk
version is installed then: neither training nor splitting runs nltk code. Punkt's patterns (nltk 3.10's,
which treat curly quotes and guillemets as closing punctuation) and its decision rules and training
statistics (Kiss & Strunk 2006, as nltk.tokenize.punkt implements them, Apache License 2.0) are pinned here;
the tests compare both with nltk's own tokenizer and trainer. A splitter may be shared between threads: its
caches only memoise pure functions of the text.

We do not run nltk's own Punkt: nltk 3.10 wraps every Punkt regex call in a ReDoS timeout that costs system calls
per token, and Punkt's fixed patterns, applied one paragraph at a time, backtrack at most linearly under the
standard ``re`` module. ``bench/results/sentences.md`` ("Why the standard re module") has the reasoning, the two
ReDoS analysers' verdicts, the adversarial timings and the few character classes ``re`` reads differently.
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from nltk.tokenize.punkt import PunktParameters

from .errors import InvalidOption, NewsbotError
from .wordlists import NEWS_ABBREVIATIONS as _ABBREVIATIONS

_TRAINING_CHARS = 1_000_000  # Punkt learns a corpus's abbreviations from its first million characters

__all__ = ["PARAMETERS_VERSION", "InvalidSentenceParameters", "SentenceSplitter"]

# Bump when the patterns or rules below change, so saved parameters are not silently applied differently.
PARAMETERS_VERSION = 1


class InvalidSentenceParameters(NewsbotError, ValueError):
    """Saved sentence-splitter parameters are malformed or from another version; rebuilding the index fixes it."""


# Punkt's fixed patterns, as nltk 3.10 writes them (its English PunktLanguageVars and PunktToken), including
# 3.10's curly quotes and guillemets: without them a period right before a closing "”" is no boundary at all.
_SENT_END_CHARS = (".", "?", "!")
_INTERNAL_PUNCTUATION = ",:;"
_NON_WORD = r"(?:[)\";}\]\*:@\'\({\[\u2018\u2019\u201c\u201d\xab\xbb!\?])"
_MULTI_CHAR = r"(?:\-{2,}|\.{2,}|(?:\.\s){2,}\.)"
_WORD_START = r"[^\(\"\`{\[:;&\#\*@\)}\]\-,]"
_WORD = re.compile(
    rf"""(
        {_MULTI_CHAR}
        |
        (?={_WORD_START})\S+?  # Accept word characters until end is found
        (?= # Sequences marking a word's end
            \s|                                 # White-space
            $|                                  # End-of-string
            {_NON_WORD}|{_MULTI_CHAR}|          # Punctuation
            ,(?=$|\s|{_NON_WORD}|{_MULTI_CHAR}) # Comma if at end of word
        )
        |
        \S
    )""",
    re.VERBOSE,
)
_PERIOD_CONTEXT = re.compile(
    rf"""
        [\.\?!]             # a potential sentence ending
        (?=(?P<after_tok>
            {_NON_WORD}              # either other punctuation
            |
            \s+(?P<next_tok>\S+)     # or whitespace and some other token
        ))""",
    re.VERBOSE,
)
_REALIGN = re.compile(r'["\')\]}\u2018\u2019\u201c\u201d\xab\xbb]+?(?:\s+|(?=--)|$)', re.MULTILINE)
_CLOSERS = frozenset("\"')]}\u2018\u2019\u201c\u201d\xab\xbb")  # what _REALIGN can start with
_ELLIPSIS = re.compile(r"\.\.+$")
_NUMERIC = re.compile(r"^-?[\.,]?\d[\d,\.-]*\.?$")
_INITIAL = re.compile(r"[^\W\d]\.$")
_ALPHA = re.compile(r"[^\W\d]+$")
_NON_PUNCT = re.compile(r"[^\W\d]")
# Punkt's _get_last_whitespace_index looks for string.whitespace (ASCII) only, not for every \s; these
# are its characters other than the blank, which paragraphs seldom hold.
_OTHER_ASCII_SPACE = re.compile("[\t\n\r\x0b\x0c]")
_PUNCTUATION = frozenset(";:,.!?")

# Orthographic context flags, as nltk.tokenize.punkt defines them.
_ORTHO_BEG_UC = 1 << 1
_ORTHO_MID_UC = 1 << 2
_ORTHO_UNK_UC = 1 << 3
_ORTHO_BEG_LC = 1 << 4
_ORTHO_MID_LC = 1 << 5
_ORTHO_UNK_LC = 1 << 6
_ORTHO_UC = _ORTHO_BEG_UC + _ORTHO_MID_UC + _ORTHO_UNK_UC
_ORTHO_LC = _ORTHO_BEG_LC + _ORTHO_MID_LC + _ORTHO_UNK_LC
_ORTHO_ALL = _ORTHO_UC | _ORTHO_LC

# First-pass annotation of a token.
_PLAIN, _SENTBREAK, _ABBREVIATION, _ELLIPSIS_MARK = 0, 1, 2, 3

# Caches keyed by token or context text; cleared when they grow past this, since news repeats what is common.
_CACHE_LIMIT = 100_000
_TYPES: dict[str, str] = {}


def _type_of(token: str) -> str:
    """Punkt's case-normalised token type: lower case, numbers folded to ``##number##``."""
    found = _TYPES.get(token)
    if found is None:
        if len(_TYPES) > _CACHE_LIMIT:
            _TYPES.clear()
        found = _TYPES[token] = _NUMERIC.sub("##number##", token.lower())
    return found


def _training_text(sample: Iterable[str]) -> str:
    """The first ``_TRAINING_CHARS`` characters of the sample, texts joined by blank lines."""
    chunks, size = [], 0
    for text in sample:
        if size >= _TRAINING_CHARS:
            break
        chunks.append(text)
        size += len(text)
    return "\n\n".join(chunks)[:_TRAINING_CHARS]


# PunktTrainer's settings (nltk's defaults, which index.analysis used).
_ABBREV = 0.3  # least score of an abbreviation
_ABBREV_BACKOFF = 5  # a word seen fewer times may be a "rare abbreviation"
_COLLOCATION = 7.88  # least log-likelihood of a collocation
_SENT_STARTER = 30  # least log-likelihood of a frequent sentence starter
_MIN_COLLOC_FREQ = 1
_INITIAL_CONTEXT, _INTERNAL_CONTEXT, _UNKNOWN_CONTEXT = 0, 1, 2
_ORTHO_FLAGS = {  # (position in the sentence, case of the first letter) -> orthographic flag
    (_INITIAL_CONTEXT, "upper"): _ORTHO_BEG_UC,
    (_INTERNAL_CONTEXT, "upper"): _ORTHO_MID_UC,
    (_UNKNOWN_CONTEXT, "upper"): _ORTHO_UNK_UC,
    (_INITIAL_CONTEXT, "lower"): _ORTHO_BEG_LC,
    (_INTERNAL_CONTEXT, "lower"): _ORTHO_MID_LC,
    (_UNKNOWN_CONTEXT, "lower"): _ORTHO_UNK_LC,
}


@dataclass(frozen=True, slots=True)
class _Learned:
    """Punkt's parameters, as its trainer leaves them."""

    abbreviations: frozenset[str]
    collocations: frozenset[tuple[str, str]]
    starters: frozenset[str]
    ortho_context: dict[str, int]


def _dunning_log_likelihood(count_a: int, count_b: int, count_ab: int, total: int) -> float:
    """Punkt's modified Dunning log-likelihood of an abbreviation candidate (nltk's formula, term for term)."""
    p1 = count_b / total
    p2 = 0.99
    null_hypo = count_ab * math.log(p1 + 1e-8) + (count_a - count_ab) * math.log(1.0 - p1 + 1e-8)
    alt_hypo = count_ab * math.log(p2) + (count_a - count_ab) * math.log(1.0 - p2)
    return -2.0 * (null_hypo - alt_hypo)


def _col_log_likelihood(count_a: int, count_b: int, count_ab: int, total: int) -> float:
    """Dunning's log-likelihood of a collocation or sentence starter (nltk's formula, term for term)."""
    p = count_b / total
    p1 = count_ab / count_a
    try:
        p2 = (count_b - count_ab) / (total - count_a)
    except ZeroDivisionError:
        p2 = 1.0
    try:
        summand1 = count_ab * math.log(p) + (count_a - count_ab) * math.log(1.0 - p)
    except ValueError:
        summand1 = 0.0
    try:
        summand2 = (count_b - count_ab) * math.log(p) + (total - count_a - count_b + count_ab) * math.log(1.0 - p)
    except ValueError:
        summand2 = 0.0
    if count_a == count_ab or p1 <= 0 or p1 >= 1:
        summand3 = 0.0
    else:
        summand3 = count_ab * math.log(p1) + (count_a - count_ab) * math.log(1.0 - p1)
    if count_b == count_ab or p2 <= 0 or p2 >= 1:
        summand4 = 0.0
    else:
        summand4 = (count_b - count_ab) * math.log(p2) + (total - count_a - count_b + count_ab) * math.log(1.0 - p2)
    return -2.0 * (summand1 + summand2 - summand3 - summand4)


def _first_pass(token: str, abbreviations: frozenset[str] | set[str]) -> int:
    """Punkt's first, type-based annotation of one token."""
    if token in _SENT_END_CHARS:
        return _SENTBREAK
    if _ELLIPSIS.match(token):
        return _ELLIPSIS_MARK
    if token.endswith(".") and not token.endswith(".."):
        bare = token[:-1].lower()
        return _ABBREVIATION if bare in abbreviations or bare.split("-")[-1] in abbreviations else _SENTBREAK
    return _PLAIN


def _without_period(typ: str) -> str:
    return typ[:-1] if len(typ) > 1 and typ[-1] == "." else typ


def _learn(text: str) -> _Learned:
    """Punkt's parameters for ``text``: what a new nltk ``PunktTrainer`` learns from ``train(text)``.

    The same statistics, in the same order, as nltk's trainer with its default settings, computed per distinct
    token rather than per token object.
    """
    # Lines of tokens, each with whether it starts a paragraph.
    lines: list[tuple[bool, list[str]]] = []
    paragraph = False
    for line in text.split("\n"):
        if line.strip():
            words = _WORD.findall(line)
            if words:
                lines.append((paragraph, words))
                paragraph = False
        else:
            paragraph = True
    token_counts = Counter(token for _, words in lines for token in words)
    types = {token: _type_of(token) for token in token_counts}
    type_counts: Counter[str] = Counter()
    for token, count in token_counts.items():
        type_counts[types[token]] += count
    total = sum(token_counts.values())
    period_tokens = sum(count for token, count in token_counts.items() if token.endswith("."))

    # Abbreviations: period-final types whose period looks like part of the word.
    abbreviations: set[str] = set()
    for typ in set(types.values()):
        if not _NON_PUNCT.search(typ) or typ == "##number##" or not typ.endswith("."):
            continue
        if typ in abbreviations:
            continue
        typ = typ[:-1]
        periods = typ.count(".") + 1
        nonperiods = len(typ) - periods + 1
        with_period, without_period = type_counts[typ + "."], type_counts[typ]
        likelihood = _dunning_log_likelihood(with_period + without_period, period_tokens, with_period, total)
        if likelihood * math.exp(-nonperiods) * periods * math.pow(nonperiods, -without_period) >= _ABBREV:
            abbreviations.add(typ)

    # First pass, then the orthographic context of every type: the case it appears in at sentence starts,
    # inside sentences, and where Punkt cannot tell. Per distinct token: its type as a sentence's last word,
    # its flag in each context, and the context it leaves for the next token.
    first = {token: _first_pass(token, abbreviations) for token in types}
    sentence_type = {
        token: _without_period(typ) if first[token] == _SENTBREAK else typ for token, typ in types.items()
    }
    sentbreaks = sum(count for token, count in token_counts.items() if first[token] == _SENTBREAK)
    effects: dict[str, tuple[str, tuple[int, int, int], int]] = {}
    for token, typ in types.items():
        head = token[0]
        case = "lower" if head.islower() else "upper" if head.isupper() else "none"
        flags = (
            _ORTHO_FLAGS.get((_INITIAL_CONTEXT, case), 0),
            _ORTHO_FLAGS.get((_INTERNAL_CONTEXT, case), 0),
            _ORTHO_FLAGS.get((_UNKNOWN_CONTEXT, case), 0),
        )
        annotation = first[token]
        if annotation == _SENTBREAK:
            ordinal_or_initial = typ.startswith("##number##") or _INITIAL.match(token) is not None
            after = _UNKNOWN_CONTEXT if ordinal_or_initial else _INITIAL_CONTEXT
        elif annotation in (_ELLIPSIS_MARK, _ABBREVIATION):
            after = _UNKNOWN_CONTEXT
        else:
            after = _INTERNAL_CONTEXT
        effects[token] = (sentence_type[token], flags, after)
    ortho_context: dict[str, int] = {}
    context = _INTERNAL_CONTEXT
    for starts_paragraph, words in lines:
        if starts_paragraph and context != _UNKNOWN_CONTEXT:
            context = _INITIAL_CONTEXT
        if context == _INTERNAL_CONTEXT:
            context = _UNKNOWN_CONTEXT
        for token in words:
            typ, flags, after = effects[token]
            flag = flags[context]
            if flag:
                ortho_context[typ] = ortho_context.get(typ, 0) | flag
            context = after

    # Pairs whose first token is a period-final sentence break: rare abbreviations, sentence starters,
    # collocations (initials and ordinals before a word).
    tokens = [token for _, words in lines for token in words]
    starter_counts: Counter[str] = Counter()
    collocation_counts: Counter[tuple[str, str]] = Counter()
    for number in range(len(tokens) - 1):
        token = tokens[number]
        if first[token] != _SENTBREAK or not token.endswith("."):
            continue
        following = tokens[number + 1]
        typ = sentence_type[token]
        if (
            typ not in abbreviations
            and type_counts[typ] + type_counts[typ[:-1]] < _ABBREV_BACKOFF
            and (
                following[:1] in _INTERNAL_PUNCTUATION
                or (
                    following[0].islower()
                    and (ortho_context.get(sentence_type[following], 0) & _ORTHO_BEG_UC)
                    and not (ortho_context.get(sentence_type[following], 0) & _ORTHO_MID_UC)
                )
            )
        ):
            abbreviations.add(_without_period(types[token]))
        ordinal_or_initial = types[token].startswith("##number##") or _INITIAL.match(token) is not None
        if not ordinal_or_initial and _ALPHA.match(following):
            starter_counts[types[following]] += 1
        if ordinal_or_initial and _NON_PUNCT.search(types[token]) and _NON_PUNCT.search(types[following]):
            collocation_counts[(_without_period(types[token]), sentence_type[following])] += 1

    starters = set()
    for typ, at_break in starter_counts.items():
        count = type_counts[typ] + type_counts[typ + "."]
        if count < at_break:
            continue
        likelihood = _col_log_likelihood(sentbreaks, count, at_break, total)
        if likelihood >= _SENT_STARTER and total / sentbreaks > count / at_break:
            starters.add(typ)
    collocations = set()
    for (typ1, typ2), together in collocation_counts.items():
        if typ2 in starters:
            continue
        count1 = type_counts[typ1] + type_counts[typ1 + "."]
        count2 = type_counts[typ2] + type_counts[typ2 + "."]
        if count1 > 1 and count2 > 1 and _MIN_COLLOC_FREQ < together <= min(count1, count2):
            likelihood = _col_log_likelihood(count1, count2, together, total)
            if likelihood >= _COLLOCATION and total / count1 > count2 / together:
                collocations.add((typ1, typ2))
    return _Learned(
        abbreviations=frozenset(abbreviations),
        collocations=frozenset(collocations),
        starters=frozenset(starters),
        ortho_context=ortho_context,
    )


class SentenceSplitter:
    """Punkt sentence boundaries, with character offsets, for one corpus.

    Args:
        sample: texts to learn the corpus's abbreviations and sentence starters from (the first million
            characters are used; optional).
    """

    __slots__ = ("_abbreviations", "_collocations", "_decisions", "_first_pass", "_ortho_context", "_starters")

    def __init__(self, sample: Iterable[str] = ()) -> None:
        learned = _learn(_training_text(sample))
        self._adopt(
            abbreviations=learned.abbreviations | _ABBREVIATIONS,
            collocations=learned.collocations,
            starters=learned.starters,
            ortho_context=learned.ortho_context,
        )

    def _adopt(
        self,
        *,
        abbreviations: Iterable[str],
        collocations: Iterable[tuple[str, str]],
        starters: Iterable[str],
        ortho_context: Mapping[str, int],
    ) -> None:
        self._abbreviations = frozenset(abbreviations)
        self._collocations = frozenset(collocations)
        self._starters = frozenset(starters)
        # Zero means "never seen", the same as absent; nltk's defaultdict gains such entries merely by lookups.
        self._ortho_context = {typ: flags for typ, flags in ortho_context.items() if flags}
        self._decisions: dict[str, bool] = {}
        self._first_pass: dict[str, int] = {}

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> SentenceSplitter:
        """A splitter that splits exactly as the one whose ``parameters()`` these are.

        Args:
            parameters: what ``parameters()`` returned, possibly after a JSON round trip.

        Returns:
            The splitter; no training happens.

        Raises:
            InvalidSentenceParameters: the mapping is malformed or from another ``PARAMETERS_VERSION``.
        """
        if not isinstance(parameters, Mapping):
            raise InvalidSentenceParameters(
                f"sentence parameters must be a mapping as parameters() returns; got {type(parameters).__name__}"
            )
        version = parameters.get("version")
        if version != PARAMETERS_VERSION:
            raise InvalidSentenceParameters(
                f"sentence parameters have version {version!r}, this newsbot reads version {PARAMETERS_VERSION}; "
                "rebuild the index with `newsbot index`"
            )
        splitter = cls.__new__(cls)
        splitter._adopt(
            abbreviations=_strings(parameters, "abbrev_types"),
            collocations=_pairs(parameters, "collocations"),
            starters=_strings(parameters, "sent_starters"),
            ortho_context=_flags(parameters, "ortho_context"),
        )
        return splitter

    def parameters(self) -> dict[str, Any]:
        """Everything that decides where this splitter breaks sentences, as JSON-able data.

        Returns:
            ``version`` (``PARAMETERS_VERSION``) and Punkt's parameters: ``abbrev_types`` (lower case, without
            the final period), ``collocations`` (pairs of types that a period between does not break),
            ``sent_starters`` and ``ortho_context`` (type to Punkt's orthographic flags), all sorted, so equal
            parameters give equal JSON.
        """
        return {
            "version": PARAMETERS_VERSION,
            "abbrev_types": sorted(self._abbreviations),
            "collocations": [list(pair) for pair in sorted(self._collocations)],
            "sent_starters": sorted(self._starters),
            "ortho_context": dict(sorted(self._ortho_context.items())),
        }

    def punkt_parameters(self) -> PunktParameters:
        """The same parameters as a new ``nltk`` ``PunktParameters``, for nltk's own tokenizer."""
        params = PunktParameters()
        params.abbrev_types = set(self._abbreviations)
        params.collocations = set(self._collocations)
        params.sent_starters = set(self._starters)
        params.ortho_context = defaultdict(int, self._ortho_context)
        return params

    def spans(self, text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
        """Sentence spans in ``text[start:end]``, as offsets into ``text``, whitespace trimmed.

        The spans are Punkt's for the range with its surrounding whitespace removed: those of nltk 3.10's
        ``PunktSentenceTokenizer(self.punkt_parameters()).span_tokenize`` on that trimmed text (but for the
        few characters its ``regex`` engine classifies differently, see the module docstring).

        Args:
            text: the whole text (an article).
            start: where the range to split begins.
            end: where it ends (``len(text)`` when None).

        Returns:
            ``(start, end)`` offsets into ``text`` in order; none for a blank range.

        Raises:
            InvalidOption: the range is not within the text.
        """
        end = len(text) if end is None else end
        if not 0 <= start <= end <= len(text):
            raise InvalidOption(f"range {start}:{end} is not within the text of {len(text)} characters")
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start == end:
            return []
        # Punkt's _match_potential_end_contexts, _slices_from_text and _realign_boundaries in one pass. Each
        # candidate (a period, question or exclamation mark before punctuation or a word) is decided from its
        # context: the word before it, itself, and what follows.
        decisions = self._decisions
        breaks: list[tuple[int, int]] = []
        other_spaces = None
        previous = None
        previous_start = start  # where the previous candidate is
        previous_word = start  # where the word before it starts
        for match in _PERIOD_CONTEXT.finditer(text, start, end):
            candidate = match.start()
            # The word before a candidate starts after the last ASCII whitespace since the previous candidate,
            # else where the previous candidate's word starts (nltk would also take whitespace right at the
            # previous candidate for none, but a candidate or a trimmed start is never whitespace).
            space = text.rfind(" ", previous_start, candidate)
            if other_spaces is None:
                other_spaces = _OTHER_ASCII_SPACE.search(text, start, end) is not None
            if other_spaces:
                for char in "\t\n\r\x0b\x0c":
                    space = max(space, text.rfind(char, max(space + 1, previous_start), candidate))
            word = space + 1 if space > previous_start else previous_word
            # A candidate whose word overlaps the next candidate's ("acting!!!") gives way to it.
            if previous is not None and previous_start <= word:
                self._decide(text, previous, previous_word, breaks, decisions)
            previous, previous_word, previous_start = match, word, candidate
        if previous is None:
            return [(start, end)]
        self._decide(text, previous, previous_word, breaks, decisions)
        return _realigned(text, start, end, breaks)

    def _decide(
        self, text: str, match: re.Match[str], word: int, breaks: list[tuple[int, int]], decisions: dict[str, bool]
    ) -> None:
        """Append the candidate to ``breaks`` as (end of sentence, start of the next) if Punkt breaks there."""
        context = text[word : match.end("after_tok")]
        decision = decisions.get(context)
        if decision is None:
            if len(decisions) > _CACHE_LIMIT:
                decisions.clear()
            decision = decisions[context] = self._contains_break(context)
        if decision:
            following = match.start("next_tok")
            breaks.append((match.end(), following if following >= 0 else match.end()))

    def _contains_break(self, context: str) -> bool:
        """Whether Punkt marks a token of ``context`` other than its last as a sentence break."""
        if "\n" in context:
            tokens = [token for line in context.split("\n") if line.strip() for token in _WORD.findall(line)]
        else:
            tokens = _WORD.findall(context)
        return any(self._is_break(tokens[i], tokens[i + 1]) for i in range(len(tokens) - 1))

    def _first(self, token: str) -> int:
        """Punkt's first, type-based pass over one token (cached: it depends only on the token)."""
        found = self._first_pass.get(token)
        if found is None:
            if len(self._first_pass) > _CACHE_LIMIT:
                self._first_pass.clear()
            found = self._first_pass[token] = _first_pass(token, self._abbreviations)
        return found

    def _is_break(self, token: str, following: str) -> bool:
        """Punkt's second, token-based pass: whether ``token``, followed by ``following``, ends a sentence."""
        first = self._first(token)
        if not token.endswith("."):
            return first == _SENTBREAK
        typ = _without_period(_type_of(token))
        next_typ = _type_of(following)
        if self._first(following) == _SENTBREAK:
            next_typ = _without_period(next_typ)
        initial = _INITIAL.match(token) is not None
        # Collocation heuristic: a known pair around the period is no break.
        if (typ, next_typ) in self._collocations:
            return False
        # An abbreviation or ellipsis ends a sentence when the next word looks like a sentence start.
        if first in (_ABBREVIATION, _ELLIPSIS_MARK) and not initial:
            if self._ortho(following, next_typ) is True:
                return True
            if following[0].isupper() and next_typ in self._starters:
                return True
        # Initials and ordinals do not end a sentence unless the next word says so.
        if initial or typ == "##number##":
            starts = self._ortho(following, next_typ)
            if starts is False:
                return False
            if (
                starts is None
                and initial
                and following[0].isupper()
                and not (self._ortho_context.get(next_typ, 0) & _ORTHO_LC)
            ):
                return False
        return first == _SENTBREAK

    def _ortho(self, token: str, typ: str) -> bool | None:
        """Punkt's orthographic heuristic: does ``token`` start a sentence (None: cannot tell)."""
        if token in _PUNCTUATION:
            return False
        context = self._ortho_context.get(typ, 0)
        if token[0].isupper() and (context & _ORTHO_LC) and not (context & _ORTHO_MID_UC):
            return True
        if token[0].islower() and ((context & _ORTHO_UC) or not (context & _ORTHO_BEG_LC)):
            return False
        return None


def _realigned(text: str, start: int, end: int, breaks: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sentence spans between the breaks, closing quotes and brackets after a break moved onto the sentence before.

    The same steps as Punkt's ``_slices_from_text`` and ``_realign_boundaries``, empty spans dropped.
    """
    spans: list[tuple[int, int]] = []
    first = start
    last = len(breaks) - 1
    for number, (stop, following) in enumerate(breaks):
        following_stop = breaks[number + 1][0] if number < last else end
        if following < following_stop and text[following] in _CLOSERS:
            match = _REALIGN.match(text, following, following_stop)
            if match:
                spans.append((first, following + len(match.group().rstrip())))
                first = match.end()
                continue
        if first < stop:
            spans.append((first, stop))
        first = following
    if first < end:
        spans.append((first, end))
    return spans


def _strings(parameters: Mapping[str, Any], key: str) -> list[str]:
    value = parameters.get(key)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidSentenceParameters(f"sentence parameter {key!r} must be a list of strings; got {value!r:.80}")
    return value


def _pairs(parameters: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    value = parameters.get(key)
    if not isinstance(value, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(item, str) for item in pair)
        for pair in value
    ):
        raise InvalidSentenceParameters(
            f"sentence parameter {key!r} must be a list of [word, word] pairs; got {value!r:.80}"
        )
    return [(first, second) for first, second in value]


def _flags(parameters: Mapping[str, Any], key: str) -> dict[str, int]:
    value = parameters.get(key)
    if not isinstance(value, Mapping) or not all(
        isinstance(typ, str) and type(flags) is int and 0 <= flags <= _ORTHO_ALL for typ, flags in value.items()
    ):
        raise InvalidSentenceParameters(
            f"sentence parameter {key!r} must map words to orthographic flags 0 to {_ORTHO_ALL}; got {value!r:.80}"
        )
    return dict(value)
