"""Failed sign-ins per user name, counted in the bus's database: one limit for every API process.

Each refused ``POST /v1/auth/login`` adds a row; a user name with ``attempts``
rows in the last ``window`` seconds is refused with 429 by every process that
serves the API on the same database, so running more API replicas does not
multiply the guesses an attacker gets. Rows older than the window are deleted as
new ones come, so the table holds only the last window's failures.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import sqlalchemy as sa

from bus.db import METADATA, create_tables

__all__ = ["LoginThrottle", "login_failures"]

login_failures = sa.Table(
    "api_login_failures", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(200), nullable=False, index=True),
    sa.Column("failed_at", sa.Float, nullable=False, index=True),
)


class LoginThrottle:
    """At most ``attempts`` failed sign-ins per user name in ``window`` seconds, across
    processes. Blocking calls: run them in a thread from async code."""

    def __init__(self, engine: sa.Engine, attempts: int = 5, window: float = 60.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.attempts, self.window = attempts, window
        self.clock = clock  # wall clock: the processes share it, not their monotonic ones
        create_tables(engine)

    def blocked(self, user: str) -> bool:
        since = self.clock() - self.window
        query = sa.select(sa.func.count()).select_from(login_failures).where(
            login_failures.c.username == user[:200], login_failures.c.failed_at >= since)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar_one()) >= self.attempts

    def failed(self, user: str) -> None:
        now = self.clock()
        with self.engine.begin() as connection:
            connection.execute(login_failures.delete().where(
                login_failures.c.failed_at < now - self.window))
            connection.execute(login_failures.insert(),
                               [{"username": user[:200], "failed_at": now}])
