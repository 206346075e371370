"""The interface the bot needs from a store of its state: one ``Protocol`` per repository, and ``State`` over them.

These are the contract that ``tests/state_suite.py`` checks on every implementation. Moments are aware datetimes
both ways; ids are the store's own integers; "exists already" and "no such thing" are normal results (None,
False, an empty list), never exceptions. Every method may raise ``StateError`` (``DiskFull`` when the disk is
full), and a write that raises has changed nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from bot.state.feeds import Feed, PollRecord
from bot.state.follows import Follow
from bot.state.shared import Pressed, Process
from bot.state.subscriptions import Subscription
from bot.state.turns import Turn
from index.feeds import FeedItem
from index.polling import KnownItem

__all__ = [
    "Buttons", "Claims", "Feeds", "Follows", "Leases", "Limits", "Processes", "State", "Subscriptions", "Turns",
]


class Subscriptions(Protocol):
    """Daily briefing subscriptions, and each chat's time zone."""

    def timezone(self, chat_id: int) -> str:
        """The chat's time zone (the store's default when it never set one)."""
        ...

    def set_timezone(self, chat_id: int, timezone: str) -> None:
        """Set the chat's time zone (an IANA name, already checked)."""
        ...

    def add(self, chat_id: int, time: str, topic: str | None, *, now: dt.datetime | None = None) -> Subscription:
        """A new enabled subscription at ``time`` (HH:MM) on ``topic`` (None: the latest stories), created ``now``."""
        ...

    def get(self, subscription_id: int) -> Subscription | None:
        """The subscription with this id, enabled or not; None when there is none."""
        ...

    def for_chat(self, chat_id: int) -> list[Subscription]:
        """The chat's enabled subscriptions, oldest first."""
        ...

    def enabled(self) -> list[Subscription]:
        """Every enabled subscription, oldest first."""
        ...

    def remove(self, chat_id: int, subscription_id: int | None = None) -> list[int]:
        """Delete one enabled subscription of the chat (all when None); the ids removed, ascending."""
        ...

    def mark_sent(self, subscription_id: int, when: dt.datetime) -> None:
        """Record when the subscription's briefing was sent."""
        ...

    def disable_chat(self, chat_id: int, reason: str) -> list[int]:
        """Disable every enabled subscription of the chat; the ids disabled, ascending."""
        ...


class Feeds(Protocol):
    """Followed feeds with their polling state, and what is remembered of their items."""

    def add(self, url: str, name: str | None, *, now: dt.datetime | None = None) -> Feed | None:
        """Follow a feed; None when that URL is followed already."""
        ...

    def every(self) -> list[Feed]:
        """Every followed feed, oldest first."""
        ...

    def get(self, feed_id: int) -> Feed | None:
        """The feed with this id, or None."""
        ...

    def remove(self, feed_id: int) -> bool:
        """Stop following the feed and forget its items; False when there is no such feed."""
        ...

    def pause(self, feed_id: int, paused: bool) -> bool:
        """Pause, or resume (re-enabled, no failures, due now); False when there is no such feed."""
        ...

    def save_poll(self, feed_id: int, poll: PollRecord) -> None:
        """Record a poll, all of it or nothing: the feed's state, and the plan's items (none for a removed feed)."""
        ...

    def known_items(self, feed_id: int) -> dict[str, KnownItem]:
        """Everything remembered of the feed's items, by key: the most recently seen first, each poll's in order."""
        ...

    def waiting_items(self, feed_id: int, keys: Sequence[str]) -> dict[str, FeedItem]:
        """The waiting items among ``keys``, as the feed gave them (an unreadable record is left out)."""
        ...

    def fetched_since(self, when: dt.datetime) -> int:
        """How many feed items became articles since ``when``."""
        ...


class Follows(Protocol):
    """Followed topics, what each chat was sent, and each chat's digest queue."""

    def add(self, chat_id: int, topic: str, *, now: dt.datetime | None = None) -> Follow | None:
        """Follow a topic in a chat; None when the chat follows it already."""
        ...

    def for_chat(self, chat_id: int) -> list[Follow]:
        """The topics the chat follows, oldest first."""
        ...

    def every(self) -> list[Follow]:
        """Every chat's followed topics, oldest first."""
        ...

    def remove(self, chat_id: int, follow_id: int | None = None) -> list[int]:
        """Unfollow one topic of the chat (all when None) and drop its queued stories; the ids removed, ascending."""
        ...

    def already_sent(self, chat_id: int, article_ids: Sequence[str]) -> set[str]:
        """The stories among ``article_ids`` that were sent to, or are queued for, the chat."""
        ...

    def sent_within(self, chat_id: int, since: dt.datetime) -> int:
        """How many messages the chat was sent since ``since``."""
        ...

    def mark_sent(self, chat_id: int, messages: Sequence[Sequence[str]], *, now: dt.datetime) -> None:
        """Record messages sent to the chat, each a list of story ids, counted one second apart from ``now`` on;
        a story recorded already keeps its moment (marking twice is fine); sent stories leave the queue."""
        ...

    def claim(self, chat_id: int, messages: Sequence[Sequence[str]], *, now: dt.datetime) -> list[list[str]]:
        """Record messages (lists of story ids, one second apart from ``now``) as sent *before* sending them (they
        leave the queue); each message's stories this call recorded: one recorded already is left out, so no two
        processes send it."""
        ...

    def queue(self, chat_id: int, follow_id: int, article_ids: Sequence[str], *, now: dt.datetime) -> None:
        """Queue stories matched by a followed topic for the chat's next digest (a story queued already stays)."""
        ...

    def queued(self) -> dict[int, list[tuple[str, int]]]:
        """Queued stories by chat, as (article id, follow id), in the order they were queued."""
        ...


