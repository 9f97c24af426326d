from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import require_postgres, require_rabbitmq

TRANSPORTS = ["memory", "sqlite", "postgres", "rabbitmq"]


@pytest.fixture(params=TRANSPORTS)
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test, once on every transport."""
    kind = request.param
    if kind == "memory":
        yield f"memory://{uuid.uuid4().hex}"
    elif kind == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02"
    elif kind == "postgres":
        database = require_postgres()
        yield "sqla+" + database + "?poll_interval=0.02"
    else:
        yield require_rabbitmq()


@pytest.fixture
def unique() -> str:
    """A prefix that keeps a test's queues apart from every other test's."""
    return f"t{uuid.uuid4().hex[:10]}"
