"""The aggregated customer view: one document from the gathered sections.

::

    {"query": {"phone": "+79123456789"}, "golden_id": "g-1", "customer": {card},
     "generated_at": "...", "elapsed_ms": 84.1, "complete": true,
     "sections": {"profile": {section}, "crm": …, "billing": …, "documents": …, "calls": …}}

Each section says whether it is ``fresh`` (asked now), ``cached`` (with its age,
and the reason when shown because the backend did not answer) or
``unavailable`` (with the reason). The shape is documented in
``docs/unified-window.md`` and is the payload of ``window.customer.view.v1``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from window.directory import Directory, customer_name, manager_summary
from window.gather import Answer, Gatherer
from window.identity import Identity

__all__ = ["VIEW_TYPE", "ViewService", "customer_card", "section_document"]

VIEW_TYPE = "window.customer.view.v1"


class ViewService:
    def __init__(self, gatherer: Gatherer, directory: Directory) -> None:
        self.gatherer = gatherer
        self.directory = directory
        self.views = 0

    async def view(self, query: Mapping[str, str], identity: Identity, *,
                   use_cache: bool = True) -> dict[str, Any]:
        """Gather every section for the customer ``identity`` names; never raises for a backend."""
        started = time.monotonic()
        known = self.directory.find(identity.tags())
        if known is not None:
            identity.merge(known.identity)
        answers = await self.gatherer.gather(identity, use_cache=use_cache)
        self._remember(identity, answers)
        self.views += 1
        card = customer_card(answers, self.directory)
        return {
            "query": dict(query),
            "golden_id": identity.golden_id,
            "customer": card,
            "generated_at": _now(),
            "elapsed_ms": round((time.monotonic() - started) * 1000, 3),
            "complete": all(a.status != "unavailable" for a in answers.values()),
            "sections": {name: section_document(answer) for name, answer in answers.items()},
        }

    def _remember(self, identity: Identity, answers: Mapping[str, Answer]) -> None:
        """Feed the screen-pop directory with what the backends said about this customer."""
        card = _crm_card(answers)
        profile = _profile(answers)
        if card is not None and isinstance(card.get("manager"), Mapping):
            self.directory.remember_manager(card["manager"])
        if card is None and profile is None:
            return
        customer = (card or {}).get("customer") or (profile or {}).get("customer") or {}
        manager = (card or {}).get("manager") or {}
        self.directory.remember(
            identity, name=customer_name(customer),
            segment=(card or {}).get("segment") or customer.get("segment"),
            manager_id=manager.get("id") or customer.get("manager_id"), source="window")


def section_document(answer: Answer) -> dict[str, Any]:
    data = answer.backend.present(answer.payload) if answer.payload is not None else None
    return {
        "status": answer.status,
        "source": answer.backend.system,
        "request_type": answer.backend.request_type,
        "found": data is not None,
        "age_seconds": round(answer.age, 3) if answer.age is not None else None,
        "fetched_at": _iso(answer.fetched_at) if answer.fetched_at is not None else None,
        "elapsed_ms": round(answer.elapsed * 1000, 3) if answer.elapsed is not None else None,
        "reason": answer.reason,
        "data": data,
    }


def customer_card(answers: Mapping[str, Answer], directory: Directory) -> dict[str, Any] | None:
    """The short card the screen pop shows: name, segment, manager, money, open work."""
    card = _crm_card(answers)
    profile = _profile(answers)
    if card is None and profile is None:
        return None
    customer = (card or {}).get("customer") or (profile or {}).get("customer") or {}
    manager = (card or {}).get("manager")
    manager_id = customer.get("manager_id")
    if isinstance(manager, Mapping):
        manager_doc: dict[str, Any] | None = manager_summary(manager)
    else:
        manager_doc = directory.manager(manager_id) or (
            {"id": manager_id, "name": None, "extension": None} if manager_id else None)
    billing = answers.get("billing")
    accounts = (billing.payload or {}).get("accounts") or [] if billing else []
    return {
        "name": customer_name(customer),
        "segment": (card or {}).get("segment") or customer.get("segment"),
        "manager": manager_doc,
        "golden_id": (profile or {}).get("golden_id"),
        "crm_id": str((card or {}).get("customer", {}).get("id") or "") or None,
        "accounts": [{"number": a["number"], "status": a["status"], "balance": a["balance"],
                      "tariff": a.get("tariff")} for a in accounts],
        "open_deals": len((card or {}).get("deals") or ()),
        "last_interaction": ((card or {}).get("interactions") or [None])[0],
    }


def _crm_card(answers: Mapping[str, Answer]) -> Mapping[str, Any] | None:
    answer = answers.get("crm")
    card = (answer.payload or {}).get("card") if answer else None
    return card if isinstance(card, Mapping) else None


def _profile(answers: Mapping[str, Answer]) -> Mapping[str, Any] | None:
    answer = answers.get("profile")
    customers = (answer.payload or {}).get("customers") if answer else None
    return customers[0] if customers else None


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _now() -> str:
    return datetime.now(UTC).isoformat()
