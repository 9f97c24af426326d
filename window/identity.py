"""What the window knows about whom it is looking at: the keys of one customer.

A view starts from one key (a golden id, a phone, an account number, an INN);
every answer may add more (the synchronizer's xref names the CRM and billing
records, the CRM card the phones, the billing the accounts). Backends that
could not be asked with the first key are asked as soon as one of theirs is
known.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bus.phones import to_e164

__all__ = ["LOOKUP_KEYS", "Identity", "identity_from_customer", "tags_of"]

#: The keys ``/v1/customers/lookup`` accepts, as query parameters.
LOOKUP_KEYS = ("phone", "account", "inn")

_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


@dataclass(slots=True)
class Identity:
    golden_id: str | None = None
    phones: list[str] = field(default_factory=list)
    inn: str | None = None
    accounts: list[str] = field(default_factory=list)
    records: dict[str, str] = field(default_factory=dict)
    """Source records: system (crm, billing, docflow) -> the customer's id there."""

    @classmethod
    def from_query(cls, *, golden_id: str | None = None, phone: str | None = None,
                   account: str | None = None, inn: str | None = None) -> Identity:
        identity = cls(golden_id=golden_id, inn=inn)
        if phone:
            identity.phones.append(phone)
        if account:
            identity.accounts.append(account)
        return identity

    def merge(self, other: Identity) -> None:
        """Add what ``other`` knows and this does not (first known values win)."""
        self.golden_id = self.golden_id or other.golden_id
        self.inn = self.inn or other.inn
        _extend(self.phones, other.phones)
        _extend(self.accounts, other.accounts)
        for system, record_id in other.records.items():
            self.records.setdefault(system, record_id)

    def tags(self) -> set[str]:
        """Index entries of this customer: what change events name."""
        found = {f"phone:{phone}" for phone in self.phones}
        found |= {f"account:{number}" for number in self.accounts}
        found |= {f"{system}:{record_id}" for system, record_id in self.records.items()}
        if self.golden_id:
            found.add(f"golden:{self.golden_id}")
        if self.inn:
            found.add(f"inn:{self.inn}")
        return found


def identity_from_customer(customer: Mapping[str, Any], system: str | None = None) -> Identity:
    """The keys in a canonical Customer entity (``system``: whose id ``customer.id`` is)."""
    identity = Identity(inn=_text(customer.get("inn")))
    for contact in customer.get("contacts") or ():
        phone = contact.get("phone") if isinstance(contact, Mapping) else None
        if phone and not _E164.match(phone):  # canonical contacts are E.164 already
            phone = to_e164(phone)
        if phone:
            _extend(identity.phones, [phone])
    for other, record_id in (customer.get("external_ids") or {}).items():
        identity.records.setdefault(str(other), str(record_id))
    if system and customer.get("id"):
        if system == "sync":
            identity.golden_id = str(customer["id"])
        else:
            identity.records[system] = str(customer["id"])
    return identity


def tags_of(**keys: str | Iterable[str | None] | None) -> set[str]:
    """Tags for keys given as ``phone=…``, ``account=[…]``, ``crm=…``; empty values skipped."""
    found: set[str] = set()
    for kind, value in keys.items():
        values = [value] if isinstance(value, str) or value is None else list(value)
        found |= {f"{kind}:{item}" for item in values if item}
    return found


def _extend(target: list[str], values: Iterable[str]) -> None:
    for value in values:
        if value and value not in target:
            target.append(value)


def _text(value: Any) -> str | None:
    return str(value) if value else None
