"""The chaos suite's own work, installed into real ``esb run`` workers as an adapter.

``tests/chaos/harness.py`` declares it in the ``esb.adapters`` entry-point group
of a throwaway distribution, next to the real CRM adapter. Every
``test.thing.happened.v1`` of a chaos run inserts one row into
``chaos_effects`` through :meth:`~bus.context.Context.run_once`, so the row and
the processed id commit together and a duplicate would show as a second row
(the table has no unique key on purpose: the proof must be able to fail).

Every ``sync.customer.linked.v1`` the synchronizer publishes inserts one row into
``chaos_links`` the same way: the side effect "a record was linked", which must
happen as often as in a fault-free run, never once more because a change was
applied twice.

A message whose payload says ``"poison": "yes"`` is refused with a
:class:`~bus.errors.PermanentError` while its run has a row in
``chaos_refusals``: it is dead-lettered with that reason. The test then deletes
the row and replays the dead letters, which must now take effect once each.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bus.adapters import Adapter, AdapterManifest
from bus.context import Context
from bus.envelope import Envelope
from bus.errors import PermanentError
from bus.router import Router

__all__ = ["EFFECTS", "LINKED", "LINKS", "REFUSALS", "SUBSCRIPTION", "WORK_TYPE",
           "ChaosWorkAdapter", "create_tables"]

WORK_TYPE = "test.thing.happened.v1"
SUBSCRIPTION = "chaos.work"
LINKED = "sync.customer.linked.v1"
HANDLER_PAUSE = 0.002
"""Seconds of pretend work per message, so a kill lands while messages are in flight."""

METADATA = sa.MetaData()
EFFECTS = sa.Table(
    "chaos_effects", METADATA,
    sa.Column("run", sa.String(32), nullable=False, index=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("worker", sa.String(128), nullable=False),
)
LINKS = sa.Table(
    "chaos_links", METADATA,
    sa.Column("run", sa.String(32), nullable=False, index=True),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("system", sa.String(32), nullable=False),
    sa.Column("record_id", sa.String(128), nullable=False),
    sa.Column("golden_id", sa.String(64), nullable=False),
)
REFUSALS = sa.Table(
    "chaos_refusals", METADATA,
    sa.Column("run", sa.String(32), primary_key=True),
)

router = Router(source="chaos")


@router.subscriber(SUBSCRIPTION, WORK_TYPE, concurrency=8)
async def do_the_work(envelope: Envelope, context: Context) -> None:
    """One side effect per message, exactly once across every worker and every fault."""
    run = context.bus.settings.queue_prefix
    if envelope.payload.get("poison") == "yes" and await asyncio.to_thread(
            _refusing, context.bus.engine, run):
        raise PermanentError("poison message refused while the run refuses poison",
                             message_id=envelope.id)
    await asyncio.sleep(HANDLER_PAUSE)
    row = {"run": run, "message_id": envelope.id, "worker": context.bus.settings.instance}
    await context.run_once(lambda db: db.execute(EFFECTS.insert().values(**row)))


@router.subscriber("chaos.sync-links", LINKED, concurrency=4)
async def count_the_link(envelope: Envelope, context: Context) -> None:
    """One row per link the synchronizer announces, exactly once per message."""
    record = envelope.payload["record"]
    row = {"run": context.bus.settings.queue_prefix, "message_id": envelope.id,
           "system": record["system"], "record_id": record["id"],
           "golden_id": envelope.payload["golden_id"]}
    await context.run_once(lambda db: db.execute(LINKS.insert().values(**row)))


def _refusing(engine: sa.Engine, run: str) -> bool:
    with engine.connect() as db:
        return db.scalar(sa.select(REFUSALS.c.run).where(REFUSALS.c.run == run)) is not None


def create_tables(engine: sa.Engine) -> None:
    """Made once by the harness before the workers start (two workers would race)."""
    METADATA.create_all(engine)


class ChaosWorkAdapter(Adapter):
    manifest = AdapterManifest(
        name="chaos-work", version="0.1",
        description="Test work: one database row per message, for the chaos proof",
        consumes=(WORK_TYPE, LINKED),
    )
    router = router
