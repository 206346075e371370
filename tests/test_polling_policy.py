"""index.polling: which items a poll fetches, and when to poll again (backoff, server hints, disabling)."""

from __future__ import annotations

import datetime as dt

import pytest

from index.errors import InvalidOption
from index.feeds import FeedItem
from index.polling import (
    MAX_CHANGES,
    FeedState,
    KnownItem,
    PollPolicy,
    after_failure,
    after_success,
    is_due,
    parse_retry_after,
    plan_items,
    resume,
)

NOW = dt.datetime(2024, 3, 5, 12, 0, tzinfo=dt.UTC)


# --- Which items a poll fetches ---------------------------------------------------------------------------------


def listed(*names: str, digest: str = "d") -> list[FeedItem]:
    return [FeedItem(f"guid:{n}", n, None, n, None, "", "", f"{digest}-{n}") for n in names]


def known(*names: str, digest: str = "d", **state) -> dict[str, KnownItem]:
    return {f"guid:{n}": KnownItem(f"guid:{n}", f"{digest}-{n}", **state) for n in names}


def test_a_first_read_fetches_the_newest_items_and_keeps_the_rest_waiting():
    plan = plan_items(listed("c", "b", "a"), {}, per_poll=2)
    assert [i.key for i in plan.new] == ["guid:c", "guid:b", "guid:a"]
    assert plan.fetch == ("guid:c", "guid:b")
    assert plan.waiting == 1
    assert (plan.changed, plan.backlog, plan.gone, plan.unchanged) == ((), (), (), 0)


def test_after_a_304_the_backlog_is_fetched_still_listed_first():
    memory = {**known("d", waiting=True, listed=False), **known("c", "b", waiting=True), **known("a")}
    plan = plan_items(None, memory, per_poll=2)
    assert plan.backlog == ("guid:c", "guid:b", "guid:d")
    assert plan.fetch == ("guid:c", "guid:b")
    assert (plan.new, plan.gone, plan.waiting) == ((), (), 1)


def test_new_then_changed_then_backlog():
    memory = {**known("b", waiting=True), **known("a"), **known("x")}
    items = listed("n") + listed("b") + listed("a", digest="edited") + listed("x")
    plan = plan_items(items, memory, per_poll=10)
    assert [i.key for i in plan.new] == ["guid:n"]
    assert [i.key for i in plan.changed] == ["guid:a"]
    assert plan.backlog == ("guid:b",)
    assert plan.fetch == ("guid:n", "guid:a", "guid:b")
    assert plan.unchanged == 1


def test_items_that_leave_the_feed_are_gone_and_come_back_as_relisted():
    memory = {**known("b", "a"), **known("old", listed=False)}
    plan = plan_items(listed("old", "b"), memory, per_poll=10)
    assert (plan.gone, plan.relisted, plan.fetch, plan.unchanged) == (("guid:a",), ("guid:old",), (), 2)


def test_a_waiting_item_that_changed_is_kept_in_its_new_form_and_counts_once():
    plan = plan_items(listed("a", digest="new"), known("a", waiting=True), per_poll=10)
    assert [i.digest for i in plan.refreshed] == ["new-a"]
    assert (plan.changed, plan.fetch) == ((), ("guid:a",))


def test_an_item_whose_text_changes_every_poll_is_not_fetched_forever():
    tired = known("a", changes=MAX_CHANGES)
    plan = plan_items(listed("a", digest="again"), tired, per_poll=10)
    assert (plan.changed, plan.fetch, plan.unchanged) == ((), (), 1)


def test_plan_items_needs_a_positive_per_poll():
    with pytest.raises(InvalidOption, match="per_poll"):
        plan_items([], {}, per_poll=0)


# --- Polling policy --------------------------------------------------------------------------------------------

POLICY = PollPolicy(interval=dt.timedelta(minutes=30), max_failures=4, jitter=0.1)


def succeed(headers: dict[str, str] | None = None, *, ttl: int | None = None, **options) -> FeedState:
    return after_success(
        FeedState(), now=NOW, headers=headers or {}, etag='"v2"', last_modified=None, ttl=ttl, policy=POLICY, **options
    )


def wait_of(state: FeedState) -> dt.timedelta:
    assert state.next_due is not None
    return state.next_due - NOW


