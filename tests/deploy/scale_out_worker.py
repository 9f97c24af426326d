"""The work of the scale-out test, installed into real ``esb run`` workers as an adapter.

``tests/deploy/test_scale_out.py`` declares it in the ``esb.adapters`` entry-point
group of a throwaway distribution, so each worker discovers it the way it finds an
installed adapter. Every ``test.thing.happened.v1`` inserts one row into
``deploy_scale_out_effects`` through :meth:`~bus.context.Context.run_once`: the row
and the processed id commit together, and the row names the worker that did it.
A message the broker delivers again also leaves a row in
``deploy_scale_out_redeliveries``, so the test can see that a killed worker's
messages really went to the other one.

Rows carry the run (the bus's queue prefix, unique per test module) and the batch
(``payload["batch"]``, unique per test), so tests never see each other's rows.
"""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from bus.adapters import Adapter, AdapterManifest
from bus.context import Context
from bus.envelope import Envelope
from bus.router import Router

__all__ = ["EFFECTS", "REDELIVERIES", "WORK_TYPE", "ScaleOutWorkAdapter", "create_tables"]

WORK_TYPE = "test.thing.happened.v1"
SUBSCRIPTION = "deploy.work"
HANDLER_PAUSE = 0.005
"""Seconds of pretend work per message, so a kill lands while messages are in flight."""

METADATA = sa.MetaData()
EFFECTS = sa.Table(
    "deploy_scale_out_effects", METADATA,
    sa.Column("run", sa.String(32), nullable=False, index=True),
    sa.Column("batch", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("worker", sa.String(128), nullable=False),
)
REDELIVERIES = sa.Table(
    "deploy_scale_out_redeliveries", METADATA,
    sa.Column("run", sa.String(32), nullable=False, index=True),
    sa.Column("batch", sa.String(32), nullable=False),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("worker", sa.String(128), nullable=False),
)

router = Router(source="scale-out")


@router.subscriber(SUBSCRIPTION, WORK_TYPE, concurrency=4)
async def do_the_work(envelope: Envelope, context: Context) -> None:
    """One side effect per message, exactly once across every worker."""
    row = {"run": context.bus.settings.queue_prefix, "batch": str(envelope.payload["batch"]),
           "message_id": envelope.id, "worker": context.bus.settings.instance}
    if context.redelivered:
        await asyncio.to_thread(_record_redelivery, context.bus.engine, row)
    await asyncio.sleep(HANDLER_PAUSE)
    await context.run_once(lambda db: db.execute(EFFECTS.insert().values(**row)))


def _record_redelivery(engine: sa.Engine, row: dict[str, str]) -> None:
    with engine.begin() as db:
        db.execute(REDELIVERIES.insert().values(**row))


def create_tables(engine: sa.Engine) -> None:
    """Made once by the test before the workers start (two workers would race)."""
    METADATA.create_all(engine)


class ScaleOutWorkAdapter(Adapter):
    manifest = AdapterManifest(
        name="scale-out-work", version="0.1",
        description="Test work: one database row per message, for the scale-out proof",
        consumes=(WORK_TYPE,),
    )
    router = router
