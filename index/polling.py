"""Polling: when to read a feed again, and which of its items to fetch; pure decisions over plain data.

No network, no clock and no randomness of its own: the caller passes the time, the response headers and a random
source, so the bot runs it in a worker thread and the tests drive it with fixed times::

    state = after_success(state, now=now, headers=response_headers, etag=..., last_modified=..., ttl=parsed.ttl)
    state = after_failure(state, now=now, error="HTTP 503", status=503, retry_after=...)
    if is_due(state, now=now): ...

The next poll comes after the policy's interval, lengthened (never shortened) by the feed's ``ttl`` and the
response's ``Cache-Control``, ``Expires`` and ``Retry-After``; failures back off exponentially and, after
``max_failures`` in a row, disable the feed until an admin resumes it.

Which items a poll fetches is decided from one read of what the database knows (as the ``reader`` library's
update pipeline does)::

    plan = plan_items(parsed.items, known, per_poll=50)   # parsed.items is None after a 304
    plan.fetch      # keys to fetch now: new items, changed ones, then the backlog (seen, not fetched yet)
    plan.gone       # keys the feed no longer lists (remembered a while, then forgotten)
"""

from __future__ import annotations

import datetime as dt
import email.utils
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Generic, Protocol, TypeVar

from .errors import InvalidOption

__all__ = [
    "DEFAULT_POLICY",
    "MAX_CHANGES",
    "FeedState",
    "ItemPlan",
    "KnownItem",
    "ListedItem",
    "PollPolicy",
    "after_failure",
    "after_success",
    "is_due",
    "parse_retry_after",
    "plan_items",
    "resume",
]


# --- Which items a poll fetches --------------------------------------------------------------------------------

MAX_CHANGES = 24  # times one item's page is fetched again because its text changed (as the reader library does)


class ListedItem(Protocol):
    """What a plan needs of an item a feed lists (``index.feeds.FeedItem`` is one): only its key and digest."""

    @property
    def key(self) -> str:
        """The item's identity from poll to poll."""
        ...

    @property
    def digest(self) -> str:
        """Changes when the item's title or text changes."""
        ...


Item = TypeVar("Item", bound=ListedItem)


@dataclass(frozen=True, slots=True)
class KnownItem:
    """What the database remembers of one item of a feed.

    ``waiting``: seen but not fetched yet (new then, or changed since it was fetched); the database keeps the
    item itself meanwhile, so it is fetched on a later poll whatever the feed answers. ``listed``: the feed listed
    it when last read. ``changes``: how many times it was fetched again because its title or text changed.
    """

    key: str
    digest: str
    waiting: bool = False
    listed: bool = True
    changes: int = 0


@dataclass(frozen=True, slots=True)
class ItemPlan(Generic[Item]):
    """What one poll does with a feed's items (``plan_items``); the items are the ones it was given.

    ``new``: never seen, in feed order. ``changed``: fetched before, and their title or text changed since.
    ``refreshed``: waiting items whose title or text changed while they waited (kept in their new form).
    ``backlog``: keys of the items seen before and not fetched yet, in the order they will be fetched.
    ``gone``: keys of items the feed listed and lists no more; ``relisted``: keys listed again.
    ``unchanged``: how many listed items need nothing. ``fetch``: the keys to fetch in this poll, in order.
    """

    new: tuple[Item, ...] = ()
    changed: tuple[Item, ...] = ()
    refreshed: tuple[Item, ...] = ()
    backlog: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    relisted: tuple[str, ...] = ()
    unchanged: int = 0
    fetch: tuple[str, ...] = ()

    @property
    def waiting(self) -> int:
        """How many items still wait to be fetched after this poll."""
        return len(self.new) + len(self.changed) + len(self.backlog) - len(self.fetch)


