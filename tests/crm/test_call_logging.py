"""pbx.call.ended.v1 -> the CRM's interaction history, exactly once per call."""

from __future__ import annotations

import asyncio

import pytest

from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from tests.conftest import collector, eventually
from tests.crm.conftest import AdapterFactory, ended_call, settings_for

ENDED = "pbx.call.ended.v1"
LOGGED = "crm.interaction.logged.v1"


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_call_ended_twice_and_once_more_as_a_new_message_is_logged_once(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer)
    call = Envelope(type=ENDED, source="pbx", payload=ended_call())

    await bus.publish(call)
    await bus.publish(call)  # a redelivery: the same envelope
    await eventually(lambda: len(logged) == 1)
    await bus.publish(Envelope(type=ENDED, source="pbx", payload=ended_call()))  # re-published
    await eventually(lambda: len(simulator.data.received) >= 2)
    await asyncio.sleep(0.3)

    assert list(simulator.data.interactions) == ["call-1710224107.1837"]
    stored = simulator.data.interactions["call-1710224107.1837"]
    assert (stored["customer_id"], stored["manager_id"], stored["duration"]) == (
        "C-1001", "M-1", 95)
    assert len(logged) == 1
    assert logged[0].payload["call_linkedid"] == "1710224107.1837"
    assert logged[0].correlation_id == call.correlation_id
    assert simulator.data.tasks == []  # answered: nobody needs to call back


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_missed_call_from_a_known_customer_makes_a_callback_task_for_their_manager(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer)

    for _ in range(2):  # published twice under new ids: still one task
        await bus.emit(ENDED, ended_call("1710230000.1", disposition="missed"), source="pbx")
    await eventually(lambda: len(simulator.data.received) == 2)
    await eventually(lambda: len(logged) == 1)

    [task] = simulator.data.tasks
    assert (task["assignee_id"], task["customer_id"]) == ("M-1", "C-1001")
    assert task["interaction_id"] == "call-1710230000.1"
    assert logged[0].payload["result"] == "missed"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize(("linkedid", "caller", "disposition", "customer_id"), [
    pytest.param("1710230000.2", "+74950000000", "abandoned", None, id="unknown-number"),
    pytest.param("1710230000.3", "89991112233", "missed", "C-1004", id="no-manager"),
])
async def test_a_missed_call_with_no_manager_to_call_back_is_logged_without_a_task(
    simulator: CrmSimulator, crm_on: AdapterFactory, linkedid: str, caller: str,
    disposition: str, customer_id: str | None,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer)

    await bus.emit(ENDED, ended_call(linkedid, caller=caller, disposition=disposition),
                   source="pbx")
    await eventually(lambda: len(logged) == 1)

    assert logged[0].payload["customer_id"] == customer_id
    assert simulator.data.interactions[f"call-{linkedid}"]["customer_id"] == customer_id
    assert simulator.data.tasks == []


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_crm_answering_503_is_retried_and_the_call_is_then_logged_once(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer, max_attempts=5)
    simulator.fail(503, times=3)

    await bus.emit(ENDED, ended_call("1710230000.4"), source="pbx")
    await eventually(lambda: len(logged) == 1)
    await asyncio.sleep(0.3)

    assert simulator.calls["GET /api/v1/customers"] >= 3  # the failed attempts got there
    assert len(simulator.data.received) == 1
    assert list(simulator.data.interactions) == ["call-1710230000.4"]
    assert len(logged) == 1


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_slow_crm_times_out_and_the_call_is_logged_on_a_retry(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator, timeout=0.3), observer,
                                 max_attempts=5)
    simulator.slow(1.0, times=1)

    await bus.emit(ENDED, ended_call("1710230000.5"), source="pbx")
    await eventually(lambda: len(logged) == 1)

    assert list(simulator.data.interactions) == ["call-1710230000.5"]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_call_log_the_crm_refuses_is_dead_lettered_at_once_with_the_reason(
    simulator: CrmSimulator, crm_on: AdapterFactory,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer, max_attempts=5)
    simulator.fail(422)

    await bus.emit(ENDED, ended_call("1710230000.6"), source="pbx")
    await eventually(lambda: bus.dead_letters.count() == 1)

    [record] = bus.dead_letters.list()
    assert record.reason.startswith("ExternalSystemRejected: crm GET /customers: HTTP 422")
    assert record.attempts == 1
    assert simulator.data.interactions == {}
    assert logged == []


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize("producer", ["normalised by the PBX adapter", "an older producer"])
async def test_a_click_to_call_is_logged_for_the_dialled_customer(
    simulator: CrmSimulator, crm_on: AdapterFactory, producer: str,
) -> None:
    observer, logged = collector(LOGGED)
    bus, _adapter = await crm_on(settings_for(simulator), observer)
    call = ended_call("1710242430.4120", caller="2003", direction="outbound", queue=None,
                      called_number="89123456789", ring_targets=["2003"])
    if producer == "normalised by the PBX adapter":
        call["customer_e164"] = "+79123456789"

    await bus.emit(ENDED, call, source="pbx")
    await eventually(lambda: len(logged) == 1)

    stored = simulator.data.interactions["call-1710242430.4120"]
    assert (stored["customer_id"], stored["manager_id"]) == ("C-1001", "M-1")
    assert logged[0].payload["direction"] == "outbound"
