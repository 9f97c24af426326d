"""Which cached answers a change event makes stale: pure functions, no I/O.

``stale_by(type, payload)`` returns the sections to drop (None: all of them)
and the tags (``account:…``, ``phone:…``, ``crm:…``) the event names.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bus.phones import to_e164
from window.identity import identity_from_customer, tags_of

__all__ = ["INVALIDATING_TYPES", "stale_by"]

Payload = Mapping[str, Any]
Stale = tuple[frozenset[str] | None, set[str]]


def _balance(payload: Payload) -> Stale:
    return frozenset({"billing"}), tags_of(account=payload.get("account_number"),
                                           billing=payload.get("customer_id"))


def _account(payload: Payload) -> Stale:
    account = payload.get("account") or {}
    tags = tags_of(account=account.get("number"), billing=account.get("customer_id"))
    holder = payload.get("customer")
    if isinstance(holder, Mapping):
        tags |= identity_from_customer(holder, "billing").tags()
    return frozenset({"billing", "profile"}), tags


def _crm_customer(payload: Payload) -> Stale:
    identity = identity_from_customer(payload.get("customer") or {}, "crm")
    return frozenset({"crm", "profile"}), identity.tags()


def _document(payload: Payload) -> Stale:
    document = payload.get("document") or {}
    party = document.get("counterparty") or {}
    return frozenset({"documents"}), tags_of(
        document=document.get("id"), account=document.get("account_number"),
        inn=party.get("inn"), docflow=party.get("customer_id"))


def _golden(payload: Payload) -> Stale:
    identity = identity_from_customer(payload.get("customer") or {})
    tags = identity.tags() | tags_of(golden=payload.get("golden_id"))
    for source in payload.get("sources") or ():
        tags |= tags_of(**{str(source["system"]): str(source["id"])})
    return None, tags


def _relinked(payload: Payload) -> Stale:
    """Merged, linked or split: every golden id and source record the event names."""
    tags = tags_of(golden=[payload.get("golden_id"), payload.get("previous_golden_id"),
                           *(payload.get("retired_ids") or ())])
    customer = payload.get("customer")
    if isinstance(customer, Mapping):
        tags |= identity_from_customer(customer).tags()
    record = payload.get("record")
    records = [*(payload.get("sources") or ()), *([record] if record else [])]
    for part in payload.get("parts") or ():
        if isinstance(part, Mapping):
            tags |= tags_of(golden=part.get("golden_id"))
            records.extend(part.get("records") or part.get("sources") or ())
    for source in records:
        if isinstance(source, Mapping) and source.get("system"):
            tags |= tags_of(**{str(source["system"]): str(source.get("id") or "")})
    return None, tags


def _manager(payload: Payload) -> Stale:
    manager = payload.get("manager") or {}
    return frozenset({"crm"}), tags_of(manager=manager.get("id"))


def _call_ended(payload: Payload) -> Stale:
    if "customer_e164" in payload:  # the PBX adapter normalised the customer's number
        numbers = [payload["customer_e164"]]
    else:
        numbers = [to_e164(payload.get(name)) for name in ("caller_number", "called_number")]
    return frozenset({"calls", "crm"}), tags_of(phone=[n for n in numbers if n])


def _interaction(payload: Payload) -> Stale:
    interaction = payload.get("interaction") or payload
    phone = to_e164(interaction.get("phone")) if interaction.get("phone") else None
    return frozenset({"crm"}), tags_of(crm=interaction.get("customer_id"), phone=phone)


_RULES: dict[str, Callable[[Payload], Stale]] = {
    "billing.balance.changed.v1": _balance,
    "billing.account.changed.v1": _account,
    "crm.customer.changed.v1": _crm_customer,
    "crm.manager.changed.v1": _manager,
    "docflow.document.changed.v1": _document,
    "sync.customer.updated.v1": _golden,
    "sync.customer.merged.v1": _relinked,
    "sync.customer.linked.v1": _relinked,
    "sync.customer.split.v1": _relinked,
    "pbx.call.ended.v1": _call_ended,
    "crm.interaction.logged.v1": _interaction,
}

INVALIDATING_TYPES: tuple[str, ...] = tuple(sorted(_RULES))


def stale_by(type: str, payload: Payload) -> Stale:
    rule = _RULES.get(type)
    if rule is None:
        return frozenset(), set()
    return rule(payload)
