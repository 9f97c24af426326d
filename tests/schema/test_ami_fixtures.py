"""The canonical call events of the AMI fixtures are exactly what the pbx.* schemas accept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bus.schema import SchemaRegistry, XmlCodec
from tests.schema.conftest import SHARED
from tests.schema.strategies import same

FIXTURES = sorted((SHARED / "fixtures" / "ami").glob("*.expected.json"))
RINGING = [
    "linkedid",
    "direction",
    "caller_number",
    "called_number",
    "queue",
    "ring_targets",
    "started_at",
]

pytestmark = pytest.mark.skipif(not FIXTURES, reason=f"no AMI fixtures under {SHARED}")


def expected(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = orjson.loads(path.read_bytes())
    return data


def calls() -> list[Any]:
    return [
        pytest.param(call, id=f"{p.name.split('.')[0]}-{call['linkedid']}")
        for p in FIXTURES
        for call in expected(p)["calls"]
    ]


def presence() -> list[Any]:
    return [
        pytest.param(
            {"extension": extension, **change}, id=f"{p.name.split('.')[0]}-{extension}-{i}"
        )
        for p in FIXTURES
        for extension, changes in expected(p)["presence"].items()
        for i, change in enumerate(changes)
    ]


def test_the_fixtures_are_there() -> None:
    assert len(FIXTURES) >= 10
    assert len(calls()) >= 10


@pytest.mark.parametrize("call", calls())
def test_every_expected_call_is_a_valid_call_ended_payload_as_is(
    registry: SchemaRegistry, codec: XmlCodec, call: dict[str, Any]
) -> None:
    registry.validate_reference("pbx.call.ended.v1", call)
    registry.validate("pbx.call.ended.v1", call)
    _, back = codec.from_xml(codec.to_xml("pbx.call.ended.v1", call))
    assert same(back, call)


@pytest.mark.parametrize("call", calls())
def test_the_ringing_and_answered_stages_of_every_call_are_valid(
    registry: SchemaRegistry, call: dict[str, Any]
) -> None:
    ringing = {k: call[k] for k in RINGING}
    registry.validate_reference("pbx.call.ringing.v1", ringing)
    if call["answered_at"] is not None:
        answered = {
            **ringing,
            **{k: call[k] for k in ("answered_by_extension", "answered_at", "ring_seconds")},
        }
        registry.validate_reference("pbx.call.answered.v1", answered)
    if call["transferred_to"] is not None:
        transferred = {
            **ringing,
            "answered_by_extension": call["answered_by_extension"],
            "answered_at": call["answered_at"],
            "transferred_to": call["transferred_to"],
            "transferred_at": call["ended_at"],
        }
        registry.validate_reference("pbx.call.transferred.v1", transferred)


@pytest.mark.parametrize("change", presence())
def test_every_expected_presence_change_is_a_valid_presence_payload(
    registry: SchemaRegistry, change: dict[str, Any]
) -> None:
    registry.validate_reference("pbx.agent.presence.v1", change)
    registry.validate("pbx.agent.presence.v1", change)
