"""Pure functions between Bitrix24's REST shapes and the canonical ones. No I/O, no bus.

Shapes follow the Bitrix24 REST reference:

* contacts and companies (``crm.contact.get`` / ``crm.company.get``): ``ID``, ``NAME``,
  ``SECOND_NAME``, ``LAST_NAME`` / ``TITLE``, ``TYPE_ID`` / ``COMPANY_TYPE``, ``PHONE`` and
  ``EMAIL`` as multi-fields ``[{"VALUE": ..., "VALUE_TYPE": "WORK|MOBILE|HOME|..."}]``,
  ``ASSIGNED_BY_ID`` (the responsible user), ``ADDRESS``, ``DATE_MODIFY``;
* users (``user.get``): ``ID``, ``NAME``, ``LAST_NAME``, ``UF_PHONE_INNER`` (extension);
* ``telephony.externalcall.register``: ``USER_ID``/``USER_PHONE_INNER``, ``PHONE_NUMBER``,
  ``TYPE`` (1 outgoing, 2 incoming), ``CALL_START_DATE`` (ISO 8601), ``CRM_CREATE``,
  ``CRM_ENTITY_TYPE``/``CRM_ENTITY_ID``, ``SHOW``;
* ``telephony.externalcall.finish``: ``CALL_ID``, ``USER_ID``, ``DURATION``, ``STATUS_CODE``
  (200 success, 304 missed, 486 busy, 603-S cancelled, OTHER; see
  https://apidocs.bitrix24.com/api-reference/telephony/telephony-external-call-finish.html),
  ``FAILED_REASON``, ``ADD_TO_CHAT``;
* ``crm.activity.add``: ``OWNER_TYPE_ID`` (1 lead, 2 deal, 3 contact, 4 company),
  ``OWNER_ID``, ``TYPE_ID`` (2 call), ``SUBJECT``, ``DESCRIPTION``, ``DIRECTION`` (1 in,
  2 out), ``COMPLETED`` Y/N, ``RESPONSIBLE_ID``, ``START_TIME``/``END_TIME``,
  ``COMMUNICATIONS`` ``[{"VALUE": phone}]``, ``ORIGIN_ID`` (our id for it).

A canonical customer id is ``contact-<ID>`` or ``company-<ID>``; a manager id is the
Bitrix24 user's ``ID``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from adapters.crm.mapping import e164
from bus.phones import call_customer_e164

__all__ = [
    "OWNER_TYPES", "annotation_fields", "callback_activity", "card_manager", "customer",
    "deal", "entity_ref", "finish_params", "interaction", "lead_contact", "originate_activity",
    "register_params", "ringing_params", "status_code",
]

Record = Mapping[str, Any]

OWNER_TYPES = {"lead": 1, "deal": 2, "contact": 3, "company": 4}
CALL = 2
"""``TYPE_ID`` of a call activity (``crm.enum.activitytype``)."""
STATUS_CODES = {"answered": "200", "missed": "304", "abandoned": "603-S", "busy": "486",
                "failed": "OTHER"}
SEGMENTS = {"VIP": "vip", "CUSTOMER": None, "CLIENT": None, "PARTNER": "other",
            "SUPPLIER": "other", "COMPETITOR": "other", "GOVERNMENT": "government"}
_PHONE_LABELS = {"MOBILE": "mobile", "WORK": "work", "HOME": "home", "FAX": "fax"}


def entity_ref(customer_id: str) -> tuple[str, int]:
    """``contact-12`` -> ``("contact", 12)``; ValueError for anything else."""
    match = re.fullmatch(r"(contact|company)-([0-9]+)", customer_id)
    if match is None:
        raise ValueError(f"not a Bitrix24 customer id: {customer_id!r}")
    return match.group(1), int(match.group(2))


def customer(kind: str, record: Record, *, region: str = "RU") -> dict[str, Any]:
    """A Bitrix24 contact or company as a canonical Customer."""
    result: dict[str, Any] = {"id": f"{kind}-{record['ID']}"}
    if kind == "company":
        result["company"] = {"legal_name": _text(record.get("TITLE")) or f"company {record['ID']}",
                             "short_name": None}
        raw_type = str(record.get("COMPANY_TYPE") or "")
        default = "sme"
    else:
        result["person"] = {
            "last_name": _text(record.get("LAST_NAME")) or _text(record.get("NAME"))
            or f"contact {record['ID']}",
            "first_name": _text(record.get("NAME")) if record.get("LAST_NAME") else None,
            "middle_name": _text(record.get("SECOND_NAME")),
        }
        raw_type = str(record.get("TYPE_ID") or "")
        default = "consumer"
    segment = SEGMENTS.get(raw_type.upper(), "other") if raw_type else None
    result["segment"] = segment or default
    result["status"] = "active"
    assigned = str(record.get("ASSIGNED_BY_ID") or "")
    result["manager_id"] = assigned if assigned.isdigit() else None
    result["address"] = _text(record.get("ADDRESS"))
    result["contacts"] = _contacts(record, region)
    result["updated_at"] = _timestamp(record.get("DATE_MODIFY"))
    return result


def card_manager(user: Record | None) -> dict[str, Any] | None:
    """A ``user.get`` record as the card's manager: id, name, extension."""
    if not user or not str(user.get("ID") or "").isdigit():
        return None
    name = " ".join(n for n in (_text(user.get("LAST_NAME")), _text(user.get("NAME"))) if n)
    extension = str(user.get("UF_PHONE_INNER") or "")
    return {"id": str(user["ID"]), "name": name or f"user {user['ID']}",
            "extension": extension if re.fullmatch(r"[0-9]{2,10}", extension) else None}


