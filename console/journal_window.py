"""What the journal saw in the last minutes: counts across every bus process.

The journal is shared by all the processes of a deployment (it is in SQL),
so unlike the in-process counters of :mod:`console.flows` these counts cover
the whole bus. They lag by the journal writer's batch interval.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from bus.journal.tables import EVENTS, MESSAGES

__all__ = ["journal_window"]


def journal_window(engine: sa.Engine, seconds: float = 60.0) -> dict[str, Any]:
    """Messages by type and hops by status in the last ``seconds`` (by the message's time)."""
    since = datetime.now(UTC) - timedelta(seconds=seconds)
    m, e = MESSAGES.c, EVENTS.c
    by_type = (
        sa.select(m.type, sa.func.count())
        .where(m.first_seen_at >= since)
        .group_by(m.type)
        .order_by(sa.func.count().desc(), m.type)
    )
    by_status = (
        sa.select(e.status, sa.func.count())
        .where(e.at >= since)
        .group_by(e.status)
        .order_by(e.status)
    )
    with engine.connect() as connection:
        types = [{"type": type_, "count": count}
                 for type_, count in connection.execute(by_type)]
        statuses = {status: count for status, count in connection.execute(by_status)}
    return {"seconds": seconds, "types": types, "hops": statuses}
