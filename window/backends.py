"""The five sections of the view and the backend that answers each, over the bus.

Each :class:`Backend` says how to ask (a request payload from what is known
about the customer, or ``None`` while none of its keys is known), what an
answer teaches about the customer (more keys), and what part of the answer the
view shows. Pure functions: no bus, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from window.identity import Identity, identity_from_customer, tags_of
from window.settings import WindowSettings

__all__ = ["BACKENDS", "SECTIONS", "Backend", "document_link", "reply_fault"]

Payload = Mapping[str, Any]
DOCUMENT_CONTENT = "/v1/adapters/docflow/documents/{doc_id}/content"


@dataclass(frozen=True, slots=True)
class Backend:
    section: str
    system: str
    request_type: str
    reply_type: str
    needs: str
    """The keys it can be asked by, for the reason shown when none is known."""
    ask: Callable[[Identity, WindowSettings], list[dict[str, Any]]]
    """Requests it can be asked with, best first; empty while none of its keys is known.
    The first is sent; any of them may find a cached answer."""
    learn: Callable[[Payload], Identity]
    present: Callable[[Payload], dict[str, Any] | None]
    """The view's ``data`` of this section; None when the backend found nothing."""
    tags: Callable[[Payload], set[str]]
    """What change events name that would make this answer stale (besides the request)."""


def reply_fault(reply: Payload) -> tuple[str, str] | None:
    """``(code, message)`` of a reply's ``error``, or None."""
    error = reply.get("error")
    if isinstance(error, Mapping):
        return str(error.get("code", "internal")), str(error.get("message", ""))
    return None


def document_link(doc_id: str) -> str:
    """Where the bus API serves a document's file (the docflow adapter, proxied)."""
    return DOCUMENT_CONTENT.format(doc_id=doc_id)


# -- profile: the synchronizer's golden record and xref ------------------------

def _ask_profile(known: Identity, _settings: WindowSettings) -> list[dict[str, Any]]:
    asks: list[dict[str, Any]] = []
    if known.golden_id:
        asks.append({"golden_id": known.golden_id})
    if known.inn:
        asks.append({"inn": known.inn})
    asks += [{"account_number": number} for number in known.accounts]
    asks += [{"phone": phone} for phone in known.phones]
    asks += [{"record": {"system": system, "id": record_id}}
             for system, record_id in sorted(known.records.items())]
    return asks


def _learn_profile(reply: Payload) -> Identity:
    customers = reply.get("customers") or []
    if not customers:
        return Identity()
    first = customers[0]
    identity = identity_from_customer(first.get("customer") or {}, "sync")
    identity.golden_id = str(first["golden_id"])
    for entry in first.get("xref") or ():
        identity.records.setdefault(str(entry["system"]), str(entry["id"]))
    return identity


def _present_profile(reply: Payload) -> dict[str, Any] | None:
    customers = reply.get("customers") or []
    if not customers:
        return None
    first = dict(customers[0])
    first["also_matched"] = [str(other["golden_id"]) for other in customers[1:]]
    return first


def _tags_profile(reply: Payload) -> set[str]:
    return {tag for view in reply.get("customers") or ()
            for tag in tags_of(golden=view.get("golden_id"))}


# -- crm: the CRM card ---------------------------------------------------------

def _ask_crm(known: Identity, settings: WindowSettings) -> list[dict[str, Any]]:
    limit = {"interactions_limit": settings.interactions_limit}
    asks = [{"customer_id": known.records["crm"], **limit}] if "crm" in known.records else []
    return asks + [{"phone": phone, **limit} for phone in known.phones]


def _learn_crm(reply: Payload) -> Identity:
    card = reply.get("card")
    if not isinstance(card, Mapping):
        return Identity()
    return identity_from_customer(card.get("customer") or {}, "crm")


def _present_crm(reply: Payload) -> dict[str, Any] | None:
    card = reply.get("card")
    return dict(card) if isinstance(card, Mapping) else None


def _tags_crm(reply: Payload) -> set[str]:
    card = reply.get("card")
    if not isinstance(card, Mapping):
        return set()
    manager = card.get("manager") or {}
    return tags_of(crm=(card.get("customer") or {}).get("id"), manager=manager.get("id"))


