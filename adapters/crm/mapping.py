"""Pure functions between our CRM's REST shapes and the canonical ones. No I/O, no bus.

Our CRM's JSON (the dialect :mod:`adapters.crm.client` speaks): a **customer**
(``id``, ``type`` person/company, names, ``inn``, ``segment``, ``status``,
``manager`` embedded, ``region``, ``address``, ``phones`` as typed, ``emails``,
``updated_at``; a *card* adds ``interactions``); a **call log** (``external_id``,
our idempotency key, ``customer_id``, ``manager_id``, ``disposition``,
``started_at``, ``duration``, ``participants``, and ``result``/``notes`` that
the agent fills in afterwards); a **task** (``title``, ``assignee_id``, ``due_at``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from bus.phones import call_customer_e164, to_e164

__all__ = [
    "call_interaction", "call_phone", "callback_task", "card", "card_manager", "crm_customer",
    "crm_interaction", "customer", "customer_changed", "deal", "e164", "interaction",
    "interaction_id", "is_missed", "lead_customer", "manager", "originate_activity",
]

Record = Mapping[str, Any]

_IDENTIFIER = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
SEGMENTS = frozenset({"consumer", "sme", "corporate", "vip", "government", "other"})
PHONE_LABELS = frozenset({"mobile", "home", "work", "fax", "other"})
RESULTS = {"answered": "completed", "missed": "missed", "abandoned": "abandoned",
           "busy": "busy", "failed": "failed"}
"""Call disposition -> canonical interaction result."""
MISSED = frozenset({"missed", "abandoned"})
SUBJECTS = {"inbound": "Inbound call", "outbound": "Outbound call", "internal": "Internal call"}


def e164(value: Any, region: str = "RU") -> str | None:
    """A phone number as typed (``8 (912) 345-67-89``) in E.164, or None if it is not one."""
    return to_e164(value, region)


# -- customers --------------------------------------------------------------------


def customer(crm: Record, *, region: str = "RU") -> dict[str, Any]:
    """A CRM customer (or card) as a canonical Customer."""
    result: dict[str, Any] = {"id": str(crm["id"])}
    if crm.get("type") == "company":
        result["company"] = {
            "legal_name": _text(crm.get("company_name")) or f"customer {crm['id']}",
            "short_name": _text(crm.get("short_name")),
        }
    else:
        result["person"] = {
            "last_name": _text(crm.get("last_name")) or f"customer {crm['id']}",
            "first_name": _text(crm.get("first_name")),
            "middle_name": _text(crm.get("middle_name")),
        }
    inn = re.sub(r"[^0-9]", "", str(crm.get("inn") or ""))
    result["inn"] = inn if len(inn) in (10, 12) else None
    segment = str(crm.get("segment") or "").lower()
    result["segment"] = segment if segment in SEGMENTS else ("other" if segment else None)
    result["status"] = crm.get("status") if crm.get("status") in (
        "active", "inactive", "blocked") else "active"
    boss = crm.get("manager") or {}
    result["manager_id"] = _identifier(boss.get("id"))
    result["region"] = _text(crm.get("region"))
    result["address"] = _text(crm.get("address"))
    result["contacts"] = _contacts(crm, region)
    result["updated_at"] = crm.get("updated_at") or None
    return result


def crm_customer(canonical: Record) -> dict[str, Any]:
    """A canonical Customer in our CRM's shape (for create/update), without the card's extras."""
    person, company = canonical.get("person"), canonical.get("company")
    body: dict[str, Any] = {"id": canonical["id"], "type": "company" if company else "person"}
    if company:
        body.update(company_name=company["legal_name"], short_name=company.get("short_name"))
    elif person:
        body.update(last_name=person["last_name"], first_name=person.get("first_name"),
                    middle_name=person.get("middle_name"))
    body.update(inn=canonical.get("inn"), segment=canonical.get("segment"),
                status=canonical.get("status", "active"), region=canonical.get("region"),
                address=canonical.get("address"), updated_at=canonical.get("updated_at"),
                manager={"id": canonical["manager_id"]} if canonical.get("manager_id") else None)
    contacts = canonical.get("contacts") or []
    body["phones"] = [{"number": c.get("raw") or c["phone"], "type": c.get("label", "other")}
                      for c in contacts if c.get("phone")]
    body["emails"] = [{"address": c["email"], "type": c.get("label", "other")}
                      for c in contacts if c.get("email")]
    return body


def manager(crm: Record) -> dict[str, Any]:
    """A CRM manager as a canonical Manager."""
    extension = str(crm.get("extension") or "")
    return {
        "id": str(crm["id"]),
        "last_name": _text(crm.get("last_name")) or str(crm["id"]),
        "first_name": _text(crm.get("first_name")) or "-",
        "middle_name": _text(crm.get("middle_name")),
        "extension": extension if re.fullmatch(r"[0-9]{2,10}", extension) else None,
        "email": crm.get("email") or None,
        "active": bool(crm.get("active", True)),
    }


def customer_changed(event: Record, *, region: str = "RU") -> dict[str, Any]:
    """A CRM webhook body (``event`` customer.created/updated/deleted) as
    ``crm.customer.changed.v1``."""
    change = str(event.get("event", "")).rsplit(".", 1)[-1]
    if change not in ("created", "updated", "deleted"):
        raise ValueError(f"not a customer event: {event.get('event')!r}")
    payload: dict[str, Any] = {"change": change,
                               "customer": customer(event["customer"], region=region)}
    if event.get("changed_fields"):
        payload["changed_fields"] = [str(name)[:256] for name in event["changed_fields"]]
    return payload


def lead_customer(lead: Record) -> dict[str, Any]:
    """``crm.lead.requested.v1`` as a new customer of our CRM (a lead from a call)."""
    return {"type": "person", "last_name": None, "first_name": None, "segment": None,
            "status": "active", "source": "call", "region": lead.get("region"),
            "manager": {"id": lead["manager_id"]},
            "phones": [{"number": lead["phone"], "type": "mobile"}], "emails": [],
            "call_id": lead.get("linkedid")}


def card_manager(crm: Record | None) -> dict[str, Any] | None:
    """The responsible manager as the card shows it: id, name, extension."""
    if not crm or not _identifier(crm.get("id")):
        return None
    name = " ".join(n for n in (_text(crm.get("last_name")), _text(crm.get("first_name")))
                    if n) or str(crm["id"])
    extension = str(crm.get("extension") or "")
    return {"id": str(crm["id"]), "name": name[:256],
            "extension": extension if re.fullmatch(r"[0-9]{2,10}", extension) else None}


def deal(crm: Record) -> dict[str, Any]:
    """An open deal or request of our CRM as the card shows it."""
    amount = crm.get("amount")
    return {
        "id": str(crm["id"]),
        "kind": "request" if crm.get("kind") == "request" else "deal",
        "title": _text(crm.get("title")) or str(crm["id"]),
        "stage": _text(crm.get("stage")),
        "amount": ({"amount": str(amount), "currency": str(crm.get("currency") or "RUB")}
                   if amount not in (None, "") else None),
        "opened_at": crm.get("opened_at") or None,
    }


def card(crm: Record, *, region: str = "RU", interactions: int = 10) -> dict[str, Any]:
    """``GET /customers/{id}`` (customer, manager, deals, interactions) as the card of
    ``crm.card.replied.v1``."""
    found = customer(crm, region=region)
    return {
        "customer": found,
        "manager": card_manager(crm.get("manager")),
        "segment": found["segment"],
        "deals": [deal(d) for d in crm.get("deals") or []],
        "interactions": [interaction(i) for i in (crm.get("interactions") or [])[:interactions]],
    }


def originate_activity(reply: Record) -> dict[str, Any]:
    """A ``pbx.originate.replied.v1`` payload as an activity of our CRM (the click-to-call's
    outcome, on the CRM record it was asked from)."""
    entity = reply.get("crm_entity") or {}
    who = reply.get("requested_by") or {}
    accepted = reply.get("status") == "accepted"
    return {
        "kind": "click_to_call",
        "subject": (f"Click-to-call {reply['number']} from {reply['agent_extension']}: "
                    + ("the agent's phone is ringing" if accepted
                       else f"failed ({reply.get('reason') or 'no reason given'})")),
        "status": reply.get("status"),
        "reason": reply.get("reason"),
        "call_id": reply.get("call_id"),
        "agent_extension": reply.get("agent_extension"),
        "phone": reply.get("number"),
        "entity_type": entity.get("type"),
        "entity_id": entity.get("id"),
        "user_id": who.get("user_id"),
    }


# -- interactions -----------------------------------------------------------------


def interaction_id(linkedid: str) -> str:
    """The idempotency key of a call's interaction: ``call-<linkedid>`` (hashed when long)."""
    key = f"call-{linkedid}"
    if _IDENTIFIER.match(key):
        return key
    return "call-" + hashlib.sha256(linkedid.encode()).hexdigest()[:40]


