# ruff: noqa: RUF001 - Russian names and addresses, on purpose
"""LANBilling shapes to canonical payloads and back: pure functions, plain dicts."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.billing import mapping
from adapters.billing import normalize as norm
from bus.schema import default_registry


def holder(**account: Any) -> dict[str, Any]:
    """A soapAccountFull as the client returns it, with one agreement and its services."""
    base = {
        "uid": 10001, "type": 2, "name": "Иванова Мария Петровна",
        "abonentsurname": "Иванова", "abonentname": "Мария", "abonentpatronymic": "Петровна",
        "inn": "", "passsernum": "04 07", "passno": "№212471", "passissuedate": "2004-06-01",
        "passissuedep": "ОВД Центрального района", "birthdate": "1984-05-17",
        "phone": "8 (912) 345-67-89, 8 391 222-33-44", "mobile": None,
        "email": "m.ivanova@mail.example",
        "lastmoddate": "2024-03-12 07:00:00", "archive": 0, "managerid": 3, "soleproprietor": False,
    }
    return {
        "account": {**base, **account},
        "addresses": [{"type": 1, "address": "а/я 15"},
                      {"type": 0, "address": "г. Красноярск, ул. Ленина, д. 1, кв. 2"}],
        "agreements": [{"agrmid": 20001, "uid": 10001, "number": "ЛС-00000001",
                        "balance": -125.5, "credit": 500.0, "symbol": "руб.",
                        "date": "2019-02-01", "closedon": None, "archive": 0}],
        "vgroups": [
            {"vgid": 8812, "agrmid": 20001, "agenttype": 6, "descr": "Интернет 100 Мбит/с",
             "tarifdescr": "Домашний 100", "blocked": 0, "monthlyrent": 650.0,
             "accondate": "2019-02-01 00:00:00"},
            {"vgid": 8813, "agrmid": 20001, "agenttype": 12, "descr": None, "login": "tel8813",
             "tarifdescr": None, "blocked": 3, "monthlyrent": 0.0, "accondate": "2020-10-15"},
            {"vgid": 9999, "agrmid": 77777, "agenttype": 6, "descr": "someone else's"},
        ],
    }


def test_person_holder_becomes_a_customer_with_passport_inn_phones_normalized() -> None:
    customer = mapping.customer(holder(inn="2465 1234 5678"), timezone="Asia/Krasnoyarsk")

    assert customer["id"] == "10001"
    assert customer["person"] == {
        "last_name": "Иванова", "first_name": "Мария", "middle_name": "Петровна",
        "birth_date": "1984-05-17", "sole_proprietor": False,
        "passport": {"series": "0407", "number": "212471", "issued_on": "2004-06-01",
                     "issued_by": "ОВД Центрального района", "country": "RU"},
    }
    assert customer["inn"] == "246512345678"
    assert customer["contacts"] == [
        {"phone": "+79123456789", "label": "mobile", "raw": "8 (912) 345-67-89", "primary": True},
        {"phone": "+73912223344", "label": "home", "raw": "8 391 222-33-44"},
        {"email": "m.ivanova@mail.example", "label": "other"},
    ]
    assert customer["address"] == "г. Красноярск, ул. Ленина, д. 1, кв. 2"
    assert customer["manager_id"] == "3"
    assert customer["updated_at"] == "2024-03-12T00:00:00Z"  # Krasnoyarsk is UTC+7


def test_company_holder_is_a_company_whose_kpp_and_ogrn_are_kept_only_when_valid() -> None:
    customer = mapping.customer(holder(type=1, name="ООО «Сибирские сети»", inn="2465012345",
                                       kpp="246501001", ogrn="12345", abonentsurname=""))

    assert customer["company"] == {"legal_name": "ООО «Сибирские сети»", "short_name": None,
                                   "kpp": "246501001", "ogrn": None}
    assert "person" not in customer
    assert customer["contacts"][1]["label"] == "work"


def test_a_sole_proprietor_is_a_person_flagged_as_such() -> None:
    customer = mapping.customer(holder(name="ИП Соколов Андрей Викторович", soleproprietor=True,
                                       abonentsurname="Соколов", abonentname="Андрей",
                                       abonentpatronymic="Викторович"))
    assert customer["person"]["sole_proprietor"] is True
    assert customer["person"]["last_name"] == "Соколов"


def test_without_name_parts_the_full_name_is_split_and_an_unknown_type_follows_the_inn() -> None:
    customer = mapping.customer(holder(type=0, abonentsurname=None, abonentname=None,
                                       abonentpatronymic=None, name="Петров Иван Сергеевич"))
    assert (customer["person"]["last_name"], customer["person"]["first_name"],
            customer["person"]["middle_name"]) == ("Петров", "Иван", "Сергеевич")
    assert "company" in mapping.customer(holder(type=0, inn="2465012345"))


def test_agreement_is_an_account_with_a_lossless_balance_its_currency_and_services() -> None:
    [payload] = mapping.account_changed(holder())
    account = payload["account"]

    assert account["number"] == "LS-00000001"
    assert (account["id"], account["customer_id"]) == ("20001", "10001")
    assert account["balance"] == {"amount": "-125.50", "currency": "RUB"}
    assert account["credit_limit"] == {"amount": "500.00", "currency": "RUB"}
    assert account["tariff"] == "Домашний 100"
    assert account["opened_on"] == "2019-02-01"
    assert account["services"] == [
        {"id": "8812", "name": "Интернет 100 Мбит/с", "kind": "internet",
         "tariff": "Домашний 100", "status": "active",
         "monthly_fee": {"amount": "650.00", "currency": "RUB"}, "started_on": "2019-02-01"},
        {"id": "8813", "name": "tel8813", "kind": "telephony", "tariff": None,
         "status": "blocked", "monthly_fee": None, "started_on": "2020-10-15"},
    ]
    assert payload["customer"]["id"] == "10001"


@pytest.mark.parametrize(("value", "amount"), [
    (0.1 + 0.2, "0.30"), (1.123456789, "1.12345679"), (1001.17, "1001.17"), (100, "100.00"),
    (-0.0, "0.00"), (None, "0.00"), (12.5, "12.50"), (float("nan"), "0.00"), ("-830.1", "-830.10"),
])
def test_money_is_a_decimal_string_with_at_least_two_places(value: Any, amount: str) -> None:
    assert norm.money(value, "RUB") == {"amount": amount, "currency": "RUB"}


@pytest.mark.parametrize(("symbol", "code"), [
    ("руб.", "RUB"), ("₽", "RUB"), ("RUR", "RUB"), ("USD", "USD"), ("у.е.", "RUB"), (None, "RUB"),
])
def test_currency_symbols_become_iso_codes(symbol: Any, code: str) -> None:
    assert norm.currency_code(symbol) == code


@pytest.mark.parametrize(("blocked", "closedon", "status"), [
    ([0, 3], None, "active"), ([3, 3], None, "blocked"), ([2, 2], None, "suspended"),
    ([3, 10], None, "blocked"), ([0], "2024-01-31", "closed"), ([], "0000-00-00", "active"),
])
def test_account_status_follows_closing_date_and_service_blocks(
    blocked: list[int], closedon: str | None, status: str,
) -> None:
    agreement = {"agrmid": 1, "number": "1", "balance": 0.0, "closedon": closedon}
    vgroups = [{"vgid": n, "agrmid": 1, "blocked": code} for n, code in enumerate(blocked)]
    assert mapping.account(agreement, vgroups, uid=1)["status"] == status


def test_account_numbers_are_identifiers_and_map_back_to_billing_numbers() -> None:
    assert norm.transliterate("ЛС-00000001") == "LS-00000001"
    assert norm.transliterate("Дог № 15/2") == "Dog-15/2"
    assert norm.number_candidates("LS-00000001") == ["LS-00000001", "ЛС-00000001"]
    assert norm.number_candidates("LS-N0000001") == ["LS-N0000001", "ЛС-N0000001"]
    assert norm.number_candidates("100245") == ["100245"]


@pytest.mark.parametrize(("raw", "expected"), [
    ("8 (951) 270-49-79", "+79512704979"), ("9722077052", "+79722077052"),
    ("+7 383 503 55 81", "+73835035581"), ("3835035581", "+73835035581"),
    ("", None), ("нет", None), ("12", None),
])
def test_phones_are_e164(raw: str, expected: str | None) -> None:
    assert norm.phone(raw) == expected


@pytest.mark.parametrize(("series", "number", "expected"), [
    ("7113", "№161981", ("7113", "161981")), ("", "0622637899", ("0622", "637899")),
    ("66 15", "357613", ("6615", "357613")), ("", "", None), ("", "№ 12 34", ("", "1234")),
])
def test_passports_lose_spaces_and_number_signs(
    series: str, number: str, expected: tuple[str, str] | None,
) -> None:
    found = norm.passport(series, number)
    assert (None if found is None else (found["series"] or "", found["number"])) == expected


def test_dates_and_timestamps_refuse_billing_placeholders() -> None:
    assert norm.to_date("0000-00-00") is None
    assert norm.to_date("2024-02-30") is None
    assert norm.to_date("2024-02-29 13:00:00") == "2024-02-29"
    assert norm.to_timestamp("0000-00-00 00:00:00") is None
    assert norm.to_timestamp("2024-03-12 07:00:00", "Europe/Moscow") == "2024-03-12T04:00:00Z"


def test_every_mapped_payload_is_a_valid_billing_account_changed_v1() -> None:
    registry = default_registry()
    samples = [holder(), holder(type=1, name="ООО «Ромашка»", inn="9263304340"),
               holder(phone="", email="not an address", passno="", birthdate="0000-00-00",
                      name="\x07Bell\u0000", abonentsurname=None, inn="12345")]
    for sample in samples:
        for payload in mapping.account_changed(sample):
            registry.validate("billing.account.changed.v1", payload)


GOLDEN = {
    "id": "g-1", "inn": "246512345678",
    "person": {"last_name": "Иванова", "first_name": "Мария", "middle_name": "Петровна",
               "birth_date": "1984-05-17",
               "passport": {"series": "0407", "number": "212471", "issued_on": "2004-06-01"}},
    "contacts": [{"phone": "+79123456789", "label": "mobile"},
                 {"phone": "+73910000000", "label": "home"},
                 {"email": "maria@mail.example"}],
}


def test_write_back_writes_only_allowed_fields_whose_values_really_differ() -> None:
    current = holder()["account"]
    written = mapping.soap_account(GOLDEN, current, ["inn", "passport", "phone", "email"])

    changed = {key: written[key] for key in written if written[key] != current.get(key)}
    assert changed == {"inn": "246512345678", "email": "maria@mail.example",
                       "phone": "8 (912) 345-67-89, 8 391 222-33-44, +73910000000"}
    # +79123456789 is there already, written as "8 (912) 345-67-89"; so is the passport


def test_write_back_of_the_same_golden_record_twice_changes_nothing_the_second_time() -> None:
    current = holder(phone="")["account"]
    fields = ["inn", "passport", "birth_date", "phone", "email", "name"]
    once = mapping.soap_account(GOLDEN, current, fields)
    assert once["phone"] == "+73910000000"
    assert mapping.soap_account(GOLDEN, once, fields) == once


def test_write_back_never_blanks_what_the_golden_record_does_not_have() -> None:
    current = holder()["account"]
    assert mapping.soap_account({"id": "g-2", "person": {"last_name": "Иванова"}}, current,
                                ["inn", "passport", "birth_date", "phone", "email"]) == current
