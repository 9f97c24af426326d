"""Failed sign-ins are counted in the database: every API process on it refuses the same
guesser, and a name is let in again once its failures are older than the window."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus import db
from bus.api.auth_throttle import LoginThrottle, login_failures
from tests.api.auth_harness import PASSWORD, auth_settings, components, secured_api
from tests.conftest import BusFactory
from tests.services import require_postgres


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_guesses_spread_over_two_api_processes_are_counted_together(
    make_bus: BusFactory,
) -> None:
    first_bus = await make_bus(source="api-1", start=False)
    second_bus = await make_bus(source="api-2", start=False)
    assert first_bus.engine.url == second_bus.engine.url  # one database, two API processes
    async for first in secured_api(first_bus, components(), auth_settings()):
        async for second in secured_api(second_bus, components(), auth_settings()):
            statuses = [(await api.client.post("/v1/auth/login", json={
                "username": "anna", "password": f"guess {n}"})).status_code
                for n, api in enumerate([first, second, first, second, first])]
            right_at_second = await second.client.post(
                "/v1/auth/login", json={"username": "anna", "password": PASSWORD})
            other_at_second = await second.client.post(
                "/v1/auth/login", json={"username": "ivan", "password": PASSWORD})
    assert statuses == [401] * 5
    assert right_at_second.status_code == 429, right_at_second.text
    assert other_at_second.status_code == 200


def _throttle_lets_a_name_in_again_after_the_window(engine: sa.Engine) -> None:
    now = [1_000_000.0]
    throttle = LoginThrottle(engine, attempts=3, window=60.0, clock=lambda: now[0])
    guesser, other = f"guesser-{uuid.uuid4().hex}", f"other-{uuid.uuid4().hex}"
    for _ in range(3):
        throttle.failed(guesser)
        now[0] += 1
    throttle.failed(other)
    blocked_within = throttle.blocked(guesser)
    now[0] += 60.0
    blocked_after = throttle.blocked(guesser)
    throttle.failed(other)  # a new failure sweeps the old rows
    with engine.connect() as connection:
        kept = connection.execute(sa.select(login_failures.c.username).where(
            login_failures.c.username.in_([guesser, other]))).scalars().all()

    assert (blocked_within, blocked_after, throttle.blocked(other)) == (True, False, False)
    assert sorted(kept) == [other, other]


def test_a_name_is_let_in_again_after_the_window_on_sqlite(tmp_path: Path) -> None:
    _throttle_lets_a_name_in_again_after_the_window(
        db.create_engine(f"sqlite:///{tmp_path / 'bus.db'}"))


@pytest.mark.postgres
def test_a_name_is_let_in_again_after_the_window_on_postgresql() -> None:
    engine = db.create_engine(require_postgres())
    try:
        _throttle_lets_a_name_in_again_after_the_window(engine)
    finally:
        engine.dispose()