def call_phone(call: Record, region: str = "RU") -> str | None:
    """The customer's number of a call in E.164: the caller's of an inbound call, the
    dialled one of an outbound call; None for internal and withheld numbers. The event's
    ``customer_e164`` when the PBX adapter set it (no second parse)."""
    return call_customer_e164(call, region)


def is_missed(call: Record) -> bool:
    return call.get("disposition") in MISSED


def call_interaction(call: Record, found: Record | None = None) -> dict[str, Any]:
    """A ``pbx.call.ended.v1`` payload as a canonical Interaction, for the customer
    ``found`` (canonical) if the number belongs to one. Result is the call's
    disposition; the agent's notes stay empty until they write them."""
    attributes = {"disposition": call["disposition"]}
    for name in ("caller_number", "called_number", "queue", "answered_by_extension",
                 "ended_at", "transferred_to"):
        if call.get(name) not in (None, ""):
            attributes[name] = str(call[name])
    if call.get("ring_targets"):
        attributes["ring_targets"] = ",".join(call["ring_targets"])
    attributes["ring_seconds"] = str(call.get("ring_seconds") or 0)
    direction = call.get("direction")
    phone = {"inbound": call.get("caller_number"),
             "outbound": call.get("called_number")}.get(direction or "")
    return {
        "id": interaction_id(call["linkedid"]),
        "customer_id": found["id"] if found else None,
        "manager_id": found.get("manager_id") if found else None,
        "channel": "call",
        "direction": direction,
        "result": RESULTS.get(call["disposition"], "other"),
        "subject": ("Missed call" if is_missed(call) else SUBJECTS.get(direction or "", "Call")),
        "notes": None,
        "call_linkedid": call["linkedid"],
        "phone": phone,
        "occurred_at": call["started_at"],
        "duration_seconds": int(call.get("talk_seconds") or 0),
        "attributes": attributes,
    }


