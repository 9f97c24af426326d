"""The envelope's hand-written ``__init__`` keeps the dataclass's contract."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest

from bus.envelope import Envelope, decode, encode
from bus.errors import MalformedMessage

TYPE = "billing.accounts.requested.v1"


def test_defaults_are_filled_and_correlation_starts_at_the_id() -> None:
    envelope = Envelope(type=TYPE, payload={"phone": "+79123456789"}, source="test")

    assert envelope.id and envelope.correlation_id == envelope.id
    assert envelope.occurred_at.tzinfo is not None
    assert envelope.headers == {} and envelope.key is None and envelope.causation_id is None


def test_it_stays_frozen_and_replace_keeps_every_field() -> None:
    envelope = Envelope(type=TYPE, payload={}, source="test", key="k", correlation_id="c")

    with pytest.raises(dataclasses.FrozenInstanceError):
        envelope.key = "other"  # type: ignore[misc]
    traced = envelope.with_headers(traceparent="00-abc")

    assert traced.headers == {"traceparent": "00-abc"}
    assert (traced.id, traced.key, traced.correlation_id, traced.occurred_at) == (
        envelope.id, "k", "c", envelope.occurred_at)


def test_a_bad_type_or_a_naive_time_is_refused_naming_the_message() -> None:
    with pytest.raises(MalformedMessage) as bad_type:
        Envelope(type="not a type", payload={}, source="test", id="m-1")
    with pytest.raises(MalformedMessage) as naive:
        Envelope(type=TYPE, payload={}, source="test", id="m-2",
                 occurred_at=datetime(2026, 1, 1))  # naive on purpose

    assert bad_type.value.message_id == "m-1" and naive.value.message_id == "m-2"


def test_the_wire_form_round_trips() -> None:
    envelope = Envelope(type=TYPE, payload={"phone": "+79123456789"}, source="test",
                        occurred_at=datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=UTC),
                        causation_id="cause", key="k", headers={"h": "v"})

    assert decode(encode(envelope)) == envelope
