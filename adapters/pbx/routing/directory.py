"""Reference data routing reads on every call: customers by phone, managers, assignments.

Filled from ``crm.customer.changed.v1``, ``sync.customer.updated.v1``,
``crm.customer.replied.v1`` and ``crm.manager.changed.v1`` payloads; kept in memory
(dictionaries, no I/O on the hot path) and written through to SQL by :mod:`.store`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Assignment", "CustomerRef", "Directory", "ManagerRef", "customer_refs", "manager_ref"]


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """Who owns a phone number: the customer, its segment and responsible manager."""

    phone: str
    customer_id: str
    segment: str | None = None
    manager_id: str | None = None
    source: str = "crm"


@dataclass(frozen=True, slots=True)
class ManagerRef:
    id: str
    name: str
    extension: str | None = None
    queues: tuple[str, ...] = ()
    region: str | None = None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Assignment:
    """A new caller given to a manager by auto-assign: the next call goes there too."""

    phone: str
    manager_id: str
    linkedid: str | None
    assigned_at: float


def customer_refs(customer: Mapping[str, Any], *, source: str,
                  customer_id: str | None = None) -> list[CustomerRef]:
    """One :class:`CustomerRef` per phone of a canonical Customer entity."""
    ident = customer_id or str(customer.get("id") or "")
    if not ident:
        return []
    phones = {str(c["phone"]) for c in customer.get("contacts") or () if c.get("phone")}
    return [CustomerRef(phone, ident, customer.get("segment"), customer.get("manager_id"),
                        source) for phone in sorted(phones)]


def manager_ref(manager: Mapping[str, Any], *, deleted: bool = False) -> ManagerRef:
    name = " ".join(str(manager.get(k) or "") for k in ("first_name", "last_name")).strip()
    return ManagerRef(id=str(manager["id"]), name=name or str(manager["id"]),
                      extension=manager.get("extension"),
                      queues=tuple(manager.get("queues") or ()), region=manager.get("region"),
                      active=bool(manager.get("active", True)) and not deleted)


class Directory:
    def __init__(self) -> None:
        self.customers: dict[str, CustomerRef] = {}
        self.managers: dict[str, ManagerRef] = {}
        self.assignments: dict[str, Assignment] = {}
        self._phones: dict[str, set[str]] = {}
        """customer id -> its phones in :attr:`customers`."""

    def put_customer(self, customer_id: str, refs: Iterable[CustomerRef]) -> None:
        """Replace every phone of ``customer_id`` by ``refs`` (an empty list forgets it)."""
        for phone in self._phones.pop(customer_id, set()):
            ref = self.customers.get(phone)
            if ref is not None and ref.customer_id == customer_id:
                del self.customers[phone]
        for ref in refs:
            previous = self.customers.get(ref.phone)
            if previous is not None and previous.customer_id != customer_id:
                self._phones.get(previous.customer_id, set()).discard(ref.phone)
            self.customers[ref.phone] = ref
            self._phones.setdefault(customer_id, set()).add(ref.phone)
            self.assignments.pop(ref.phone, None)  # the CRM knows the caller now

    def put_manager(self, manager: ManagerRef) -> None:
        self.managers[manager.id] = manager

    def assign(self, assignment: Assignment) -> None:
        self.assignments[assignment.phone] = assignment

    def extension_of(self, manager_id: str | None) -> str | None:
        manager = self.managers.get(manager_id or "")
        return manager.extension if manager is not None and manager.active else None

    def active_managers(self, queue: str | None = None) -> list[ManagerRef]:
        """Active managers with an extension, in ``queue`` if given, in a stable order."""
        return sorted((m for m in self.managers.values()
                       if m.active and m.extension and (queue is None or queue in m.queues)),
                      key=lambda m: m.id)
