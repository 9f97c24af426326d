"""Small named values the synchronizer keeps between runs (the last full run, its summary)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from sync.store.tables import records, state

__all__ = ["changed_since", "read_state", "write_state"]


def read_state(connection: sa.Connection, name: str) -> Any:
    return connection.execute(sa.select(state.c.value).where(state.c.name == name)).scalar()


def write_state(connection: sa.Connection, name: str, value: Any) -> None:
    updated = connection.execute(state.update().where(state.c.name == name).values(value=value))
    if not updated.rowcount:
        connection.execute(state.insert().values(name=name, value=value))


def changed_since(connection: sa.Connection, moment: float) -> set[tuple[str, str]]:
    """Records received (created, changed or deleted) after ``moment``."""
    rows = connection.execute(sa.select(records.c.system, records.c.record_id)
                              .where(records.c.received_at > moment))
    return {(system, record_id) for system, record_id in rows}
