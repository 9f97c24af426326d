"""The canonical envelope: the one shape every message on the bus has.

An envelope is frozen. Deriving a reply or a follow-up event goes through
:meth:`Envelope.caused` so that correlation and causation ids are never lost.
On the wire the envelope is one JSON document (see ``schemas/json/envelope``);
broker message objects never leave the transport layer.
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from bus.errors import MalformedMessage, MessageTooLarge

__all__ = ["MESSAGE_TYPE_PATTERN", "Envelope", "Sent", "decode", "decode_sent", "encode",
           "new_message_id", "sent"]

MESSAGE_TYPE_PATTERN = re.compile(
    r"^(?P<domain>[a-z][a-z0-9_]*)\.(?P<entity>[a-z][a-z0-9_]*)"
    r"\.(?P<event>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)$"
)


_random = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy
os.register_at_fork(after_in_child=_random.seed)  # a forked worker must not repeat ids
_VERSION_7 = 0x7 << 76
_VARIANT = 0x2 << 62
_RANDOM_BITS = ((1 << 80) - 1) & ~(0xF << 76) & ~(0x3 << 62)


def new_message_id() -> str:
    """A time-ordered unique id (UUIDv7 layout, RFC 9562), sortable by creation time."""
    millis = time.time_ns() // 1_000_000
    rand = _random.getrandbits(80) & _RANDOM_BITS
    h = f"{(millis & 0xFFFF_FFFF_FFFF) << 80 | _VERSION_7 | _VARIANT | rand:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"  # str(uuid.UUID), cheaper


_VERSIONS: dict[str, int] = {}
"""Schema version of every type seen valid so far: one dict look-up instead of a regex."""
_VERSIONS_KEPT = 4096  # a flood of made-up types must not grow it without bound


def type_version(message_type: str) -> int | None:
    """The ``v<N>`` of a well-formed message type, else None."""
    version = _VERSIONS.get(message_type)
    if version is not None:
        return version
    match = MESSAGE_TYPE_PATTERN.match(message_type)
    if match is None:
        return None
    version = int(match["version"])
    if len(_VERSIONS) < _VERSIONS_KEPT:
        _VERSIONS[message_type] = version
    return version


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, init=False)
class Envelope:
    """A canonical message: metadata plus a payload that matches the type's schema.

    Its ``__init__`` is written out rather than generated: a frozen dataclass sets
    each field through ``object.__setattr__``, and a request-reply builds four
    envelopes (request and reply, each sent and received), five per unified view.
    """

    type: str
    payload: Mapping[str, Any]
    source: str
    id: str = field(default_factory=new_message_id)
    occurred_at: datetime = field(default_factory=_now)
    correlation_id: str = ""
    causation_id: str | None = None
    key: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def __init__(self, type: str, payload: Mapping[str, Any], source: str,
                 id: str | None = None, occurred_at: datetime | None = None,
                 correlation_id: str = "", causation_id: str | None = None,
                 key: str | None = None, headers: Mapping[str, str] | None = None) -> None:
        if id is None:
            id = new_message_id()
        if type not in _VERSIONS and type_version(type) is None:
            raise MalformedMessage(
                f"message type {type!r} is not <domain>.<entity>.<event>.v<N>", message_id=id)
        if occurred_at is None:
            occurred_at = datetime.now(UTC)
        elif occurred_at.tzinfo is None:
            raise MalformedMessage("occurred_at must carry a time zone", message_id=id)
        _set_type(self, type)
        _set_payload(self, payload)
        _set_source(self, source)
        _set_id(self, id)
        _set_occurred_at(self, occurred_at)
        _set_correlation_id(self, correlation_id or id)
        _set_causation_id(self, causation_id)
        _set_key(self, key)
        _set_headers(self, {} if headers is None else headers)

    @property
    def schema_version(self) -> int:
        version = type_version(self.type)
        assert version is not None  # checked in __post_init__
        return version

    @property
    def domain(self) -> str:
        return self.type.split(".", 1)[0]

    def caused(self, type: str, payload: Mapping[str, Any], source: str) -> Envelope:
        """A new message caused by this one: same correlation, causation = this id."""
        return Envelope(
            type=type,
            payload=payload,
            source=source,
            correlation_id=self.correlation_id,
            causation_id=self.id,
            key=self.key,
        )

    def with_headers(self, **headers: str) -> Envelope:
        return replace(self, headers={**self.headers, **headers})

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "occurred_at": self.occurred_at.isoformat(),
            "correlation_id": self.correlation_id,
            "causation_id": self.causation_id,
            "schema_version": self.schema_version,
            "key": self.key,
            "headers": dict(self.headers),
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        try:
            occurred_at = datetime.fromisoformat(data["occurred_at"])
            envelope = cls(
                id=str(data["id"]),
                type=str(data["type"]),
                source=str(data["source"]),
                occurred_at=occurred_at,
                correlation_id=str(data.get("correlation_id") or ""),
                causation_id=data.get("causation_id"),
                key=data.get("key"),
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                payload=data["payload"],
            )
        except KeyError as missing:
            raise MalformedMessage(
                f"envelope field {missing.args[0]!r} is missing", message_id=_id_of(data)
            ) from None
        except (TypeError, ValueError, AttributeError) as bad:
            raise MalformedMessage(
                f"envelope is malformed: {bad}", message_id=_id_of(data)
            ) from None
        if not isinstance(envelope.payload, Mapping):
            raise MalformedMessage("envelope payload must be an object", message_id=envelope.id)
        declared = data.get("schema_version")
        if declared is not None and declared != envelope.schema_version:
            raise MalformedMessage(
                f"schema_version {declared!r} disagrees with type {envelope.type}",
                message_id=envelope.id,
            )
        return envelope


# The slots' own setters: what a frozen dataclass's object.__setattr__ ends up calling.
_Setter = Callable[[Envelope, Any], None]
_SLOTS = vars(Envelope)
_set_type: _Setter = _SLOTS["type"].__set__
_set_payload: _Setter = _SLOTS["payload"].__set__
_set_source: _Setter = _SLOTS["source"].__set__
_set_id: _Setter = _SLOTS["id"].__set__
_set_occurred_at: _Setter = _SLOTS["occurred_at"].__set__
_set_correlation_id: _Setter = _SLOTS["correlation_id"].__set__
_set_causation_id: _Setter = _SLOTS["causation_id"].__set__
_set_key: _Setter = _SLOTS["key"].__set__
_set_headers: _Setter = _SLOTS["headers"].__set__
_new_envelope = object.__new__


def _id_of(data: Any) -> str | None:
    value = data.get("id") if isinstance(data, Mapping) else None
    return str(value) if value is not None else None


def encode(envelope: Envelope) -> bytes:
    """The wire form: compact UTF-8 JSON (:meth:`Envelope.to_dict`, built inline).

    A time in UTC (every envelope the bus makes) is left to orjson, which writes what
    ``isoformat()`` does (``2026-11-26T10:00:00.123456+00:00``, no fraction when it is
    zero) at a quarter of its cost; any other zone goes through ``isoformat()``.
    """
    headers = envelope.headers
    occurred_at = envelope.occurred_at
    return orjson.dumps({
        "id": envelope.id,
        "type": envelope.type,
        "source": envelope.source,
        "occurred_at": occurred_at if occurred_at.tzinfo is UTC else occurred_at.isoformat(),
        "correlation_id": envelope.correlation_id,
        "causation_id": envelope.causation_id,
        "schema_version": envelope.schema_version,
        "key": envelope.key,
        "headers": headers if type(headers) is dict else dict(headers),
        "payload": envelope.payload,
    })


Sent = tuple[bytes, str, str, str, datetime, str, str | None, str | None]
"""What :func:`decode_sent` needs of an envelope besides its bytes: the body and the
fields that are immutable values (type, source, id, time, correlation, causation, key).
A tuple of atoms, which the cyclic garbage collector stops tracking."""


def sent(envelope: Envelope, body: bytes) -> Sent:
    """``envelope``'s immutable fields with ``body``, its :func:`encode`."""
    return (body, envelope.type, envelope.source, envelope.id, envelope.occurred_at,
            envelope.correlation_id, envelope.causation_id, envelope.key)


