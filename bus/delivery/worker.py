"""The consume side of one subscription: from a broker delivery to a settled message.

For every delivery: size check, decode, schema check, trace context, skip if
already processed, run the handler, record, settle. Failures are classified
by :class:`~bus.delivery.retry.RetryPolicy`: permanent ones and exhausted
retries are dead-lettered with the reason, the rest retried with backoff.
Nothing that arrives can crash the worker.

With ``concurrency > 1`` messages run in lanes: a message with a key (one
call, one customer) goes to the lane its key hashes to, so messages with the
same key keep their order; a message without one goes to an idle lane (the
least busy if none is idle; a copy of a message in flight goes where that
message is, so a redelivered copy is handled once), so a slow handler holds
up nobody behind it —
hashing unkeyed ids would put two of fifty in-flight requests in one of 256
lanes about one time in six.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from typing import TYPE_CHECKING, Any

from bus.context import Context
from bus.delivery.idempotency import AlreadyProcessed
from bus.delivery.lane import Lane
from bus.delivery.redeliveries import poison_reason
from bus.delivery.retry import Decision, failure_reason, stack_summary
from bus.delivery.rpc import ERROR_HEADER, deadline_passed
from bus.envelope import Envelope
from bus.errors import EsbError, PermanentError
from bus.transport import Consumer, Delivery, OutgoingMessage

if TYPE_CHECKING:
    from bus.app import Bus
    from bus.router import Subscription

__all__ = ["SubscriptionWorker"]

log = logging.getLogger(__name__)

BATCH = 200
"""Deliveries taken from a lane at once, for one look-up of processed ids."""


class SubscriptionWorker:
    def __init__(self, bus: Bus, subscription: Subscription, queue: str) -> None:
        self.bus = bus
        self.subscription = subscription
        self.queue = queue
        self._consumer: Consumer | None = None
        self._lanes: list[Lane[Delivery | None]] = []
        self._lane_tasks: list[asyncio.Task[None]] = []
        self._load: list[int] = []
        """Per lane: deliveries queued in it or being processed."""
        self._idle: set[int] = set()
        self._in_flight: dict[str, tuple[int, int]] = {}
        """Message id -> (its lane, copies queued or being processed)."""
        self.paused = False
        self._giving_back = False
        """Paused past the grace: deliveries not started yet go back to the queue."""

    async def start(self, prefetch: int, *, paused: bool = False) -> None:
        """Start the lanes and (unless ``paused``) consuming."""
        self.paused = paused
        for index in range(self.subscription.concurrency):
            self._lanes.append(Lane[Delivery | None]())
            self._load.append(0)
            self._idle.add(index)
            self._lane_tasks.append(asyncio.get_running_loop().create_task(
                self._drain(index), name=f"{self.queue}-lane-{index}"))
        self._consumer = await self.bus.transport.consume(
            self.queue, self._enqueue, prefetch=prefetch, paused=paused)

    async def pause(self, grace: float) -> None:
        """Take no more deliveries (they wait in the queue); finish the ones handed over
        within ``grace`` seconds, then give back those not started (requeued)."""
        if self.paused:
            return
        self.paused = True
        if self._consumer is not None:
            await self._consumer.pause()
        if await self._settled_within(grace):
            return
        self._giving_back = True
        await self._give_back_waiting()
        if not await self._settled_within(grace):
            log.warning("%s: paused with %d deliveries still being handled; they are settled "
                        "when their handlers return", self.queue, sum(self._load))

    async def resume(self) -> None:
        if not self.paused:
            return
        self.paused = self._giving_back = False
        if self._consumer is not None:
            await self._consumer.resume()

    async def _settled_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while any(self._load):
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def _give_back_waiting(self) -> None:
        """Requeue the deliveries waiting in the lanes, not yet taken into a batch."""
        waiting: list[Delivery] = []
        for index, lane in enumerate(self._lanes):
            taken = list(lane.ready)
            lane.ready.clear()
            deliveries = [delivery for delivery in taken if delivery is not None]
            if deliveries:
                self._done(index, deliveries)
                waiting += deliveries
        for delivery in waiting:
            await self._give_back(delivery)

    async def _give_back(self, delivery: Delivery) -> None:
        try:
            await delivery.nack(requeue=True)
        except Exception as error:  # the broker hands it back when the consumer goes
            log.warning("%s: could not requeue %s on pause: %s", self.queue,
                        delivery.message_id, error)

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.cancel()
            self._consumer = None
        for task in self._lane_tasks:
            task.cancel()
        await asyncio.gather(*self._lane_tasks, return_exceptions=True)
        self._lanes.clear()
        self._lane_tasks.clear()
        self._load.clear()
        self._idle.clear()
        self._in_flight.clear()

    async def _enqueue(self, delivery: Delivery) -> None:
        self._lanes[self._lane_for(delivery)].put(delivery)

    def _lane_for(self, delivery: Delivery) -> int:
        lanes = len(self._lanes)
        if lanes == 1:
            index = 0
        elif key := delivery.headers.get("x-esb-key"):
            index = zlib.crc32(str(key).encode()) % lanes
        elif (busy := self._in_flight.get(delivery.message_id)) is not None:
            index = busy[0]  # a copy of a message in flight waits for it: handled once
        elif self._idle:
            index = self._idle.pop()
        else:
            index = min(range(lanes), key=self._load.__getitem__)
        self._load[index] += 1
        self._idle.discard(index)
        lane_and_count = self._in_flight.get(delivery.message_id)
        self._in_flight[delivery.message_id] = (
            index, 1 if lane_and_count is None else lane_and_count[1] + 1)
        return index

    def _done(self, index: int, deliveries: list[Delivery]) -> None:
        self._load[index] -= len(deliveries)
        if not self._load[index]:
            self._idle.add(index)
        for delivery in deliveries:
            lane_and_count = self._in_flight.pop(delivery.message_id, None)
            if lane_and_count is not None and lane_and_count[1] > 1:
                self._in_flight[delivery.message_id] = (index, lane_and_count[1] - 1)

    async def _drain(self, index: int) -> None:
        """Take what has arrived in one go, look all its ids up at once, process in order."""
        lane = self._lanes[index]
        ready = lane.ready
        while True:
            if not ready:
                await lane.arrived()
            batch = [ready.popleft() for _ in range(min(len(ready), BATCH))]
            deliveries = [d for d in batch if d is not None]
            try:
                if self.subscription.idempotent:
                    await self._process_batch(deliveries)
                else:  # no look-up to share: each in turn, one coroutine less per message
                    for delivery in deliveries:
                        if self._giving_back:  # paused meanwhile, past its grace
                            await self._give_back(delivery)
                        else:
                            await self.process(delivery)
            finally:
                self._done(index, deliveries)
            if len(deliveries) < len(batch):
                return

    async def _process_batch(self, deliveries: list[Delivery]) -> None:
        seen: set[str] | None = None
        if self.subscription.idempotent and deliveries:
            try:
                seen = await self.bus.ledger.seen_many(
                    self.queue, [d.message_id for d in deliveries])
            except Exception as error:  # the look-up is retried per message below
                log.warning("%s: batch look-up of processed ids failed: %s", self.queue, error)
        for delivery in deliveries:
            if self._giving_back:  # paused meanwhile, past its grace
                await self._give_back(delivery)
            else:
                await self.process(delivery, seen=seen)

    async def process(self, delivery: Delivery, *, seen: set[str] | None = None) -> None:
        """Handle one delivery to the end; never raises.

        ``seen``: the ids of a batch look-up in the processed-ids table that
        covered this delivery (None: not looked up, ask per message).
        """
        started = time.perf_counter()
        if delivery.redelivered and await self._poisoned(delivery, started):
            return
        envelope: Envelope | None = None
        trace_id = ""
        try:
            envelope = self.bus.decode(delivery.body, message_id=delivery.message_id)
            with self.bus.tracing.consume_span(envelope, self.queue, delivery.headers) as span:
                trace_id = span.trace_id
                await self._handle(delivery, envelope, started, trace_id, seen)
        except Exception as error:  # every failure is settled below, none escapes
            await self._failed(delivery, envelope, error, started, trace_id)

    async def _poisoned(self, delivery: Delivery, started: float) -> bool:
        """Count a redelivery; past the bound, dead-letter the message instead of handling it."""
        try:
            count = await asyncio.to_thread(self.bus.redeliveries.count, self.queue,
                                            delivery.message_id, delivery.attempt)
        except Exception as error:  # the bound is a safety net: never block on it
            log.warning("%s: could not count the redelivery of %s: %s", self.queue,
                        delivery.message_id, error)
            return False
        if count <= self.bus.settings.delivery.max_redeliveries:
            return False
        reason = poison_reason(count)
        log.error("%s: message %s dead-lettered: %s", self.queue, delivery.message_id, reason)
        try:
            await delivery.dead_letter(reason)
        except Exception as error:
            log.warning("%s: could not dead-letter %s: %s", self.queue, delivery.message_id,
                        error)
            return True
        self.bus.note(delivery.message_id, "dead_lettered", self.queue, delivery.attempt,
                      started, detail=reason)
        return True

    async def _handle(
        self, delivery: Delivery, envelope: Envelope, started: float, trace_id: str,
        seen: set[str] | None,
    ) -> None:
        subscription = self.subscription
        if subscription.reply_type and deadline_passed(delivery):
            await delivery.ack()
            self.bus.note(envelope.id, "expired", self.queue, delivery.attempt, started, trace_id)
            return
        if subscription.idempotent and await self._already_processed(delivery, envelope, seen):
            await delivery.ack()
            self.bus.note(envelope.id, "duplicate", self.queue, delivery.attempt, started, trace_id)
            return
        attempt = delivery.attempt
        context = Context(envelope=envelope, subscription=subscription, queue=self.queue,
                          attempt=attempt, bus=self.bus, redelivered=delivery.redelivered)
        try:
            result = await subscription.invoke(envelope, context)
        except AlreadyProcessed:
            result = None
            status = "duplicate"
        else:
            status = "processed"
        if subscription.reply_type and delivery.reply_to:
            await self._reply(delivery, envelope, result)
        self.bus.note(envelope.id, status, self.queue, attempt, started, trace_id)
        if context.recorded:
            self.bus.ledger.remembered(self.queue, envelope.id)
        if subscription.idempotent and not context.recorded and status == "processed":
            self.bus.ledger.record_then(self.queue, envelope.id, delivery.ack)
        else:
            await delivery.ack()

    async def _already_processed(
        self, delivery: Delivery, envelope: Envelope, seen: set[str] | None
    ) -> bool:
        ledger = self.bus.ledger
        if seen is not None and envelope.id == delivery.message_id:
            # The batch look-up asked the database for this id moments ago; what it cannot
            # know is an id recorded since by this process (the same id twice in one batch),
            # and the ledger holds those in memory: no second query per message.
            return envelope.id in seen or ledger.known(self.queue, envelope.id)
        return await ledger.seen(self.queue, envelope.id)

    async def _reply(self, delivery: Delivery, request: Envelope, result: Any) -> None:
        assert self.subscription.reply_type is not None and delivery.reply_to is not None
        payload = result if type(result) is dict or not hasattr(result, "model_dump") \
            else result.model_dump(mode="json")
        reply = request.caused(self.subscription.reply_type, payload or {}, self.bus.source)
        self.bus.validate(reply)
        await self.bus.transport.send_to_queue(delivery.reply_to, OutgoingMessage(
            body=self.bus.encode(reply), routing_key=reply.type, message_id=reply.id,
            correlation_id=delivery.message_id, type=reply.type, transient=True,
        ))

    async def _failed(
        self, delivery: Delivery, envelope: Envelope | None, error: Exception, started: float,
        trace_id: str = "",
    ) -> None:
        message_id = envelope.id if envelope else delivery.message_id
        if isinstance(error, EsbError) and error.message_id is None:
            error.message_id = message_id
        policy = self.bus.retry_policy(self.subscription)
        try:
            if self.subscription.reply_type and delivery.reply_to:
                await self._reply_error(delivery, error)
            decision = policy.decide(error, delivery.attempt)
            if decision is Decision.RETRY:
                delay = policy.delay(delivery.attempt)
                log.warning("%s: message %s failed (attempt %d), retry in %.1fs: %s",
                            self.queue, message_id, delivery.attempt, delay, error)
                await delivery.retry(delay)
                self.bus.note(message_id, "retried", self.queue, delivery.attempt, started,
                              trace_id, detail=failure_reason(error, delivery.attempt, policy))
                return
            reason = failure_reason(error, delivery.attempt, policy)
            log.error("%s: message %s dead-lettered: %s", self.queue, message_id, reason)
            await delivery.dead_letter(reason, "" if isinstance(error, PermanentError)
                                       and error.__traceback__ is None else stack_summary(error))
            self.bus.note(message_id, "dead_lettered", self.queue, delivery.attempt, started,
                          trace_id, detail=reason)
        except self.bus.transport.connection_errors as lost:
            log.warning("%s: could not settle %s, the broker will redeliver: %s",
                        self.queue, message_id, lost)
        except Exception:
            log.exception("%s: settling %s failed", self.queue, message_id)

    async def _reply_error(self, delivery: Delivery, error: Exception) -> None:
        assert delivery.reply_to is not None
        reason = failure_reason(error, 1, self.bus.retry_policy(self.subscription))
        await self.bus.transport.send_to_queue(delivery.reply_to, OutgoingMessage(
            body=b"{}", routing_key="error", message_id=f"{delivery.message_id}.error",
            correlation_id=delivery.message_id, headers={ERROR_HEADER: reason[:1000]},
            transient=True,
        ))

