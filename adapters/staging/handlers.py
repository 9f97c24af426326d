"""Write-back: canonical messages inserted into an outbound staging table for the legacy side.

Each message is one row (``message_id`` primary key, ``type``, ``payload`` as
JSON text, ``occurred_at``, ``status`` = ``new``); a redelivered message hits
its own key and inserts nothing. The types come from settings, so the router
is built per adapter (:func:`outbound_router`).
"""

from __future__ import annotations

import asyncio
import json

import sqlalchemy as sa

from bus.db import insert_or_ignore
from bus.envelope import Envelope
from bus.router import Router

__all__ = ["OutboundTable", "outbound_router", "write_outbound"]


class OutboundTable:
    def __init__(self, engine: sa.Engine, name: str) -> None:
        self.engine = engine
        schema, _, table = name.rpartition(".")
        self.table = sa.Table(
            table or "esb_outbound", sa.MetaData(),
            sa.Column("message_id", sa.String(64), primary_key=True),
            sa.Column("type", sa.String(200), nullable=False),
            sa.Column("payload", sa.Text, nullable=False),
            sa.Column("occurred_at", sa.String(40), nullable=False),
            sa.Column("status", sa.String(20), nullable=False),
            schema=schema or None,
        )

    def create(self) -> None:
        self.table.create(self.engine, checkfirst=True)

    def write(self, envelope: Envelope) -> None:
        with self.engine.begin() as connection:
            insert_or_ignore(connection, self.table, [{
                "message_id": envelope.id, "type": envelope.type,
                "payload": json.dumps(dict(envelope.payload), ensure_ascii=False),
                "occurred_at": envelope.occurred_at.isoformat(), "status": "new"}])


async def write_outbound(envelope: Envelope, table: OutboundTable) -> None:
    """Insert a canonical message into the outbound staging table, once per message id."""
    await asyncio.to_thread(table.write, envelope)


def outbound_router(types: list[str]) -> Router:
    router = Router(source="staging")
    if types:
        router.subscriber("staging.outbound", *types)(write_outbound)
    return router