def decode_sent(known: Sent) -> Envelope:
    """:func:`decode` of bytes this process encoded from an envelope it has already checked.

    The payload and headers are parsed from the bytes again, so the consumer gets
    its own copies (nothing mutable is shared with the publisher, and they are what
    :func:`decode` would give: JSON's types). What :meth:`Envelope.from_dict` would
    rebuild from text — the time, the ids, the type's check — is taken from the
    envelope the bytes came from: immutable values, equal to what parsing gives.
    """
    body, type_, source, id_, occurred_at, correlation_id, causation_id, key = known
    data = orjson.loads(body)
    headers = data["headers"]
    if not all(type(value) is str for value in headers.values()):
        headers = {name: str(value) for name, value in headers.items()}
    if occurred_at.tzinfo is not UTC:  # parsing gives a fixed offset, not a named zone
        occurred_at = datetime.fromisoformat(data["occurred_at"])
    envelope: Envelope = _new_envelope(Envelope)
    _set_type(envelope, type_)
    _set_payload(envelope, data["payload"])
    _set_source(envelope, source)
    _set_id(envelope, id_)
    _set_occurred_at(envelope, occurred_at)
    _set_correlation_id(envelope, correlation_id)
    _set_causation_id(envelope, causation_id)
    _set_key(envelope, key)
    _set_headers(envelope, headers)
    return envelope


def decode(body: bytes, *, max_bytes: int | None = None) -> Envelope:
    """Parse the wire form; every failure is a :class:`MalformedMessage`."""
    if max_bytes is not None and len(body) > max_bytes:
        raise MessageTooLarge(f"message of {len(body)} bytes exceeds the limit of {max_bytes}")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as bad:
        raise MalformedMessage(f"body is not valid JSON: {bad}") from None
    if not isinstance(data, dict):
        raise MalformedMessage("body must be a JSON object (an envelope)")
    return Envelope.from_dict(data)
