"""Canonical payloads <-> the synchronizer's records.

In: ``crm.customer.changed.v1``, ``billing.account.changed.v1`` and
``docflow.document.changed.v1`` become :class:`~sync.model.SourceRecord` values
(:func:`record_of_change`). Out: a golden record becomes the ``Customer``
entity of ``sync.customer.updated.v1`` and friends (:func:`golden_customer`);
:func:`change_of_record` builds a change payload from a record (imports
replayed through the bus, tests).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sync.golden import GoldenRecord
from sync.model import Kind, RecordKey, SourceRecord
from sync.normalize import normalize_birth_date, normalize_email, normalize_phone

__all__ = [
    "CHANGE_TYPES",
    "RecordChange",
    "canonical_id",
    "canonical_record",
    "change_of_record",
    "golden_customer",
    "record_of_change",
    "segment",
]

CHANGE_TYPES = {
    "crm.customer.changed.v1": "crm",
    "billing.account.changed.v1": "billing",
    "docflow.document.changed.v1": "docflow",
}
SEGMENTS = ("consumer", "sme", "corporate", "vip", "government", "other")
_DOC_KINDS = ("contract", "agreement", "invoice", "act", "payment_order", "letter", "claim")
_CODE = re.compile("[^0-9A-Za-z\u0401\u0410-\u044f\u0451\\-]")
_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_INN = re.compile(r"^([0-9]{10}|[0-9]{12})$")


_LATIN = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "y", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "h", "ts", "ch", "sh", "sch", "", "y", "", "e", "yu", "ya"], strict=True))


_TO_LATIN = str.maketrans({**{c: v for c, v in _LATIN.items()},
                           **{c.upper(): v.upper() for c, v in _LATIN.items()}})
_NOT_ID = re.compile(r"[^0-9A-Za-z._:@/+=\-]")


def canonical_id(text: str) -> str:
    """A system's record id in the canonical identifier alphabet (ASCII): Cyrillic letters
    transliterated (``ЛС-00000012`` -> ``LS-00000012``), other characters dropped.

    Every id the synchronizer keeps or publishes is canonical, because messages carry
    ``record_ref.id`` and account numbers only in that alphabet.
    """
    if _ID.match(text):
        return text
    return _transliterated(text)


@lru_cache(maxsize=1 << 18)
def _transliterated(text: str) -> str:
    latin = _NOT_ID.sub("", text.translate(_TO_LATIN)).lstrip("._:@/+=-")[:128]
    return latin or "x"


def canonical_record(record: SourceRecord) -> SourceRecord:
    """``record`` with its id and the account number it cites made canonical."""
    account = record.attributes.get("account_no")
    if _ID.match(record.record_id) and (not account or _ID.match(account)):
        return record
    attributes = dict(record.attributes)
    if account:
        attributes["account_no"] = canonical_id(account)
    return SourceRecord(
        system=record.system, record_id=canonical_id(record.record_id), kind=record.kind,
        name=record.name, birth_date=record.birth_date, inn=record.inn,
        passport=record.passport, phones=record.phones, email=record.email, city=record.city,
        address=record.address, updated_at=record.updated_at, attributes=attributes)


@dataclass(frozen=True, slots=True)
class RecordChange:
    record: SourceRecord
    deleted: bool

    @property
    def key(self) -> RecordKey:
        return self.record.key


def _text(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text or None


def _attrs(**values: Any) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v not in (None, "")}


def _party(customer: Mapping[str, Any]) -> dict[str, Any]:
    """The matchable fields of a canonical ``Customer``."""
    person = customer.get("person")
    company = customer.get("company")
    kind: Kind = "person" if person else "company" if company else ""
    if person:
        name = " ".join(p for p in (person.get("last_name"), person.get("first_name"),
                                    person.get("middle_name")) if p)
        passport = person.get("passport") or {}
        passport_text = "".join(str(passport.get(k) or "") for k in ("series", "number")) or None
        birth_date = person.get("birth_date")
    else:
        name = str((company or {}).get("legal_name") or "")
        passport_text, birth_date = None, None
    contacts = customer.get("contacts") or []
    phones = tuple(str(c.get("raw") or c["phone"]) for c in contacts if c.get("phone"))
    email = next((str(c["email"]) for c in contacts if c.get("email")), None)
    return {"kind": kind, "name": name, "birth_date": birth_date, "inn": customer.get("inn"),
            "passport": passport_text, "phones": phones, "email": email,
            "city": _text(customer.get("region")), "address": _text(customer.get("address"))}


def record_of_change(message_type: str, payload: Mapping[str, Any]) -> RecordChange:
    """The record a canonical change event describes, and whether it was deleted."""
    deleted = payload.get("change") == "deleted"
    if message_type == "crm.customer.changed.v1":
        customer = payload["customer"]
        record = SourceRecord(
            system="crm", record_id=str(customer["id"]), updated_at=customer.get("updated_at"),
            attributes=_attrs(segment=customer.get("segment"),
                              manager_id=customer.get("manager_id"),
                              status=customer.get("status")),
            **_party(customer))
    elif message_type == "billing.account.changed.v1":
        account = payload["account"]
        holder = payload.get("customer") or {}
        balance = account.get("balance") or {}
        record = SourceRecord(
            system="billing", record_id=str(account["number"]),
            updated_at=account.get("updated_at") or holder.get("updated_at"),
            attributes=_attrs(account_no=account["number"], status=account.get("status"),
                              balance=balance.get("amount"), tariff=account.get("tariff"),
                              opened_at=account.get("opened_on"),
                              holder_id=account.get("customer_id")),
            **(_party(holder) if holder else {}))
        if account.get("status") == "closed":
            deleted = deleted or False
    elif message_type == "docflow.document.changed.v1":
        document = payload["document"]
        party = document.get("counterparty") or {}
        record = SourceRecord(
            system="docflow", record_id=str(document["id"]), name=str(party.get("name") or ""),
            inn=party.get("inn"), updated_at=document.get("date"),
            attributes=_attrs(doc_type=document.get("kind"), number=document.get("number"),
                              date=document.get("date"), account_no=document.get("account_number"),
                              status=document.get("status")))
    else:
        raise ValueError(f"not a change the synchronizer reads: {message_type}")
    return RecordChange(record, deleted)


def segment(value: str | None) -> str | None:
    if not value:
        return None
    lowered = value.lower()
    return lowered if lowered in SEGMENTS else "other"


def _passport(value: str | None) -> dict[str, Any] | None:
    code = _CODE.sub("", value or "")
    if not code:
        return None
    if len(code) == 10 and code.isdigit():
        return {"series": code[:4], "number": code[4:], "country": "RU"}
    return {"number": code[:16]}


def _contacts(phones: Any, email: Any) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    for raw in phones or ():
        e164 = normalize_phone(str(raw))
        if e164:
            contact = {"phone": e164, "label": "mobile" if e164.startswith("+79") else "other"}
            if str(raw) != e164:
                contact["raw"] = str(raw)[:256]
            contacts.append(contact)
    mail = normalize_email(email)
    if mail:
        contacts.append({"email": mail})
    return contacts


def _names(kind: str, name: str, birth_date: Any, passport: Any) -> dict[str, Any]:
    if kind == "company":
        return {"company": {"legal_name": (name or "?")[:256]}}
    words = name.split() or ["?"]
    return {"person": {"last_name": words[0][:256],
                       "first_name": words[1][:256] if len(words) > 1 else None,
                       "middle_name": " ".join(words[2:])[:256] or None,
                       "birth_date": normalize_birth_date(birth_date) if birth_date else None,
                       "passport": _passport(passport)}}


def _inn(value: Any) -> str | None:
    text = re.sub(r"[^0-9]", "", str(value or ""))
    return text if _INN.match(text) else None


def _customer_of_record(record: SourceRecord, customer_id: str) -> dict[str, Any]:
    kind = record.kind or ("company" if len(_inn(record.inn) or "") == 10 else "person")
    customer: dict[str, Any] = {
        "id": customer_id, **_names(kind, record.name, record.birth_date, record.passport),
        "inn": _inn(record.inn), "region": record.city, "address": record.address,
        "contacts": _contacts(record.phones, record.email),
    }
    if record.system == "crm":
        customer["segment"] = segment(record.attributes.get("segment"))
        customer["manager_id"] = _identifier(record.attributes.get("manager_id"))
    return customer


def _identifier(value: str | None) -> str | None:
    return value if value and _ID.match(value) else None


def change_of_record(record: SourceRecord, *, change: str = "updated"
                     ) -> tuple[str, dict[str, Any]]:
    """The canonical change event (type, payload) that carries ``record``."""
    if record.system == "crm":
        return "crm.customer.changed.v1", {
            "change": change, "customer": _customer_of_record(record, record.record_id)}
    if record.system == "billing":
        attrs = record.attributes
        status = attrs.get("status")
        account: dict[str, Any] = {
            "number": record.record_id,
            "status": status if status in ("active", "blocked", "suspended", "closed")
            else "active",
            "balance": {"amount": attrs.get("balance") or "0", "currency": "RUB"},
            "tariff": attrs.get("tariff"),
            "opened_on": normalize_birth_date(attrs.get("opened_at")),
        }
        holder_id = _identifier(attrs.get("holder_id")) or record.record_id
        return "billing.account.changed.v1", {
            "change": change, "account": account,
            "customer": _customer_of_record(record, holder_id)}
    if record.system == "docflow":
        attrs = record.attributes
        kind = attrs.get("doc_type")
        document: dict[str, Any] = {
            "id": record.record_id, "kind": kind if kind in _DOC_KINDS else "other",
            "number": attrs.get("number") or record.record_id,
            "date": normalize_birth_date(attrs.get("date") or record.updated_at) or "1970-01-01",
            "account_number": _identifier(attrs.get("account_no")),
            "counterparty": {"name": (record.name or "?")[:256], "inn": _inn(record.inn)}
            if record.name else None,
        }
        return "docflow.document.changed.v1", {"change": change, "document": document}
    raise ValueError(f"no canonical change for system {record.system!r}")


def golden_customer(golden: GoldenRecord) -> dict[str, Any]:
    """The golden record as a canonical ``Customer`` (``id`` is the global id)."""
    kind = golden.value("kind") or "person"
    customer: dict[str, Any] = {
        "id": golden.global_id,
        **_names(kind, golden.value("name") or "", golden.value("birth_date"),
                 golden.value("passport")),
        "inn": _inn(golden.value("inn")),
        "segment": segment(golden.value("segment")),
        "manager_id": _identifier(golden.value("manager_id")),
        "region": golden.value("city"),
        "address": golden.value("address"),
        "contacts": _contacts(golden.value("phones"), golden.value("email")),
        "external_ids": {},
    }
    external: dict[str, str] = {}
    for system, record_id in golden.sources:
        if system not in external and _identifier(record_id):
            external[system] = record_id
    customer["external_ids"] = external
    return customer
