"""Click-to-call and the call's result: the page's POSTs become canonical messages on the bus."""

from __future__ import annotations

from typing import Any

import pytest

from bus.router import Router
from tests.conftest import collector, eventually
from tests.window.conftest import WindowFactory

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)


def pbx_originate(accept: bool) -> tuple[Router, list[dict[str, Any]]]:
    """A PBX side of click-to-call: accepts (or refuses) and says the new call's id."""
    router = Router(source="test-pbx")
    asked: list[dict[str, Any]] = []

    @router.responder("pbx.originate.requested.v1", "pbx.originate.replied.v1")
    async def originate(payload: dict[str, Any]) -> dict[str, Any]:
        asked.append(payload)
        return {"status": "accepted" if accept else "failed",
                "reason": None if accept else "extension 2001 is offline",
                "call_id": "1764160000.9" if accept else None,
                "agent_extension": payload["agent_extension"], "number": payload["number"]}

    return router, asked


async def test_click_to_call_asks_the_pbx_and_returns_its_answer(
        start_window: WindowFactory) -> None:
    pbx, asked = pbx_originate(accept=True)
    window = await start_window(routers=(pbx,))

    response = await window.client.post("/v1/calls/originate", json={
        "agent": "2001", "number": "8 912 345-67-89", "customer_id": "crm-100245"})

    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    assert response.json()["call_id"] == "1764160000.9"
    [request] = asked
    assert request["agent_extension"] == "2001" and request["number"] == "+79123456789"
    assert request["requested_by"]["system"] == "window"
    assert request["crm_entity"] == {"type": "customer", "id": "crm-100245"}


async def test_click_to_call_refused_by_the_pbx_says_why(start_window: WindowFactory) -> None:
    pbx, _ = pbx_originate(accept=False)
    window = await start_window(routers=(pbx,))

    response = await window.client.post("/v1/calls/originate",
                                        json={"agent": "2001", "number": "+79123456789"})

    assert response.json()["status"] == "failed"
    assert "offline" in response.json()["reason"]


async def test_click_to_call_without_a_pbx_answer_fails_with_the_reason(
        start_window: WindowFactory) -> None:
    window = await start_window(originate_timeout=0.2)

    response = await window.client.post("/v1/calls/originate",
                                        json={"agent": "2001", "number": "+79123456789"})

    assert response.status_code == 200
    assert response.json()["status"] == "failed"
    assert response.json()["reason"] == "the PBX did not answer within 0.2 s"


async def test_call_result_is_published_for_the_crm(start_window: WindowFactory) -> None:
    listen, received = collector("crm.interaction.annotated.v1")
    window = await start_window(routers=(listen,))

    response = await window.client.post("/v1/calls/1764160000.9/result", json={
        "result": "appointment", "notes": "Перезвонить в пятницу", "agent": "2001"})

    assert response.status_code == 202, response.text
    await eventually(lambda: len(received) == 1, 5)
    [message] = received
    assert message.id == response.json()["message_id"]
    assert message.key == "1764160000.9"
    assert message.payload["call_id"] == "1764160000.9"
    assert message.payload["result"] == "appointment"
    assert message.payload["notes"] == "Перезвонить в пятницу"
    assert message.payload["agent_extension"] == "2001"


async def test_call_result_must_be_one_of_the_known_outcomes(
        start_window: WindowFactory) -> None:
    window = await start_window()

    response = await window.client.post("/v1/calls/1.2/result", json={"result": "maybe"})

    assert response.status_code == 422


async def test_a_body_the_bus_would_refuse_answers_422_in_the_documented_shape(
        start_window: WindowFactory) -> None:
    pbx, asked = pbx_originate(accept=True)
    listen, received = collector("crm.interaction.annotated.v1")
    window = await start_window(routers=(pbx, listen))

    bad_number = await window.client.post("/v1/calls/originate",
                                          json={"agent": "2001", "number": "call me"})
    bad_agent_id = await window.client.post("/v1/calls/1.2/result",
                                            json={"result": "sale", "agent_id": "-x y"})
    bad_notes = await window.client.post("/v1/calls/1.2/result",
                                         json={"result": "sale", "notes": "bell \u0007"})

    for response, where in ((bad_number, ["body", "number"]),
                            (bad_agent_id, ["body", "agent_id"]), (bad_notes, ["body"])):
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]  # a list, as the OpenAPI document says
        assert error["loc"] == where and error["msg"], error
    assert not asked and not received
