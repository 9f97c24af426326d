"""Group commit for the idempotent consumer.

Recording "subscriber S processed message M" costs a database commit. Done
per message before each ack, it caps a subscription at a few hundred
messages a second. The ledger instead queues the record with the ack that
must follow it; one background task commits every queued record in a single
transaction and only then acks those messages. The worker moves on to the
next message meanwhile (the broker's prefetch bounds how far ahead it gets).

Until its record commits, a message id counts as seen (``pending``), so a
duplicate arriving in that window is not processed twice; recently committed
ids are remembered too, which spares the database most look-ups.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from bus.delivery.idempotency import ProcessedMessages

__all__ = ["ProcessedLedger"]

log = logging.getLogger(__name__)

Settle = Callable[[], Awaitable[None]]


class ProcessedLedger:
    def __init__(self, store: ProcessedMessages, *, remember: int = 20_000,
                 max_batch: int = 1000) -> None:
        # ``remember``: recently committed ids kept in memory (about 250 bytes each).
        # Redeliveries come within seconds; older duplicates are caught by the database
        # look-up, so a small window saves as many queries and bounds memory sooner.
        self.store = store
        self.remember = remember
        self.max_batch = max_batch
        self._pending: dict[tuple[str, str], Settle] = {}
        self._recent: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.inline_reads = store.engine.dialect.name == "sqlite"
        """An indexed SQLite look-up (tens of µs, no network) costs less than a thread hop."""

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="processed-ledger")

    async def stop(self) -> None:
        """Commit and settle what is queued, then stop."""
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def drain(self) -> None:
        while self._pending:
            self._wake.set()
            self._idle.clear()
            await self._idle.wait()

    def known(self, subscriber: str, message_id: str) -> bool:
        """Being recorded, or recorded recently by this process (no database look-up)."""
        key = (subscriber, message_id)
        return key in self._pending or key in self._recent

    async def seen(self, subscriber: str, message_id: str) -> bool:
        if self.known(subscriber, message_id):
            return True
        if self.inline_reads:
            return self.store.seen(subscriber, message_id)
        return await asyncio.to_thread(self.store.seen, subscriber, message_id)

    async def seen_many(self, subscriber: str, message_ids: list[str]) -> set[str]:
        """The ids among ``message_ids`` already processed (or being recorded)."""
        known = {m for m in message_ids
                 if (subscriber, m) in self._pending or (subscriber, m) in self._recent}
        unknown = [m for m in message_ids if m not in known]
        if unknown:
            if self.inline_reads:
                known |= self.store.seen_many(subscriber, unknown)
            else:
                known |= await asyncio.to_thread(self.store.seen_many, subscriber, unknown)
        return known

    def record_then(self, subscriber: str, message_id: str, settle: Settle) -> None:
        """Queue the record; ``settle`` (the ack) runs once it is committed."""
        self._pending[(subscriber, message_id)] = settle
        self._wake.set()

    def remembered(self, subscriber: str, message_id: str) -> None:
        """A record committed elsewhere (``run_once``): remember it without writing."""
        self._remember((subscriber, message_id))

    def _remember(self, key: tuple[str, str]) -> None:
        self._recent[key] = None
        while len(self._recent) > self.remember:
            self._recent.popitem(last=False)

    async def _run(self) -> None:
        delay = 0.05
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending:
                batch = dict(list(self._pending.items())[: self.max_batch])
                try:
                    await asyncio.to_thread(self.store.mark_many, list(batch))
                except Exception as error:
                    log.warning("could not record processed messages (%s); retrying in %.2fs",
                                error, delay)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                delay = 0.05
                for key, settle in batch.items():
                    del self._pending[key]
                    self._remember(key)
                    try:
                        await settle()
                    except Exception:
                        log.exception("settling %s after recording it failed", key[1])
            self._idle.set()
