"""The synchronizer's SQL state: source records, global ids and xref with history,
golden records, the conflict queue, decisions and the audit trail.

Functions take a :class:`sqlalchemy.Connection` so callers choose the
transaction; :func:`open_store` makes the engine and creates the tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from bus.db import create_engine, ensure_tables
from sync.store.tables import METADATA

__all__ = ["METADATA", "create_tables", "open_store"]


def create_tables(engine: sa.Engine) -> None:
    ensure_tables(METADATA, engine)


def open_store(url: str) -> sa.Engine:
    """An engine on ``url`` (SQLite by default, PostgreSQL in production) with the tables made."""
    engine = create_engine(url)
    create_tables(engine)
    return engine
