"""Journal retention: messages first seen before the cut-off go, with their hops and keys."""

from __future__ import annotations

import time

import sqlalchemy as sa

from bus.journal.tables import EVENTS, KEYS, MESSAGES

__all__ = ["prune_journal"]


def prune_journal(engine: sa.Engine, retention_days: float, *, batch: int = 5000) -> int:
    """Delete journal messages older than ``retention_days``; returns how many.

    Works in batches so a large backlog never holds one long transaction.
    """
    cutoff = time.time() - retention_days * 86400
    removed = 0
    while True:
        with engine.begin() as connection:
            ids = list(connection.scalars(
                sa.select(MESSAGES.c.id).where(MESSAGES.c.first_seen_at < cutoff).limit(batch)))
            if not ids:
                return removed
            connection.execute(EVENTS.delete().where(EVENTS.c.message_id.in_(ids)))
            connection.execute(KEYS.delete().where(KEYS.c.message_id.in_(ids)))
            connection.execute(MESSAGES.delete().where(MESSAGES.c.id.in_(ids)))
        removed += len(ids)
