"""Survivorship: one golden record per customer, each value saying where it came from.

Every attribute is chosen among the customer's records by its
:class:`~sync.settings.FieldRule` (most trusted source, most recent, most
complete). Values are taken in their normalized form where one exists (a valid
INN only, ten-digit passport, E.164 phones, ISO birth date), so an INN that
fails its checksum never reaches the golden record.

A full run builds a million golden records: the rules are looked up once per run
(:func:`survivorship_plan`), each record is one flat tuple (:data:`Offer`), a
customer's records are ordered once per distinct rule, not per attribute, and the
result is made in the shapes the store writes (:class:`GoldenParts`), a
:class:`GoldenRecord` only for the events that cite one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
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

__all__ = ["Facts", "GoldenParts", "GoldenRecord", "GoldenValue", "Offer", "SurvivorshipPlan",
           "build_golden", "candidate_values", "digest_of", "facts_of", "golden_parts",
           "offer_of", "stored_offer", "survivorship_plan"]


Provenance = dict[str, dict[str, str]]
"""``{attribute: {"system", "id", "rule"}}``: what ``sync_golden.provenance`` keeps, where
each value of ``sync_golden.values`` came from (a million customers: each value once)."""


@dataclass(frozen=True, slots=True)
class GoldenValue:
    value: Any
    system: str
    record_id: str
    rule: str
    """``trusted_source``, ``most_recent``, ``most_complete`` or ``only_value``."""

    def origin(self) -> dict[str, str]:
        """Where the value came from, as ``sync_golden.provenance`` keeps it (the value
        itself is in ``sync_golden.values``: stored once)."""
        return {"system": self.system, "id": self.record_id, "rule": self.rule}


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

    def provenance(self) -> Provenance:
        return {name: chosen.origin() for name, chosen in self.values.items()}

    @property
    def digest(self) -> str:
        return self.digest_of(self.plain())

    def digest_of(self, plain: Mapping[str, Any]) -> str:
        """:attr:`digest` from ``plain`` already made (the writer needs both)."""
        return digest_of(plain, self.sources, sorted(self.keys))


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
"""The attributes an :data:`Offer` carries, in its order after :data:`OFFER_HEAD`."""

Offer = tuple[Any, ...]
"""A record as survivorship sees it, one flat tuple: ``(system, record_id, updated_at,
account)`` (updated_at "" when unknown: the least recent; account: the billing account
number, else None), then what it offers for each attribute of :data:`_OFFERED` (None:
nothing). A full run makes a million of them straight from the stored JSON
(:func:`sync.store.records.iter_linked_offers`), no objects between."""

OFFER_HEAD = 4
SYSTEM, RECORD_ID, UPDATED_AT, ACCOUNT = range(OFFER_HEAD)
INN, BIRTH_DATE, PASSPORT, PHONES = (OFFER_HEAD + _OFFERED.index(name)
                                     for name in ("inn", "birth_date", "passport", "phones"))


def spaced(text: str | None) -> str | None:
    """Text as typed, runs of spaces collapsed (None when nothing is left)."""
    return " ".join(text.split()) or None if text else None


def offer_of(record: SourceRecord, facts: Facts | None = None) -> Offer:
    """``record`` as an :data:`Offer`. Names and addresses as typed (normalized forms are
    for matching)."""
    facts = facts or facts_of(record)
    attributes = record.attributes
    account = (attributes.get("account_no") or record.record_id
               if record.system == "billing" else None)  # fmt: skip
    return (record.system, record.record_id, record.updated_at or "", account,
            facts.kind or None, spaced(record.name), facts.birth_date, facts.inn,
            facts.passport, list(facts.phones) or None, facts.email, spaced(record.city),
            spaced(record.address), attributes.get("segment") or None,
            attributes.get("manager_id") or None)


def stored_offer(record: Mapping[str, Any], normalized: Mapping[str, Any]) -> Offer:
    """:func:`offer_of` a record as the store keeps it: its JSON
    (:func:`~sync.store.records.record_json`) and the facts its import normalized
    (:func:`~sync.store.records.normalized_json`), without a record object between."""
    system, record_id = record["system"], record["record_id"]
    attributes = record.get("attributes") or {}
    account = attributes.get("account_no") or record_id if system == "billing" else None
    return (system, record_id, record.get("updated_at") or "", account,
            normalized["kind"] or None, spaced(record.get("name")), normalized["birth_date"],
            normalized["inn"], normalized["passport"], list(normalized["phones"]) or None,
            normalized["email"], spaced(record.get("city")), spaced(record.get("address")),
            attributes.get("segment") or None, attributes.get("manager_id") or None)


def candidate_values(record: SourceRecord, facts: Facts | None = None) -> dict[str, Any]:
    """What ``record`` offers for each golden attribute (None: nothing)."""
    offered = dict(zip(_OFFERED, offer_of(record, facts)[OFFER_HEAD:], strict=True))
    return {name: offered[name] for name in GOLDEN_FIELDS}


_FieldPlan = tuple[str, int, str, int]
"""An attribute's rule: its name, where it is in an :data:`Offer`, its strategy and which
of the plan's orderings ranks the records for it (a tuple: read a million times)."""

