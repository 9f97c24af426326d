"""Pure mapping between our CRM's JSON and the canonical Customer / Interaction."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

from adapters.crm import mapping
from adapters.crm.simdata import CrmData
from bus.schema import validate_payload
from tests.crm.conftest import ended_call


def validate(message_type: str, payload: object) -> None:
    validate_payload(message_type, payload)


def test_a_crm_person_becomes_a_canonical_customer_with_e164_phones_and_manager() -> None:
    data = CrmData.seed()
    crm = data.view(data.customers["C-1001"])

    customer = mapping.customer(crm)

    assert customer["person"] == {"last_name": "Иванова", "first_name": "Мария",
                                  "middle_name": "Сергеевна"}
    assert customer["manager_id"] == "M-1"
    assert customer["segment"] == "consumer"
    assert customer["inn"] == "246512345678"
    assert customer["contacts"][0] == {"phone": "+79123456789", "label": "mobile",
                                       "raw": "8 (912) 345-67-89", "primary": True}
    validate("crm.customer.replied.v1", {"customers": [customer]})


def test_a_crm_company_becomes_a_canonical_company_and_round_trips() -> None:
    data = CrmData.seed()
    customer = mapping.customer(data.view(data.customers["C-1002"]))

    assert customer["company"]["legal_name"] == "ООО «Ромашка»"
    assert customer["contacts"][0]["phone"] == "+73912001122"
    assert mapping.customer(mapping.crm_customer(customer)) == customer


def test_an_answered_call_becomes_an_interaction_with_participants_and_no_notes() -> None:
    found = {"id": "C-1001", "manager_id": "M-1"}

    logged = mapping.call_interaction(ended_call(), found)

    assert logged["id"] == "call-1710224107.1837"
    assert (logged["customer_id"], logged["manager_id"]) == ("C-1001", "M-1")
    assert logged["result"] == "completed"
    assert logged["notes"] is None
    assert logged["occurred_at"] == "2024-03-12T06:15:07.000715Z"
    assert logged["duration_seconds"] == 95
    assert logged["attributes"]["answered_by_extension"] == "2002"
    assert logged["attributes"]["ring_targets"] == "2001,2002"
    validate("crm.interaction.logged.v1", logged)
    crm = mapping.crm_interaction(logged)
    assert crm["participants"] == {"caller": "89123456789", "called": "73912001122",
                                   "queue": "support", "answered_by": "2002",
                                   "ring_targets": ["2001", "2002"]}
    assert (crm["result"], crm["notes"], crm["disposition"]) == (None, None, "answered")
    assert mapping.interaction({**crm, "result": "sale"})["attributes"]["agent_result"] == "sale"
    assert mapping.interaction(crm) == logged


def test_a_missed_call_from_an_unknown_number_has_no_customer() -> None:
    call = ended_call(caller="+74950000000", disposition="missed")

    logged = mapping.call_interaction(call, None)

    assert mapping.is_missed(call)
    assert (logged["customer_id"], logged["manager_id"], logged["result"]) == (
        None, None, "missed")
    validate("crm.interaction.logged.v1", logged)


def test_the_customer_number_of_a_call_is_normalised_to_e164() -> None:
    assert mapping.call_phone(ended_call(caller="8 (912) 345-67-89")) == "+79123456789"
    assert mapping.call_phone(ended_call(direction="outbound", caller="2001",
                                         called_number="89135550101")) == "+79135550101"
    assert mapping.call_phone(ended_call(caller=None)) is None
    assert mapping.call_phone(ended_call(direction="internal", caller="2001")) is None


def test_a_very_long_linkedid_still_gives_a_valid_interaction_id() -> None:
    assert len(mapping.interaction_id("9" * 200)) <= 128
    assert mapping.interaction_id("9" * 200) == mapping.interaction_id("9" * 200)


def test_a_customer_webhook_becomes_crm_customer_changed() -> None:
    data = CrmData.seed()
    event = {"event": "customer.created", "customer": data.view(data.customers["C-1003"]),
             "changed_fields": ["phones"]}

    payload = mapping.customer_changed(event)

    assert payload["change"] == "created"
    assert payload["customer"]["segment"] == "vip"
    validate("crm.customer.changed.v1", payload)


def test_a_callback_task_is_due_after_the_missed_call_for_the_responsible_manager() -> None:
    logged = mapping.call_interaction(ended_call(disposition="missed"),
                                      {"id": "C-1001", "manager_id": "M-1"})

    task = mapping.callback_task(logged, due_minutes=30)

    assert task["assignee_id"] == "M-1"
    assert task["customer_id"] == "C-1001"
    assert task["due_at"] == "2024-03-12T06:45:07.000715Z"
