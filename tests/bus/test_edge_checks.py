"""A payload is checked once per in-process hop: the consumer trusts exactly the bytes
object its own validator passed on publish, and checks everything else."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bus.checks import EdgeChecks, default_validator
from bus.envelope import Envelope
from bus.errors import SchemaViolation
from bus.settings import DeliverySettings

REQUEST = "billing.accounts.requested.v1"


class CountingValidator:
    """The real registry's check, counted."""

    def __init__(self) -> None:
        self.checked = 0
        self._validate = default_validator()

    def __call__(self, message_type: str, payload: Mapping[str, Any]) -> None:
        self.checked += 1
        self._validate(message_type, payload)


def _request(**payload: Any) -> Envelope:
    return Envelope(type=REQUEST, payload=payload or {"phone": "+79123456789"}, source="test")


def test_bytes_encoded_after_the_publish_check_are_not_checked_again() -> None:
    validator = CountingValidator()
    publisher, consumer = (EdgeChecks(DeliverySettings(), validator) for _ in range(2))
    envelope = _request()

    publisher.validate(envelope)
    body = publisher.encode(envelope)
    received = consumer.decode(body)

    assert received.id == envelope.id and received.payload == envelope.payload
    assert validator.checked == 1


def test_the_same_bytes_from_elsewhere_are_checked() -> None:
    validator = CountingValidator()
    checks = EdgeChecks(DeliverySettings(), validator)
    envelope = _request()
    checks.validate(envelope)
    body = checks.encode(envelope)

    checks.decode(bytes(bytearray(body)))  # equal bytes, another object: a broker's copy

    assert validator.checked == 2


def test_an_envelope_published_unchecked_is_refused_where_it_is_consumed() -> None:
    validator = CountingValidator()
    publisher = EdgeChecks(DeliverySettings(validate_on_publish=False), validator)
    consumer = EdgeChecks(DeliverySettings(), validator)
    invalid = _request(phone=12345)

    publisher.validate(invalid)
    body = publisher.encode(invalid)

    with pytest.raises(SchemaViolation) as refused:
        consumer.decode(body)
    assert refused.value.message_id == invalid.id
    assert "phone" in str(refused.value)


def test_another_validator_does_not_trust_what_this_one_passed() -> None:
    first, second = CountingValidator(), CountingValidator()
    publisher = EdgeChecks(DeliverySettings(), first)
    consumer = EdgeChecks(DeliverySettings(), second)
    envelope = _request()
    publisher.validate(envelope)

    consumer.decode(publisher.encode(envelope))

    assert (first.checked, second.checked) == (1, 1)


def test_an_envelope_checked_but_not_encoded_leaves_nothing_trusted() -> None:
    validator = CountingValidator()
    checks = EdgeChecks(DeliverySettings(), validator)
    checked, unchecked = _request(), _request()
    checks.validate(checked)

    checks.decode(checks.encode(unchecked))

    assert validator.checked == 2


def test_a_large_body_is_not_held_and_is_checked_again() -> None:
    validator = CountingValidator()
    checks = EdgeChecks(DeliverySettings(), validator)
    annotated = Envelope(type="crm.interaction.annotated.v1", source="test", payload={
        "call_id": "call-1", "result": "sale", "notes": "x" * 17_000, "agent_extension": None,
        "agent_id": None, "annotated_at": "2026-11-26T10:00:00+00:00"})
    checks.validate(annotated)

    body = checks.encode(annotated)
    checks.decode(body)

    assert len(body) > 16 * 1024
    assert validator.checked == 2
