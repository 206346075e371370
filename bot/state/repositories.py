"""The repositories every store offers, wired once over a store's engine (SQLite's or PostgreSQL's).

Both stores (``sqlite.SQLiteState``, ``postgres.PostgresState``) inherit ``Repositories``: a repository added to
the state is added here, and both engines have it.
"""

from __future__ import annotations

from bot.state.feeds import SQLFeeds
from bot.state.follows import SQLFollows
from bot.state.shared import SQLButtons, SQLClaims, SQLLeases, SQLLimits, SQLProcesses
from bot.state.sql import Engine
from bot.state.subscriptions import SQLSubscriptions
from bot.state.turns import SQLTurns

__all__ = ["Repositories"]


class Repositories:
    """A store's repositories (the ``protocols`` say what each does)."""

    subscriptions: SQLSubscriptions
    feeds: SQLFeeds
    follows: SQLFollows
    buttons: SQLButtons
    limits: SQLLimits
    leases: SQLLeases
    claims: SQLClaims
    processes: SQLProcesses
    turns: SQLTurns

    def _open_repositories(self, engine: Engine, *, default_timezone: str) -> None:
        self.subscriptions = SQLSubscriptions(engine, default_timezone=default_timezone)
        self.feeds = SQLFeeds(engine)
        self.follows = SQLFollows(engine)
        self.buttons = SQLButtons(engine)
        self.limits = SQLLimits(engine)
        self.leases = SQLLeases(engine)
        self.claims = SQLClaims(engine)
        self.processes = SQLProcesses(engine)
        self.turns = SQLTurns(engine)