@pytest.mark.parametrize(
    ("headers", "ttl", "minutes"),
    [
        pytest.param({}, None, 30, id="default-interval"),
        pytest.param({}, 90, 90, id="ttl-longer"),
        pytest.param({}, 10, 30, id="ttl-shorter-ignored"),
        pytest.param({"Cache-Control": "public, max-age=7200"}, 90, 120, id="max-age-longest"),
        pytest.param({"cache-control": "max-age=7200", "Age": "1800"}, None, 90, id="max-age-less-age"),
        pytest.param({"Cache-Control": "max-age=60"}, None, 30, id="max-age-shorter-ignored"),
        pytest.param(
            {"Expires": "Tue, 05 Mar 2024 14:00:00 GMT", "Date": "Tue, 05 Mar 2024 11:00:00 GMT"},
            None,
            180,
            id="expires-from-server-date",
        ),
        pytest.param({"Expires": "Tue, 05 Mar 2024 13:00:00 GMT"}, None, 60, id="expires-from-now"),
        pytest.param({"Expires": "0"}, None, 30, id="expires-invalid"),
        pytest.param({"Retry-After": "3600"}, None, 60, id="retry-after"),
        pytest.param({"Cache-Control": "max-age=604800"}, None, 1440, id="capped-at-a-day"),
    ],
)
def test_interval_after_success_is_never_below_the_feeds_hints(headers, ttl, minutes):
    assert wait_of(succeed(headers, ttl=ttl)) == dt.timedelta(minutes=minutes)


def test_success_and_304_reset_failures_and_store_validators():
    failing = FeedState(etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT", failures=3, last_error="HTTP 500")
    state = after_success(
        failing, now=NOW, headers={}, etag='"v2"', last_modified="Tue, 05 Mar 2024 10:00:00 GMT", policy=POLICY
    )
    assert (state.etag, state.last_modified) == ('"v2"', "Tue, 05 Mar 2024 10:00:00 GMT")
    assert (state.failures, state.last_error, state.disabled) == (0, "", False)


def test_jitter_only_lengthens_and_comes_from_the_injected_source():
    assert wait_of(succeed(random=lambda: 0.0)) == dt.timedelta(minutes=30)
    assert wait_of(succeed(random=lambda: 0.5)) == dt.timedelta(minutes=31, seconds=30)
    assert wait_of(succeed(ttl=60, random=lambda: 0.999)) < dt.timedelta(minutes=66)


def test_backoff_doubles_and_disables_after_max_failures():
    state = FeedState(etag='"v1"')
    waits = []
    for n in range(1, 5):
        state = after_failure(state, now=NOW, error=f"HTTP 500 number {n}\nsecond line", status=500, policy=POLICY)
        waits.append(wait_of(state))
        assert state.disabled == (n == 4)
    assert waits == [dt.timedelta(minutes=m) for m in (30, 60, 120, 240)]
    assert (state.failures, state.etag, state.last_error) == (4, '"v1"', "HTTP 500 number 4 second line")
    assert not is_due(state, now=NOW + dt.timedelta(days=365))


def test_backoff_is_capped_at_a_day():
    policy = PollPolicy(interval=dt.timedelta(hours=1), max_failures=100, jitter=0)
    state = FeedState(failures=40)
    assert wait_of(after_failure(state, now=NOW, error="timeout", policy=policy)) == dt.timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "retry_after", "minutes"),
    [
        pytest.param(429, dt.timedelta(hours=2), 120, id="429-honoured"),
        pytest.param(503, dt.timedelta(hours=3), 180, id="503-honoured"),
        pytest.param(503, dt.timedelta(minutes=5), 30, id="shorter-than-backoff"),
        pytest.param(500, dt.timedelta(hours=2), 30, id="500-ignored"),
        pytest.param(429, dt.timedelta(days=30), 1440, id="capped"),
    ],
)
def test_retry_after_on_429_and_503(status, retry_after, minutes):
    state = after_failure(FeedState(), now=NOW, error="busy", status=status, retry_after=retry_after, policy=POLICY)
    assert wait_of(state) == dt.timedelta(minutes=minutes)


def test_due_and_resume():
    assert is_due(FeedState(), now=NOW)
    later = FeedState(next_due=NOW + dt.timedelta(minutes=1))
    assert not is_due(later, now=NOW)
    assert is_due(later, now=NOW + dt.timedelta(minutes=1))
    disabled = FeedState(failures=10, disabled=True, last_error="gone", etag='"e"')
    resumed = resume(disabled, now=NOW)
    assert is_due(resumed, now=NOW)
    assert (resumed.failures, resumed.disabled, resumed.last_error, resumed.etag) == (0, False, "", '"e"')


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("120", dt.timedelta(seconds=120), id="seconds"),
        pytest.param("Tue, 05 Mar 2024 12:30:00 GMT", dt.timedelta(minutes=30), id="http-date"),
        pytest.param("Tue, 05 Mar 2024 11:00:00 GMT", dt.timedelta(0), id="past-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("-5", None, id="negative"),
        pytest.param(None, None, id="absent"),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"interval": dt.timedelta(0)}, id="interval-not-positive"),
        pytest.param({"max_failures": 0}, id="no-failures-allowed"),
        pytest.param({"jitter": 1.5}, id="jitter-over-one"),
        pytest.param({"interval": dt.timedelta(days=2)}, id="interval-over-max"),
    ],
)
def test_policy_rejects_bad_options(options):
    with pytest.raises(InvalidOption):
        PollPolicy(**options)
