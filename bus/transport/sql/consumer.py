"""Consumers and deliveries of the SQL broker.

A consumer is one task: it leases up to ``prefetch - unsettled`` ready rows,
hands them to the callback in id order, and sleeps when the queue is empty
until ``poll_interval`` passes or a publish from this process wakes it. A
second task renews its leases every third of the lease, so a busy consumer
keeps its messages and a dead one loses them: once a lease runs out the rows
are ready again and come back marked redelivered.

On a queue with a single active consumer, a consumer claims nothing until it
holds the queue's turn (a lease row renewed with its message leases); the others
stand by, asking for the turn every ``STANDBY_INTERVAL`` (at once when a consumer
of this process lets go), and one takes it over when it is given up or lapses.

Settling checks the lease: a delivery whose consumer was cancelled, or whose
lease ran out and went to another consumer, is settled as a no-op (logged at
debug) since the message is already someone else's.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from bus.transport.base import (
    ATTEMPT_HEADER,
    DEATH_HEADERS,
    Consumer,
    Delivery,
    DeliveryCallback,
    dead_letter_queue,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

    from bus.transport.sql.transport import SqlTransport

__all__ = ["SqlConsumer", "SqlDelivery"]

log = logging.getLogger("bus.transport.sql")

STANDBY_INTERVAL = 1.0
"""Seconds between a standby consumer's asks for the turn (at least ``poll_interval``)."""


class SqlDelivery(Delivery):
    __slots__ = ("_consumer", "row_id")

    def __init__(self, consumer: SqlConsumer, row: sa.Row[Any]) -> None:
        super().__init__(
            body=bytes(row.body),
            queue=consumer.queue,
            routing_key=row.routing_key,
            message_id=row.message_id,
            headers=row.headers or {},
            redelivered=bool(row.redelivered),
            correlation_id=row.correlation_id,
            reply_to=row.reply_to,
            type=row.type,
        )
        self._consumer = consumer
        self.row_id: int = row.id

    def _release(self) -> bool:
        """Settle; False when the consumer already gave the message back."""
        self._settle()
        if self._consumer.forget(self):
            return True
        log.debug("%s: %s settled after its consumer stopped; ignored", self.queue,
                  self.message_id)
        return False

    def _outcome(self, done: bool, what: str) -> None:
        if not done:
            log.debug("%s: %s %s after its lease was lost; ignored", self.queue,
                      self.message_id, what)

    async def ack(self) -> None:
        # Like basic.ack: no round trip. The delete is committed in the next
        # batch (cancel and close wait for it); lost in a crash, the message
        # is redelivered.
        if self._release():
            self._consumer.transport.ack_later(self._consumer.owner, self.row_id)

    async def nack(self, *, requeue: bool = True) -> None:
        if not requeue:
            await self.dead_letter("rejected")
            return
        if self._release():
            transport = self._consumer.transport
            done = await transport.run(transport.store.requeue, self._consumer.owner, self.row_id)
            self._outcome(done, "nacked")
            transport.wake(self.queue)

    async def retry(self, delay: float) -> None:
        if not self._release():
            return
        transport = self._consumer.transport
        headers = {**self.headers, ATTEMPT_HEADER: self.attempt + 1}
        delay = max(delay, 0.0)
        done = await transport.run(transport.store.requeue, self._consumer.owner, self.row_id,
                                   headers, time.time() + delay)
        self._outcome(done, "retried")
        transport.wake(self.queue, delay)

    async def dead_letter(self, reason: str, error: str = "") -> None:
        if not self._release():
            return
        transport = self._consumer.transport
        target = dead_letter_queue(self.queue) if self._consumer.dead_letters else None
        headers = {
            **self.headers,
            DEATH_HEADERS["reason"]: reason,
            DEATH_HEADERS["error"]: error,
            DEATH_HEADERS["queue"]: self.queue,
            DEATH_HEADERS["at"]: f"{time.time():.3f}",
        }
        done = await transport.run(transport.store.dead_letter, self._consumer.owner,
                                   self.row_id, target, headers)
        self._outcome(done, "dead-lettered")
        if target is not None:
            transport.wake(target)