def plan_items(
    items: Sequence[Item] | None,
    known: Mapping[str, KnownItem],
    *,
    per_poll: int,
    max_changes: int = MAX_CHANGES,
) -> ItemPlan[Item]:
    """Decide which items are new, changed, waiting or gone, and which to fetch in this poll.

    New items come first, in the feed's order (feeds list the newest first, so today's stories arrive first),
    then changed ones, then the backlog: items seen on earlier polls and not fetched yet, those the feed still
    lists before those it dropped, each group in ``known``'s order. An item that left the feed before it was
    fetched is still fetched: it was announced, and its page usually stays. An item whose text changed more than
    ``max_changes`` times is not fetched again (its feed puts something like the time into it).

    Args:
        items: the feed's items as just read (``index.feeds.FeedItem``), or None when the feed was not read (a
            304): then only the backlog is fetched.
        known: every item the database remembers for this feed, by key, waiting ones in the order they
            should be fetched (the database gives the most recently seen first, each poll's in feed order).
        per_poll: the most items fetched in one poll; the rest wait for the next.
        max_changes: how many times an item is fetched again because its text changed.

    Returns:
        The plan. Pure: nothing is read or written.

    Raises:
        InvalidOption: ``per_poll`` is below 1.
    """
    if per_poll < 1:
        raise InvalidOption(f"per_poll {per_poll} must be 1 or more")
    new: list[Item] = []
    changed: list[Item] = []
    refreshed: list[Item] = []
    relisted: list[str] = []
    unchanged = 0
    listed_now = None if items is None else {item.key for item in items}
    for item in items or ():
        old = known.get(item.key)
        if old is None:
            new.append(item)
            continue
        if not old.listed:
            relisted.append(item.key)
        if old.waiting:
            if old.digest != item.digest:
                refreshed.append(item)
        elif old.digest != item.digest and old.changes < max_changes:
            changed.append(item)
        else:
            unchanged += 1

    def still_listed(key: str, old: KnownItem) -> bool:
        return old.listed if listed_now is None else key in listed_now

    waiting = [(key, old) for key, old in known.items() if old.waiting]
    backlog = [key for key, old in waiting if still_listed(key, old)]
    backlog += [key for key, old in waiting if not still_listed(key, old)]
    gone = [] if listed_now is None else [key for key, old in known.items() if old.listed and key not in listed_now]
    order = [item.key for item in new] + [item.key for item in changed] + backlog
    return ItemPlan(
        new=tuple(new),
        changed=tuple(changed),
        refreshed=tuple(refreshed),
        backlog=tuple(backlog),
        gone=tuple(gone),
        relisted=tuple(relisted),
        unchanged=unchanged,
        fetch=tuple(order[:per_poll]),
    )


