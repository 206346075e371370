"""Small talk: greetings, thanks and chatter, recognised before anything is searched.

"hi" must not quote Comsat's "Hi-Net", and "thanks!" must not quote "thanks to ample liquidity". A message is
small talk when, with punctuation and emoji set aside, it is a known phrase (a short, tested list in several
languages), or nothing but emoji, or, with a semantic judge, a short message whose meaning is close to one of the
phrases while it holds no rare word of the articles. Such a message gets ``SMALL_TALK_REPLY``, never quotes.
"""

from __future__ import annotations

import html
import re
import unicodedata
from typing import TYPE_CHECKING

from .analysis import normalize

if TYPE_CHECKING:
    from .semantic import Judge

__all__ = ["PHRASES", "SMALL_TALK_COSINE", "SMALL_TALK_REPLY", "is_small_talk", "strip_markup"]

SMALL_TALK_REPLY = (
    "Hello! I answer questions about the news articles I have, quoting them word for word with their sources. "
    "Ask me about a person, a place or an event."
)
# Tags and comments typed or pasted into a question ("<b>Parasite</b>?"), and the entities of HTML text: markup is
# not part of a question. A "<" not followed by a letter ("3 < 5") is not a tag.
_TAG = re.compile(r"<!--.*?-->|</?[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>", re.DOTALL)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,8});")

# Whole messages, folded (lower case, no punctuation, no emoji). Kept short and general: they are what people
# say to a bot, not test strings.
PHRASES = frozenset(
    phrase.strip()
    for phrase in """
    hi|hello|hey|hey there|hi there|hello there|yo|hiya|howdy|greetings|good morning|good afternoon|good evening
    |good night|gm|morning|evening|sup|whats up|what is up|wassup|thanks|thank you|thanks a lot|thank you so much
    |many thanks|thx|ty|tysm|cheers|much appreciated|appreciate it|great thanks|ok thanks|ok|okay|k|kk|cool|great
    |nice|good|fine|got it|i see|sure|alright|all right|awesome|perfect|excellent|wow|lol|haha|hahaha|hehe|lmao
    |rofl|bye|goodbye|bye bye|see you|see you later|see ya|later|cya|take care|how are you|how are you doing|how r u
    |hows it going|how is it going|whats new with you|who are you|what are you|who r u|what is your name
    |whats your name|are you a bot|are you human|are you a robot|are you real|what can you do|what do you do|help
    |help me|test|testing|ping|merhaba|selam|hola|buenos dias|gracias|bonjour|salut|merci|hallo|guten tag|danke
    |ciao|grazie|privet|привет|спасибо|здравствуйте|namaste|salaam|shalom|konnichiwa|ni hao|ola|obrigado
    """.split("|")  # noqa: SIM905
) - {""}
# How close in meaning a short message must be to one of the phrases to count as small talk: "hello my friend"
# reaches 0.75 and short news questions ("who is Haftar", "oil prices in Libya") stay under 0.45 (tests/
# test_semantic.py); bench/quality.py reports the rate on its own small-talk set, which was not used to choose it.
SMALL_TALK_COSINE = 0.7
_WORDS = re.compile(r"[^\W_]+", re.UNICODE)
_MAX_WORDS = 6  # small talk is short; a longer message is a question whatever it starts with


def _fold(text: str) -> str:
    return " ".join(word.replace("'", "") for word in _WORDS.findall(normalize(text).replace("'", "")))


def is_small_talk(message: str, *, judge: Judge | None = None) -> bool:
    """Whether ``message`` is chatter rather than a question about the news (see the module docstring)."""
    folded = _fold(message)
    if not folded:
        # Emoji alone are a reaction ("👍", "😂"); punctuation alone is not even that.
        return any(unicodedata.category(char) == "So" for char in message)
    words = folded.split()
    if len(words) > _MAX_WORDS:
        return False
    if folded in PHRASES or (" ".join(words[:-1]) in PHRASES and words[-1] in ("bot", "newsbot", "there", "all")):
        return True
    return judge is not None and judge.nearest(folded, PHRASES) >= SMALL_TALK_COSINE


def strip_markup(text: str) -> str:
    """``text`` without HTML tags and comments, its entities decoded ("<b>Parasite</b> &amp; Joker" becomes
    "Parasite & Joker"); text without markup comes back unchanged."""
    if "<" not in text and "&" not in text:
        return text
    stripped = _TAG.sub(" ", text)
    return _ENTITY.sub(lambda m: html.unescape(m.group()), stripped)