def deal(record: Record) -> dict[str, Any]:
    """A ``crm.deal.list`` record as the card's open deal."""
    amount = str(record.get("OPPORTUNITY") or "")
    return {
        "id": f"deal-{record['ID']}", "kind": "deal",
        "title": _text(record.get("TITLE")) or f"deal {record['ID']}",
        "stage": _text(record.get("STAGE_ID")),
        "amount": ({"amount": amount, "currency": str(record.get("CURRENCY_ID") or "RUB")}
                   if re.fullmatch(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,8})?", amount) else None),
        "opened_at": _timestamp(record.get("DATE_CREATE")),
    }


def interaction(record: Record, customer_id: str) -> dict[str, Any]:
    """A ``crm.activity.list`` record as a canonical Interaction."""
    phone = ""
    for communication in record.get("COMMUNICATIONS") or []:
        phone = str(communication.get("VALUE") or "")
        break
    direction = {"1": "inbound", "2": "outbound"}.get(str(record.get("DIRECTION") or ""))
    duration = record.get("DURATION")
    return {
        "id": f"activity-{record['ID']}",
        "customer_id": customer_id,
        "manager_id": str(record["RESPONSIBLE_ID"]) if record.get("RESPONSIBLE_ID") else None,
        "channel": "call" if str(record.get("TYPE_ID")) == str(CALL) else "other",
        "direction": direction,
        "result": None,
        "subject": _text(record.get("SUBJECT")),
        "notes": _long_text(record.get("DESCRIPTION")),
        "call_linkedid": None,
        "phone": e164(phone) if phone else None,
        "occurred_at": _timestamp(record.get("START_TIME")) or "1970-01-01T00:00:00Z",
        "duration_seconds": int(str(duration)) if str(duration or "").isdigit() else None,
        "attributes": {"origin_id": str(record["ORIGIN_ID"])} if record.get("ORIGIN_ID") else {},
    }


def lead_contact(lead: Record) -> dict[str, Any]:
    """``crm.lead.requested.v1`` as ``crm.contact.add`` fields: the caller's number, the
    routed manager responsible, source: call."""
    fields: dict[str, Any] = {"NAME": "", "LAST_NAME": f"Caller {lead['phone']}",
                              "PHONE": [{"VALUE": lead["phone"], "VALUE_TYPE": "WORK"}],
                              "SOURCE_ID": "CALL", "TYPE_ID": "CLIENT", "OPENED": "Y"}
    if str(lead.get("manager_id") or "").isdigit():
        fields["ASSIGNED_BY_ID"] = int(lead["manager_id"])
    return fields


def status_code(disposition: str) -> str:
    """A call's disposition as ``telephony.externalcall.finish`` ``STATUS_CODE``."""
    return STATUS_CODES.get(disposition, "OTHER")


def register_params(logged: Record, *, user_id: int | None,
                    extension: str | None) -> dict[str, Any]:
    """A canonical call Interaction as ``telephony.externalcall.register`` parameters."""
    params: dict[str, Any] = {
        "PHONE_NUMBER": e164(logged.get("phone")) or logged.get("phone") or "",
        "TYPE": 1 if logged.get("direction") == "outbound" else 2,
        "CALL_START_DATE": logged["occurred_at"],
        "CRM_CREATE": 0, "SHOW": 0,
    }
    if extension:
        params["USER_PHONE_INNER"] = extension
    if user_id is not None:
        params["USER_ID"] = user_id
    if logged.get("customer_id"):
        kind, number = entity_ref(str(logged["customer_id"]))
        params.update(CRM_ENTITY_TYPE=kind.upper(), CRM_ENTITY_ID=number)
    return params


def ringing_params(call: Record, extension: str) -> dict[str, Any]:
    """A ringing inbound call (``pbx.call.ringing.v1``) as ``telephony.externalcall.register``
    parameters; Bitrix24 finds the contact by the number itself (E.164 when it is one)."""
    phone = call_customer_e164(call) or call.get("caller_number")
    return {"USER_PHONE_INNER": extension, "PHONE_NUMBER": phone or "",
            "TYPE": 2, "CALL_START_DATE": call["started_at"], "CRM_CREATE": 0, "SHOW": 0}


