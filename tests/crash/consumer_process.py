"""A bus consumer run as its own process, to be killed with SIGKILL by the crash test.

Each message inserts one row into ``crash_effects`` through ``run_once``, so
the effect and the processed id commit together. A second table counts every
handler entry, so the test can see that messages really were redelivered.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

import sqlalchemy as sa

from bus.app import Bus
from bus.context import Context
from bus.envelope import Envelope
from bus.router import Router
from bus.settings import Settings

EFFECTS = sa.Table(
    "crash_effects", sa.MetaData(),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
)
ENTRIES = sa.Table(
    "crash_entries", sa.MetaData(),
    sa.Column("message_id", sa.String(64), nullable=False),
    sa.Column("redelivered", sa.Boolean, nullable=False),
)


def build_router(engine: sa.Engine, pause: float) -> Router:
    router = Router(source="crash")

    @router.subscriber("crash", "test.thing.happened.v1", concurrency=1)
    async def handle(envelope: Envelope, context: Context) -> None:
        with engine.begin() as connection:
            connection.execute(
                ENTRIES.insert().values(message_id=envelope.id, redelivered=context.redelivered)
            )
        await asyncio.sleep(pause)
        await context.run_once(
            lambda c: c.execute(EFFECTS.insert().values(message_id=envelope.id, pid=os.getpid()))
        )

    return router


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--pause", type=float, default=0.002)
    args = parser.parse_args()
    settings = Settings(
        broker_url=args.broker, database_url=args.database, exchange=f"{args.prefix}.events",
        queue_prefix=args.prefix, instance=f"{args.prefix}-{os.getpid()}",
        delivery={"prefetch": 50, "validate_on_consume": True},
    )
    bus = Bus(settings, source="crash")
    EFFECTS.metadata.create_all(bus.engine)
    ENTRIES.metadata.create_all(bus.engine)
    bus.include(build_router(bus.engine, args.pause))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with bus:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