_recency = itemgetter(UPDATED_AT)


@dataclass(frozen=True, slots=True)
class _Ordering:
    trusted_first: bool
    """Rank by system before recency (``trusted_source``), else after it."""
    rank: Mapping[str, int]
    """The rule's systems, most trusted first (unlisted ones after them all)."""

    def ranked(self, offers: Sequence[Offer]) -> list[Offer]:
        """``offers`` (sorted by record key), the preferred first: the rule's criterion,
        then the other, then the record key (the undated least recent). Sorts are stable,
        ``reverse`` too."""
        rank, last = self.rank, len(self.rank)
        ordered = list(offers)
        if self.trusted_first:
            ordered.sort(key=_recency, reverse=True)
            ordered.sort(key=lambda o: rank.get(o[SYSTEM], last))
        else:
            ordered.sort(key=lambda o: rank.get(o[SYSTEM], last))
            ordered.sort(key=_recency, reverse=True)
        return ordered

    def pair(self, a: Offer, b: Offer) -> tuple[Offer, Offer]:
        """:meth:`ranked` of two offers, ``a`` first by record key (most customers: a CRM
        card and its account), without sorting."""
        rank, last = self.rank, len(self.rank)
        by_rank = rank.get(a[SYSTEM], last) - rank.get(b[SYSTEM], last)
        newer, older = a[UPDATED_AT], b[UPDATED_AT]
        if self.trusted_first:
            if by_rank:
                return (a, b) if by_rank < 0 else (b, a)
            return (b, a) if older > newer else (a, b)
        if newer != older:
            return (a, b) if newer > older else (b, a)
        return (b, a) if by_rank > 0 else (a, b)


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
        fields.append((name, OFFER_HEAD + _OFFERED.index(name), rule.strategy, order))
    return SurvivorshipPlan(tuple(fields), tuple(
        _Ordering(trusted_first, {system: i for i, system in enumerate(systems)})
        for trusted_first, systems in orderings))


@dataclass(slots=True)
class GoldenParts:
    """A golden record in the shapes the store writes (no object per value): the writer
    makes a :class:`GoldenRecord` of it only for the events that cite one."""

    global_id: str
    provenance: Provenance
    plain: dict[str, Any]
    """The values alone, then ``accounts`` (what ``sync_golden.values`` keeps)."""
    sources: list[RecordKey]
    keys: list[tuple[str, str]]
    """Sorted."""

    @property
    def digest(self) -> str:
        body = orjson.dumps([self.plain, self.sources, self.keys],  # both sorted already
                            option=orjson.OPT_SORT_KEYS)
        return hashlib.sha1(body).hexdigest()

    def record(self) -> GoldenRecord:
        golden = GoldenRecord(self.global_id, sources=self.sources,
                              accounts=self.plain["accounts"], keys=set(self.keys))
        plain = self.plain
        golden.values = {name: GoldenValue(plain[name], p["system"], p["id"], p["rule"])
                         for name, p in self.provenance.items()}
        return golden


