"""The CRM simulator's store: a small built-in seed of managers and customers.

Records are in our CRM's REST shape (see :mod:`adapters.crm.mapping`); the
store is plain dicts guarded by one lock, shared by the simulator's threads.
"""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

from adapters.crm.mapping import e164

__all__ = ["CrmData", "Record"]

Record = dict[str, Any]

_MANAGERS: list[Record] = [
    {"id": "M-1", "last_name": "Петров", "first_name": "Иван", "extension": "2001",
     "email": "petrov@operator.example"},
    {"id": "M-2", "last_name": "Сидорова", "first_name": "Анна", "extension": "2002",
     "email": "sidorova@operator.example"},
    {"id": "M-3", "last_name": "Головин", "first_name": "Олег", "extension": "2100",
     "email": "head.sales@operator.example"},
]

_CUSTOMERS: list[Record] = [
    {"id": "C-1001", "type": "person", "last_name": "Иванова", "first_name": "Мария",
     "middle_name": "Сергеевна", "inn": "246512345678", "segment": "consumer",
     "status": "active", "manager_id": "M-1", "region": "Красноярск",
     "address": "г. Красноярск, ул. Ленина, д. 10, кв. 5",
     "phones": [{"number": "8 (912) 345-67-89", "type": "mobile"}],
     "emails": [{"address": "m.ivanova@example.ru", "type": "home"}],
     "updated_at": "2024-03-12T05:40:00Z"},
    {"id": "C-1002", "type": "company", "company_name": "ООО «Ромашка»",
     "short_name": "Ромашка", "inn": "2465012345", "segment": "corporate",
     "status": "active", "manager_id": "M-2", "region": "Красноярск",
     "phones": [{"number": "+7 (391) 200-11-22", "type": "work"}],
     "emails": [], "updated_at": "2024-02-01T09:00:00Z"},
    {"id": "C-1003", "type": "person", "last_name": "Королёв", "first_name": "Андрей",
     "inn": None, "segment": "vip", "status": "active", "manager_id": "M-3",
     "phones": [{"number": "+79135550101", "type": "mobile"}], "emails": [],
     "updated_at": "2024-01-15T12:00:00Z"},
    {"id": "C-1004", "type": "person", "last_name": "Новиков", "first_name": "Павел",
     "inn": None, "segment": None, "status": "active", "manager_id": None,
     "phones": [{"number": "89991112233", "type": "mobile"}], "emails": [],
     "updated_at": "2024-01-20T12:00:00Z"},
]


@dataclass
class CrmData:
    managers: dict[str, Record] = field(default_factory=dict)
    customers: dict[str, Record] = field(default_factory=dict)
    interactions: dict[str, Record] = field(default_factory=dict)
    """Stored call logs by external id: what the CRM's history shows."""
    received: list[Record] = field(default_factory=list)
    """Every call log written to the CRM, repeats included, in arrival order."""
    tasks: list[Record] = field(default_factory=list)
    task_keys: dict[str, Record] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def seed(cls) -> CrmData:
        """Three managers and four customers: a person, a company, a VIP, one with no manager."""
        data = cls()
        data.managers = {m["id"]: copy.deepcopy(m) for m in _MANAGERS}
        data.customers = {c["id"]: copy.deepcopy(c) for c in _CUSTOMERS}
        return data

    def view(self, customer: Record) -> Record:
        """A customer as the API shows it: the manager embedded."""
        shown = {k: v for k, v in customer.items() if k != "manager_id"}
        manager_id = customer.get("manager_id")
        shown["manager"] = copy.deepcopy(self.managers.get(manager_id)) if manager_id else None
        return shown

    def find(self, *, phone: str | None = None, inn: str | None = None) -> list[Record]:
        with self.lock:
            return [self.view(c) for c in self.customers.values()
                    if (phone is None or phone in {e164(p["number"]) for p in c["phones"]})
                    and (inn is None or c.get("inn") == inn)]

    def card(self, customer_id: str) -> Record | None:
        with self.lock:
            customer = self.customers.get(customer_id)
            if customer is None:
                return None
            card = self.view(customer)
            card["interactions"] = [copy.deepcopy(i) for i in self.interactions.values()
                                    if i.get("customer_id") == customer_id]
            return card

    def put_interaction(self, external_id: str, body: Record) -> tuple[Record, bool]:
        with self.lock:
            self.received.append(copy.deepcopy(body))
            existing = self.interactions.get(external_id)
            if existing is not None:
                return copy.deepcopy(existing), False
            stored = {**copy.deepcopy(body), "external_id": external_id,
                      "id": f"I-{len(self.interactions) + 1}"}
            self.interactions[external_id] = stored
            return copy.deepcopy(stored), True

    def add_task(self, key: str | None, body: Record) -> tuple[Record, bool]:
        with self.lock:
            if key and key in self.task_keys:
                return copy.deepcopy(self.task_keys[key]), False
            task = {**copy.deepcopy(body), "id": f"T-{len(self.tasks) + 1}", "status": "open"}
            self.tasks.append(task)
            if key:
                self.task_keys[key] = task
            return copy.deepcopy(task), True
