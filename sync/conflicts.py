"""What a person must decide, found beyond the engine's review pairs.

* ``review_pair``: two records whose score fell between the thresholds (from the engine);
* ``crm_duplicate``: two or more CRM cards in one customer;
* ``multiple_inns``: two different valid INNs in one customer;
* ``billing_contradicts_crm``: a billing account whose holder's birth date or passport
  contradicts the CRM card it was linked to.

Explanations name fields, never their values (INN and passport are PII). A
conflict's fingerprint (kind + records) keeps it from being raised twice and a
decided one from coming back. :data:`DECISIONS` maps a person's answer to the
pairs the engine must respect from then on.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from sync.golden import BIRTH_DATE, INN, PASSPORT, RECORD_ID, SYSTEM, Facts, Offer, offer_of
from sync.model import RecordKey, ReviewPair, SourceRecord

__all__ = [
    "DECISIONS",
    "Conflict",
    "Resolution",
    "conflicts_in_customer",
    "conflicts_of_offers",
    "decision_pairs",
    "review_conflicts",
]

Kind = Literal["review_pair", "crm_duplicate", "multiple_inns", "billing_contradicts_crm"]
Resolution = Literal["merge", "split", "keep_apart", "dismiss"]

DECISIONS: dict[str, str | None] = {
    "merge": "must_link",        # these records are one customer
    "split": "cannot_link",      # the groups are different customers
    "keep_apart": "cannot_link",  # a review pair that is two customers
    "dismiss": None,             # nothing to change (e.g. a known CRM duplicate left as is)
}


@dataclass(frozen=True, slots=True)
class Conflict:
    kind: Kind
    records: tuple[RecordKey, ...]
    explanation: str
    global_id: str | None = None
    score: float | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    groups: tuple[tuple[RecordKey, ...], ...] = ()
    """Who stands against whom: a split separates the groups (default: each record alone)."""

    @property
    def fingerprint(self) -> str:
        body = self.kind + "|" + "|".join(f"{s}:{r}" for s, r in sorted(self.records))
        return hashlib.sha1(body.encode()).hexdigest()

    def sides(self) -> tuple[tuple[RecordKey, ...], ...]:
        return self.groups or tuple((key,) for key in self.records)


def review_conflicts(review: Iterable[ReviewPair], owner: Mapping[RecordKey, str]
                     ) -> list[Conflict]:
    """The engine's review pairs as conflicts."""
    found = []
    for pair in review:
        left, right = pair.evidence.left, pair.evidence.right
        same = owner.get(left) if owner.get(left) == owner.get(right) else None
        found.append(Conflict(
            "review_pair", tuple(sorted((left, right))), pair.reason, same,
            pair.evidence.score, dict(pair.evidence.weights)))
    return found


def conflicts_in_customer(
    global_id: str, records: Sequence[SourceRecord],
    known: Mapping[RecordKey, Facts] | None = None,
) -> list[Conflict]:
    """CRM duplicates, several valid INNs, billing contradicting CRM, in one customer."""
    forms = known or {}
    return conflicts_of_offers(global_id, sorted(offer_of(r, forms.get(r.key)) for r in records))


def conflicts_of_offers(global_id: str, offers: Sequence[Offer]) -> list[Conflict]:
    """:func:`conflicts_in_customer` of a customer's records as offers sorted by record key
    (their normalized INN, birth date and passport are what the checks compare)."""
    if len(offers) < 2:
        return []
    crm = [o for o in offers if o[SYSTEM] == "crm"]
    billing = [o for o in offers if o[SYSTEM] == "billing"] if crm else []
    inns = {inn for o in offers if (inn := o[INN])}
    if len(crm) < 2 and len(inns) < 2 and not billing:
        return []  # most customers: nothing to check
    found: list[Conflict] = []
    if len(crm) > 1:
        found.append(Conflict(
            "crm_duplicate", tuple((o[SYSTEM], o[RECORD_ID]) for o in crm),
            f"{len(crm)} CRM cards belong to one customer: keep one, or split them", global_id))
    if len(inns) > 1:
        by_inn: dict[str, list[RecordKey]] = defaultdict(list)
        for o in offers:
            if o[INN]:
                by_inn[o[INN]].append((o[SYSTEM], o[RECORD_ID]))
        groups = tuple(tuple(keys) for _inn, keys in sorted(by_inn.items()))
        lengths = sorted({len(inn) for inn in by_inn})
        found.append(Conflict(
            "multiple_inns", tuple(sorted(itertools.chain(*groups))),
            f"{len(by_inn)} different valid INNs ({'/'.join(map(str, lengths))} digits) "
            "in one customer", global_id, groups=groups))
    for bill in billing:
        for card in crm:
            fields = _contradictions(bill, card)
            if fields:
                found.append(Conflict(
                    "billing_contradicts_crm",
                    ((bill[SYSTEM], bill[RECORD_ID]), (card[SYSTEM], card[RECORD_ID])),
                    f"the billing account's {' and '.join(fields)} do not match its CRM card's",
                    global_id))
    return found


def _contradictions(billing: Offer, crm: Offer) -> list[str]:
    fields = []
    born, card_born = billing[BIRTH_DATE], crm[BIRTH_DATE]
    if born and card_born and born != card_born:
        fields.append("birth date")
    passport, card_passport = billing[PASSPORT], crm[PASSPORT]
    if passport and card_passport and passport != card_passport:
        fields.append("passport")
    return fields


def decision_pairs(conflict: Conflict, resolution: Resolution
                   ) -> list[tuple[RecordKey, RecordKey]]:
    """The record pairs a resolution binds: a chain for a merge, every cross pair for a split."""
    if DECISIONS[resolution] == "must_link":
        ordered = sorted(conflict.records)
        return list(itertools.pairwise(ordered))
    if DECISIONS[resolution] == "cannot_link":
        sides = conflict.sides()
        return [(a, b) for i, left in enumerate(sides) for right in sides[i + 1:]
                for a in left for b in right]
    return []
