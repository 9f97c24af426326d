from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from bus.envelope import Envelope
from bus.journal import Journal
from bus.settings import JournalSettings
from tests.services import require_postgres


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """The same journal test on a SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'journal.db'}"
    else:
        url = require_postgres()
    opened = create_engine(url)
    yield opened
    opened.dispose()


@pytest.fixture
def journal_settings() -> JournalSettings:
    return JournalSettings(batch_size=50, flush_interval=0.02)


@pytest.fixture
def journal(engine: sa.Engine, journal_settings: JournalSettings) -> Iterator[Journal]:
    with Journal(engine, journal_settings) as started:
        yield started


@pytest.fixture
def domain() -> str:
    """A message-type domain of this test's own, so searches never see other tests' rows."""
    return f"t{uuid.uuid4().hex[:12]}"


def envelope(domain: str, event: str = "created", payload: dict[str, Any] | None = None,
             **fields: Any) -> Envelope:
    fields.setdefault("source", "test")
    return Envelope(type=f"{domain}.thing.{event}.v1", payload=payload or {}, **fields)
