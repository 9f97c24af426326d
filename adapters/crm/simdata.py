"""The CRM simulator's store: a small built-in seed, or a datagen directory.

Records are in our CRM's REST shape (see :mod:`adapters.crm.mapping`); the
store is plain dicts guarded by one lock, shared by the simulator's threads and
by both dialects it serves (ours and Bitrix24's, :mod:`adapters.crm.sim_bitrix`).
Besides customers and managers it holds open deals/requests, the interaction
history (call logs, with the agent's result and notes), tasks and activities
(click-to-call results, Bitrix24 ``crm.activity.add``).
"""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import contextlib
import copy
import csv
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
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


_DEALS: list[Record] = [
    {"id": "D-501", "customer_id": "C-1001", "kind": "deal",
     "title": "Подключение домашнего интернета", "stage": "proposal", "amount": "650.00",
     "currency": "RUB", "opened_at": "2024-03-01T09:00:00Z", "closed": False},
    {"id": "R-77", "customer_id": "C-1001", "kind": "request", "title": "Не работает ТВ",
     "stage": "open", "amount": None, "currency": None, "opened_at": "2024-03-10T12:30:00Z",
     "closed": False},
    {"id": "D-480", "customer_id": "C-1001", "kind": "deal", "title": "Смена тарифа",
     "stage": "won", "amount": "300.00", "currency": "RUB",
     "opened_at": "2023-11-01T09:00:00Z", "closed": True},
    {"id": "D-502", "customer_id": "C-1002", "kind": "deal", "title": "Выделенная линия 1 Гбит/с",
     "stage": "negotiation", "amount": "45000.00", "currency": "RUB",
     "opened_at": "2024-02-20T09:00:00Z", "closed": False},
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
    deals: dict[str, Record] = field(default_factory=dict)
    """Deals and requests by id; the card shows the open ones."""
    annotations: list[Record] = field(default_factory=list)
    """Every result/notes write received (repeats too), in arrival order."""
    activities: dict[str, Record] = field(default_factory=dict)
    """Activities (click-to-call results, Bitrix24 activities) by id."""
    activity_keys: dict[str, str] = field(default_factory=dict)
    customer_keys: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def seed(cls) -> CrmData:
        """Three managers and four customers: a person, a company, a VIP, one with no manager."""
        data = cls()
        data.managers = {m["id"]: copy.deepcopy(m) for m in _MANAGERS}
        data.customers = {c["id"]: copy.deepcopy(c) for c in _CUSTOMERS}
        data.deals = {d["id"]: copy.deepcopy(d) for d in _DEALS}
        return data

    @classmethod
    def from_directory(cls, directory: Path | str) -> CrmData:
        """A datagen output: ``managers.csv`` and ``crm_customers.csv``."""
        data = cls()
        folder = Path(directory)
        with open(folder / "managers.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                last, _, rest = row["name"].partition(" ")
                first, _, middle = rest.partition(" ")
                data.managers[row["manager_id"]] = {
                    "id": row["manager_id"], "last_name": last, "first_name": first or None,
                    "middle_name": middle or None, "extension": row.get("extension") or None,
                    "region": row.get("region") or None, "role": row.get("role") or None}
        with open(folder / "crm_customers.csv", newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                data.customers[row["crm_id"]] = _customer_row(row)
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

    def card(self, customer_id: str, interactions: int = 10) -> Record | None:
        """The customer, the manager, open deals/requests and the last interactions."""
        with self.lock:
            customer = self.customers.get(customer_id)
            if customer is None:
                return None
            card = self.view(customer)
            history = sorted((i for i in self.interactions.values()
                              if i.get("customer_id") == customer_id),
                             key=lambda i: str(i.get("started_at")), reverse=True)
            card["interactions"] = copy.deepcopy(history[:interactions])
            card["deals"] = copy.deepcopy(sorted(
                (d for d in self.deals.values()
                 if d["customer_id"] == customer_id and not d.get("closed")),
                key=lambda d: str(d.get("opened_at")), reverse=True))
            return card

    def add_customer(self, key: str | None, body: Record) -> tuple[Record, bool]:
        """Create a customer (a lead) once per idempotency ``key``: (its view, whether new)."""
        with self.lock:
            if key and key in self.customer_keys:
                return self.view(self.customers[self.customer_keys[key]]), False
            customer_id = f"C-{2000 + len(self.customers) + 1}"
            manager = body.get("manager") or {}
            record = {k: copy.deepcopy(v) for k, v in body.items() if k != "manager"}
            record.update(id=customer_id, manager_id=manager.get("id"))
            self.customers[customer_id] = record
            if key:
                self.customer_keys[key] = customer_id
            return self.view(record), True

    def annotate(self, external_id: str, body: Record) -> Record | None:
        """Write the agent's result and notes into a stored call log (None: no such log)."""
        with self.lock:
            self.annotations.append({"external_id": external_id, **copy.deepcopy(body)})
            stored = self.interactions.get(external_id)
            if stored is None:
                return None
            for name in ("result", "notes", "agent_extension", "agent_id", "annotated_at"):
                if name in body:
                    stored[name] = body[name]
            return copy.deepcopy(stored)

    def add_activity(self, key: str | None, body: Record, *,
                     locked: bool = False) -> tuple[Record, bool]:
        """Store an activity once per idempotency ``key``: (the activity, whether new).
        ``locked``: the caller holds :attr:`lock` already."""
        with contextlib.nullcontext() if locked else self.lock:
            if key and key in self.activity_keys:
                return copy.deepcopy(self.activities[self.activity_keys[key]]), False
            activity = {**copy.deepcopy(body), "id": str(len(self.activities) + 1)}
            self.activities[activity["id"]] = activity
            if key:
                self.activity_keys[key] = activity["id"]
            return copy.deepcopy(activity), True

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


def _customer_row(row: dict[str, str]) -> Record:
    """A datagen ``crm_customers.csv`` row in our CRM's shape."""
    company = row.get("kind") == "company"
    names = row["full_name"].split(" ", 2) if not company else []
    record: Record = {
        "id": row["crm_id"], "type": "company" if company else "person",
        "inn": row.get("inn") or None, "segment": _segment(row.get("segment", ""), company),
        "status": "active", "manager_id": row.get("manager_id") or None,
        "region": row.get("city") or None, "address": row.get("address") or None,
        "phones": [{"number": row[k], "type": "mobile" if k == "phone" else "other"}
                   for k in ("phone", "phone2") if row.get(k)],
        "emails": [{"address": row["email"], "type": "work"}] if row.get("email") else [],
        "updated_at": f"{row['updated_at']}T00:00:00Z" if row.get("updated_at") else None,
    }
    if company:
        record["company_name"] = row["full_name"]
        record["short_name"] = re.sub(r"^[А-ЯA-Z]{2,4}\s+", "", row["full_name"]) or None
    else:
        record.update(last_name=names[0], first_name=names[1] if len(names) > 1 else None,
                      middle_name=names[2] if len(names) > 2 else None)
    return record


def _segment(segment: str, company: bool) -> str:
    if segment == "vip":
        return "vip"
    return "sme" if company else "consumer"
