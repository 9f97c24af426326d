"""A paused RabbitMQ consumer stays paused across a reconnect, then resumes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from bus.transport import Consumer, QueueSpec, transport_for
from bus.transport.amqp import AmqpTransport
from bus.transport.amqp.consumer import AmqpConsumer
from tests.conftest import eventually
from tests.services import require_rabbitmq
from tests.transport.test_transport_contract import Inbox, message
from tests.transport_pause.cut_proxy import CutProxy

pytestmark = [pytest.mark.asyncio, pytest.mark.rabbitmq]


@pytest.fixture
async def proxy() -> AsyncIterator[tuple[CutProxy, str]]:
    """A proxy in front of RabbitMQ, and the URL that reaches the broker through it."""
    direct = urlsplit(require_rabbitmq())
    cutter = CutProxy(direct.port or 5672)
    await cutter.start()
    netloc = direct.netloc.rsplit(":", 1)[0] if direct.port else direct.netloc
    yield cutter, urlunsplit(direct._replace(netloc=f"{netloc}:{cutter.port}"))
    await cutter.stop()


def connected(transport: AmqpTransport) -> bool:
    return bool(transport.describe()["connected"])


def resubscribed(consumer: Consumer) -> bool:
    """The consumer has its channel on the new connection (and, unless paused, consumes)."""
    assert isinstance(consumer, AmqpConsumer)
    return consumer.channel is not None and consumer.channel.is_open


async def test_a_paused_consumer_stays_paused_across_a_reconnect(
    proxy: tuple[CutProxy, str], unique: str
) -> None:
    cutter, url = proxy
    consuming = transport_for(url)
    publishing = transport_for(require_rabbitmq())
    assert isinstance(consuming, AmqpTransport)
    await consuming.connect()
    await publishing.connect()
    exchange, queue = f"{unique}.events", f"{unique}.q"
    try:
        await consuming.declare_exchange(exchange)
        await consuming.declare_queue(QueueSpec(queue, bindings=("#",)), exchange)
        inbox = Inbox()
        consumer = await consuming.consume(queue, inbox)
        await consumer.pause()

        cutter.cut()  # the transport reconnects through the proxy, a second connection
        await eventually(lambda: cutter.connections >= 2 and connected(consuming)
                         and resubscribed(consumer))
        for n in range(3):
            await publishing.publish(exchange, message(n))
        await asyncio.sleep(0.5)
        assert inbox.deliveries == []
        assert (await publishing.queue_stats(queue)).messages == 3

        await consumer.resume()
        await inbox.wait_for(3)
        await asyncio.sleep(0.3)
        assert [d.message_id for d in inbox.deliveries] == ["m-0", "m-1", "m-2"]
    finally:
        await publishing.delete_queue(queue)
        await publishing.close()
        await consuming.close()
