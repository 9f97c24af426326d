"""The bus: one object that publishes, subscribes, asks and answers.

::

    bus = Bus(load_settings(), source="crm")
    bus.include(router)              # subscriptions defined with bus.router.Router
    async with bus:                  # connect, declare topology, start consuming
        await bus.publish(Envelope(type="pbx.call.ended.v1", payload=..., source="pbx"))
        reply = await bus.request("crm.customer.requested.v1", {"phone": "+7..."}, timeout=2)

Everything the bus remembers goes to SQL (``ESB_DATABASE_URL``): processed ids,
the outbox, dead letters, the journal. Messages in flight are the broker's.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import sqlalchemy as sa

from bus import db
from bus.checks import EdgeChecks, Validator, default_validator
from bus.delivery.dead_letters import DeadLetterStore
from bus.delivery.housekeeping import Housekeeping
from bus.delivery.idempotency import ProcessedMessages
from bus.delivery.ledger import ProcessedLedger
from bus.delivery.outbox import OutboxRelay
from bus.delivery.redeliveries import Redeliveries
from bus.delivery.retry import RetryPolicy
from bus.delivery.rpc import DEADLINE_HEADER, ReplyWaiter, answer_of
from bus.delivery.worker import SubscriptionWorker
from bus.envelope import Envelope
from bus.observability import Observability
from bus.router import Router, Subscription
from bus.settings import Settings, load_settings
from bus.topology import describe_topology
from bus.transport import (
    Consumer,
    Delivery,
    OutgoingMessage,
    QueueSpec,
    Transport,
    dead_letter_queue,
    transport_for,
)

__all__ = ["Bus"]

log = logging.getLogger(__name__)

T = TypeVar("T")

PAUSE_GRACE_SECONDS = 10.0
"""How long :meth:`Bus.pause` lets deliveries already handed over finish."""


class Bus:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        source: str = "esb",
        transport: Transport | None = None,
        engine: sa.Engine | None = None,
        validator: Validator | None = None,
    ) -> None:
        self.settings = settings or load_settings()
        self.source = source
        delivery = self.settings.delivery
        self.transport = transport or transport_for(
            self.settings.broker, confirm_window=delivery.confirm_window
        )
        self.engine = engine or db.create_engine(self.settings.database)
        try:  # first, before a component (journal writer, adapters) creates a table
            db.prepare_database(self.engine)
        except BaseException:
            if engine is None:
                self.engine.dispose()
            raise
        self.processed = ProcessedMessages(self.engine)
        self.ledger = ProcessedLedger(self.processed)
        self.redeliveries = Redeliveries(self.engine)
        self.dead_letters = DeadLetterStore(self.engine)
        self.observability = Observability(self.settings, self.engine)
        self.tracing = self.observability.tracing
        retention = self.settings.delivery.processed_retention_days * 86400
        self.housekeeping = Housekeeping(
            [("processed ids", lambda: self.processed.forget_older_than(retention)),
             ("redelivery counts", lambda: self.redeliveries.forget_older_than(retention)),
             *self.observability.chores()],
            interval=self.settings.delivery.housekeeping_interval,
        )
        self.checks = EdgeChecks(self.settings.delivery,
                                 validator if validator is not None else default_validator())
        self.router = Router(source)
        self._dependencies: dict[type, object] = {}
        self._workers: list[SubscriptionWorker] = []
        self._dlq_consumers: list[Consumer] = []
        self._paused: set[str] = set()
        self._relay = OutboxRelay(self.engine, self.transport, self.settings.exchange)
        self._replies = ReplyWaiter(
            self.transport, f"{self.settings.queue_prefix}.reply.{self.settings.instance}"
        )
        self.running = False

    # -- registration ---------------------------------------------------------

    def include(self, router: Router) -> None:
        self.router.include(router)

    def provide(self, kind: type, instance: object) -> None:
        """Make ``instance`` the value of handler parameters annotated with ``kind``."""
        self._dependencies[kind] = instance

    def dependency(self, kind: type[T]) -> T:
        try:
            return self._dependencies[kind]  # type: ignore[return-value]
        except KeyError:
            raise LookupError(
                f"no {kind.__qualname__} is provided to this bus (Bus.provide / Adapter.provide)"
            ) from None

    @property
    def subscriptions(self) -> Sequence[Subscription]:
        return self.router.subscriptions

    def queue_name(self, subscription: Subscription) -> str:
        """``<prefix>.<name>``, or ``<prefix>.<name>.<instance>`` for a per-instance one."""
        if subscription.per_instance:
            return f"{self.settings.queue_prefix}.{subscription.name}.{self.settings.instance}"
        return f"{self.settings.queue_prefix}.{subscription.name}"

    def retry_policy(self, subscription: Subscription) -> RetryPolicy:
        if subscription.retry is not None:
            return subscription.retry
        delivery = self.settings.delivery
        return RetryPolicy(max_attempts=delivery.max_attempts, delays=delivery.retry_delays)

    def queue_spec(self, subscription: Subscription) -> QueueSpec:
        return QueueSpec(
            name=self.queue_name(subscription),
            bindings=subscription.patterns,
            retry_delays=self.retry_policy(subscription).tiers,
            quorum=self.settings.delivery.quorum_queues and not subscription.per_instance,
            single_active_consumer=subscription.ordered,
            exclusive=subscription.per_instance,
        )

    async def topology(self) -> dict[str, Any]:
        """What the bus declares, with live depths where the broker answers."""
        return await describe_topology(self, frozenset(self._paused))

    # -- lifecycle ------------------------------------------------------------

    async def start(self, *, consume: bool = True) -> None:
        """Connect, declare the topology and (unless ``consume=False``) start consuming."""
        await self.transport.connect()
        await self.transport.declare_exchange(self.settings.exchange)
        # A per-instance queue lives while its process consumes it: a process that
        # only publishes (consume=False: the CLI, a publisher) declares none.
        for subscription in self.subscriptions:
            if consume or not subscription.per_instance:
                await self.transport.declare_queue(self.queue_spec(subscription),
                                                   self.settings.exchange)
        self.observability.start()
        await self._replies.start()
        self._relay.start()
        self.ledger.start()
        self.housekeeping.start()
        if consume:
            prefetch = self.settings.delivery.prefetch
            for subscription in self.subscriptions:
                worker = SubscriptionWorker(self, subscription, self.queue_name(subscription))
                await worker.start(prefetch, paused=subscription.name in self._paused)
                self._workers.append(worker)
                dlq = dead_letter_queue(worker.queue)
                self._dlq_consumers.append(
                    await self.transport.consume(dlq, self._store_dead_letter, prefetch=50)
                )
        self.running = True
        log.info("bus started on %s with %d subscriptions", type(self.transport).__name__,
                 len(self.subscriptions))

    async def stop(self) -> None:
        await self.ledger.drain()  # ack what is processed before consumers let go
        # Every consumer together: each stops taking deliveries as soon as its
        # stop starts (all within this step), then commits its acks and gives
        # back what it still holds while the others do the same, instead of
        # one after another, each waiting behind the others' traffic.
        stopped = await asyncio.gather(
            *(worker.stop() for worker in self._workers),
            *(consumer.cancel() for consumer in self._dlq_consumers),
            return_exceptions=True,
        )
        for outcome in stopped:
            if isinstance(outcome, BaseException):
                log.error("a consumer did not stop cleanly; its unsettled messages return "
                          "after their lease", exc_info=outcome)
        await self.ledger.stop()
        await self.housekeeping.stop()
        self._workers.clear()
        self._dlq_consumers.clear()
        await self._relay.stop()
        await self._replies.stop()
        await self.transport.close()
        self.observability.stop()
        self.running = False

    # -- pausing subscriptions -------------------------------------------------

    @property
    def paused(self) -> frozenset[str]:
        """The names of the subscriptions :meth:`pause` paused."""
        return frozenset(self._paused)

    async def pause(self, *names: str, grace: float = PAUSE_GRACE_SECONDS) -> None:
        """Stop handing the messages of these subscriptions to their handlers.

        Their queues stay, bound: new messages wait there (counted in the depth,
        neither lost nor dead-lettered) until :meth:`resume`. Deliveries already
        handed over finish within ``grace`` seconds; those not started by then go
        back to the queue. A reconnect keeps them paused; subscriptions paused
        before :meth:`start` start paused. Idempotent.
        """
        self._known(names)
        self._paused.update(names)
        await asyncio.gather(*(worker.pause(grace) for worker in self._workers
                               if worker.subscription.name in names))
        log.info("paused subscriptions %s", ", ".join(sorted(names)))

    async def resume(self, *names: str) -> None:
        """Hand these paused subscriptions' messages to their handlers again."""
        self._known(names)
        self._paused.difference_update(names)
        await asyncio.gather(*(worker.resume() for worker in self._workers
                               if worker.subscription.name in names))
        log.info("resumed subscriptions %s", ", ".join(sorted(names)))

    def _known(self, names: Sequence[str]) -> None:
        unknown = set(names) - {subscription.name for subscription in self.subscriptions}
        if unknown:
            raise LookupError(f"no subscription named {', '.join(sorted(unknown))}")

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                        ) -> None:
        await self.stop()

    def close(self) -> None:
        """Release the database pool (after :meth:`stop`)."""
        self.engine.dispose()

    # -- publishing -----------------------------------------------------------

    def validate(self, envelope: Envelope) -> None:
        """The schema check of what is about to be sent (``bus.checks``)."""
        self.checks.validate(envelope)

    def encode(self, envelope: Envelope) -> bytes:
        """The wire form of an envelope :meth:`validate` may have passed."""
        return self.checks.encode(envelope)

    def decode(self, body: bytes, *, message_id: str | None = None) -> Envelope:
        """Bytes from the broker to a checked envelope (consume side)."""
        return self.checks.decode(body, message_id=message_id)

    def outgoing(self, envelope: Envelope, **extra_headers: str) -> OutgoingMessage:
        return self._message(envelope, extra_headers)

    def _message(self, envelope: Envelope, extra_headers: Mapping[str, str], *,
                 reply_to: str | None = None, transient: bool = False) -> OutgoingMessage:
        headers: dict[str, Any] = {**envelope.headers, **extra_headers}
        if envelope.key:
            headers["x-esb-key"] = envelope.key
        return OutgoingMessage(
            body=self.checks.encode(envelope), routing_key=envelope.type, message_id=envelope.id,
            headers=headers, correlation_id=envelope.correlation_id, type=envelope.type,
            reply_to=reply_to, transient=transient,
        )

    async def publish(self, envelope: Envelope) -> None:
        """Validate, trace, publish with confirm, journal."""
        self.validate(envelope)
        began = time.time()
        with self.tracing.publish_span(envelope, self.settings.exchange) as span:
            message = self.outgoing(envelope, **span.headers)
            await self.transport.publish(self.settings.exchange, message)
        self.observability.published(envelope, span.trace_id, began)

    async def publish_many(self, envelopes: Sequence[Envelope]) -> None:
        """Publish a batch sharing the confirm window (one wait for all confirms)."""
        messages = []
        traces = []
        began = time.time()
        for envelope in envelopes:
            self.validate(envelope)
            with self.tracing.publish_span(envelope, self.settings.exchange) as span:
                messages.append(self.outgoing(envelope, **span.headers))
            traces.append(span.trace_id)
        await self.transport.publish_many(self.settings.exchange, messages)
        self.observability.published_many(envelopes, traces, began)

    async def emit(self, type: str, payload: Mapping[str, Any], *,
                   key: str | None = None, source: str | None = None) -> Envelope:
        """Build and publish a new envelope."""
        envelope = Envelope(type=type, payload=payload, source=source or self.source, key=key)
        await self.publish(envelope)
        return envelope

    async def request(
        self, type: str, payload: Mapping[str, Any], *, timeout: float = 2.0,
        correlation_id: str = "",
    ) -> Envelope:
        """Publish a request and wait for its reply until the deadline.

        Request and reply are transient (:attr:`OutgoingMessage.transient`): neither is
        written to disk nor waits for a publisher confirm; one lost costs the deadline."""
        envelope = Envelope(type=type, payload=payload, source=self.source,
                            correlation_id=correlation_id)
        checks = self.checks
        checks.validate(envelope)
        began = time.time()
        replies = self._replies
        future = replies.expect(envelope.id, timeout)
        try:
            with self.tracing.publish_span(envelope, self.settings.exchange) as span:
                message = self._message(
                    envelope, {**span.headers, DEADLINE_HEADER: f"{began + timeout:.3f}"},
                    reply_to=replies.queue, transient=True)
                await self.transport.publish(self.settings.exchange, message)
        except BaseException:
            replies.forget(envelope.id)
            raise
        self.observability.published(envelope, span.trace_id, began)
        request_id = envelope.id
        # What the wait does not need goes now rather than live as long as the backend
        # takes: fewer objects for every young garbage collection meanwhile to walk.
        del envelope, span, message
        try:  # ReplyWaiter.wait, inline: one coroutine less per request
            reply = await future
        finally:
            replies.forget(request_id)  # cancelled by the caller: no reply is awaited any more
        answer_of(request_id, reply)
        return checks.decode(reply.body, message_id=reply.message_id)

    # -- bookkeeping used by workers -------------------------------------------

    def note(self, message_id: str, status: str, queue: str, attempt: int, started: float,
             trace_id: str = "", detail: str = "") -> None:
        latency_ms = (time.perf_counter() - started) * 1000 if started else 0.0
        try:
            self.observability.consumed(message_id, status, queue, attempt, latency_ms,
                                        trace_id, detail)
        except Exception:  # bookkeeping must never undo a settled message
            log.exception("could not record %s of %s", status, message_id)

    def outbox_relay_poke(self) -> None:
        self._relay.poke()

    async def _store_dead_letter(self, delivery: Delivery) -> None:
        try:
            await asyncio.to_thread(self.dead_letters.record, delivery)
        except Exception:
            log.exception("could not store dead letter %s; left in the queue", delivery.message_id)
            await asyncio.sleep(1.0)
            await delivery.nack(requeue=True)
            return
        await delivery.ack()

    async def replay(self, record_id: int, *, by: str, body: bytes | None = None) -> None:
        """Replay a dead letter (through the outbox, so it happens once)."""
        record = await asyncio.to_thread(self.dead_letters.replay, record_id, by=by, body=body)
        self.note(record.message_id, "replayed", record.queue, record.attempts, 0.0,
                  detail=f"dead letter {record.id} replayed by {by}")
        self._relay.poke()