def digest_of(plain: Mapping[str, Any], sources: Sequence[RecordKey],
              keys: Sequence[tuple[str, str]]) -> str:
    """What tells a stored golden record from a new one (values, sources, keys)."""
    body = orjson.dumps([plain, sorted(sources), sorted(keys)], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha1(body).hexdigest()


def golden_parts(global_id: str, offers: Sequence[Offer], plan: SurvivorshipPlan
                 ) -> GoldenParts:
    """The golden record of the customer whose records are ``offers``, sorted by record key
    (each value chosen by its rule, and where it came from)."""
    provenance: Provenance = {}
    plain: dict[str, Any] = {}
    if len(offers) == 1:
        (offered,) = offers
        system, record_id = offered[SYSTEM], offered[RECORD_ID]
        for name, index, _strategy, _which in plan.fields:
            value = offered[index]
            if value is not None:
                plain[name] = value
                provenance[name] = {"system": system, "id": record_id, "rule": "only_value"}
    elif len(offers) == 2:
        _choose_two(offers[0], offers[1], plan, plain, provenance)
    else:
        _choose(offers, plan, plain, provenance)
    accounts: list[str] = []
    sources: list[RecordKey] = []
    keys: set[tuple[str, str]] = set()
    for o in offers:  # one pass: a million customers
        system = o[SYSTEM]
        sources.append((system, o[RECORD_ID]))
        if (account := o[ACCOUNT]) is not None:
            accounts.append(account)
            keys.add(("account", account))
        if system == "docflow":
            continue  # a document cites a customer; its INN or account does not find them
        if phones := o[PHONES]:
            for phone in phones:
                keys.add(("phone", phone))
        if inn := o[INN]:
            keys.add(("inn", inn))
    accounts.sort()
    plain["accounts"] = accounts
    return GoldenParts(global_id, provenance, plain, sources, sorted(keys))


def _choose(offers: Sequence[Offer], plan: SurvivorshipPlan, plain: dict[str, Any],
            provenance: Provenance) -> None:
    """Each attribute's value among several records, by its rule: the first record in the
    rule's order that offers a value wins; if another offers a different one, the rule
    decided (``most_complete``: the longest value, ties to the order's first)."""
    ranked: list[list[Offer] | None] = [None] * len(plan.orderings)
    for name, index, strategy, which in plan.fields:
        order = ranked[which]
        if order is None:
            order = ranked[which] = plan.orderings[which].ranked(offers)
        winner: Offer | None = None
        first: Any = None
        how = "only_value"
        for offered in order:
            value = offered[index]
            if value is None:
                continue
            if winner is None:
                winner, first = offered, value
            elif first != value if type(first) is str else _differ(first, value):
                how = strategy
                break
        if winner is None:
            continue
        if how == "most_complete":
            winner = min((o for o in order if o[index] is not None),
                         key=lambda o: -len(orjson.dumps(o[index])))
        plain[name] = winner[index]
        provenance[name] = {"system": winner[SYSTEM], "id": winner[RECORD_ID], "rule": how}


def _choose_two(a: Offer, b: Offer, plan: SurvivorshipPlan, plain: dict[str, Any],
                provenance: Provenance) -> None:
    """:func:`_choose` for two records, written out."""
    orders = [ordering.pair(a, b) for ordering in plan.orderings]
    for name, index, strategy, which in plan.fields:
        winner, other = orders[which]
        value, second = winner[index], other[index]
        if value is None:
            if second is None:
                continue
            winner, value, how = other, second, "only_value"
        elif second is None or (value == second if type(value) is str
                                else not _differ(value, second)):
            how = "only_value"
        else:
            how = strategy
            if how == "most_complete" and len(orjson.dumps(second)) > len(orjson.dumps(value)):
                winner, value = other, second  # the longest; ties: the order's first
        plain[name] = value
        provenance[name] = {"system": winner[SYSTEM], "id": winner[RECORD_ID], "rule": how}


def build_golden(
    global_id: str, records: Sequence[SourceRecord], settings: SyncSettings,
    known: Mapping[RecordKey, Facts] | None = None, plan: SurvivorshipPlan | None = None,
) -> GoldenRecord:
    """The golden record of the customer made of ``records`` (``known``: their facts,
    when the caller has them; ``plan``: the settings' rules, when the caller has them)."""
    forms = known or {}
    offers = sorted(offer_of(r, forms.get(r.key)) for r in records)
    return golden_parts(global_id, offers, plan or survivorship_plan(settings)).record()


def _differ(first: Any, other: Any) -> bool:
    """Whether two values differ as JSON (``1`` and ``1.0`` do)."""
    if type(first) is str:
        return bool(first != other)  # text equals only equal text
    text_list = type(first) is list and all(type(item) is str for item in first)
    if text_list and first == other:  # equal lists of text: equal JSON
        return False
    return orjson.dumps(first) != orjson.dumps(other)
