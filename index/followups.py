"""Follow-up questions: whether a message continues the question before it, and the subject it carries on.

"and when was that announced?" after "How did iOS 13 fix FaceTime eye contact?" is about iOS 13 and FaceTime; on
its own it is about nothing. The bot keeps its last few questions per chat and user (``bot.state.turns``) and
answers a follow-up with the earlier question's subject (``index.answer(..., subject=...)``), whose words weigh
less than the follow-up's own. This module only reads text: a follow-up is short and points back ("that", "it",
"they", an opening "and" or "what about"), or is very short ("Who?", "And Egypt?"); a message that names a topic
of its own ("Which countries back Haftar?") is a new question, even in reply to an answer.
"""

from __future__ import annotations

import re

from .talk import strip_markup
from .wordlists import STOPWORDS

__all__ = ["MAX_FOLLOW_UP_WORDS", "MAX_SUBJECT", "is_follow_up", "subject_of"]

MAX_FOLLOW_UP_WORDS = 8  # a follow-up is short; a longer message asks a question of its own
MAX_SUBJECT = 200  # characters of subject carried on (follow-ups of follow-ups keep the first question's words)
_VERY_SHORT = 3  # "Who?", "And Egypt?", "since when?": too short to be a question of their own
_WORDS = re.compile(r"[\w'’-]+")
_OPENERS = re.compile(r"^(?:and|but|so|also|then|what about|how about|and what about)\b", re.IGNORECASE)
_POINTING_BACK = frozenset(
    "that this it its it's they them their theirs those these he him his she her hers there then such".split()  # noqa: SIM905
)
# Words that ask rather than name the subject: left out of what a follow-up carries on.
_ASKING = frozenset(
    "what which who whom whose when where why how did does do is are was were will would can could".split()  # noqa: SIM905
)


def is_follow_up(message: str) -> bool:
    """Whether ``message`` reads as continuing the question before it rather than asking a new one."""
    words = [w.lower() for w in _WORDS.findall(strip_markup(message))]
    if not words or len(words) > MAX_FOLLOW_UP_WORDS:
        return False
    return len(words) <= _VERY_SHORT or bool(_OPENERS.match(" ".join(words))) or bool(_POINTING_BACK & set(words))


def subject_of(question: str, earlier_subject: str = "") -> str:
    """What a question is about, to carry on to its follow-ups: its words without the asking ones and stopwords,
    after the earlier subject it followed, if any."""
    words = [
        w for w in _WORDS.findall(strip_markup(question)) if w.lower() not in STOPWORDS and w.lower() not in _ASKING
    ]
    joined = " ".join([earlier_subject, *words]).strip()
    return joined[:MAX_SUBJECT].rsplit(" ", 1)[0] if len(joined) > MAX_SUBJECT else joined
