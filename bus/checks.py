"""What the bus checks at its edges: the schema of what it sends and receives, the wire form.

A payload is checked where it enters the bus (publish, ``validate_on_publish``)
and again where it leaves (consume, ``validate_on_consume``), so that nothing a
producer elsewhere got wrong reaches a handler. On the embedded broker
(``memory://``) both edges are in one process, and what a consumer receives is
the very ``bytes`` object a publisher encoded from an envelope it had just
checked: checking it again proves nothing new, and a unified view did it ten
times (five requests, five replies; a few percent of its CPU).

So :meth:`EdgeChecks.encode` remembers, by identity, the bodies encoded from
envelopes :meth:`EdgeChecks.validate` passed (a couple of thousand, of up to 16 KiB
each, held so an identity cannot be reused), and :meth:`EdgeChecks.decode` skips
the schema check for exactly those objects when its validator is the one that
checked them. Bytes
that came through a broker, a database (the outbox) or an edit (a dead letter
replayed) are new objects: always checked.

For those same bytes the decode takes the envelope's immutable fields (ids, type,
time) from the envelope they were encoded from instead of rebuilding them from text
(:func:`bus.envelope.decode_sent`); the payload is still parsed from the bytes, so
the consumer's copy is its own and the publisher's dictionaries are never shared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bus.envelope import Envelope, Sent, decode, decode_sent, encode, sent
from bus.errors import EsbError
from bus.settings import DeliverySettings

__all__ = ["EdgeChecks", "Validator", "default_validator"]

Validator = Callable[[str, Mapping[str, Any]], None]

_BODIES_KEPT = 2048
"""Checked bodies remembered per validator, more than the requests and replies in flight
(forgotten all at once when full)."""
_BODY_KEPT_UP_TO = 16 * 1024
"""Larger bodies are checked again rather than held: at most ~32 MB held per validator."""
_ENVELOPES_KEPT = 256
"""Envelopes checked and not encoded yet (an outbox write encodes none of them)."""

_CHECKED: dict[Validator, dict[int, Sent]] = {}
"""Per validator: id(body) -> the body and its envelope's fields, for the bodies encoded
from envelopes it passed.
Shared by the buses of a process: on memory:// the publisher is often another bus."""


def default_validator() -> Validator:
    from bus.schema import default_registry

    return default_registry().validate


class EdgeChecks:
    def __init__(self, delivery: DeliverySettings, validator: Validator) -> None:
        self.delivery = delivery
        self.validator = validator
        self._passed: dict[int, Envelope] = {}
        """id -> envelope, checked and about to be encoded (held: ids stay unique)."""
        self._bodies = _CHECKED.setdefault(validator, {})

    def validate(self, envelope: Envelope) -> None:
        """The publish-side check (unless ``validate_on_publish`` is off)."""
        if self.delivery.validate_on_publish:
            self.check(envelope)
            if len(self._passed) >= _ENVELOPES_KEPT:
                self._passed.clear()  # one call: safe with handlers publishing from threads
            self._passed[id(envelope)] = envelope

    def check(self, envelope: Envelope) -> None:
        """The schema check of the payload; the error names the message."""
        try:
            self.validator(envelope.type, envelope.payload)
        except EsbError as error:
            error.message_id = envelope.id
            raise

    def encode(self, envelope: Envelope) -> bytes:
        """The wire form; remembered as checked if :meth:`validate` passed this envelope."""
        body = encode(envelope)
        if self._passed.pop(id(envelope), None) is envelope and len(body) <= _BODY_KEPT_UP_TO:
            bodies = self._bodies
            if len(bodies) >= _BODIES_KEPT:
                bodies.clear()  # those in flight are checked again: once per thousands
            bodies[id(body)] = sent(envelope, body)
        return body

    def decode(self, body: bytes, *, message_id: str | None = None) -> Envelope:
        """Bytes from the broker to a checked envelope (consume side)."""
        limit = self.delivery.max_message_bytes
        known = self._bodies.get(id(body))
        if known is not None and known[0] is body and len(body) <= limit:
            return decode_sent(known)  # checked when it was sent, by this validator
        try:
            if body[:64].lstrip().startswith(b"<"):
                envelope = _decode_xml(body, limit)
            else:
                envelope = decode(body, max_bytes=limit)
        except EsbError as error:
            error.message_id = error.message_id or message_id
            raise
        if self.delivery.validate_on_consume:
            self.check(envelope)
        return envelope


def _decode_xml(body: bytes, max_bytes: int) -> Envelope:
    """An XML envelope (``schemas/xsd``), parsed safely: no DTD, entities or network."""
    from bus.schema import envelope_from_xml

    return Envelope.from_dict(envelope_from_xml(body, max_bytes=max_bytes))
