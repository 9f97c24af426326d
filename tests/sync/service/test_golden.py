"""Survivorship: each golden value is chosen by its rule and says where it came from."""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

from sync.canonical import golden_customer
from sync.conflicts import conflicts_in_customer
from sync.golden import build_golden
from sync.model import SourceRecord
from sync.settings import FieldRule, SyncSettings

VALID_PERSON_INN = "774833788789"
BAD_INN = "774833788788"  # checksum fails

CRM = SourceRecord(
    system="crm", record_id="CRM-1", kind="person", name="Климов Степан Тимурович",
    birth_date="1994-05-01", inn=BAD_INN, phones=("+7 981 254 38 01",),
    address="Санкт-Петербург, ул. Чкалова, д. 100", updated_at="2023-09-14",
    attributes={"segment": "vip", "manager_id": "M0010"})
BILLING = SourceRecord(
    system="billing", record_id="LS-1", name="КЛИМОВ С. Т.", birth_date="01.05.1994",
    inn=VALID_PERSON_INN, passport="8204 343187", phones=("89812543802",),
    address="г. Санкт-Петербург, ул. Чкалова, д. 100, кв. 8", updated_at="2024-01-10",
    attributes={"account_no": "LS-1"})


def test_trusted_source_most_recent_and_most_complete_each_pick_their_value() -> None:
    golden = build_golden("G1", [CRM, BILLING], SyncSettings())
    name = golden.values["name"]
    assert (name.value, name.system, name.rule) == ("Климов Степан Тимурович", "crm",
                                                    "trusted_source")
    phones = golden.values["phones"]
    assert (phones.value, phones.system, phones.rule) == (["+79812543802"], "billing",
                                                          "most_recent")
    address = golden.values["address"]
    assert address.system == "billing" and address.rule == "most_complete"
    birth = golden.values["birth_date"]  # both say the same date, spelled differently
    assert (birth.value, birth.system, birth.rule) == ("1994-05-01", "billing", "only_value")
    assert golden.accounts == ["LS-1"]
    assert ("phone", "+79812543801") in golden.keys and ("account", "LS-1") in golden.keys


def test_an_inn_that_fails_its_checksum_never_reaches_the_golden_record() -> None:
    golden = build_golden("G1", [CRM, BILLING], SyncSettings())
    inn = golden.values["inn"]
    assert (inn.value, inn.system, inn.rule) == (VALID_PERSON_INN, "billing", "only_value")
    assert ("inn", BAD_INN) not in golden.keys


def test_survivorship_rules_come_from_settings() -> None:
    settings = SyncSettings(survivorship={"name": FieldRule(strategy="trusted_source",
                                                             systems=("billing", "crm"))})
    golden = build_golden("G1", [CRM, BILLING], settings)
    assert golden.values["name"].system == "billing"


def test_the_golden_record_is_a_valid_canonical_customer() -> None:
    from bus.schema import default_registry

    golden = build_golden("G000000001", [CRM, BILLING], SyncSettings())
    customer = golden_customer(golden)
    payload = {"golden_id": golden.global_id, "customer": customer, "changed_fields": ["name"],
               "sources": [{"system": "billing", "id": "LS-1"}]}
    default_registry().validate("sync.customer.updated.v1", payload)
    assert customer["person"]["passport"] == {"series": "8204", "number": "343187",
                                              "country": "RU"}
    assert customer["external_ids"] == {"billing": "LS-1", "crm": "CRM-1"}
    assert customer["segment"] == "vip"


def test_conflicts_found_in_one_customer() -> None:
    twin = SourceRecord(system="crm", record_id="CRM-2", kind="person",
                        name="Климов Степан", inn="500100732259", birth_date="1994-05-02")
    found = {c.kind: c for c in conflicts_in_customer("G1", [CRM, BILLING, twin])}
    assert set(found) == {"crm_duplicate", "multiple_inns", "billing_contradicts_crm"}
    assert found["crm_duplicate"].records == (("crm", "CRM-1"), ("crm", "CRM-2"))
    assert len(found["multiple_inns"].groups) == 2
    assert VALID_PERSON_INN not in found["multiple_inns"].explanation  # PII stays out
    assert found["billing_contradicts_crm"].records == (("billing", "LS-1"), ("crm", "CRM-2"))
