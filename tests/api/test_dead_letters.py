"""Dead letters of a running ``esb demo`` over HTTP: listed with the reason, replayed once.

The demo call log dead-letters a call without a caller number (valid per the
schema, useless to the CRM). These tests publish such a call into the running
bus from this process, as the PBX adapter would, and work with what it leaves.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.esb_processes import EsbProcess, call_ended, eventually, publish


@pytest.fixture
def dead_call(demo_bus: EsbProcess, api: httpx.Client) -> dict[str, Any]:
    """The dead-letter record of a call without a caller number."""
    call = call_ended(caller_number=None)
    publish(demo_bus.deployment, call)

    def record() -> dict[str, Any] | None:
        dead = api.get("/v1/dlq", params={"queue": "esb.demo.call-log"}).json()["dead_letters"]
        return next((r for r in dead if r["message_id"] == call.id), None)

    dead = eventually(record)
    eventually(lambda: "dead_lettered" in hops(api, call.id))  # the journal writes in batches
    return dead


def edited(record: dict[str, Any], api: httpx.Client, **payload: Any) -> dict[str, Any]:
    """The dead message's envelope as an operator would edit it."""
    envelope: dict[str, Any] = orjson.loads(api.get(f"/v1/dlq/{record['id']}").json()["body"])
    envelope["payload"].update(payload)
    return envelope


CALL_LOG = "esb.demo.call-log"


def hops(api: httpx.Client, message_id: str) -> list[str]:
    """The message's path as the demo call log saw it (other subscribers process it too)."""
    events = api.get(f"/v1/messages/{message_id}").json()["events"]
    return [e["status"] for e in events if e.get("subscriber") in (None, CALL_LOG)]


def test_a_call_without_caller_number_is_listed_with_the_reason(
    api: httpx.Client, dead_call: dict[str, Any],
) -> None:
    assert dead_call["status"] == "dead"
    assert dead_call["type"] == "pbx.call.ended.v1"
    assert dead_call["reason"] == (
        "SchemaViolation: the CRM needs a caller number to log a call")
    assert dead_call["attempts"] == 1
    shown = api.get(f"/v1/dlq/{dead_call['id']}").json()
    assert orjson.loads(shown["body"])["payload"]["caller_number"] is None
    assert hops(api, dead_call["message_id"]) == ["published", "dead_lettered"]


def test_replay_with_an_edited_envelope_is_processed_once(
    api: httpx.Client, dead_call: dict[str, Any],
) -> None:
    fixed = edited(dead_call, api, caller_number="+79161234567")

    response = api.post(f"/v1/dlq/{dead_call['id']}/replay",
                        json={"by": "operator", "envelope": fixed})

    assert response.status_code == 202
    assert response.json() == {"replayed": dead_call["id"], "edited": True}
    eventually(lambda: "processed" in hops(api, dead_call["message_id"]))
    assert hops(api, dead_call["message_id"]) == [
        "published", "dead_lettered", "replayed", "processed"]
    record = api.get(f"/v1/dlq/{dead_call['id']}").json()
    assert (record["status"], record["replayed_by"], record["edited"]) == (
        "replayed", "admin", True)  # who signed in, not the body's "by"
    replayed = api.get("/v1/dlq", params={"status": "replayed"}).json()["dead_letters"]
    assert dead_call["id"] in [r["id"] for r in replayed]

    again = api.post(f"/v1/dlq/{dead_call['id']}/replay", json={"envelope": fixed})

    assert again.status_code == 409
    assert "already replayed" in again.json()["detail"]


def test_an_edit_that_breaks_the_schema_is_refused_and_nothing_is_replayed(
    api: httpx.Client, dead_call: dict[str, Any],
) -> None:
    broken = edited(dead_call, api, caller_number="+79161234567", talk_seconds="sixty")

    response = api.post(f"/v1/dlq/{dead_call['id']}/replay", json={"envelope": broken})

    assert response.status_code == 422
    assert "talk_seconds" in response.json()["detail"]
    assert api.get(f"/v1/dlq/{dead_call['id']}").json()["status"] == "dead"
    assert hops(api, dead_call["message_id"]) == ["published", "dead_lettered"]


def test_an_unknown_dead_letter_is_not_found_nor_replayable(api: httpx.Client) -> None:
    assert api.get("/v1/dlq/999999").status_code == 404

    response = api.post("/v1/dlq/999999/replay", json={})

    assert response.status_code == 404
    assert response.json() == {"detail": "no dead letter 999999"}
