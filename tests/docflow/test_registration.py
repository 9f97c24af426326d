"""docflow.registration.requested.v1: a signed document is created once, faults are retried."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from adapters.docflow.simdata import make_pdf
from adapters.docflow.simulator import DocflowSimulator
from tests.conftest import collector, eventually
from tests.docflow.conftest import AdapterFactory, settings_for

COMMAND = "docflow.registration.requested.v1"
REGISTERED = "docflow.document.registered.v1"
PDF = make_pdf("signed contract D-2026/77")


def command(external_id: str = "sign-2026-77", **overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "external_id": external_id, "kind": "contract", "number": "Д-2026/77",
        "date": "2026-11-25", "status": "signed", "title": "Договор на подключение",
        "account_number": "100245", "customer_id": "C-1001", "inn": "246512345678",
        "counterparty_name": "Иванова Мария Сергеевна", "file_name": "contract-77.pdf",
        "media_type": "application/pdf", "content_base64": base64.b64encode(PDF).decode()}
    payload.update(overrides)
    return payload


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_command_sent_twice_registers_one_document_announced_once(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    observer, registered = collector(REGISTERED)
    bus, adapter = await docflow_on(settings_for(simulator, feed=True, poll_interval=5.0),
                                    observer)
    await eventually(lambda: adapter.feed.last_poll is not None)  # the snapshot is done

    await bus.emit(COMMAND, command(), source="window")
    await bus.emit(COMMAND, command(), source="window")  # resent: a new envelope
    await eventually(lambda: len(registered) == 1)
    # the second command asked for its external id too, and found the first's document
    await eventually(lambda: sum("esb:externalId" in q for q in simulator.queries) == 2)
    assert await adapter.feed.poll() == 0

    [object_id] = simulator.data.created
    assert simulator.data.documents[object_id].content == PDF
    [event] = registered
    assert event.payload["external_id"] == "sign-2026-77"
    assert event.payload["document"]["id"] == object_id
    assert event.payload["document"]["number"] == "Д-2026/77"
    assert event.payload["document"]["counterparty"]["customer_id"] == "C-1001"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
@pytest.mark.parametrize("fault", ["slow", "5xx", "drop"])
async def test_a_slow_failing_or_dropping_repository_is_retried_and_registers_once(
    simulator: DocflowSimulator, docflow_on: AdapterFactory, fault: str,
) -> None:
    bus, _adapter = await docflow_on(settings_for(simulator, timeout=0.3), max_attempts=5)
    if fault == "slow":
        simulator.slow(1.0, times=1, operation="query")
    elif fault == "5xx":
        simulator.fail(503, times=2, operation="createDocument")
    else:
        simulator.drop(times=2)

    await bus.emit(COMMAND, command(f"sign-{fault}"), source="window")
    await eventually(lambda: len(simulator.data.created) == 1)

    stored = simulator.data.properties(simulator.data.created[0])
    assert stored is not None and stored["esb:externalId"] == f"sign-{fault}"
    assert bus.dead_letters.count() == 0
    assert sum(simulator.calls.values()) >= 4  # repository, query, create, and a retry


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_document_the_repository_refuses_is_dead_lettered_at_once_with_the_reason(
    simulator: DocflowSimulator, docflow_on: AdapterFactory,
) -> None:
    bus, _adapter = await docflow_on(settings_for(simulator), max_attempts=5)
    simulator.fail(403, operation="createDocument")

    await bus.emit(COMMAND, command("sign-refused"), source="window")
    await eventually(lambda: bus.dead_letters.count() == 1)

    [record] = bus.dead_letters.list()
    assert record.reason.startswith(
        "ExternalSystemRejected: cmis createDocument: HTTP 403 invalidArgument")
    assert record.attempts == 1
    assert simulator.data.created == []
