"""Golden records written back with insupdAccount: once, retried when the billing is slow,
dead-lettered with the fault when the billing refuses."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.billing.simulator import BillingSimulator
from bus.envelope import Envelope
from tests.billing.conftest import AdapterFactory, settings_for
from tests.conftest import eventually

pytestmark = pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)


def golden(source_id: str = "10001", **customer: Any) -> Envelope:
    return Envelope(type="sync.customer.updated.v1", source="sync", payload={
        "golden_id": "g-000001",
        "customer": {
            "id": "g-000001", "inn": "246512345670",
            "person": {"last_name": "Иванова", "first_name": "Мария",
                       "middle_name": "Петровна", "birth_date": "1984-05-17"},
            "contacts": [{"phone": "+79123456789", "label": "mobile"},
                         {"email": "maria.ivanova@mail.example"}],
            **customer,
        },
        "changed_fields": ["inn", "contacts"],
        "sources": [{"system": "crm", "id": "CRM-0000001"}, {"system": "billing", "id": source_id}],
    })


async def test_a_golden_record_reaches_the_billing_once_even_when_delivered_twice(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))
    update = golden()

    await bus.publish(update)
    await bus.publish(update)  # the broker delivers it again
    await bus.publish(golden())  # the same content, sent again as a new message
    await eventually(lambda: simulator.calls["getAccount"] >= 2 and len(simulator.writes) >= 1)

    holder = simulator.data.holders[10001]
    assert (holder["inn"], holder["email"]) == ("246512345670", "maria.ivanova@mail.example")
    assert holder["phone"] == "8 (912) 345-67-89"  # the same number, kept as it was written
    await eventually(lambda: simulator.calls["getAccount"] == 2, timeout=3)
    assert len(simulator.writes) == 1
    assert bus.dead_letters.count() == 0


async def test_a_golden_record_may_name_the_billing_record_by_its_account_number(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))

    await bus.publish(golden("LS-00000006"))

    await eventually(lambda: len(simulator.writes) == 1)
    assert simulator.writes[0]["val"]["account"]["uid"] == 10006
    assert simulator.data.holders[10006]["inn"] == "246512345670"


async def test_a_slow_billing_is_retried_and_the_write_then_delivered(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator, timeout=0.3))
    simulator.slow(1.5, "getAccount", times=2)

    await bus.publish(golden())

    await eventually(lambda: len(simulator.writes) == 1, timeout=15)
    assert simulator.calls["getAccount"] == 3  # two timed out, the third answered
    assert bus.dead_letters.count() == 0


async def test_a_soap_client_fault_is_dead_lettered_with_the_fault_text(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))
    simulator.fault("Client", "Invalid INN: checksum mismatch", "insupdAccount")

    await bus.publish(golden())

    await eventually(lambda: bus.dead_letters.count() == 1)
    [record] = bus.dead_letters.list()
    assert record.reason.startswith("ExternalSystemRejected: billing insupdAccount: SOAP fault")
    assert "Invalid INN: checksum mismatch" in record.reason
    assert record.attempts == 1
    assert simulator.writes == []
    assert simulator.calls["insupdAccount"] == 1


async def test_a_golden_record_for_a_holder_the_billing_does_not_have_is_dead_lettered(
    simulator: BillingSimulator, billing_on: AdapterFactory,
) -> None:
    bus, _adapter = await billing_on(settings_for(simulator))

    await bus.publish(golden("99999"))

    await eventually(lambda: bus.dead_letters.count() == 1)
    [record] = bus.dead_letters.list()
    assert "billing holder 99999 of golden record g-000001 does not exist" in record.reason
