"""Survivorship: one golden record per customer, each value saying where it came from.

Every attribute is chosen among the customer's records by its
:class:`~sync.settings.FieldRule` (most trusted source, most recent, most
complete). Values are taken in their normalized form where one exists (a valid
INN only, ten-digit passport, E.164 phones, ISO birth date), so an INN that
fails its checksum never reaches the golden record.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from sync.model import RecordKey, SourceRecord
from sync.normalize import (
    has_legal_form,
    normalize_birth_date,
    normalize_email,
    normalize_inn,
    normalize_passport,
    normalize_phone,
)
from sync.settings import GOLDEN_FIELDS, FieldRule, SyncSettings

__all__ = ["Facts", "GoldenRecord", "GoldenValue", "build_golden", "candidate_values",
           "facts_of"]


@dataclass(frozen=True, slots=True)
class GoldenValue:
    value: Any
    system: str
    record_id: str
    rule: str
    """``trusted_source``, ``most_recent``, ``most_complete`` or ``only_value``."""

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "system": self.system, "id": self.record_id,
                "rule": self.rule}


@dataclass(slots=True)
class GoldenRecord:
    global_id: str
    values: dict[str, GoldenValue] = field(default_factory=dict)
    sources: list[RecordKey] = field(default_factory=list)
    accounts: list[str] = field(default_factory=list)
    """Billing personal account numbers of the customer."""
    keys: set[tuple[str, str]] = field(default_factory=set)
    """What finds the customer: ``(phone|inn|account, value)`` from every record."""

    def value(self, name: str) -> Any:
        chosen = self.values.get(name)
        return chosen.value if chosen is not None else None

    def plain(self) -> dict[str, Any]:
        """The values alone (what survives into ``sync_golden.values``)."""
        return {name: chosen.value for name, chosen in self.values.items()} | {
            "accounts": self.accounts}

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {name: chosen.to_json() for name, chosen in self.values.items()}

    @property
    def digest(self) -> str:
        body = orjson.dumps([self.plain(), sorted(self.sources), sorted(self.keys)],
                            option=orjson.OPT_SORT_KEYS)
        return hashlib.sha1(body).hexdigest()


@dataclass(frozen=True, slots=True)
class Facts:
    """The normalized values a golden record and the conflict checks need, and only those
    (names and addresses, the dear part of normalizing, are not needed here)."""

    kind: str
    inn: str | None
    birth_date: str | None
    passport: str | None
    phones: tuple[str, ...]
    email: str | None


def facts_of(record: SourceRecord) -> Facts:
    inn = normalize_inn(record.inn)
    valid_inn = inn.digits if inn is not None and inn.valid else None
    kind = record.kind or ("company" if (valid_inn and len(valid_inn) == 10)
                           or has_legal_form(record.name) else "person")
    person = kind == "person"
    phones = sorted({p for p in (normalize_phone(raw) for raw in record.phones if raw) if p})
    return Facts(kind=kind, inn=valid_inn,
                 birth_date=normalize_birth_date(record.birth_date) if person else None,
                 passport=normalize_passport(record.passport) if person else None,
                 phones=tuple(phones), email=normalize_email(record.email))


def _spaced(text: str | None) -> str | None:
    """As typed, with runs of spaces collapsed (normalized forms are for matching)."""
    return " ".join((text or "").split()) or None


def _extractors() -> dict[str, Callable[[SourceRecord, Facts], Any]]:
    return {
        "kind": lambda r, n: n.kind or None,
        "name": lambda r, n: _spaced(r.name),
        "birth_date": lambda r, n: n.birth_date,
        "inn": lambda r, n: n.inn,
        "passport": lambda r, n: n.passport,
        "phones": lambda r, n: list(n.phones) or None,
        "email": lambda r, n: n.email,
        "city": lambda r, n: _spaced(r.city),
        "address": lambda r, n: _spaced(r.address),
        "segment": lambda r, n: r.attributes.get("segment") or None,
        "manager_id": lambda r, n: r.attributes.get("manager_id") or None,
    }


_EXTRACT = _extractors()


def candidate_values(record: SourceRecord, facts: Facts | None = None) -> dict[str, Any]:
    """What ``record`` offers for each golden attribute (None: nothing)."""
    facts = facts or facts_of(record)
    return {name: _EXTRACT[name](record, facts) for name in GOLDEN_FIELDS}


def build_golden(
    global_id: str, records: Sequence[SourceRecord], settings: SyncSettings,
    known: Mapping[RecordKey, Facts] | None = None,
) -> GoldenRecord:
    """The golden record of the customer made of ``records`` (``known``: their facts,
    when the caller has them)."""
    forms = known or {}
    normalized = [(record, forms.get(record.key) or facts_of(record)) for record in records]
    offers = [(record, candidate_values(record, norm)) for record, norm in normalized]
    golden = GoldenRecord(global_id, sources=sorted(r.key for r in records))
    golden.accounts = sorted(r.attributes.get("account_no") or r.record_id
                             for r in records if r.system == "billing")
    for record, norm in normalized:
        if record.system == "docflow":
            continue  # a document cites a customer; its INN or account does not find them
        golden.keys.update(("phone", phone) for phone in norm.phones)
        if norm.inn:
            golden.keys.add(("inn", norm.inn))
    golden.keys.update(("account", number) for number in golden.accounts)
    for name in GOLDEN_FIELDS:
        having = [(record, values[name]) for record, values in offers
                  if values[name] is not None]
        if not having:
            continue
        rule = settings.rule(name)
        record, value = _choose(having, rule)
        distinct = {orjson.dumps(v) for _r, v in having}
        golden.values[name] = GoldenValue(value, record.system, record.record_id,
                                          rule.strategy if len(distinct) > 1 else "only_value")
    return golden


def _choose(having: list[tuple[SourceRecord, Any]], rule: FieldRule) -> tuple[SourceRecord, Any]:
    """The winning (record, value) under ``rule``: stable sorts, the primary criterion last."""
    if len(having) == 1:
        return having[0]
    rank = {system: i for i, system in enumerate(rule.systems)}

    def by_rank(item: tuple[SourceRecord, Any]) -> int:
        return rank.get(item[0].system, len(rank))

    def by_time(item: tuple[SourceRecord, Any]) -> str:
        return item[0].updated_at or ""  # ISO text: newest is greatest, undated least

    ordered = sorted(having, key=lambda item: item[0].key)
    if rule.strategy == "trusted_source":
        ordered.sort(key=by_time, reverse=True)
        ordered.sort(key=by_rank)
    elif rule.strategy == "most_recent":
        ordered.sort(key=by_rank)
        ordered.sort(key=by_time, reverse=True)
    else:
        ordered.sort(key=by_rank)
        ordered.sort(key=by_time, reverse=True)
        ordered.sort(key=lambda item: len(orjson.dumps(item[1])), reverse=True)
    return ordered[0]
