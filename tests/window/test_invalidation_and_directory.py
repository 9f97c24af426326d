"""Which events make which answers stale, and the screen-pop directory: pure, no bus."""

from __future__ import annotations

from window.directory import Directory
from window.identity import Identity
from window.invalidation import stale_by


def test_a_balance_change_names_its_account_in_billing() -> None:
    sections, tags = stale_by("billing.balance.changed.v1", {
        "account_number": "100245", "customer_id": "10245",
        "balance": {"amount": "1.00", "currency": "RUB"}, "reason": "payment",
        "changed_at": "2026-01-01T00:00:00Z"})

    assert sections == frozenset({"billing"})
    assert tags == {"account:100245", "billing:10245"}


def test_a_golden_record_change_drops_every_section_of_the_customer() -> None:
    sections, tags = stale_by("sync.customer.updated.v1", {
        "golden_id": "g-1", "changed_fields": ["inn"],
        "customer": {"id": "g-1", "inn": "246512345678", "person": {"last_name": "Иванова"},
                     "contacts": [{"phone": "+79123456789"}]},
        "sources": [{"system": "crm", "id": "crm-1"}, {"system": "billing", "id": "10245"}]})

    assert sections is None
    assert {"golden:g-1", "inn:246512345678", "phone:+79123456789", "crm:crm-1",
            "billing:10245"} <= tags


def test_an_ended_call_drops_the_callers_recent_calls_and_card() -> None:
    sections, tags = stale_by("pbx.call.ended.v1", {
        "linkedid": "1.1", "direction": "inbound", "caller_number": "89123456789",
        "called_number": "2001"})

    assert sections == frozenset({"calls", "crm"})
    assert "phone:+79123456789" in tags


def test_a_document_change_names_its_account_and_counterparty() -> None:
    sections, tags = stale_by("docflow.document.changed.v1", {"change": "created", "document": {
        "id": "doc-9", "kind": "act", "number": "A-1", "date": "2026-01-01",
        "account_number": "100245", "counterparty": {"name": "X", "inn": "246512345678"}}})

    assert sections == frozenset({"documents"})
    assert {"account:100245", "inn:246512345678", "document:doc-9"} <= tags


def test_an_unrelated_event_invalidates_nothing() -> None:
    assert stale_by("pbx.agent.presence.v1", {"extension": "2001"}) == (frozenset(), set())


def test_directory_card_of_a_known_caller_names_the_manager() -> None:
    directory = Directory()
    directory.remember_manager({"id": "mgr-17", "last_name": "Петров", "first_name": "Олег",
                                "extension": "2001"})
    directory.remember_customer({"id": "crm-1", "person": {"last_name": "Иванова"},
                                 "segment": "vip", "manager_id": "mgr-17",
                                 "contacts": [{"phone": "+79123456789"}]}, "crm")

    card = directory.card("+79123456789")

    assert card["known"] is True and card["name"] == "Иванова" and card["crm_id"] == "crm-1"
    assert card["manager"] == {"id": "mgr-17", "name": "Петров Олег", "extension": "2001"}
    assert directory.card("+79990000000")["title"] == "New caller"


def test_directory_keeps_two_customers_sharing_a_phone_apart() -> None:
    directory = Directory()
    directory.remember(Identity(golden_id="g-1", phones=["+79123456789"]), name="Мать")
    directory.remember(Identity(golden_id="g-2", phones=["+79123456789"]), name="Сын")

    assert len(directory) == 2
    first = directory.find({"golden:g-1"})
    assert first is not None and first.name == "Мать"


def test_directory_merges_what_different_systems_say_about_one_customer() -> None:
    directory = Directory()
    directory.remember(Identity(phones=["+79123456789"], records={"crm": "crm-1"}),
                       name="Иванова", segment="vip")
    directory.remember(Identity(golden_id="g-1", records={"crm": "crm-1"}, inn="246512345678"))

    known = directory.find({"inn:246512345678"})
    assert len(directory) == 1 and known is not None
    assert known.name == "Иванова" and known.identity.golden_id == "g-1"
    directory.forget({"crm:crm-1"})
    assert directory.card("+79123456789")["known"] is False


def test_directory_forgets_the_oldest_callers_first() -> None:
    directory = Directory(size=2)
    for n in range(3):
        directory.remember(Identity(phones=[f"+7912000000{n}"]), name=str(n))

    assert len(directory) == 2
    assert directory.card("+79120000000")["known"] is False
    assert directory.card("+79120000002")["known"] is True