class SqlConsumer(Consumer):
    def __init__(self, transport: SqlTransport, queue: str, callback: DeliveryCallback,
                 prefetch: int, *, dead_letters: bool, single_active: bool = False,
                 paused: bool = False) -> None:
        self.transport = transport
        self.queue = queue
        self.callback = callback
        self.prefetch = max(prefetch, 1)
        self.dead_letters = dead_letters
        self.single_active = single_active
        self.active = not single_active
        """Whether this consumer may claim: always, or while it holds the queue's turn."""
        self.owner = uuid.uuid4().hex
        self.loop = asyncio.get_running_loop()
        self.unsettled: dict[int, SqlDelivery] = {}
        self.claimed: deque[sa.Row[Any]] = deque()
        self.running = True
        self.paused = paused
        self.registered = not paused or self._keeps_registration()
        """Listed among the queue's consumers (``esb_broker_consumers``)."""
        self._resumed = asyncio.Event()
        self._parked = asyncio.Event()
        """Set while the claiming loop waits for :meth:`resume`."""
        self._wake = asyncio.Event()
        self._turn_free = asyncio.Event()
        """Set when a consumer of this process gives the turn up (publishes do not wake a
        standby consumer: it would ask for the turn at every one)."""
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = self.loop.create_task(self._run(), name=f"esb-sql-consume-{self.queue}")
        self._heartbeat = self.loop.create_task(self._renew(),
                                                name=f"esb-sql-heartbeat-{self.queue}")

    def wake(self) -> None:
        self._wake.set()

    def turn_given_up(self) -> None:
        self._turn_free.set()

    def forget(self, delivery: SqlDelivery) -> bool:
        if self.unsettled.pop(delivery.row_id, None) is None:
            return False
        if len(self.unsettled) == self.prefetch - 1:
            self._wake.set()
        return True

    async def _sleep(self, timeout: float) -> None:
        try:
            async with asyncio.timeout(timeout):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def _run(self) -> None:
        store = self.transport.store
        while self.running:
            if self.paused:
                self._parked.set()
                await self._resumed.wait()
                self._parked.clear()
                continue
            capacity = self.prefetch - len(self.unsettled)
            self._wake.clear()
            if capacity <= 0:
                await self._wake.wait()
                continue
            if not self.active and not await self._take_turn():
                continue
            try:
                rows = await self.transport.run(store.claim, self.queue, self.owner, capacity)
            except Exception as error:
                log.warning("%s: could not fetch messages, trying again: %s", self.queue, error)
                await self._sleep(max(self.transport.poll_interval, 1.0))
                continue
            if not rows:
                await self._sleep(self.transport.poll_interval)
                continue
            self.claimed.extend(rows)
            while self.claimed and self.running and not self.paused:
                delivery = SqlDelivery(self, self.claimed.popleft())
                self.unsettled[delivery.row_id] = delivery
                await self._deliver(delivery)

    async def _take_turn(self) -> bool:
        """Ask for the turn; standing by (asleep) when another consumer has it."""
        store = self.transport.store
        try:
            self.active = await self.transport.run(store.turns.take, self.queue, self.owner)
        except Exception as error:
            log.warning("%s: could not ask for the turn, trying again: %s", self.queue, error)
        if not self.active:
            self._turn_free.clear()
            try:
                async with asyncio.timeout(max(self.transport.poll_interval, STANDBY_INTERVAL)):
                    await self._turn_free.wait()
            except TimeoutError:
                pass
        return self.active

    async def _deliver(self, delivery: SqlDelivery) -> None:
        try:
            await self.callback(delivery)
        except Exception:
            log.exception("%s: the consumer callback failed on %s; requeued", self.queue,
                          delivery.message_id)
            if not delivery.settled:
                try:
                    await delivery.nack(requeue=True)
                except Exception as error:
                    log.warning("%s: could not requeue %s, it returns after its lease: %s",
                                self.queue, delivery.message_id, error)

    def _held(self) -> list[int]:
        return [*self.unsettled, *(int(row.id) for row in self.claimed)]

    async def _renew(self) -> None:
        store = self.transport.store
        while True:
            await asyncio.sleep(store.lease / 3)
            held = self._held()
            turn = self.queue if self.single_active and self.active else None
            try:
                kept, kept_turn = await self.transport.run(store.renew, self.owner, held, turn)
            except Exception as error:
                log.warning("%s: could not renew leases: %s", self.queue, error)
                continue
            if turn is not None and not kept_turn:
                log.warning("%s: the turn as the single active consumer lapsed before renewal; "
                            "another consumer has it", self.queue)
                self.active = False
            self.transport.sweeper.poke()
            # Settled meanwhile is fine; still held and not renewed means lost.
            lost = set(held).intersection(self._held()) - kept
            if lost:
                log.warning("%s: %d leases ran out before renewal; another consumer may "
                            "get those messages", self.queue, len(lost))

    def _keeps_registration(self) -> bool:
        """An exclusive queue of this process keeps its consumer listed while paused:
        with none alive, other processes would delete it as abandoned."""
        return self.transport.owns(self.queue)

    async def pause(self) -> None:
        """Claim no more and leave the queue's consumers (giving up the turn); rows
        claimed and not handed over go back at once, in their place. Deliveries held
        keep their leases (the heartbeat goes on) and stay settleable."""
        if not self.running or self.paused:
            return
        self.paused = True
        self._resumed.clear()
        self._wake.set()
        self._turn_free.set()
        if self._task is not None and not self._task.done():
            await self._parked.wait()
        undelivered = [row.id for row in self.claimed]
        self.claimed.clear()
        transport = self.transport
        try:
            if undelivered:
                await transport.run(transport.store.release, self.owner, [], undelivered)
            if not self._keeps_registration():
                await transport.run(transport.store.unregister, self.owner)
                self.registered = False
        except Exception as error:
            log.warning("%s: pausing could not give back %d messages, they return after "
                        "their lease: %s", self.queue, len(undelivered), error)
        if undelivered:
            transport.wake(self.queue)
        if self.single_active and self.active:
            self.active = False
            transport.turn_given_up(self.queue)

    async def resume(self) -> None:
        if not self.running or not self.paused:
            return
        if not self.registered:
            await self.transport.run(self.transport.store.register, self.owner, self.queue)
            self.registered = True
        self.paused = False
        self._resumed.set()

    async def cancel(self) -> None:
        """Stop; messages leased and not settled go back to the queue at once."""
        if not self.running:
            return
        self.running = False
        self._resumed.set()
        self._wake.set()
        self._turn_free.set()
        tasks = [task for task in (self._task, self._heartbeat) if task is not None]
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        current = asyncio.current_task()
        await asyncio.gather(*(t for t in tasks if t is not current), return_exceptions=True)
        delivered, self.unsettled = list(self.unsettled), {}
        undelivered = [row.id for row in self.claimed]
        self.claimed.clear()
        transport = self.transport
        await transport.flush_acks()
        try:
            await transport.run(transport.store.release, self.owner, delivered, undelivered)
            await transport.run(transport.store.unregister, self.owner)
        except Exception as error:
            log.warning("%s: could not give back %d messages, they return after their lease: "
                        "%s", self.queue, len(delivered) + len(undelivered), error)
        transport.consumer_stopped(self)
        if delivered or undelivered:
            transport.wake(self.queue)
        if self.single_active and self.active:
            transport.turn_given_up(self.queue)
