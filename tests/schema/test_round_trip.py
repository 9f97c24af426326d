"""JSON -> XML -> JSON gives back the same value, with the same types, for every message type."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bus.envelope import Envelope
from bus.errors import MalformedMessage, SchemaViolation
from bus.schema import SchemaRegistry, XmlCodec, parse_xml
from tests.schema.conftest import MESSAGE_TYPES
from tests.schema.strategies import JSON_VALUES, XML_TEXT, for_shape, for_slot, same

FAST = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("message_type", MESSAGE_TYPES)
@FAST
@given(data=st.data())
def test_valid_payload_passes_json_schema_and_xsd_and_survives_json_to_xml_to_json(
    registry: SchemaRegistry, codec: XmlCodec, message_type: str, data: st.DataObject
) -> None:
    payload = data.draw(for_slot(registry.shape(message_type)))
    registry.validate_reference(message_type, payload)  # the draw is valid JSON (jsonschema)
    xml = codec.to_xml(message_type, payload, pretty=data.draw(st.booleans()))
    codec.xsd.validate(parse_xml(xml))  # and its XML is valid against the XSD
    back_type, back = codec.from_xml(xml)
    assert back_type == message_type
    assert same(back, payload), (payload, back)
    sort = orjson.OPT_SORT_KEYS
    assert orjson.dumps(back, option=sort) == orjson.dumps(payload, option=sort)


def envelopes(registry: SchemaRegistry) -> st.SearchStrategy[dict[str, Any]]:
    fields = for_shape(registry.envelope_shape())

    def with_payload(args: tuple[dict[str, Any], str, st.DataObject]) -> dict[str, Any]:
        envelope, message_type, data = args
        envelope = {**envelope, "type": message_type}
        envelope["payload"] = data.draw(for_slot(registry.shape(message_type)))
        envelope.pop("schema_version", None)
        return envelope

    return st.tuples(fields, st.sampled_from(MESSAGE_TYPES), st.data()).map(with_payload)


@FAST
@given(data=st.data())
def test_envelope_survives_json_to_xml_to_json(
    registry: SchemaRegistry, codec: XmlCodec, data: st.DataObject
) -> None:
    envelope = data.draw(envelopes(registry))
    xml = codec.envelope_to_xml(envelope)
    codec.xsd.validate(parse_xml(xml))
    assert same(codec.envelope_from_xml(xml), envelope)


@FAST
@given(
    extra=st.dictionaries(XML_TEXT.filter(lambda k: k != "n"), JSON_VALUES, max_size=4),
    n=st.none() | XML_TEXT,
)
def test_free_form_json_keeps_types_empty_containers_and_awkward_text(
    codec: XmlCodec, extra: dict[str, Any], n: str | None
) -> None:
    payload = {**extra, **({"n": n} if n is not None else {})}
    _, back = codec.from_xml(codec.to_xml("test.thing.happened.v1", payload))
    assert same(back, payload)


@pytest.mark.parametrize(
    "value",
    [
        0,
        -0.0,
        1.0,
        1,
        2**63 - 1,
        -(2**63),
        1e16,
        5e-324,
        1.7976931348623157e308,
        0.1 + 0.2,
        True,
        False,
        None,
        "",
        " padded ",
        "line\r\nbreak\r",
        "]]>&<",
        [],
        [[]],
        {},
        {"": ""},
        [None],
        [1, "1", 1.0, True],
        {"a": {"b": {"c": []}}},
    ],
)
def test_edge_values_keep_their_json_type(codec: XmlCodec, value: Any) -> None:
    payload = {"n": "x", "v": value}
    _, back = codec.from_xml(codec.to_xml("test.thing.happened.v1", payload))
    assert same(back, payload)


def test_arrays_of_zero_one_and_many_items_and_absent_fields_are_kept(codec: XmlCodec) -> None:
    base = {
        "linkedid": "1.1",
        "direction": "inbound",
        "caller_number": None,
        "called_number": "73912001122",
        "started_at": "2024-03-12T06:15:07Z",
    }
    for targets in ([], ["2001"], ["2001", "2002", "2003"]):
        payload = {**base, "ring_targets": targets}
        _, back = codec.from_xml(codec.to_xml("pbx.call.ringing.v1", payload))
        assert same(back, payload)
        assert "queue" not in back


def test_envelope_object_round_trips_through_xml(codec: XmlCodec) -> None:
    envelope = Envelope(
        type="test.thing.happened.v1", payload={"n": "1"}, source="test", key="customer-1"
    ).with_headers(traceparent="00-abc-def-01")
    back = Envelope.from_dict(codec.envelope_from_xml(codec.envelope_to_xml(envelope)))
    assert back == envelope


def test_invalid_payload_is_not_written_as_xml(codec: XmlCodec) -> None:
    with pytest.raises(SchemaViolation) as caught:
        codec.to_xml(
            "pbx.agent.presence.v1",
            {"extension": "2001", "at": "now", "source": "device", "state": "idle"},
        )
    assert caught.value.field == "payload.at"


def test_numbers_json_cannot_carry_are_refused(codec: XmlCodec) -> None:
    with pytest.raises(MalformedMessage, match="not a JSON number"):
        codec.to_xml("test.thing.happened.v1", {"x": float("nan")})


def test_pretty_xml_reads_back_the_same(codec: XmlCodec, registry: SchemaRegistry) -> None:
    for message_type in MESSAGE_TYPES:
        info = registry.describe(message_type)
        assert info.example is not None
        envelope = orjson.loads(info.example.read_bytes())
        pretty = codec.envelope_to_xml(envelope, pretty=True)
        assert same(codec.envelope_from_xml(pretty), envelope)
        assert same(codec.envelope_from_xml(codec.envelope_to_xml(envelope)), envelope)