def crm_interaction(canonical: Record) -> dict[str, Any]:
    """A canonical call Interaction as our CRM's call log (PUT /interactions/{external_id})."""
    attributes = canonical.get("attributes") or {}
    targets = attributes.get("ring_targets")
    return {
        "external_id": canonical["id"],
        "customer_id": canonical.get("customer_id"),
        "manager_id": canonical.get("manager_id"),
        "channel": canonical["channel"],
        "direction": canonical.get("direction"),
        "disposition": attributes.get("disposition"),
        "phone": canonical.get("phone"),
        "call_id": canonical.get("call_linkedid"),
        "started_at": canonical["occurred_at"],
        "ended_at": attributes.get("ended_at"),
        "duration": canonical.get("duration_seconds") or 0,
        "ring_seconds": int(attributes.get("ring_seconds") or 0),
        "participants": {
            "caller": attributes.get("caller_number"),
            "called": attributes.get("called_number"),
            "queue": attributes.get("queue"),
            "answered_by": attributes.get("answered_by_extension"),
            "ring_targets": targets.split(",") if targets else [],
        },
        "subject": canonical.get("subject"),
        "result": None,
        "notes": None,
    }


def interaction(crm: Record) -> dict[str, Any]:
    """A CRM call log (as stored, maybe with the agent's result and notes) as a canonical
    Interaction."""
    participants = crm.get("participants") or {}
    attributes = {name: str(value) for name, value in (
        ("disposition", crm.get("disposition")), ("caller_number", participants.get("caller")),
        ("called_number", participants.get("called")), ("queue", participants.get("queue")),
        ("answered_by_extension", participants.get("answered_by")),
        ("ended_at", crm.get("ended_at")), ("agent_result", crm.get("result")),
        ("agent_extension", crm.get("agent_extension")),
    ) if value not in (None, "")}
    if participants.get("ring_targets"):
        attributes["ring_targets"] = ",".join(participants["ring_targets"])
    if crm.get("ring_seconds") is not None:
        attributes["ring_seconds"] = str(crm["ring_seconds"])
    disposition = crm.get("disposition")
    return {
        "id": str(crm["external_id"]),
        "customer_id": crm.get("customer_id"),
        "manager_id": crm.get("manager_id"),
        "channel": crm.get("channel") or "call",
        "direction": crm.get("direction"),
        "result": RESULTS.get(disposition, "other") if disposition else None,
        "subject": _text(crm.get("subject")),
        "notes": crm.get("notes") or None,
        "call_linkedid": crm.get("call_id"),
        "phone": crm.get("phone"),
        "occurred_at": crm["started_at"],
        "duration_seconds": crm.get("duration"),
        "attributes": attributes,
    }


def callback_task(logged: Record, *, due_minutes: int = 60) -> dict[str, Any]:
    """A call-back task for the responsible manager of a missed call's customer."""
    started = datetime.fromisoformat(str(logged["occurred_at"]).replace("Z", "+00:00"))
    due = (started + timedelta(minutes=due_minutes)).isoformat().replace("+00:00", "Z")
    return {
        "title": f"Call back {logged.get('phone') or 'the customer'}: missed call",
        "kind": "call_back",
        "customer_id": logged["customer_id"],
        "assignee_id": logged["manager_id"],
        "phone": logged.get("phone"),
        "interaction_id": logged["id"],
        "due_at": due,
    }


# -- pieces -----------------------------------------------------------------------


def _contacts(crm: Record, region: str) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in crm.get("phones") or []:
        number = e164(entry.get("number"), region)
        if number and number not in seen:
            seen.add(number)
            label = entry.get("type") if entry.get("type") in PHONE_LABELS else "other"
            contacts.append({"phone": number, "label": label,
                             "raw": str(entry["number"])[:256]})
    for entry in crm.get("emails") or []:
        address = str(entry.get("address") or "").strip()
        if address and "@" in address:
            label = entry.get("type") if entry.get("type") in PHONE_LABELS else "other"
            contacts.append({"email": address, "label": label})
    if contacts:
        contacts[0]["primary"] = True
    return contacts


def _text(value: Any) -> str | None:
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value or "")).strip()
    return text[:256] or None


def _identifier(value: Any) -> str | None:
    text = str(value or "")
    return text if _IDENTIFIER.match(text) else None