# --- Polling policy -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How often to poll a feed and when to give up on it.

    ``interval`` is the normal wait between polls; the feed's ``ttl`` and the response's ``Cache-Control:
    max-age``, ``Expires`` and ``Retry-After`` can only lengthen it, up to ``max_interval``. After ``n``
    consecutive failures the wait is ``interval * 2**(n-1)``, capped at ``max_backoff``, and never shorter than a
    429's or 503's ``Retry-After`` (also capped at ``max_backoff``). After ``max_failures`` consecutive failures
    the feed is disabled. Every wait is lengthened by up to ``jitter`` (a fraction) to spread polls.
    """

    interval: dt.timedelta = dt.timedelta(minutes=30)
    max_interval: dt.timedelta = dt.timedelta(days=1)
    max_backoff: dt.timedelta = dt.timedelta(days=1)
    max_failures: int = 10
    jitter: float = 0.1

    def __post_init__(self) -> None:
        # Users cannot set less than a minute (FEED_INTERVAL_MINUTES); tests poll their own server faster.
        if self.interval <= dt.timedelta(0):
            raise InvalidOption(f"poll interval {self.interval} must be positive")
        if self.max_interval < self.interval or self.max_backoff < self.interval:
            raise InvalidOption(
                f"max_interval ({self.max_interval}) and max_backoff ({self.max_backoff}) must be at least the "
                f"interval ({self.interval})"
            )
        if self.max_failures < 1:
            raise InvalidOption(f"max_failures {self.max_failures} must be 1 or more")
        if not 0.0 <= self.jitter <= 1.0:
            raise InvalidOption(f"jitter {self.jitter} must be between 0 and 1 (a fraction of the wait)")


DEFAULT_POLICY = PollPolicy()


@dataclass(frozen=True, slots=True)
class FeedState:
    """What the poller remembers about one feed between polls.

    ``next_due`` is an aware UTC datetime (None: due now); ``failures`` counts consecutive failures;
    ``last_error`` is the latest failure's one-line reason (empty after a success).
    """

    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0
    next_due: dt.datetime | None = None
    disabled: bool = False
    last_error: str = field(default="")


def is_due(state: FeedState, *, now: dt.datetime) -> bool:
    """Whether a feed should be polled at ``now`` (an aware datetime); a disabled feed never is."""
    return not state.disabled and (state.next_due is None or state.next_due <= now)


def resume(state: FeedState, *, now: dt.datetime) -> FeedState:
    """Re-enable a disabled feed (an admin asked), due at once with its failures forgotten."""
    return replace(state, disabled=False, failures=0, next_due=now, last_error="")


def parse_retry_after(value: str | None, *, now: dt.datetime) -> dt.timedelta | None:
    """Read a ``Retry-After`` header: delay seconds or an HTTP date.

    Args:
        value: the header's value, or None.
        now: the current time (aware), to turn a date into a delay.

    Returns:
        The delay (zero for a date in the past), or None when absent or unreadable.
    """
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return dt.timedelta(seconds=int(text))
    when = _http_date(text)
    return max(dt.timedelta(0), when - now) if when is not None else None


def _http_date(text: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def _freshness_hints(headers: Mapping[str, str], *, now: dt.datetime) -> list[dt.timedelta]:
    """How long the server says the response stays fresh: max-age (less Age), Expires, Retry-After."""
    lowered = {str(name).lower(): str(value) for name, value in headers.items()}
    hints: list[dt.timedelta] = []
    directives = [d.strip().lower() for d in lowered.get("cache-control", "").split(",")]
    max_age = next((d.split("=", 1)[1].strip('" ') for d in directives if d.startswith("max-age=")), None)
    if max_age is not None and max_age.isdigit():
        age = lowered.get("age", "0").strip()
        hints.append(dt.timedelta(seconds=max(0, int(max_age) - (int(age) if age.isdigit() else 0))))
    elif "expires" in lowered:
        # Expires counts from the server's clock (its Date header) when it sent one, else from ours.
        expires = _http_date(lowered["expires"])
        sent = _http_date(lowered.get("date", "")) or now
        if expires is not None:
            hints.append(max(dt.timedelta(0), expires - sent))
    retry_after = parse_retry_after(lowered.get("retry-after"), now=now)
    if retry_after is not None:
        hints.append(retry_after)
    return hints


def _jittered(wait: dt.timedelta, policy: PollPolicy, random: Callable[[], float] | None) -> dt.timedelta:
    if random is None or not policy.jitter:
        return wait
    return wait * (1.0 + policy.jitter * min(max(random(), 0.0), 1.0))


def after_success(
    state: FeedState,
    *,
    now: dt.datetime,
    headers: Mapping[str, str],
    etag: str | None,
    last_modified: str | None,
    ttl: int | None = None,
    policy: PollPolicy = DEFAULT_POLICY,
    random: Callable[[], float] | None = None,
) -> FeedState:
    """The feed's state after a poll that answered 200 or 304.

    Args:
        state: the state before the poll.
        now: when the poll ended (aware).
        headers: the response headers (any case): Cache-Control, Age, Expires, Date, Retry-After.
        etag, last_modified: the validators to send next time (from the response; on a 304 without new
            ones, those that were sent).
        ttl: the feed's ``ttl`` in minutes (``index.feeds.ParsedFeed.ttl``), or None.
        policy: intervals and limits.
        random: a source of floats in [0, 1) for jitter (``random.random``); None for no jitter.

    Returns:
        The new state: failures cleared, next poll after the interval, the ttl and the response's freshness,
        whichever is longest (at most ``policy.max_interval``), plus jitter.
    """
    hints = _freshness_hints(headers, now=now)
    if ttl:
        hints.append(dt.timedelta(minutes=ttl))
    wait = min(max([policy.interval, *hints]), policy.max_interval)
    return FeedState(
        etag=etag,
        last_modified=last_modified,
        failures=0,
        next_due=now + _jittered(wait, policy, random),
        disabled=False,
        last_error="",
    )


def after_failure(
    state: FeedState,
    *,
    now: dt.datetime,
    error: str,
    status: int | None = None,
    retry_after: dt.timedelta | None = None,
    policy: PollPolicy = DEFAULT_POLICY,
    random: Callable[[], float] | None = None,
) -> FeedState:
    """The feed's state after a failed poll (network error, HTTP error, unreadable feed).

    Args:
        state: the state before the poll.
        now: when the poll ended (aware).
        error: the one-line reason, kept as ``last_error``.
        status: the HTTP status when there was one.
        retry_after: the response's ``Retry-After``, honoured on 429 and 503.
        policy: intervals and limits.
        random: a source of floats in [0, 1) for jitter; None for no jitter.

    Returns:
        The new state, with exponential backoff, and ``disabled`` once ``policy.max_failures`` consecutive
        failures are reached. The validators are kept. A caller tells the admins once, when ``disabled`` turns
        from False to True.
    """
    failures = state.failures + 1
    wait = min(policy.max_backoff, policy.interval * 2 ** min(failures - 1, 30))
    if status in (429, 503) and retry_after is not None:
        wait = max(wait, min(retry_after, policy.max_backoff))
    return replace(
        state,
        failures=failures,
        next_due=now + _jittered(wait, policy, random),
        disabled=state.disabled or failures >= policy.max_failures,
        last_error=" ".join(error.split()),
    )