class Buttons(Protocol):
    """The question behind each answer's buttons ("More", "Context", "Why"), shared by every process."""

    def remember(self, question: str, *, chat_id: int, subject: str = "", now: dt.datetime | None = None) -> str:
        """A new key (8 hex digits) for ``question`` asked in ``chat_id`` (a follow-up's earlier ``subject``)."""
        ...

    def recall(self, key: str, *, chat_id: int, now: dt.datetime | None = None) -> Pressed | None:
        """What ``key`` refers to if it was asked in ``chat_id`` less than a day ago, else None."""
        ...

    def forget(self, *, now: dt.datetime | None = None) -> int:
        """Forget the buttons older than a day; how many."""
        ...


class Limits(Protocol):
    """Each user's flood limit, shared by every process."""

    def check(
        self, scope: str, user_id: int, per_window: int, *, window: float = 60.0, now: float | None = None
    ) -> tuple[str, int]:
        """``("ok", 0)``, ``("warn", seconds to wait)`` the first time over the limit, then ``("drop", seconds)``."""
        ...

    def tracked(self, scope: str) -> int:
        """How many users the limit remembers in ``scope``."""
        ...


class Leases(Protocol):
    """Leases on jobs: one process runs a job at a time; another takes it once the lease expires."""

    def claim(self, job: str, holder: str, seconds: float, *, now: dt.datetime | None = None) -> bool:
        """Take (or extend) the job's lease for ``seconds`` unless another holder's lease is current."""
        ...

    def renew(self, job: str, holder: str, seconds: float, *, now: dt.datetime | None = None) -> bool:
        """Extend the holder's lease; False when it lost the job to another."""
        ...

    def release(self, job: str, holder: str) -> None:
        """Give the job up (nothing when another holds it)."""
        ...

    def holder(self, job: str, *, now: dt.datetime | None = None) -> str | None:
        """Who holds the job now; None when nobody does."""
        ...


class Claims(Protocol):
    """Keys claimed once across processes, before the thing they stand for is done."""

    def claim(self, key: str, holder: str, *, now: dt.datetime | None = None) -> bool:
        """Whether this call claimed ``key`` (False: it was claimed before)."""
        ...

    def forget_before(self, when: dt.datetime) -> int:
        """Forget claims made before ``when``; how many."""
        ...


class Processes(Protocol):
    """The bot processes using the store."""

    def register(
        self, process_id: str, hostname: str, backend: str, *, writer: bool, now: dt.datetime | None = None
    ) -> None:
        """Record a process that starts."""
        ...

    def seen(self, process_id: str, *, now: dt.datetime | None = None) -> None:
        """The process still runs."""
        ...

    def alive(self, since: dt.datetime) -> list[Process]:
        """The processes seen since ``since``, oldest first."""
        ...

    def leave(self, process_id: str) -> None:
        """The process stops."""
        ...


class Turns(Protocol):
    """The conversation's last turns: which question each of the bot's answers replied to (a few per chat and user,
    forgotten after ``turns.TURN_MINUTES``)."""

    def remember(self, turn: Turn) -> None:
        """Keep ``turn`` (replacing one for the same answer), and forget the user's turns in that chat past the last
        ``turns.TURNS_KEPT`` and every turn expired by ``turn.asked_at``."""
        ...

    def replied(self, chat_id: int, message_id: int, *, now: dt.datetime) -> Turn | None:
        """The turn the bot's message ``message_id`` answered in the chat, unless it expired by ``now``; else None."""
        ...

    def latest(self, chat_id: int, user_id: int, *, since: dt.datetime) -> Turn | None:
        """The user's most recent turn in the chat asked at ``since`` or later; else None."""
        ...


class State(Protocol):
    """A store of the bot's state: its repositories, its schema version, backups and closing."""

    subscriptions: Subscriptions
    feeds: Feeds
    follows: Follows
    buttons: Buttons
    limits: Limits
    leases: Leases
    claims: Claims
    processes: Processes
    turns: Turns

    def schema_version(self) -> int:
        """The version of the schema the stored data is in (``schema.SCHEMA_VERSION`` once opened)."""
        ...

    def backup(self, *, now: dt.datetime | None = None) -> Path | None:
        """Copy the state somewhere safe, consistently while in use; where (None: the engine's backups are made
        outside the bot, as a server database's are)."""
        ...

    def close(self) -> None:
        """Close the store; nothing can be called after."""
        ...
