"""The message journal of a running ``esb demo``: every call event and the path it took."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.esb_processes import eventually

CALL_LOG = "esb.demo.call-log"


def processed_call(api: httpx.Client) -> dict[str, Any] | None:
    """The newest pbx.call.ended.v1 from the PBX adapter (on the demo's AMI simulator)
    that the demo's call log has processed, if any yet."""
    messages = api.get("/v1/messages", params={"type_prefix": "pbx.call.", "limit": 100}).json()
    message: dict[str, Any]
    for message in messages["messages"]:
        if message["source"] == "pbx" and any(
                event["status"] == "processed" and event["subscriber"] == CALL_LOG
                for event in message["events"]):
            return message
    return None


@pytest.fixture
def call(api: httpx.Client) -> dict[str, Any]:
    return eventually(lambda: processed_call(api))


def test_demo_calls_are_journaled_with_published_and_processed_hops(
    api: httpx.Client, call: dict[str, Any],
) -> None:
    messages = api.get("/v1/messages", params={"type_prefix": "pbx.call."}).json()["messages"]

    assert {"pbx.call.ringing.v1", "pbx.call.answered.v1"} <= {m["type"] for m in messages}
    assert all(m["type"].startswith("pbx.call.") for m in messages)
    assert all(any(e["status"] == "published" and e["trace_id"] for e in m["events"])
               for m in messages)
    assert call["type"] == "pbx.call.ended.v1"
    published, *handled = call["events"]
    assert published["status"] == "published"
    [processed] = [e for e in handled if e["subscriber"] == CALL_LOG]
    assert processed["status"] == "processed"
    assert processed["latency_ms"] >= 0
    assert len(published["trace_id"]) == 32
    assert {e["trace_id"] for e in handled} == {published["trace_id"]}


def test_one_message_shows_the_path_it_took(api: httpx.Client, call: dict[str, Any]) -> None:
    response = api.get(f"/v1/messages/{call['id']}")

    assert response.status_code == 200
    message = response.json()
    assert message["id"] == call["id"]
    assert message["payload"]["caller_number"] == call["payload"]["caller_number"]
    published, *handled = [event["status"] for event in message["events"]]
    assert published == "published"
    assert set(handled) == {"processed"}  # the call log, the CRM, the call store, the window


def test_a_call_is_found_by_the_callers_phone_as_a_person_would_type_it(
    api: httpx.Client, call: dict[str, Any],
) -> None:
    caller = call["payload"]["caller_number"]  # +7NNNNNNNNNN: the demo callers are E.164
    typed = f"8 ({caller[2:5]}) {caller[5:8]}-{caller[8:10]}-{caller[10:]}"

    for key in (caller, typed):
        found = api.get("/v1/messages", params={"key": key}).json()["messages"]
        assert call["id"] in [m["id"] for m in found], key
        assert all(["phone", caller] in m["keys"] for m in found)


def test_an_unknown_message_is_not_found(api: httpx.Client) -> None:
    response = api.get("/v1/messages/no-such-message")

    assert response.status_code == 404
    assert "no-such-message" in response.json()["detail"]
