"""Sentence boundaries with character offsets: NLTK's Punkt, trained on the corpus, fast and reproducible.

A ``SentenceSplitter`` learns Punkt's parameters (abbreviations, collocations, frequent sentence starters and
the orthographic context of every word) from a sample of the corpus, adds common news abbreviations, and then
finds sentence boundaries exactly where ``nltk.tokenize.punkt.PunktSentenceTokenizer.span_tokenize`` finds
them with the same parameters. Its parameters are plain JSON (``parameters()``), so an index can save them
and a later process splits new articles exactly as the first did (``SentenceSplitter.from_parameters``),
whatever nltk version is installed then: splitting uses no nltk code at all, only Punkt's patterns and
decision rules, pinned here. Training uses nltk's own ``PunktTrainer``.

Why not nltk's tokenizer itself. nltk 3.10 compiles every Punkt pattern with ``nltk.redos``: the third-party
``regex`` engine, run with ``timeout=5.0`` behind a Python wrapper (``TimedPattern``). Punkt makes several
regex calls per word, and each costs: the wrapper's Python frames (about 0.5 to 1 µs a call), ``regex``
being slower than ``re`` on these small patterns (1.3 to 2.3 times), and above all the timeout. ``regex``
implements it by reading ``clock()``, that is ``clock_gettime(CLOCK_PROCESS_CPUTIME_ID)``, a real system call
with no vDSO shortcut, at the start of every match attempt: once per call for ``match`` and ``sub``, once per
found token for ``findall`` and ``finditer``. About 1.4 µs each on our virtual machines; 86 such calls to split
one three-sentence paragraph. (bench/results/sentences.md has the measurements.)

Why the standard ``re`` module is sound here. The timeout guards against catastrophic backtracking in
caller-supplied patterns. These are not: they are Punkt's fixed patterns, below, applied to one paragraph or
one short candidate context at a time, and none of them can backtrack more than linearly:

- the word pattern is an alternation whose branches start with disjoint or O(1) tests; its one loop, a lazy
  ``\\S+?``, extends one character at a time under a lookahead made of single-character tests and runs of one
  repeated character (``-{2,}``, ``.{2,}``, ``(?:.\\s){2,}.``) that stop at the first success, and it can
  never fail once started (the end of a non-space run always satisfies ``\\s|$``), so every match costs at
  most the length of its token plus the run after it, and matches do not overlap;
- the candidate-boundary pattern starts with one of ``.?!`` and looks ahead at one punctuation character or
  ``\\s+\\S+``, two disjoint classes, so each whitespace-and-word run is scanned by at most the one candidate
  just before it;
- the realignment pattern is anchored (``match``), a lazy run of closing quotes followed by ``\\s+``, a
  two-character lookahead or ``$``, again disjoint classes;
- the token patterns are anchored runs of one class with an optional final dot.

This was checked three ways: by that reading; by two ReDoS analysers, recheck 4.5.0 (automaton-based, run
with ``npx recheck``) and regexploit 1.0.0, which report every pattern safe (linear); and by timing adversarial
inputs of 10 to 320 thousand characters built from the patterns' own metacharacters, whose time grows
linearly (``python bench/sentences.py --redos``).

``re`` and ``regex`` read a few character classes differently: ``\\s`` includes U+001C to U+001F for ``re``
(as for ``str.isspace``, which Punkt's own ``rstrip`` and our paragraph splitting use, so ``re`` is the
consistent one) but not for ``regex``; letters (``[^\\W\\d]``) include superscript and fraction digits (``²``)
for ``re`` and combining marks for ``regex``. Splitting can differ only where such a character stands alone
before a period (an "initial") or a separator character U+001C-U+001F is in the text; on all of Reuters,
SQuAD and SciFact the spans are identical to nltk 3.10's (bench/sentences.py counts them).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from nltk.tokenize.punkt import PunktLanguageVars, PunktParameters, PunktToken, PunktTrainer

from .analysis import _ABBREVIATIONS, _TRAINING_CHARS
from .errors import InvalidOption, NewsbotError

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
# Punkt's _get_last_whitespace_index looks for string.whitespace only (ASCII), not for every \s.
_ASCII_SPACE_NOT_BLANK = re.compile("[\t\n\r\x0b\x0c]")
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
_CACHE_LIMIT = 500_000
_TYPES: dict[str, str] = {}


def _type_of(token: str) -> str:
    """Punkt's case-normalised token type: lower case, numbers folded to ``##number##``."""
    found = _TYPES.get(token)
    if found is None:
        if len(_TYPES) > _CACHE_LIMIT:
            _TYPES.clear()
        found = _TYPES[token] = _NUMERIC.sub("##number##", token.lower())
    return found


