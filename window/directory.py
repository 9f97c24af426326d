"""Who is calling, known locally: the screen pop's first card, without asking anyone.

Fed by the bus events that describe customers and managers
(``crm.customer.changed.v1``, ``sync.customer.updated.v1``,
``crm.manager.changed.v1``) and by every view the window gathered. A lookup is
a dictionary read, so the first push to the agent's page never waits for a
backend. Bounded: the least recently touched callers are forgotten first.
"""

from __future__ import annotations

import itertools
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from window.identity import Identity, identity_from_customer

__all__ = ["Directory", "KnownCustomer", "customer_name", "manager_summary"]

#: Tags that name one customer for sure; phones, INNs and accounts may be shared.
_STRONG = ("golden:", "crm:", "billing:")


@dataclass(slots=True)
class KnownCustomer:
    identity: Identity
    name: str | None = None
    segment: str | None = None
    manager_id: str | None = None
    source: str = ""
    updated: float = field(default_factory=time.time)


def customer_name(customer: Mapping[str, Any]) -> str | None:
    """A person's full name or a company's short (else legal) name."""
    person = customer.get("person")
    if isinstance(person, Mapping):
        parts = [person.get("last_name"), person.get("first_name"), person.get("middle_name")]
        return " ".join(str(part) for part in parts if part) or None
    company = customer.get("company")
    if isinstance(company, Mapping):
        return str(company.get("short_name") or company.get("legal_name") or "") or None
    return None


def manager_summary(manager: Mapping[str, Any]) -> dict[str, Any]:
    """``{id, name, extension}`` from a canonical Manager or a CRM card's manager."""
    name = manager.get("name") or " ".join(
        str(manager[part]) for part in ("last_name", "first_name", "middle_name")
        if manager.get(part))
    return {"id": str(manager["id"]), "name": name or None,
            "extension": manager.get("extension")}


class Directory:
    def __init__(self, size: int = 100_000) -> None:
        self.size = size
        self._entries: OrderedDict[int, KnownCustomer] = OrderedDict()
        self._by_tag: dict[str, int] = {}
        self._managers: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)

    def __len__(self) -> int:
        return len(self._entries)

    # -- feeding ----------------------------------------------------------------

    def remember_customer(self, customer: Mapping[str, Any], system: str,
                          extra: Identity | None = None) -> KnownCustomer:
        """A canonical Customer as ``system`` (crm, sync, billing) describes it."""
        identity = identity_from_customer(customer, system)
        if extra is not None:
            identity.merge(extra)
        return self.remember(identity, name=customer_name(customer),
                             segment=customer.get("segment"),
                             manager_id=customer.get("manager_id"), source=system)

    def remember(self, identity: Identity, *, name: str | None = None,
                 segment: str | None = None, manager_id: str | None = None,
                 source: str = "") -> KnownCustomer:
        number = self._find(identity)
        entry = self._entries.get(number) if number is not None else None
        if entry is None:
            number = next(self._ids)
            entry = KnownCustomer(Identity(), source=source)
            self._entries[number] = entry
        assert number is not None
        entry.identity.merge(identity)
        entry.name = name or entry.name
        entry.segment = segment or entry.segment
        entry.manager_id = manager_id or entry.manager_id
        entry.source = source or entry.source
        entry.updated = time.time()
        for tag in entry.identity.tags():
            self._by_tag[tag] = number
        self._entries.move_to_end(number)
        while len(self._entries) > self.size:
            self._remove(next(iter(self._entries)))
        return entry

    def remember_manager(self, manager: Mapping[str, Any]) -> None:
        summary = manager_summary(manager)
        self._managers[summary["id"]] = summary

    def forget_manager(self, manager_id: str) -> None:
        self._managers.pop(manager_id, None)

    def forget(self, tags: Iterable[str]) -> None:
        for tag in tags:
            number = self._by_tag.get(tag)
            if number is not None:
                self._remove(number)

    # -- reading ----------------------------------------------------------------

    def find(self, tags: Iterable[str]) -> KnownCustomer | None:
        number = self._find_tags(set(tags))
        return self._entries.get(number) if number is not None else None

    def manager(self, manager_id: str | None) -> dict[str, Any] | None:
        return self._managers.get(manager_id) if manager_id else None

    def card(self, phone: str | None, raw_number: str | None = None) -> dict[str, Any]:
        """The local card of a caller: what is known here, or a "new caller" card."""
        known = self.find([f"phone:{phone}"]) if phone else None
        if known is None:
            return {"known": False, "title": "New caller", "phone": phone or raw_number,
                    "name": None, "segment": None, "manager": None, "golden_id": None,
                    "crm_id": None}
        manager = self.manager(known.manager_id)
        if manager is None and known.manager_id:
            manager = {"id": known.manager_id, "name": None, "extension": None}
        return {"known": True, "title": known.name or phone, "phone": phone,
                "name": known.name, "segment": known.segment, "manager": manager,
                "golden_id": known.identity.golden_id,
                "crm_id": known.identity.records.get("crm")}

    # -- inside -----------------------------------------------------------------

    def _find(self, identity: Identity) -> int | None:
        return self._find_tags(identity.tags())

    def _find_tags(self, tags: set[str]) -> int | None:
        """The entry these tags name: by the surest tag first (golden, then CRM, billing),
        never one that names the customer otherwise (another golden or CRM id)."""
        strong = [tag for tag in tags if tag.startswith(_STRONG)]
        ordered = sorted(strong, key=lambda tag: _STRONG.index(tag.split(":", 1)[0] + ":"))
        for tag in [*ordered, *sorted(tags - set(strong))]:
            number = self._by_tag.get(tag)
            if number is not None and not _conflicts(self._entries[number].identity.tags(),
                                                     strong):
                return number
        return None

    def _remove(self, number: int) -> None:
        entry = self._entries.pop(number, None)
        if entry is None:
            return
        for tag in entry.identity.tags():
            if self._by_tag.get(tag) == number:
                del self._by_tag[tag]


def _conflicts(existing: set[str], strong: list[str]) -> bool:
    """Both name a customer for sure, differently (same kind of id, another value)."""
    kinds = {tag.split(":", 1)[0]: tag for tag in existing if tag.startswith(_STRONG)}
    return any(kinds.get(tag.split(":", 1)[0], tag) != tag for tag in strong)
