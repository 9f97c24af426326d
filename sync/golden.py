"""Survivorship: one golden record per customer, each value saying where it came from.

Every attribute is chosen among the customer's records by its
:class:`~sync.settings.FieldRule` (most trusted source, most recent, most
complete). Values are taken in their normalized form where one exists (a valid
INN only, ten-digit passport, E.164 phones, ISO birth date), so an INN that
fails its checksum never reaches the golden record.

A full run builds hundreds of thousands of golden records: the rules are looked
up once per run (:func:`survivorship_plan`), each record's offers are one tuple,
and a customer's records are ordered once per distinct rule, not per attribute.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
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
from sync.settings import GOLDEN_FIELDS, SyncSettings

__all__ = ["Facts", "GoldenRecord", "GoldenValue", "SurvivorshipPlan", "build_golden",
           "candidate_values", "facts_of", "survivorship_plan"]


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
        plain = {name: chosen.value for name, chosen in self.values.items()}
        plain["accounts"] = self.accounts
        return plain

    def provenance(self) -> dict[str, dict[str, Any]]:
        return {name: chosen.to_json() for name, chosen in self.values.items()}

    @property
    def digest(self) -> str:
        return self.digest_of(self.plain())

    def digest_of(self, plain: Mapping[str, Any]) -> str:
        """:attr:`digest` from ``plain`` already made (the writer needs both)."""
        body = orjson.dumps([plain, sorted(self.sources), sorted(self.keys)],
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


_OFFERED = ("kind", "name", "birth_date", "inn", "passport", "phones", "email", "city",
            "address", "segment", "manager_id")
"""The order of :func:`_offers`' tuple."""


def _offers(record: SourceRecord, facts: Facts) -> tuple[Any, ...]:
    """What ``record`` offers for each attribute of :data:`_OFFERED` (None: nothing).
    Names and addresses as typed, runs of spaces collapsed (normalized forms are for
    matching)."""
    attributes, name, city, address = record.attributes, record.name, record.city, record.address
    return (facts.kind or None, " ".join(name.split()) or None if name else None,
            facts.birth_date, facts.inn, facts.passport, list(facts.phones) or None,
            facts.email, " ".join(city.split()) or None if city else None,
            " ".join(address.split()) or None if address else None,
            attributes.get("segment") or None, attributes.get("manager_id") or None)


def candidate_values(record: SourceRecord, facts: Facts | None = None) -> dict[str, Any]:
    """What ``record`` offers for each golden attribute (None: nothing)."""
    offered = dict(zip(_OFFERED, _offers(record, facts or facts_of(record)), strict=True))
    return {name: offered[name] for name in GOLDEN_FIELDS}


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    name: str
    index: int
    """Where the attribute is in :func:`_offers`' tuple."""
    strategy: str
    order: int
    """Which of the plan's orderings ranks the records for this attribute."""


@dataclass(frozen=True, slots=True)
class _Ordering:
    trusted_first: bool
    """Rank by system before recency (``trusted_source``), else after it."""
    rank: Mapping[str, int]
    """The rule's systems, most trusted first (unlisted ones after them all)."""

    def ranked(self, records: Sequence[SourceRecord], by_key: list[int]) -> list[int]:
        """Indexes of ``records``, the preferred first: the rule's criterion, then the
        other, then the record key (the undated least recent)."""
        rank, last = self.rank, len(self.rank)
        ordered = list(by_key)
        if self.trusted_first:
            ordered.sort(key=lambda i: records[i].updated_at or "", reverse=True)
            ordered.sort(key=lambda i: rank.get(records[i].system, last))
        else:
            ordered.sort(key=lambda i: rank.get(records[i].system, last))
            ordered.sort(key=lambda i: records[i].updated_at or "", reverse=True)
        return ordered


@dataclass(frozen=True, slots=True)
class SurvivorshipPlan:
    """Each golden attribute's rule, looked up once for many golden records; attributes
    under the same systems and criterion share one ordering of a customer's records."""

    fields: tuple[_FieldPlan, ...]
    orderings: tuple[_Ordering, ...]


def survivorship_plan(settings: SyncSettings) -> SurvivorshipPlan:
    fields: list[_FieldPlan] = []
    orderings: dict[tuple[bool, tuple[str, ...]], int] = {}
    for name in GOLDEN_FIELDS:
        rule = settings.rule(name)
        order = orderings.setdefault(
            (rule.strategy == "trusted_source", tuple(rule.systems)), len(orderings))
        fields.append(_FieldPlan(name, _OFFERED.index(name), rule.strategy, order))
    return SurvivorshipPlan(tuple(fields), tuple(
        _Ordering(trusted_first, {system: i for i, system in enumerate(systems)})
        for trusted_first, systems in orderings))


def build_golden(
    global_id: str, records: Sequence[SourceRecord], settings: SyncSettings,
    known: Mapping[RecordKey, Facts] | None = None, plan: SurvivorshipPlan | None = None,
) -> GoldenRecord:
    """The golden record of the customer made of ``records`` (``known``: their facts,
    when the caller has them; ``plan``: the settings' rules, when the caller has them)."""
    forms = known or {}
    golden = GoldenRecord(global_id, sources=sorted(r.key for r in records))
    accounts: list[str] = []
    keys = golden.keys
    offers: list[tuple[Any, ...]] = []
    for record in records:
        facts = forms.get(record.key) or facts_of(record)
        offers.append(_offers(record, facts))
        if record.system == "billing":
            accounts.append(record.attributes.get("account_no") or record.record_id)
        if record.system == "docflow":
            continue  # a document cites a customer; its INN or account does not find them
        keys.update(("phone", phone) for phone in facts.phones)
        if facts.inn:
            keys.add(("inn", facts.inn))
    accounts.sort()
    golden.accounts = accounts
    keys.update(("account", number) for number in accounts)
    plan = plan or survivorship_plan(settings)
    chosen = golden.values
    if len(records) == 1:
        (record,), (offered,) = records, offers
        for rule in plan.fields:
            value = offered[rule.index]
            if value is not None:
                chosen[rule.name] = GoldenValue(value, record.system, record.record_id,
                                                "only_value")
        return golden
    by_key = sorted(range(len(records)), key=lambda i: records[i].key)
    ranked: list[list[int] | None] = [None] * len(plan.orderings)
    for rule in plan.fields:
        order = ranked[rule.order]
        if order is None:
            order = ranked[rule.order] = plan.orderings[rule.order].ranked(records, by_key)
        index = rule.index
        winner, first, how = -1, None, "only_value"
        for i in order:  # the first record in the order that offers a value wins
            value = offers[i][index]
            if value is None:
                continue
            if winner < 0:
                winner, first = i, value
            elif how == "only_value" and (
                    first != value if type(first) is str else _differ(first, value)):
                how = rule.strategy
        if winner < 0:
            continue
        if how == "most_complete":  # the longest; ties: the order's first
            winner = min((i for i in order if offers[i][index] is not None),
                         key=lambda i: -len(orjson.dumps(offers[i][index])))
        record = records[winner]
        chosen[rule.name] = GoldenValue(offers[winner][index], record.system,
                                        record.record_id, how)
    return golden


def _differ(first: Any, other: Any) -> bool:
    """Whether two values differ as JSON (``1`` and ``1.0`` do)."""
    if type(first) is str:
        return bool(first != other)  # text equals only equal text
    text_list = type(first) is list and all(type(item) is str for item in first)
    if text_list and first == other:  # equal lists of text: equal JSON
        return False
    return orjson.dumps(first) != orjson.dumps(other)
