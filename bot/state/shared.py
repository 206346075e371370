"""What several bot processes sharing one database must agree on while they run (schema version 4): the question
behind each answer's buttons (``buttons``), each user's flood limit (``rate_limits``), leases on jobs (``leases``),
claims made before a message is sent (``claims``) and the processes running (``processes``).

Each is one short statement, or one transaction whose first statement is a write, so two processes meeting on one
row wait for each other rather than both reading the old value:

- a flood limit's row is upserted first (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING``): PostgreSQL locks the
  row until the transaction ends and returns its latest committed value; SQLite's writer lock does the same;
- a lease is taken by one upsert whose ``DO UPDATE ... WHERE`` admits only an expired lease, or the holder's own;
- a claim is an ``INSERT ... ON CONFLICT DO NOTHING RETURNING``: the one process whose row went in sends.

Claims are made *before* the message is sent (claim-then-send): a process that dies between the claim and the
send loses that one message rather than another process sending it twice. At most once, by design: a doubled
briefing is worse than a missed one, and a missed one is logged where it was claimed.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass

from bot.state.sql import Engine, moment, second

__all__ = [
    "BUTTON_DAYS",
    "Pressed",
    "Process",
    "SQLButtons",
    "SQLClaims",
    "SQLLeases",
    "SQLLimits",
    "SQLProcesses",
]

BUTTON_DAYS = 1  # a button's question is forgotten after a day


@dataclass(frozen=True, slots=True)
class Pressed:
    """What a button refers to: the question, and the earlier subject it followed ("" when none)."""

    question: str
    subject: str = ""


def _now(now: dt.datetime | None) -> dt.datetime:
    return second(now or dt.datetime.now(dt.UTC))


class SQLButtons:
    """The question behind each answer's buttons, by a short key bound to the chat it was asked in."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def remember(self, question: str, *, chat_id: int, subject: str = "", now: dt.datetime | None = None) -> str:
        """A new key (8 hex digits, for the buttons' callback data) for ``question`` asked in ``chat_id`` (with the
        ``subject`` of the earlier question it followed, so that "More" searches as the answer did)."""
        while True:  # 32 random bits: a key in use already is drawn again
            key = secrets.token_hex(4)
            if self._db.row(
                "INSERT INTO buttons (key, chat_id, question, subject, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (key) DO NOTHING RETURNING key",
                (key, chat_id, question, subject, _now(now)),
            ):
                return key

    def recall(self, key: str, *, chat_id: int, now: dt.datetime | None = None) -> Pressed | None:
        """What ``key`` refers to if it was asked in ``chat_id`` less than a day ago, else None."""
        row = self._db.row(
            "SELECT question, subject FROM buttons WHERE key = ? AND chat_id = ? AND created_at >= ?",
            (key, chat_id, _now(now) - dt.timedelta(days=BUTTON_DAYS)),
        )
        return Pressed(row["question"], row["subject"]) if row else None

    def forget(self, *, now: dt.datetime | None = None) -> int:
        """Forget the buttons older than a day; how many."""
        return self._db.execute(
            "DELETE FROM buttons WHERE created_at < ?", (_now(now) - dt.timedelta(days=BUTTON_DAYS),)
        )


class SQLLimits:
    """A sliding-window limit of questions per user and scope, the same for every process: the first refusal in a
    window says so ("warn"), later ones are silent ("drop")."""

    def __init__(self, db: Engine) -> None:
        self._db = db
        self._swept = 0.0

    def check(
        self, scope: str, user_id: int, per_window: int, *, window: float = 60.0, now: float | None = None
    ) -> tuple[str, int]:
        """``("ok", 0)`` to answer, ``("warn", seconds)`` to say "wait that long" once, ``("drop", seconds)`` to
        stay silent. ``now``: seconds since the epoch (the clock every process shares)."""
        now = time.time() if now is None else now
        if now - self._swept >= window:
            self._swept = now
            self._db.execute(
                "DELETE FROM rate_limits WHERE last_at < ? AND (warned_at IS NULL OR warned_at < ?)",
                (now - window, now - window),
            )
        with self._db.transaction():
            row = self._db.row(  # a write first: the row stays locked until this transaction ends
                "INSERT INTO rate_limits (scope, user_id, asked, last_at) VALUES (?, ?, '', ?) "
                "ON CONFLICT (scope, user_id) DO UPDATE SET last_at = excluded.last_at RETURNING asked, warned_at",
                (scope, user_id, now),
            )
            asked = [float(t) for t in row["asked"].split() if now - float(t) < window]
            warned = row["warned_at"]
            retry = max(1, int(window - (now - asked[0])) + 1) if asked else 0
            if len(asked) < per_window:
                asked.append(now)
                verdict, warned, retry = "ok", None, 0
            elif warned is not None and now - warned < window:
                verdict = "drop"
            else:
                verdict, warned = "warn", now
            self._db.execute(
                "UPDATE rate_limits SET asked = ?, warned_at = ? WHERE scope = ? AND user_id = ?",
                (" ".join(f"{t:.3f}" for t in asked), warned, scope, user_id),
            )
        return verdict, retry

    def tracked(self, scope: str) -> int:
        """How many users the limit remembers in ``scope`` (idle ones are swept once a window)."""
        return int(self._db.row("SELECT COUNT(*) AS n FROM rate_limits WHERE scope = ?", (scope,))["n"])


