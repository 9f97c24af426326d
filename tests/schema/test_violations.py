"""A schema violation names the field, says what is wrong, and does not repeat the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bus.envelope import Envelope
from bus.errors import MalformedMessage, MessageTooLarge, SchemaViolation, UnknownMessageType
from bus.schema import SchemaRegistry, XmlCodec, validate_envelope, validate_file
from tests.schema.conftest import SCHEMAS

CALL = orjson.loads((SCHEMAS / "examples" / "pbx.call.ended.v1.json").read_bytes())["payload"]
CUSTOMER = orjson.loads((SCHEMAS / "examples" / "crm.customer.changed.v1.json").read_bytes())


def violation(registry: SchemaRegistry, message_type: str, payload: Any) -> SchemaViolation:
    with pytest.raises(SchemaViolation) as caught:
        registry.validate(message_type, payload)
    return caught.value


def customer(**changes: Any) -> dict[str, Any]:
    payload = orjson.loads(orjson.dumps(CUSTOMER["payload"]))
    payload["customer"].update(changes)
    return dict(payload)


@pytest.mark.parametrize(
    ("message_type", "payload", "field", "reason"),
    [
        (
            "pbx.call.ended.v1",
            {**CALL, "caller_number": "+7 (912) 345"},
            "payload.caller_number",
            "does not match the pattern",
        ),
        (
            "pbx.call.ended.v1",
            {**CALL, "ring_targets": ["2001", "x"]},
            "payload.ring_targets[1]",
            "pattern",
        ),
        (
            "pbx.call.ended.v1",
            {k: v for k, v in CALL.items() if k != "disposition"},
            "payload.disposition",
            "is required",
        ),
        ("pbx.call.ended.v1", {**CALL, "agent": "2001"}, "payload.agent", "unexpected property"),
        (
            "pbx.call.ended.v1",
            {**CALL, "disposition": "lost"},
            "payload.disposition",
            "must be one of: answered, missed, abandoned, busy, failed",
        ),
        (
            "pbx.call.ended.v1",
            {**CALL, "talk_seconds": "95"},
            "payload.talk_seconds",
            "must be integer, not string",
        ),
        (
            "pbx.call.ended.v1",
            {**CALL, "talk_seconds": 95.0},
            "payload.talk_seconds",
            "must be integer, not number",
        ),
        ("pbx.call.ended.v1", {**CALL, "hangup_cause": 300}, "payload.hangup_cause", "at most 127"),
        (
            "crm.customer.changed.v1",
            customer(person={"last_name": "Иванова", "passport": {"number": "34 56 78"}}),
            "payload.customer.person.passport.number",
            "pattern",
        ),
        (
            "crm.customer.changed.v1",
            customer(contacts=[{"phone": "+79123456789"}, {"phone": "8912"}]),
            "payload.customer.contacts[1].phone",
            "pattern",
        ),
        (
            "crm.customer.changed.v1",
            customer(company={"legal_name": "ООО"}),  # noqa: RUF001
            "payload.customer",
            "exactly one of: person, company",
        ),
        (
            "crm.interaction.logged.v1",
            {
                "id": "i",
                "channel": "call",
                "occurred_at": "2024-03-12T06:15:07Z",
                "attributes": {"queue": "x" * 20001},
            },
            "payload.attributes.queue",
            "at most 20000",
        ),
        ("crm.customer.requested.v1", {}, "payload", "exactly one of: customer_id, phone, inn"),
        ("test.thing.happened.v1", {"n": 1}, "payload.n", "must be string"),
        ("test.thing.happened.v1", {"bell": "\x07"}, "payload.bell", "pattern"),
        ("pbx.call.ended.v1", [], "payload", "must be object, not array"),
    ],
)
def test_violation_names_the_field_and_the_rule(
    registry: SchemaRegistry, message_type: str, payload: Any, field: str, reason: str
) -> None:
    error = violation(registry, message_type, payload)
    assert error.field == field
    assert reason in str(error)
    assert str(error).startswith(f"{field}: ")  # as a dead-letter reason shows it


def test_reason_does_not_repeat_personal_data(registry: SchemaRegistry) -> None:
    payload = customer(person={"last_name": "Иванова", "passport": {"number": "SECRET 4512"}})
    error = violation(registry, "crm.customer.changed.v1", payload)
    assert "SECRET" not in str(error) and "SECRET" not in error.reason


def test_envelope_fields_are_named_without_prefix(registry: SchemaRegistry) -> None:
    envelope = Envelope(type="pbx.call.ended.v1", payload=CALL, source="pbx").to_dict()
    with pytest.raises(SchemaViolation) as caught:
        validate_envelope({**envelope, "occurred_at": "yesterday"})
    assert caught.value.field == "occurred_at"
    with pytest.raises(SchemaViolation) as caught:
        validate_envelope({**envelope, "schema_version": 2})
    assert caught.value.field == "schema_version"
    with pytest.raises(SchemaViolation) as caught:
        validate_envelope({**envelope, "payload": {**CALL, "linkedid": None}})
    assert caught.value.field == "payload.linkedid"
    assert caught.value.message_id == envelope["id"]
    with pytest.raises(UnknownMessageType):
        validate_envelope({**envelope, "type": "pbx.call.vanished.v1"})


def test_xsd_violation_names_the_field_too(codec: XmlCodec) -> None:
    envelope = Envelope(type="pbx.call.ended.v1", payload=CALL, source="pbx").to_dict()
    xml = codec.envelope_to_xml(envelope).replace(
        b"<caller_number>+79123456789<", b"<caller_number>+7 912 PRIVATE<"
    )
    with pytest.raises(SchemaViolation) as caught:
        codec.envelope_from_xml(xml)
    assert caught.value.field == "payload.caller_number"
    assert "PRIVATE" not in str(caught.value)
    items = codec.to_xml("pbx.call.ended.v1", CALL).replace(b"<item>2002<", b"<item>x<")
    with pytest.raises(SchemaViolation) as caught:
        codec.from_xml(items)
    assert caught.value.field == "payload.ring_targets[1]"


def test_payload_element_must_match_the_envelope_type(codec: XmlCodec) -> None:
    envelope = Envelope(type="pbx.call.ended.v1", payload=CALL, source="pbx").to_dict()
    xml = codec.envelope_to_xml(envelope).replace(
        b"<type>pbx.call.ended.v1<", b"<type>pbx.call.answered.v1<"
    )
    with pytest.raises(SchemaViolation, match="does not match type") as caught:
        codec.envelope_from_xml(xml)
    assert caught.value.field == "payload"


def test_validate_file_accepts_json_and_xml_envelopes_and_xml_payloads(
    tmp_path: Path, codec: XmlCodec
) -> None:
    envelope = orjson.loads((SCHEMAS / "examples" / "pbx.call.ended.v1.json").read_bytes())
    (tmp_path / "m.json").write_bytes(orjson.dumps(envelope))
    (tmp_path / "m.xml").write_bytes(codec.envelope_to_xml(envelope, pretty=True))
    (tmp_path / "payload.txt").write_bytes(codec.to_xml("pbx.call.ended.v1", CALL))
    for name in ("m.json", "m.xml", "payload.txt"):
        assert validate_file(tmp_path / name) == "pbx.call.ended.v1"


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"hello", MalformedMessage, "neither a JSON envelope"),
        (b'{"id": ', MalformedMessage, "not valid JSON"),
        (b"<Envelope", MalformedMessage, "not well-formed"),
        (b'{"id": "1"}', SchemaViolation, "is required"),
    ],
)
def test_validate_file_explains_what_is_wrong(
    tmp_path: Path, content: bytes, error: type[Exception], message: str
) -> None:
    path = tmp_path / "bad.msg"
    path.write_bytes(content)
    with pytest.raises(error, match=message):
        validate_file(path)


def test_validate_file_refuses_missing_and_oversize_files(tmp_path: Path) -> None:
    with pytest.raises(MalformedMessage, match="cannot read"):
        validate_file(tmp_path / "absent.json")
    path = tmp_path / "big.json"
    path.write_bytes(b"{" + b" " * 2000 + b"}")
    with pytest.raises(MessageTooLarge):
        validate_file(path, max_bytes=1000)