def finish_params(call_id: str, logged: Record, *, user_id: int | None,
                  extension: str | None) -> dict[str, Any]:
    """``telephony.externalcall.finish`` parameters of a registered call."""
    disposition = str((logged.get("attributes") or {}).get("disposition") or "")
    params: dict[str, Any] = {"CALL_ID": call_id,
                              "DURATION": int(logged.get("duration_seconds") or 0),
                              "STATUS_CODE": status_code(disposition), "ADD_TO_CHAT": 0}
    if disposition not in ("", "answered"):
        params["FAILED_REASON"] = disposition
    if extension:
        params["USER_PHONE_INNER"] = extension
    if user_id is not None:
        params["USER_ID"] = user_id
    return params


def callback_activity(logged: Record, *, due_minutes: int) -> dict[str, Any]:
    """A planned outgoing call for the responsible manager of a missed call's customer."""
    kind, number = entity_ref(str(logged["customer_id"]))
    started = datetime.fromisoformat(str(logged["occurred_at"]).replace("Z", "+00:00"))
    due = (started + timedelta(minutes=due_minutes)).isoformat()
    phone = e164(logged.get("phone")) or logged.get("phone")
    return {
        "OWNER_TYPE_ID": OWNER_TYPES[kind], "OWNER_ID": number, "TYPE_ID": CALL,
        "SUBJECT": f"Call back {phone or 'the customer'}: missed call",
        "DIRECTION": 2, "COMPLETED": "N", "RESPONSIBLE_ID": int(logged["manager_id"]),
        "START_TIME": due, "END_TIME": due,
        "COMMUNICATIONS": [{"VALUE": phone or "", "ENTITY_ID": number,
                            "ENTITY_TYPE_ID": OWNER_TYPES[kind]}],
        "ORIGIN_ID": f"esb-callback-{logged['id']}",
    }


def annotation_fields(annotation: Record) -> dict[str, Any]:
    """``crm.activity.update`` fields that put the agent's result and notes on a call."""
    notes = str(annotation.get("notes") or "")
    return {"DESCRIPTION": f"Result: {annotation['result']}" + (f"\n{notes}" if notes else ""),
            "COMPLETED": "Y"}


def originate_activity(reply: Record, *, responsible: int | None) -> dict[str, Any] | None:
    """A click-to-call outcome as an activity on the CRM record it was asked from (None
    when it was asked from no record Bitrix24 can own an activity on)."""
    entity = reply.get("crm_entity") or {}
    owner = OWNER_TYPES.get(str(entity.get("type")))
    if owner is None or not str(entity.get("id") or "").isdigit():
        return None
    accepted = reply.get("status") == "accepted"
    fields: dict[str, Any] = {
        "OWNER_TYPE_ID": owner, "OWNER_ID": int(entity["id"]), "TYPE_ID": CALL,
        "SUBJECT": (f"Click-to-call {reply['number']}: "
                    + ("the agent's phone rang" if accepted
                       else f"failed ({reply.get('reason') or 'no reason given'})")),
        "DESCRIPTION": f"call id {reply.get('call_id') or '-'}",
        "DIRECTION": 2, "COMPLETED": "Y",
        "COMMUNICATIONS": [{"VALUE": reply["number"], "ENTITY_ID": int(entity["id"]),
                            "ENTITY_TYPE_ID": owner}],
    }
    if responsible is not None:
        fields["RESPONSIBLE_ID"] = responsible
    return fields


def _contacts(record: Record, region: str) -> list[dict[str, Any]]:
    contacts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for entry in record.get("PHONE") or []:
        number = e164(entry.get("VALUE"), region)
        if number and number not in seen:
            seen.add(number)
            contacts.append({"phone": number,
                             "label": _PHONE_LABELS.get(str(entry.get("VALUE_TYPE")), "other"),
                             "raw": str(entry["VALUE"])[:256]})
    for entry in record.get("EMAIL") or []:
        address = str(entry.get("VALUE") or "").strip()
        if "@" in address:
            contacts.append({"email": address,
                             "label": _PHONE_LABELS.get(str(entry.get("VALUE_TYPE")), "other")})
    if contacts:
        contacts[0]["primary"] = True
    return contacts


def _timestamp(value: Any) -> str | None:
    """Bitrix24's ISO 8601 (``2024-03-12T09:15:07+03:00``) kept, anything else None."""
    text = str(value or "")
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return text if parsed.tzinfo is not None else None


def _text(value: Any) -> str | None:
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value or "")).strip()
    return text[:256] or None


def _long_text(value: Any) -> str | None:
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", "", str(value or "")).strip()
    return text[:20000] or None