class SQLLeases:
    """Leases on jobs: one holder at a time, until it releases the job or stops renewing it past ``expires_at``."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def claim(self, job: str, holder: str, seconds: float, *, now: dt.datetime | None = None) -> bool:
        """Take ``job`` for ``seconds`` when nobody holds it, its lease expired, or ``holder`` holds it already
        (then it is extended); whether ``holder`` has it."""
        now = _now(now)
        row = self._db.row(
            "INSERT INTO leases (job, holder, expires_at) VALUES (?, ?, ?) ON CONFLICT (job) DO UPDATE "
            "SET holder = excluded.holder, expires_at = excluded.expires_at "
            "WHERE leases.expires_at <= ? OR leases.holder = excluded.holder RETURNING holder",
            (job, holder, now + dt.timedelta(seconds=seconds), now),
        )
        return row is not None

    def renew(self, job: str, holder: str, seconds: float, *, now: dt.datetime | None = None) -> bool:
        """Extend ``holder``'s lease on ``job`` to ``seconds`` from now; False when another process holds it."""
        expires = _now(now) + dt.timedelta(seconds=seconds)
        return self._db.execute(
            "UPDATE leases SET expires_at = ? WHERE job = ? AND holder = ?", (expires, job, holder)
        ) == 1

    def release(self, job: str, holder: str) -> None:
        """Give ``job`` up (nothing when another process holds it)."""
        self._db.execute("DELETE FROM leases WHERE job = ? AND holder = ?", (job, holder))

    def holder(self, job: str, *, now: dt.datetime | None = None) -> str | None:
        """Who holds ``job`` now (None: nobody, or a lease expired)."""
        row = self._db.row("SELECT holder FROM leases WHERE job = ? AND expires_at > ?", (job, _now(now)))
        return row["holder"] if row else None


class SQLClaims:
    """Unique keys claimed before something is done once across processes (a briefing's occurrence sent)."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def claim(self, key: str, holder: str, *, now: dt.datetime | None = None) -> bool:
        """Whether ``holder`` claimed ``key`` now (False: some process claimed it before)."""
        return self._db.row(
            "INSERT INTO claims (key, holder, claimed_at) VALUES (?, ?, ?) ON CONFLICT (key) DO NOTHING RETURNING key",
            (key, holder, _now(now)),
        ) is not None

    def forget_before(self, when: dt.datetime) -> int:
        """Forget claims made before ``when`` (once nothing could claim them again); how many."""
        return self._db.execute("DELETE FROM claims WHERE claimed_at < ?", (second(when),))


@dataclass(frozen=True, slots=True)
class Process:
    """A bot process that uses the database, as it registered."""

    id: str
    hostname: str
    backend: str
    writer: bool
    started_at: dt.datetime
    seen_at: dt.datetime


class SQLProcesses:
    """The bot processes running on the database: each registers at start and is seen again while it runs."""

    def __init__(self, db: Engine) -> None:
        self._db = db

    def register(
        self, process_id: str, hostname: str, backend: str, *, writer: bool, now: dt.datetime | None = None
    ) -> None:
        """Record a process that starts (again, under the same id: its row is replaced)."""
        now = _now(now)
        self._db.execute(
            "INSERT INTO processes (id, hostname, backend, writer, started_at, seen_at) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname, backend = excluded.backend, "
            "writer = excluded.writer, started_at = excluded.started_at, seen_at = excluded.seen_at",
            (process_id, hostname, backend, writer, now, now),
        )

    def seen(self, process_id: str, *, now: dt.datetime | None = None) -> None:
        """The process is still running."""
        self._db.execute("UPDATE processes SET seen_at = ? WHERE id = ?", (_now(now), process_id))

    def alive(self, since: dt.datetime) -> list[Process]:
        """The processes seen since ``since``, oldest first."""
        rows = self._db.rows(
            "SELECT id, hostname, backend, writer, started_at, seen_at FROM processes WHERE seen_at >= ? "
            "ORDER BY started_at, id",
            (second(since),),
        )
        return [
            Process(r["id"], r["hostname"], r["backend"], bool(r["writer"]), moment(r["started_at"]),
                    moment(r["seen_at"]))
            for r in rows
        ]

    def leave(self, process_id: str) -> None:
        """The process stops."""
        self._db.execute("DELETE FROM processes WHERE id = ?", (process_id,))
