"""A bus consumer whose handler kills its own process on a poison message (SIGKILL,
as a segfault or the OOM killer would), for ``test_poison_process.py``."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal

from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.settings import Settings

router = Router(source="poison")


@router.subscriber("fragile", "test.thing.happened.v1")
async def handle(envelope: Envelope) -> None:
    if envelope.payload["n"] == "poison":
        os.kill(os.getpid(), signal.SIGKILL)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--max-redeliveries", type=int, required=True)
    args = parser.parse_args()
    settings = Settings(
        broker_url=args.broker, database_url=args.database, exchange=f"{args.prefix}.events",
        queue_prefix=args.prefix, instance=f"{args.prefix}-{os.getpid()}",
        delivery={"max_redeliveries": args.max_redeliveries},
    )
    bus = Bus(settings, source="poison")
    bus.include(router)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with bus:
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main())
