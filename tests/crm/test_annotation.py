"""crm.interaction.annotated.v1: the agent's result and notes land on the call's log once."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import asyncio

import pytest

from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, ended_call, settings_for

ANNOTATED = "crm.interaction.annotated.v1"
NOTES = "Договорились о визите монтажника в пятницу."


def annotation(call_id: str, result: str = "appointment") -> Envelope:
    return Envelope(type=ANNOTATED, source="window", payload={
        "call_id": call_id, "result": result, "notes": NOTES, "agent_extension": "2002",
        "agent_id": "M-2", "annotated_at": "2024-03-12T06:20:00Z"})


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_result_and_notes_are_written_to_the_calls_interaction_once(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector("crm.interaction.logged.v1")
    bus, _adapter = await crm_on(settings_for(simulator), observer)
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.7"), source="pbx")
    await eventually(lambda: len(logged) == 1)
    note = annotation("1710224107.7")

    await bus.publish(note)
    await bus.publish(note)  # redelivered: written once
    await eventually(lambda: len(simulator.data.annotations) == 1)
    await asyncio.sleep(0.3)

    assert len(simulator.data.annotations) == 1
    stored = simulator.data.interactions["call-1710224107.7"]
    assert (stored["result"], stored["notes"], stored["agent_extension"]) == (
        "appointment", NOTES, "2002")
    assert list(simulator.data.interactions) == ["call-1710224107.7"]  # no new record
    card = await bus.request("crm.card.requested.v1", {"customer_id": "C-1001"})
    [shown] = card.payload["card"]["interactions"]
    assert (shown["notes"], shown["attributes"]["agent_result"]) == (NOTES, "appointment")


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_notes_that_come_before_the_call_log_are_retried_until_it_is_there(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    bus, _adapter = await crm_on(settings_for(simulator), max_attempts=10)

    await bus.publish(annotation("1710224107.8", result="sale"))
    await eventually(lambda: len(simulator.data.annotations) >= 1)  # 404: not logged yet
    await bus.emit("pbx.call.ended.v1", ended_call("1710224107.8"), source="pbx")
    await eventually(lambda: simulator.data.interactions.get(
        "call-1710224107.8", {}).get("result") == "sale")

    assert simulator.data.interactions["call-1710224107.8"]["notes"] == NOTES
    assert bus.dead_letters.count() == 0
