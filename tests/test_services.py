"""The bot's services on their own: answer pages expire, and the per-user question limit."""

from __future__ import annotations


def test_answer_buttons_expire_after_a_day():
    from bot.services import AnswerPages

    now = [1000.0]
    pages = AnswerPages(clock=lambda: now[0])
    key = pages.remember("Which air base?", chat_id=5)
    now[0] += 86_399
    assert pages.recall(key, chat_id=5) == "Which air base?"
    now[0] += 2
    assert pages.recall(key, chat_id=5) is None
    assert pages.recall("deadbeef", chat_id=5) is None


def test_question_limit_warns_once_then_stays_silent():
    from bot.services import QuestionLimiter

    now = [0.0]
    limiter = QuestionLimiter(2, clock=lambda: now[0])
    assert [limiter.check(1) for _ in range(4)] == ["ok", "ok", "warn", "drop"]
    assert limiter.check(2) == "ok", "other users are not affected"
    now[0] += 60
    assert limiter.check(1) == "ok"


def test_idle_users_are_forgotten():
    from bot.services import QuestionLimiter

    now = [0.0]
    limiter = QuestionLimiter(5, clock=lambda: now[0])
    for user in range(10_000):
        limiter.check(user)
    assert limiter.tracked == 10_000
    now[0] += 61
    assert limiter.check(1) == "ok"
    assert limiter.tracked <= 1, "users idle for a whole window are not kept"


def test_button_keys_are_bound_to_their_chat():
    from bot.services import AnswerPages

    pages = AnswerPages()
    key = pages.remember("Which air base?", chat_id=1)
    assert pages.recall(key, chat_id=1) == "Which air base?"
    assert pages.recall(key, chat_id=2) is None
