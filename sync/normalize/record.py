"""One source record normalized once, in the compact shape matching reads."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from sync.model import RecordKey, SourceRecord
from sync.normalize.companies import has_legal_form, parse_company_name
from sync.normalize.contacts import (
    address_numbers,
    is_mobile,
    normalize_address,
    normalize_email,
    normalize_phone,
)
from sync.normalize.identifiers import normalize_birth_date, normalize_inn, normalize_passport
from sync.normalize.persons import PersonName, parse_person_name, surname_root
from sync.normalize.text import clean

__all__ = ["NormalizedRecord", "normalize_record"]


@dataclass(slots=True)
class NormalizedRecord:
    """Everything matching compares, each value normalized (see the field notes).

    ``kind`` is ``person`` or ``company``. Person names are in the skeleton
    alphabet (``surname``, ``first``, ``patronymic``); ``name_key`` is a company's
    name key (empty for a person).
    ``inn`` holds only an INN whose checksum holds; ``inn_invalid`` flags one that
    did not (it is kept out of matching). ``phones`` are E.164; ``mobiles`` the
    subset a single person carries (``+79…``); both are sorted tuples, without repeats.
    """

    key: RecordKey
    kind: str
    display_name: str
    name_key: str
    surname: str
    surname_root: str
    first: str
    patronymic: str
    first_initial: str
    patronymic_initial: str
    gender: str
    legal_form: str
    birth_date: str | None
    inn: str | None
    inn_invalid: bool
    passport: str | None
    phones: tuple[str, ...]
    mobiles: tuple[str, ...]
    email: str | None
    city: str
    address: str
    address_numbers: str
    account_ref: str | None

    @property
    def system(self) -> str:
        return self.key[0]


def _phones(raw: tuple[str, ...]) -> tuple[str, ...]:
    if len(raw) == 1:
        one = normalize_phone(raw[0]) if raw[0] else None
        return (one,) if one else ()
    return tuple(sorted({p for p in (normalize_phone(r) for r in raw if r) if p}))


@lru_cache(maxsize=10_000)
def _city(raw: str | None) -> str:
    return clean(raw)


_NO_PERSON = PersonName("", "", "", "", "", "", "")


def _kind(record: SourceRecord, inn_kind: str, has_form: bool) -> str:
    if record.kind in ("person", "company"):
        return record.kind
    if has_form or inn_kind == "company":
        return "company"
    return "person"


def normalize_record(record: SourceRecord) -> NormalizedRecord:
    """Normalize every field of ``record`` once."""
    inn = normalize_inn(record.inn)
    inn_kind = inn.kind if inn and inn.valid else ""
    kind = _kind(record, inn_kind, record.kind == "" and has_legal_form(record.name))
    phones = _phones(record.phones)
    mobiles = phones if all(is_mobile(p) for p in phones) else tuple(filter(is_mobile, phones))
    address = normalize_address(record.address, record.city)
    account_ref = record.attributes.get("account_no") or None
    if record.system == "billing":
        account_ref = account_ref or record.record_id
    person = kind == "person"
    if person:
        name = parse_person_name(record.name)
        display, name_key, legal_form = name.display, "", ""
    else:
        company = parse_company_name(record.name)
        name = _NO_PERSON
        display, name_key, legal_form = company.display, company.key, company.legal_form
    return NormalizedRecord(
        record.key, kind, display, name_key, name.surname,
        surname_root(name.surname) if name.surname else "", name.first, name.patronymic,
        name.first_initial, name.patronymic_initial, name.gender, legal_form,
        normalize_birth_date(record.birth_date) if person else None,
        inn.digits if inn and inn.valid else None, bool(inn and not inn.valid),
        normalize_passport(record.passport) if person else None,
        phones, mobiles, normalize_email(record.email),
        _city(record.city), address, address_numbers(address), account_ref,
    )  # fmt: skip
