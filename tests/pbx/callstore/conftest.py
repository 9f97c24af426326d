"""The call store on SQLite and PostgreSQL (a schema per test), and calls to fill it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from adapters.pbx.callstore import CallStore
from bus.db import create_engine
from tests.services import require_postgres

ZONE = "Europe/Moscow"


@pytest.fixture(params=["sqlite", "postgres"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'calls.db'}")
        yield engine
        engine.dispose()
        return
    url = require_postgres()
    schema = f"calls_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as db:
        db.execute(sa.text(f'create schema "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.connect() as db:
        db.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def store(store_engine: sa.Engine) -> CallStore:
    return CallStore(store_engine, timezone=ZONE)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ended_call(linkedid: str, started: datetime, *, direction: str = "inbound",
               caller: str | None = "+79123456789", called: str | None = "73912001122",
               queue: str | None = "support", targets: tuple[str, ...] = ("2001",),
               answered_by: str | None = "2001", ring: int = 5, talk: int = 60,
               disposition: str | None = None) -> dict[str, Any]:
    """A valid ``pbx.call.ended.v1`` payload."""
    answered_at = started + timedelta(seconds=ring) if answered_by else None
    ended = (answered_at + timedelta(seconds=talk) if answered_at
             else started + timedelta(seconds=ring))
    return {
        "linkedid": linkedid, "direction": direction, "caller_number": caller,
        "called_number": called, "queue": queue, "ring_targets": list(targets),
        "answered_by_extension": answered_by, "started_at": iso(started),
        "answered_at": iso(answered_at) if answered_at else None, "ended_at": iso(ended),
        "ring_seconds": ring, "talk_seconds": talk if answered_by else 0,
        "disposition": disposition or ("answered" if answered_by else "missed"),
        "transferred_to": None, "hangup_cause": 16,
    }
