"""Hostile and broken input: a clear reason in the dead-letter store, nothing lost, no crash."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bus.app import Bus
from bus.envelope import Envelope, encode
from bus.errors import SchemaViolation
from bus.router import Router
from bus.schema import envelope_to_xml
from bus.transport import OutgoingMessage
from tests.delivery.conftest import BusFactory, eventually

pytestmark = pytest.mark.asyncio

ENDED = "pbx.call.ended.v1"

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE envelope [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<envelope xmlns="urn:telecom-esb:canonical:v1"><id>&secret;</id></envelope>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<envelope xmlns="urn:telecom-esb:canonical:v1">&lol3;</envelope>"""


def call_ended(**changes: Any) -> dict[str, Any]:
    payload = {
        "linkedid": "1710224107.1837", "direction": "inbound",
        "caller_number": "+79123456789", "called_number": "73912001122", "queue": "support",
        "ring_targets": ["2001", "2002"], "answered_by_extension": "2002",
        "started_at": "2024-03-12T06:15:07.000715Z", "answered_at": "2024-03-12T06:15:26.491611Z",
        "ended_at": "2024-03-12T06:17:01.499504Z", "ring_seconds": 8, "talk_seconds": 95,
        "disposition": "answered", "transferred_to": None, "hangup_cause": 16,
    }
    payload.update(changes)
    return payload


async def call_log_bus(make_bus: BusFactory, logged: list[Envelope]) -> Bus:
    router = Router()

    @router.subscriber("call-log", ENDED)
    async def log_call(envelope: Envelope) -> None:
        logged.append(envelope)

    return await make_bus(router, max_message_bytes=8 * 1024 * 1024)


async def inject(bus: Bus, body: bytes, message_id: str) -> None:
    """Bytes straight into the subscription's queue, as a broken producer would send them."""
    await bus.transport.send_to_queue(
        bus.queue_name(bus.subscriptions[0]),
        OutgoingMessage(body=body, routing_key=ENDED, message_id=message_id, type=ENDED),
    )


async def dead_letter_reason(bus: Bus, message_id: str) -> str:
    def stored() -> bool:
        return any(r.message_id == message_id for r in bus.dead_letters.list(limit=1000))

    await eventually(stored, timeout=20)
    [record] = [r for r in bus.dead_letters.list(limit=1000) if r.message_id == message_id]
    return record.reason


async def test_every_kind_of_bad_input_is_dead_lettered_with_its_reason_and_work_goes_on(
    make_bus: BusFactory,
) -> None:
    logged: list[Envelope] = []
    bus = await call_log_bus(make_bus, logged)
    violating = Envelope(type=ENDED, payload=call_ended(ring_seconds=-5), source="pbx")
    unknown = Envelope(type="pbx.call.teleported.v1", payload={}, source="pbx")
    huge = Envelope(type=ENDED, payload=call_ended(queue="q" * (20 * 1024 * 1024)), source="pbx")
    cases = {
        "not-json": (b"\x00\xffnot json at all", "MalformedMessage: body is not valid JSON"),
        "not-envelope": (b'{"hello": "world"}', "MalformedMessage: envelope field"),
        "xxe": (XXE, "UnsafeXml:"),
        "billion-laughs": (BILLION_LAUGHS, "UnsafeXml:"),
        "huge": (encode(huge), "MessageTooLarge:"),
        "violating": (encode(violating), "SchemaViolation: payload.ring_seconds"),
        "unknown-type": (encode(unknown), "UnknownMessageType:"),
    }
    for message_id, (body, _) in cases.items():
        await inject(bus, body, message_id)
    good = Envelope(type=ENDED, payload=call_ended(), source="pbx")
    await bus.publish(good)

    for message_id, (_body, expected) in cases.items():
        reason = await dead_letter_reason(bus, message_id)
        assert reason.startswith(expected), f"{message_id}: {reason}"
    await eventually(lambda: [e.id for e in logged] == [good.id])
    [huge_record] = [r for r in bus.dead_letters.list() if r.message_id == "huge"]
    assert huge_record.body == encode(huge), "the original is kept whole for replay"


async def test_an_xml_envelope_is_consumed_like_its_json_twin(make_bus: BusFactory) -> None:
    logged: list[Envelope] = []
    bus = await call_log_bus(make_bus, logged)
    original = Envelope(type=ENDED, payload=call_ended(), source="pbx")
    await inject(bus, envelope_to_xml(original.to_dict()), original.id)
    await eventually(lambda: len(logged) == 1)
    assert logged[0] == original


async def test_publishing_an_invalid_payload_is_refused_naming_the_field(
    make_bus: BusFactory,
) -> None:
    bus = await call_log_bus(make_bus, [])
    with pytest.raises(SchemaViolation) as refused:
        await bus.publish(Envelope(type=ENDED, payload=call_ended(caller_number=7), source="x"))
    assert refused.value.field == "payload.caller_number"
    assert bus.dead_letters.count() == 0


async def test_a_dead_letter_fixed_by_an_operator_is_replayed_and_processed(
    make_bus: BusFactory,
) -> None:
    logged: list[Envelope] = []
    bus = await call_log_bus(make_bus, logged)
    broken = Envelope(type=ENDED, payload=call_ended(disposition="teleported"), source="pbx")
    await inject(bus, encode(broken), broken.id)
    reason = await dead_letter_reason(bus, broken.id)
    assert reason.startswith("SchemaViolation: payload.disposition")
    [record] = bus.dead_letters.list()
    fixed = orjson.loads(record.body)
    fixed["payload"]["disposition"] = "answered"
    await bus.replay(record.id, by="operator", body=orjson.dumps(fixed))
    await eventually(lambda: len(logged) == 1)
    audited = bus.dead_letters.get(record.id)
    assert audited is not None and audited.edited
    assert audited.replayed_body == orjson.dumps(fixed), "the edit that was sent is kept"
    assert logged[0].id == broken.id
    assert logged[0].payload["disposition"] == "answered"
