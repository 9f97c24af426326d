"""Acks of one consumer channel, sent together with ``basic_ack(multiple=True)``.

Every ``ack`` of a delivery is still made after its processing (and, for the
idempotent consumer, after its record is committed); what changes is when the
frame leaves: acks made during one turn of the event loop are queued and sent
at the end of it, as one ``basic_ack(tag, multiple=True)`` covering them all.
A worker settles a whole prefetch window in one turn, so a window costs one
frame instead of one per message.

``multiple`` acks every unsettled delivery up to the tag, so it may only
cover tags that are all settled here. The batcher keeps the tags delivered
and not yet settled (at most the prefetch count). Queued acks below the
lowest of them go in one ``multiple`` frame; a queued ack above it (a lower
tag is still being processed, in another lane or waiting for its record) is
sent on its own. nack and reject are sent at once. If the channel closes before the
frame leaves, the broker requeues those messages: at-least-once, as always.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pika.exceptions import AMQPError

from bus.transport.amqp.connection import Channel

__all__ = ["AckBatcher"]

log = logging.getLogger("bus.transport.amqp")


class AckBatcher:
    """Queue acks of ``channel``'s deliveries; flush once per event-loop turn."""

    __slots__ = ("_acks", "_loop", "_scheduled", "_unsettled", "channel", "frames")

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self._loop = asyncio.get_running_loop()
        self._unsettled: set[int] = set()
        self._acks: list[int] = []
        self._scheduled = False
        self.frames = 0
        """basic_ack frames sent, for tests and benchmarks."""

    @property
    def pending(self) -> int:
        """Acks queued and not sent yet."""
        return len(self._acks)

    def delivered(self, tag: int) -> None:
        """The broker handed over ``tag``; it is unsettled until acked or nacked here."""
        self._unsettled.add(tag)

    def ack(self, tag: int) -> None:
        """Queue the ack of ``tag``; it leaves at the end of this event-loop turn."""
        self._unsettled.discard(tag)
        self._acks.append(tag)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)

    def now(self, tag: int, verb: str, **arguments: Any) -> None:
        """Settle ``tag`` with ``verb`` (``basic_nack``, ``basic_ack``...) right away."""
        self._unsettled.discard(tag)
        self._send(verb, tag, **arguments)

    def flush(self) -> None:
        """Send every queued ack: one ``multiple`` frame below the lowest unsettled tag,
        the ones above it alone."""
        self._scheduled = False
        acks, self._acks = self._acks, []
        if not acks:
            return
        lowest = min(self._unsettled, default=None)
        covered = acks if lowest is None else [tag for tag in acks if tag < lowest]
        if covered:
            self._send("basic_ack", max(covered), multiple=len(covered) > 1)
        if lowest is not None and len(covered) < len(acks):
            for tag in acks:
                if tag > lowest:
                    self._send("basic_ack", tag)

    def _send(self, verb: str, tag: int, **arguments: Any) -> None:
        """One frame on the channel; a closed channel has already requeued the message."""
        if not self.channel.is_open:
            log.debug("%s of delivery %d dropped: its channel is closed", verb, tag)
            return
        try:
            getattr(self.channel.raw, verb)(delivery_tag=tag, **arguments)
        except AMQPError as error:
            log.debug("%s of delivery %d dropped: %r", verb, tag, error)
            return
        if verb == "basic_ack":
            self.frames += 1
