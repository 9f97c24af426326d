"""Fixtures of the synchronizer service tests: a small generated directory, stores on
SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bus.db import create_engine
from sync.service import SyncService
from tests.services import require_postgres

DATAGEN = Path("/work/shared/datagen/generate.py")
REPO_DATAGEN = Path(__file__).resolve().parents[3] / ".." / "shared" / "datagen" / "generate.py"


def _generator() -> Path:
    for candidate in (REPO_DATAGEN.resolve(), DATAGEN):
        if candidate.exists():
            return candidate
    pytest.skip("the data generator (../shared/datagen/generate.py) is not here")


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """300 customers of seed 11 with noise 1.0, and their changes and truth."""
    out = tmp_path_factory.mktemp("datagen") / "small"
    subprocess.run([sys.executable, str(_generator()), "--customers", "300", "--seed", "11",
                    "--changes", "40", "--out", str(out)],
                   check=True, capture_output=True)
    return out


@pytest.fixture(params=["sqlite", "postgres"])
def store_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[sa.Engine]:
    """An empty database for the synchronizer: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'sync.db'}")
        yield engine
        engine.dispose()
        return
    url = require_postgres()
    schema = f"sync_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create schema "{schema}"'))
    engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.execute(sa.text(f'drop schema "{schema}" cascade'))
    admin.dispose()


@pytest.fixture
def sqlite_service(tmp_path: Path) -> Iterator[SyncService]:
    engine = create_engine(f"sqlite:///{tmp_path / 'sync.db'}")
    yield SyncService(engine)
    engine.dispose()
