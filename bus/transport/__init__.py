"""Transports, chosen by the scheme of the broker URL (kombu-style alias table).

==================  ==========================================  ==========
URL                 backend                                     durable
==================  ==========================================  ==========
``memory://``       in-process broker (the embedded default)    no
``sqla+sqlite:///`` embedded broker in a SQLite file            yes
``sqla+postgresql`` the same on PostgreSQL                      yes
``amqp://``         RabbitMQ through pika                       yes
==================  ==========================================  ==========
"""

from __future__ import annotations

import importlib
from urllib.parse import urlsplit

from bus.errors import ConfigurationError
from bus.transport.base import (
    ATTEMPT_HEADER,
    DEATH_HEADERS,
    Consumer,
    Delivery,
    DeliveryCallback,
    OutgoingMessage,
    QueueSpec,
    QueueStats,
    Transport,
    dead_letter_queue,
)

__all__ = [
    "ATTEMPT_HEADER",
    "DEATH_HEADERS",
    "TRANSPORT_ALIASES",
    "Consumer",
    "Delivery",
    "DeliveryCallback",
    "OutgoingMessage",
    "QueueSpec",
    "QueueStats",
    "Transport",
    "dead_letter_queue",
    "transport_for",
]

TRANSPORT_ALIASES: dict[str, str] = {
    "memory": "bus.transport.memory:MemoryTransport",
    "sqla+sqlite": "bus.transport.sql:SqlTransport",
    "sqla+postgresql": "bus.transport.sql:SqlTransport",
    "sqla+postgresql+psycopg": "bus.transport.sql:SqlTransport",
    "amqp": "bus.transport.amqp:AmqpTransport",
    "amqps": "bus.transport.amqp:AmqpTransport",
}


def transport_for(url: str, *, confirm_window: int = 1000) -> Transport:
    """A transport instance for ``url``; its module is imported only now."""
    scheme = urlsplit(url).scheme
    target = TRANSPORT_ALIASES.get(scheme)
    if target is None:
        known = ", ".join(f"{name}://" for name in sorted(TRANSPORT_ALIASES))
        raise ConfigurationError(f"unknown broker URL scheme {scheme!r}; known: {known}")
    module_name, class_name = target.split(":")
    transport_class: type[Transport] = getattr(importlib.import_module(module_name), class_name)
    return transport_class(url, confirm_window=confirm_window)
