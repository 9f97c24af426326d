"""RabbitMQ transport (``amqp://``): see :mod:`bus.transport.amqp.transport`."""

from __future__ import annotations

from bus.transport.amqp.transport import AmqpTransport

__all__ = ["AmqpTransport"]
