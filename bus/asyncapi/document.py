"""An AsyncAPI 2.6 document of the bus, generated from what is registered.

Channels are the message types: the routing keys on the bus's topic exchange. For
every discovered adapter (``esb.adapters`` entry points) the generator reads its
:class:`~bus.router.Router` (subscribers and responders: the types their patterns
match, their queues, the replies they send) and its manifest (``consumes`` /
``publishes``); the payload schemas come from the canonical schema registry.

AsyncAPI 2 speaks from the application's side, the application being the bus with its
adapters: ``subscribe`` = the bus publishes this type (an outside client may subscribe);
``publish`` = the bus consumes it (an outside client may publish it). Who does which,
with the queue of each subscription, is under ``x-esb-publishers`` / ``x-esb-consumers``.
Each message is the whole envelope whose ``payload`` is the type's schema.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bus.asyncapi.schemas import COMPONENTS, ComponentSchemas, pascal

if TYPE_CHECKING:
    from bus.adapters.registry import LoadedAdapter
    from bus.schema.registry import SchemaRegistry

__all__ = ["ASYNCAPI_VERSION", "Usage", "asyncapi_document", "matching", "usage_of"]

ASYNCAPI_VERSION = "2.6.0"
AMQP_BINDING_VERSION = "0.3.0"


def matching(pattern: str, types: Iterable[str]) -> list[str]:
    """The types a topic pattern binds (``*`` one word, ``#`` zero or more words)."""
    words = []
    for word in pattern.split("."):
        words.append({"*": r"[^.]+", "#": r".*"}.get(word, re.escape(word)))
    regex = re.compile("^" + r"\.".join(words).replace(r".*\.", r"(?:.*\.)?") + "$")
    return [t for t in types if regex.match(t)]


@dataclass
class Usage:
    """Who publishes and who consumes each type, and what adapters declare unknown."""

    publishers: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    consumers: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: defaultdict(list))
    unknown: set[str] = field(default_factory=set)
    adapters: list[dict[str, Any]] = field(default_factory=list)

    def types(self) -> list[str]:
        return sorted(set(self.publishers) | set(self.consumers))


def usage_of(adapters: Sequence[LoadedAdapter], known: Sequence[str], *,
             queue_prefix: str) -> Usage:
    usage = Usage()
    for loaded in adapters:
        cls = loaded.adapter_class
        if cls is None:
            usage.adapters.append({"name": loaded.name, "error": loaded.error})
            continue
        manifest = cls.manifest
        usage.adapters.append({"name": loaded.name, "version": manifest.version,
                               "description": manifest.description})
        handled: set[str] = set()
        for sub in cls.router.subscriptions:
            for pattern in sub.patterns:
                found = matching(pattern, known)
                if not found and "*" not in pattern and "#" not in pattern:
                    usage.unknown.add(pattern)
                for message_type in found:
                    handled.add(message_type)
                    usage.consumers[message_type].append({
                        "adapter": loaded.name, "subscription": sub.name,
                        "queue": f"{queue_prefix}.{sub.name}",
                        "handler": getattr(sub.handler, "__qualname__", repr(sub.handler)),
                        "description": sub.description, "replies_with": sub.reply_type})
            if sub.reply_type is not None:
                usage.publishers[sub.reply_type].add(loaded.name)
        for message_type in manifest.consumes:
            if message_type not in handled:
                usage.consumers[message_type].append({"adapter": loaded.name,
                                                      "declared": True})
        for message_type in manifest.publishes:
            usage.publishers[message_type].add(loaded.name)
    usage.unknown |= {t for t in usage.types() if t not in set(known)}
    return usage


def asyncapi_document(adapters: Sequence[LoadedAdapter], registry: SchemaRegistry, *,
                      exchange: str = "esb.events", queue_prefix: str = "esb",
                      title: str = "Telecom ESB", version: str = "0.0.0",
                      servers: dict[str, Any] | None = None) -> dict[str, Any]:
    """The AsyncAPI document (a JSON-ready dict) of ``adapters`` on ``registry``'s schemas."""
    from bus.schema.registry import BASE_URI

    components = ComponentSchemas(registry.documents(), BASE_URI)
    usage = usage_of(adapters, registry.known_types(), queue_prefix=queue_prefix)
    binding = {"amqp": {"is": "routingKey", "bindingVersion": AMQP_BINDING_VERSION,
                        "exchange": {"name": exchange, "type": "topic", "durable": True,
                                     "autoDelete": False, "vhost": "/"}}}
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    envelope = COMPONENTS + components.name_of(BASE_URI + "envelope.json")
    for message_type in usage.types():
        if message_type in usage.unknown:
            continue
        info = registry.describe(message_type)
        name = pascal(message_type)
        schema = COMPONENTS + components.name_of(
            BASE_URI + info.json_schema.relative_to(registry.root / "json").as_posix())
        messages[name] = _message(message_type, info.description, envelope, schema,
                                  info.example)
        reference = {"$ref": f"#/components/messages/{name}"}
        channel: dict[str, Any] = {"description": info.description, "bindings": binding}
        if message_type in usage.publishers:
            who = sorted(usage.publishers[message_type])
            channel["subscribe"] = {
                "operationId": f"{message_type}.published", "message": reference,
                "summary": "Published by " + ", ".join(who),
                "tags": [{"name": adapter} for adapter in who], "x-esb-publishers": who}
        if message_type in usage.consumers:
            takers = usage.consumers[message_type]
            channel["publish"] = {
                "operationId": f"{message_type}.consumed", "message": reference,
                "summary": "Consumed by " + ", ".join(
                    sorted({str(t["adapter"]) for t in takers})),
                "tags": [{"name": a} for a in sorted({str(t["adapter"]) for t in takers})],
                "x-esb-consumers": takers}
        channels[message_type] = channel
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {"title": title, "version": version,
                 "description": "Canonical messages on the bus's topic exchange "
                                f"{exchange!r}: each channel is a message type (routing key)."},
        "defaultContentType": "application/json",
        "channels": channels,
        "components": {"messages": messages, "schemas": components.all()},
        "tags": [{"name": a["name"], "description": a.get("description") or a.get("error")
                  or ""} for a in usage.adapters],
        "x-esb-adapters": usage.adapters,
        "x-esb-unknown-types": sorted(usage.unknown),
    }
    if servers:
        document["servers"] = servers
    return document


def _message(message_type: str, description: str, envelope: str, schema: str,
             example: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "name": message_type, "title": message_type, "summary": description,
        "contentType": "application/json",
        "correlationId": {"description": "the request's or the causing message's id",
                          "location": "$message.payload#/correlation_id"},
        "payload": {"allOf": [{"$ref": envelope}, {
            "type": "object", "required": ["type", "payload"],
            "properties": {"type": {"const": message_type}, "payload": {"$ref": schema}}}]},
    }
    if example is not None and example.is_file():
        message["examples"] = [{"name": "example", "payload": json.loads(
            example.read_text(encoding="utf-8"))}]
    return message