class _LanguageVars(PunktLanguageVars):
    """Punkt's English language variables with the patterns above, for nltk's trainer."""

    __slots__ = ()
    sent_end_chars = _SENT_END_CHARS
    internal_punctuation = _INTERNAL_PUNCTUATION
    re_boundary_realignment = _REALIGN

    def word_tokenize(self, s: str) -> list[str]:
        return _WORD.findall(s)

    def _word_tokenizer_re(self) -> re.Pattern[str]:
        return _WORD

    def period_context_re(self) -> re.Pattern[str]:
        return _PERIOD_CONTEXT


class _Token(PunktToken):
    """Punkt's token with the patterns above and a cached type, for nltk's trainer."""

    __slots__ = ()

    def __init__(self, tok: str, parastart: bool | None = None, linestart: bool | None = None) -> None:
        self.tok = tok
        self.type = _type_of(tok)
        self.period_final = tok.endswith(".")
        self.parastart = parastart
        self.linestart = linestart
        self.sentbreak = self.abbr = self.ellipsis = None

    @property
    def is_ellipsis(self) -> bool:
        return _ELLIPSIS.match(self.tok) is not None

    @property
    def is_initial(self) -> bool:
        return _INITIAL.match(self.tok) is not None

    @property
    def is_alpha(self) -> bool:
        return _ALPHA.match(self.tok) is not None

    @property
    def is_non_punct(self) -> bool:
        return _NON_PUNCT.search(self.type) is not None


def _training_text(sample: Iterable[str]) -> str:
    """The first ``_TRAINING_CHARS`` characters of the sample, texts joined by blank lines."""
    chunks, size = [], 0
    for text in sample:
        if size >= _TRAINING_CHARS:
            break
        chunks.append(text)
        size += len(text)
    return "\n\n".join(chunks)[:_TRAINING_CHARS]


def _train(sample: Iterable[str]) -> PunktParameters:
    trainer = PunktTrainer(lang_vars=_LanguageVars(), token_cls=_Token)
    # One call on the joined sample: training text by text costs more than the learning itself.
    trainer.train(_training_text(sample), finalize=False)
    trainer.finalize_training()
    params: PunktParameters = trainer.get_params()
    params.abbrev_types |= _ABBREVIATIONS
    return params


class SentenceSplitter:
    """Punkt sentence boundaries, with character offsets, for one corpus.

    Args:
        sample: texts to learn the corpus's abbreviations and sentence starters from (the first million
            characters are used; optional).
    """

    __slots__ = ("_abbreviations", "_collocations", "_decisions", "_first_pass", "_ortho_context", "_starters")

    def __init__(self, sample: Iterable[str] = ()) -> None:
        params = _train(sample)
        self._adopt(
            abbreviations=params.abbrev_types,
            collocations=params.collocations,
            starters=params.sent_starters,
            ortho_context=params.ortho_context,
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

        The spans are Punkt's for the range with its surrounding whitespace removed: exactly those of
        ``PunktSentenceTokenizer(self.punkt_parameters()).span_tokenize`` on that trimmed text.

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
            # The word before a candidate starts after the last ASCII whitespace since the previous candidate;
            # as in nltk, whitespace right at the previous candidate counts as none and the word extends back.
            space = text.rfind(" ", previous_start, candidate)
            if other_spaces is None:
                other_spaces = _ASCII_SPACE_NOT_BLANK.search(text, start, end) is not None
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
        """Punkt's first, type-based pass over one token."""
        found = self._first_pass.get(token)
        if found is not None:
            return found
        if token in _SENT_END_CHARS:
            found = _SENTBREAK
        elif _ELLIPSIS.match(token):
            found = _ELLIPSIS_MARK
        elif token.endswith(".") and not token.endswith(".."):
            bare = token[:-1].lower()
            abbreviations = self._abbreviations
            found = _ABBREVIATION if bare in abbreviations or bare.split("-")[-1] in abbreviations else _SENTBREAK
        else:
            found = _PLAIN
        if len(self._first_pass) > _CACHE_LIMIT:
            self._first_pass.clear()
        self._first_pass[token] = found
        return found

    def _is_break(self, token: str, following: str) -> bool:
        """Punkt's second, token-based pass: whether ``token``, followed by ``following``, ends a sentence."""
        first = self._first(token)
        if not token.endswith("."):
            return first == _SENTBREAK
        typ = _type_of(token)
        if len(typ) > 1 and typ[-1] == ".":
            typ = typ[:-1]
        next_typ = _type_of(following)
        if self._first(following) == _SENTBREAK and len(next_typ) > 1 and next_typ[-1] == ".":
            next_typ = next_typ[:-1]
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
