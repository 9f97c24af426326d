"""On memory:// a consumer decodes the very bytes a publisher of its process encoded: the
decode takes the envelope's fields from the envelope it came from, and parses only what
could be shared — the payload and headers — again, so neither side can change the other's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from bus.checks import EdgeChecks, default_validator
from bus.envelope import Envelope, decode, encode
from bus.errors import MessageTooLarge
from bus.settings import DeliverySettings

REPLY = "billing.accounts.replied.v1"


def _accounts() -> dict[str, Any]:
    return {"accounts": [{"number": "0000001", "status": "active", "customer_id": "b-1",
                          "balance": {"amount": "10.00", "currency": "RUB"}, "services": []}]}


def _hop(envelope: Envelope) -> tuple[Envelope, bytes]:
    """Publish ``envelope`` and consume it in the same process: what the consumer gets."""
    validator = default_validator()
    publisher, consumer = (EdgeChecks(DeliverySettings(), validator) for _ in range(2))
    publisher.validate(envelope)
    body = publisher.encode(envelope)
    return consumer.decode(body), body


def test_a_consumer_changing_its_payload_leaves_the_publishers_untouched() -> None:
    sent = Envelope(type=REPLY, payload=_accounts(), source="billing", headers={"h": "v"})

    received, _ = _hop(sent)
    received.payload["accounts"][0]["status"] = "blocked"
    received.payload["accounts"].append({})
    received.headers["h"] = "changed"  # type: ignore[index]

    assert sent.payload == _accounts()
    assert sent.headers == {"h": "v"}


def test_a_publisher_changing_its_payload_after_sending_leaves_the_consumers_untouched() -> None:
    payload = _accounts()
    sent = Envelope(type=REPLY, payload=payload, source="billing")

    received, _ = _hop(sent)
    payload["accounts"][0]["status"] = "blocked"
    payload["accounts"].clear()

    assert received.payload == _accounts()


def test_the_consumer_gets_what_decoding_the_bytes_from_a_broker_gives() -> None:
    sent = Envelope(type=REPLY, payload=_accounts(), source="billing", key="k",
                    causation_id="cause", correlation_id="conversation",
                    headers={"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"})

    received, body = _hop(sent)
    from_a_broker = decode(bytes(bytearray(body)))  # another object: parsed from text

    assert received == from_a_broker == sent
    assert received.to_dict() == from_a_broker.to_dict()
    assert type(received.payload) is dict and received.payload is not sent.payload
    assert received.headers is not sent.headers


def test_header_values_that_are_not_text_arrive_as_text_as_through_a_broker() -> None:
    sent = Envelope(type=REPLY, payload=_accounts(), source="billing",
                    headers={"count": 3, "flag": True})  # type: ignore[dict-item]

    received, body = _hop(sent)

    assert received.headers == decode(bytes(bytearray(body))).headers == {
        "count": "3", "flag": "True"}


def test_a_time_in_a_named_zone_arrives_as_its_fixed_offset_as_through_a_broker() -> None:
    moscow = datetime(2026, 11, 26, 12, 0, tzinfo=ZoneInfo("Europe/Moscow"))
    for moment in (moscow, datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5))),
                   datetime(2026, 1, 1, tzinfo=UTC)):
        sent = Envelope(type=REPLY, payload=_accounts(), source="billing", occurred_at=moment)

        received, body = _hop(sent)

        parsed = decode(bytes(bytearray(body))).occurred_at
        assert received.occurred_at == parsed == moment
        assert received.occurred_at.utcoffset() == parsed.utcoffset()
        assert received.occurred_at.tzinfo == parsed.tzinfo


def test_bytes_over_the_size_limit_are_refused_even_when_this_process_encoded_them() -> None:
    validator = default_validator()
    publisher = EdgeChecks(DeliverySettings(), validator)
    consumer = EdgeChecks(DeliverySettings(max_message_bytes=1024), validator)
    many = {"accounts": _accounts()["accounts"] * 20}
    sent = Envelope(type=REPLY, payload=many, source="billing")
    publisher.validate(sent)
    body = publisher.encode(sent)

    with pytest.raises(MessageTooLarge):
        consumer.decode(body)
    assert len(body) > 1024 and body == encode(sent)


def test_the_wire_form_writes_the_time_as_isoformat_does() -> None:
    for moment in (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
                   datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC),
                   datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
                   datetime(2026, 6, 1, 12, tzinfo=ZoneInfo("Europe/Moscow"))):
        sent = Envelope(type=REPLY, payload=_accounts(), source="billing", occurred_at=moment)

        assert orjson.loads(encode(sent))["occurred_at"] == moment.isoformat() == \
            sent.to_dict()["occurred_at"]
