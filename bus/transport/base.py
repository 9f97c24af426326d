"""The transport seam: what every broker backend provides to the bus.

Vocabulary (AMQP's, since RabbitMQ is the production path):

* one **topic exchange** for events; a message is published with its type as
  the routing key;
* one **queue per subscription**, bound to the exchange by type patterns
  (``*`` is one word, ``#`` zero or more), with a dead-letter queue
  ``<queue>.dlq`` and delayed-retry tiers (:class:`QueueSpec`);
* a consumer gets :class:`Delivery` objects and must settle each one: ``ack``,
  ``nack`` (requeue or dead-letter), ``retry`` after a delay, or
  ``dead_letter`` with a reason.

Broker objects never leave a transport: the bus sees bytes, headers and the
settle methods. Each transport lists its recoverable errors in
``connection_errors`` so that retry code never names a backend.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ATTEMPT_HEADER",
    "DEATH_HEADERS",
    "Consumer",
    "Delivery",
    "DeliveryCallback",
    "OutgoingMessage",
    "QueueSpec",
    "QueueStats",
    "Transport",
    "dead_letter_queue",
]

ATTEMPT_HEADER = "x-esb-attempt"
"""How many times the message was handed to a consumer through ``retry``."""

DEATH_HEADERS = {
    "reason": "x-esb-dead-letter-reason",
    "error": "x-esb-dead-letter-error",
    "queue": "x-esb-dead-letter-queue",
    "at": "x-esb-dead-lettered-at",
}
"""Headers set on a message when it is dead-lettered."""


def dead_letter_queue(queue: str) -> str:
    return f"{queue}.dlq"


@dataclass(frozen=True, slots=True, init=False)
class OutgoingMessage:
    """What a transport sends: opaque body plus the metadata brokers route on.

    Its ``__init__`` is written out (as :class:`~bus.envelope.Envelope`'s is): a
    frozen dataclass's sets each of the nine fields through ``object.__setattr__``,
    and a request-reply sends two of these.
    """

    body: bytes
    routing_key: str
    message_id: str
    headers: Mapping[str, Any] = field(default_factory=dict)
    content_type: str = "application/json"
    correlation_id: str | None = None
    reply_to: str | None = None
    type: str | None = None
    transient: bool = False
    """A request or a reply, worth nothing after its deadline: a broker may keep it in
    memory only and the send need not wait for its confirm (a lost one costs the
    deadline, which the caller has anyway). Events are never transient."""

    def __init__(self, body: bytes, routing_key: str, message_id: str,
                 headers: Mapping[str, Any] | None = None,
                 content_type: str = "application/json", correlation_id: str | None = None,
                 reply_to: str | None = None, type: str | None = None,
                 transient: bool = False) -> None:
        _set_body(self, body)
        _set_routing_key(self, routing_key)
        _set_message_id(self, message_id)
        _set_headers(self, {} if headers is None else headers)
        _set_content_type(self, content_type)
        _set_correlation_id(self, correlation_id)
        _set_reply_to(self, reply_to)
        _set_type(self, type)
        _set_transient(self, transient)


# The slots' own setters: what a frozen dataclass's object.__setattr__ ends up calling.
_Setter = Callable[[OutgoingMessage, Any], None]
_SLOTS = vars(OutgoingMessage)
_set_body: _Setter = _SLOTS["body"].__set__
_set_routing_key: _Setter = _SLOTS["routing_key"].__set__
_set_message_id: _Setter = _SLOTS["message_id"].__set__
_set_headers: _Setter = _SLOTS["headers"].__set__
_set_content_type: _Setter = _SLOTS["content_type"].__set__
_set_correlation_id: _Setter = _SLOTS["correlation_id"].__set__
_set_reply_to: _Setter = _SLOTS["reply_to"].__set__
_set_type: _Setter = _SLOTS["type"].__set__
_set_transient: _Setter = _SLOTS["transient"].__set__


@dataclass(frozen=True, slots=True)
class QueueSpec:
    """A durable subscription queue, its bindings, its DLQ and its retry tiers."""

    name: str
    bindings: Sequence[str] = ()
    retry_delays: Sequence[float] = ()
    dead_letter: bool = True
    quorum: bool = False
    single_active_consumer: bool = False
    """One consumer at a time gets the messages, the others stand by (ordered queues)."""
    exclusive: bool = False
    """An exclusive queue lives as long as its connection (reply queues, per-instance
    subscriptions): the transport deletes it on close, the broker when the process dies."""


@dataclass(frozen=True, slots=True)
class QueueStats:
    name: str
    messages: int
    consumers: int


class Delivery(abc.ABC):
    """One message handed to a consumer. Settle it exactly once."""

    __slots__ = ("body", "correlation_id", "headers", "message_id", "queue", "redelivered",
                 "reply_to", "routing_key", "settled", "type")

    def __init__(
        self,
        *,
        body: bytes,
        queue: str,
        routing_key: str,
        message_id: str,
        headers: Mapping[str, Any],
        redelivered: bool,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        type: str | None = None,
    ) -> None:
        self.body = body
        self.queue = queue
        self.routing_key = routing_key
        self.message_id = message_id
        self.headers = headers
        self.redelivered = redelivered
        self.correlation_id = correlation_id
        self.reply_to = reply_to
        self.type = type
        self.settled = False

    @property
    def attempt(self) -> int:
        """1 on the first delivery; each ``retry`` adds one."""
        return int(self.headers.get(ATTEMPT_HEADER, 1))

    def as_outgoing(self, **headers: Any) -> OutgoingMessage:
        """This message again, for re-sending, with extra headers."""
        return OutgoingMessage(
            body=self.body,
            routing_key=self.routing_key,
            message_id=self.message_id,
            headers={**self.headers, **headers},
            correlation_id=self.correlation_id,
            reply_to=self.reply_to,
            type=self.type,
        )

    def _settle(self) -> None:
        if self.settled:
            raise RuntimeError(f"delivery {self.message_id} settled twice")
        self.settled = True

    @abc.abstractmethod
    async def ack(self) -> None:
        """Done: the broker forgets the message."""

    @abc.abstractmethod
    async def nack(self, *, requeue: bool = True) -> None:
        """Give it back (``requeue``) or send it to the dead-letter queue as rejected."""

    @abc.abstractmethod
    async def retry(self, delay: float) -> None:
        """Deliver again to this queue after ``delay`` seconds, attempt + 1."""

    @abc.abstractmethod
    async def dead_letter(self, reason: str, error: str = "") -> None:
        """Move to ``<queue>.dlq`` with the reason in the headers."""


DeliveryCallback = Callable[[Delivery], Awaitable[None]]


class Consumer(abc.ABC):
    """A running subscription to one queue."""

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Stop receiving; unsettled deliveries go back to the queue."""

    @abc.abstractmethod
    async def pause(self) -> None:
        """Stop receiving and keep the queue: new messages wait in it.

        The broker stops handing messages to this consumer (RabbitMQ
        ``basic.cancel``) and it stops counting as one of the queue's consumers;
        what it took but has not handed to the callback yet goes back to the
        queue. Deliveries already handed over stay settleable. Idempotent.
        """

    @abc.abstractmethod
    async def resume(self) -> None:
        """Receive again after :meth:`pause` (a reconnect meanwhile keeps it paused)."""


class Transport(abc.ABC):
    """A broker backend, chosen by the scheme of the broker URL."""

    schemes: ClassVar[tuple[str, ...]] = ()
    connection_errors: ClassVar[tuple[type[BaseException], ...]] = (ConnectionError, OSError)
    durable: ClassVar[bool] = False
    """Whether messages survive a restart of the process and the broker."""

    def __init__(self, url: str, *, confirm_window: int = 1000) -> None:
        self.url = url
        self.confirm_window = confirm_window

    @abc.abstractmethod
    async def connect(self) -> None: ...

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    async def declare_exchange(self, name: str) -> None:
        """A durable topic exchange."""

    @abc.abstractmethod
    async def declare_queue(self, spec: QueueSpec, exchange: str | None = None) -> None:
        """The queue, its DLQ and retry tiers; bindings on ``exchange``. Idempotent."""

    @abc.abstractmethod
    async def publish(self, exchange: str, message: OutgoingMessage) -> None:
        """Route by ``message.routing_key``; returns once the broker has it (confirm).

        Concurrent calls share the confirm window: gather many publishes to
        pipeline them instead of paying one round trip each.
        """

    async def publish_many(self, exchange: str, messages: Sequence[OutgoingMessage]) -> None:
        """Publish a batch, waiting for all confirms at the end."""
        for message in messages:
            await self.publish(exchange, message)

    @abc.abstractmethod
    async def send_to_queue(self, queue: str, message: OutgoingMessage, delay: float = 0) -> None:
        """Put a message straight into one queue (replies, replays), optionally delayed."""

    @abc.abstractmethod
    async def consume(
        self, queue: str, callback: DeliveryCallback, *, prefetch: int = 100,
        paused: bool = False,
    ) -> Consumer:
        """Call ``callback`` for each message; at most ``prefetch`` unsettled at once.

        ``paused``: the consumer starts paused (nothing delivered until ``resume``)."""

    @abc.abstractmethod
    async def queue_stats(self, queue: str) -> QueueStats: ...

    async def queue_stats_many(self, queues: Sequence[str]) -> dict[str, QueueStats | Exception]:
        """The stats of each queue, or why they are unavailable (one answer per name).

        Metrics and topology ask for every queue at once: a backend answers in
        as few broker round trips as it can; by default one ``queue_stats`` each.
        """
        answers: dict[str, QueueStats | Exception] = {}
        for queue in queues:
            try:
                answers[queue] = await self.queue_stats(queue)
            except Exception as error:
                answers[queue] = error
        return answers

    @abc.abstractmethod
    async def purge(self, queue: str) -> int:
        """Drop every ready message; returns how many."""

    @abc.abstractmethod
    async def delete_queue(self, queue: str) -> None:
        """Remove the queue with its DLQ and retry tiers."""

    async def healthy(self) -> bool:
        """The broker answers right now."""
        return True

    def describe(self) -> dict[str, Any]:
        """What ``esb topology`` shows about this transport."""
        return {"transport": type(self).__name__, "durable": self.durable}