# -- billing: every account with balance, tariff, services ---------------------

def _ask_billing(known: Identity, _settings: WindowSettings) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = []
    if "billing" in known.records:
        keys.append({"customer_id": known.records["billing"]})
    if known.inn:
        keys.append({"inn": known.inn})
    keys += [{"phone": phone} for phone in known.phones]
    keys += [{"account_number": number} for number in known.accounts]
    return [{**key, "include_services": True} for key in keys]


def _learn_billing(reply: Payload) -> Identity:
    identity = Identity()
    for account in reply.get("accounts") or ():
        identity.accounts.append(str(account["number"]))
        if account.get("customer_id"):
            identity.records.setdefault("billing", str(account["customer_id"]))
    return identity


def _present_billing(reply: Payload) -> dict[str, Any] | None:
    accounts = list(reply.get("accounts") or ())
    return {"accounts": accounts} if accounts else None


def _tags_billing(reply: Payload) -> set[str]:
    accounts = reply.get("accounts") or ()
    return tags_of(account=[str(a["number"]) for a in accounts],
                   billing=[str(a["customer_id"]) for a in accounts if a.get("customer_id")])


# -- documents: the document flow ----------------------------------------------

def _ask_documents(known: Identity, settings: WindowSettings) -> list[dict[str, Any]]:
    keys: list[dict[str, Any]] = [{"inn": known.inn}] if known.inn else []
    if "docflow" in known.records:
        keys.append({"customer_id": known.records["docflow"]})
    keys += [{"account_number": number} for number in known.accounts]
    return [{**key, "limit": settings.documents_limit} for key in keys]


def _present_documents(reply: Payload) -> dict[str, Any] | None:
    documents = [{**doc, "download_url": document_link(str(doc["id"]))}
                 for doc in reply.get("documents") or ()]
    if not documents:
        return None
    return {"documents": documents, "has_more": bool(reply.get("has_more"))}


def _tags_documents(reply: Payload) -> set[str]:
    tags: set[str] = set()
    for doc in reply.get("documents") or ():
        party = doc.get("counterparty") or {}
        tags |= tags_of(document=doc.get("id"), account=doc.get("account_number"),
                        inn=party.get("inn"), docflow=party.get("customer_id"))
    return tags


# -- calls: the PBX call store -------------------------------------------------

def _ask_calls(known: Identity, settings: WindowSettings) -> list[dict[str, Any]]:
    return [{"phone": phone, "limit": settings.calls_limit} for phone in known.phones]


def _present_calls(reply: Payload) -> dict[str, Any] | None:
    calls = list(reply.get("calls") or ())
    return {"calls": calls} if calls else None


def _nothing(_reply: Payload) -> Identity:
    return Identity()


def _no_tags(_reply: Payload) -> set[str]:
    return set()


BACKENDS: tuple[Backend, ...] = (
    Backend("profile", "sync", "sync.customer.requested.v1", "sync.customer.replied.v1",
            "golden id, INN, account number, phone or a source record",
            _ask_profile, _learn_profile, _present_profile, _tags_profile),
    Backend("crm", "crm", "crm.card.requested.v1", "crm.card.replied.v1",
            "a phone or the CRM id", _ask_crm, _learn_crm, _present_crm, _tags_crm),
    Backend("billing", "billing", "billing.accounts.requested.v1",
            "billing.accounts.replied.v1", "the billing id, INN, phone or account number",
            _ask_billing, _learn_billing, _present_billing, _tags_billing),
    Backend("documents", "docflow", "docflow.documents.requested.v1",
            "docflow.documents.replied.v1", "INN, docflow id or account number",
            _ask_documents, _nothing, _present_documents, _tags_documents),
    Backend("calls", "pbx", "pbx.calls.requested.v1", "pbx.calls.replied.v1", "a phone",
            _ask_calls, _nothing, _present_calls, _no_tags),
)

SECTIONS: tuple[str, ...] = tuple(backend.section for backend in BACKENDS)
