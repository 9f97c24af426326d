"""The CRM simulator's Bitrix24 dialect, over the same store as our own dialect.

``POST /rest/{user_id}/{code}/{method}[.json]`` with a JSON body answers
``{"result": ..., "time": {...}}`` or ``{"error": ..., "error_description": ...}``, as the
Bitrix24 REST reference documents for the methods the adapter uses:
``crm.duplicate.findbycomm``, ``crm.contact.get``, ``crm.company.get``, ``user.get``,
``crm.requisite.list``, ``crm.deal.list``, ``crm.activity.list`` / ``add`` / ``update``,
``telephony.externalcall.register`` / ``finish`` / ``show`` / ``hide``.

Numeric Bitrix24 ids are the digits of the store's ids: customer ``C-1001`` is contact (or
company) 1001, manager ``M-1`` is user 1, deal ``D-501`` is deal 501. Persons are
contacts, companies are companies. Every ``finish`` is kept in ``data.received`` (repeats
too) and a finished call becomes a call activity, so tests can check exactly-once.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from adapters.crm.mapping import e164
from adapters.crm.simdata import CrmData, Record

__all__ = ["BitrixError", "bitrix_router"]

CONTACT, COMPANY = 3, 4
KINDS = {"contact": "person", "company": "company"}


class BitrixError(Exception):
    def __init__(self, code: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.code, self.description, self.status = code, description, status


def number(record_id: str) -> int:
    digits = re.sub(r"[^0-9]", "", record_id)
    return int(digits) if digits else 0


class BitrixDialect:
    def __init__(self, data: CrmData) -> None:
        self.data = data
        self.calls: dict[str, Record] = {}
        """Registered calls by CALL_ID: the register parameters, then the finish result."""
        self.shown: list[tuple[str, str, list[int]]] = []
        """``(show|hide, CALL_ID, users)`` in arrival order."""

    # -- lookups over the shared store (the caller holds data.lock) -----------------

    def _customer(self, kind: str, entity_id: Any) -> Record:
        for customer in self.data.customers.values():
            if customer.get("type", "person") == KINDS[kind] and \
                    number(customer["id"]) == int(entity_id or 0):
                return customer
        raise BitrixError("NOT_FOUND", "Not found")

    def _entity(self, kind: str, customer: Record) -> Record:
        phones = [{"ID": str(i + 1), "VALUE_TYPE": p.get("type", "other").upper(),
                   "VALUE": p["number"], "TYPE_ID": "PHONE"}
                  for i, p in enumerate(customer.get("phones") or [])]
        emails = [{"ID": str(i + 1), "VALUE_TYPE": e.get("type", "other").upper(),
                   "VALUE": e["address"], "TYPE_ID": "EMAIL"}
                  for i, e in enumerate(customer.get("emails") or [])]
        segment = str(customer.get("segment") or "")
        record: Record = {"ID": str(number(customer["id"])), "PHONE": phones, "EMAIL": emails,
                          "ASSIGNED_BY_ID": str(number(customer["manager_id"]))
                          if customer.get("manager_id") else None,
                          "ADDRESS": customer.get("address"),
                          "DATE_MODIFY": str(customer.get("updated_at") or "")
                          .replace("Z", "+00:00")}
        if kind == "company":
            record.update(TITLE=customer.get("company_name"),
                          COMPANY_TYPE="VIP" if segment == "vip" else "CUSTOMER")
        else:
            record.update(NAME=customer.get("first_name"), LAST_NAME=customer.get("last_name"),
                          SECOND_NAME=customer.get("middle_name"),
                          TYPE_ID="VIP" if segment == "vip" else "CLIENT")
        return record

    def _owner(self, customer: Record) -> tuple[int, int]:
        return (COMPANY if customer.get("type") == "company" else CONTACT,
                number(customer["id"]))

    # -- methods ---------------------------------------------------------------------

    def findbycomm(self, params: Record) -> Any:
        if params.get("type") != "PHONE":
            raise BitrixError("ERROR_ARGUMENT", "type: only PHONE is simulated")
        wanted = {e164(v) for v in params.get("values") or []} - {None}
        found: dict[str, list[int]] = {}
        for customer in self.data.customers.values():
            if wanted & {e164(p["number"]) for p in customer.get("phones") or []}:
                kind = "COMPANY" if customer.get("type") == "company" else "CONTACT"
                found.setdefault(kind, []).append(number(customer["id"]))
        return found or []  # Bitrix24 answers an empty array when nothing matches

    def get(self, kind: str, params: Record) -> Any:
        return self._entity(kind, self._customer(kind, params.get("id")))

    def users(self, params: Record) -> Any:
        users = []
        for manager in self.data.managers.values():
            user = {"ID": str(number(manager["id"])), "NAME": manager.get("first_name"),
                    "LAST_NAME": manager.get("last_name"), "ACTIVE": True,
                    "UF_PHONE_INNER": manager.get("extension"), "EMAIL": manager.get("email")}
            if all(str(user.get(k)) == str(v) for k, v in params.items()):
                users.append(user)
        return users

    def requisites(self, params: Record) -> Any:
        inn = (params.get("filter") or {}).get("RQ_INN")
        return [{"ENTITY_TYPE_ID": str(owner), "ENTITY_ID": str(entity)}
                for c in self.data.customers.values() if inn and c.get("inn") == inn
                for owner, entity in [self._owner(c)]]

    def deals(self, params: Record) -> Any:
        wanted = params.get("filter") or {}
        found = []
        for deal in self.data.deals.values():
            customer = self.data.customers.get(deal["customer_id"])
            if customer is None:
                continue
            owner, entity = self._owner(customer)
            key = "COMPANY_ID" if owner == COMPANY else "CONTACT_ID"
            if str(wanted.get(key)) != str(entity) or wanted.get("CLOSED", "N") != (
                    "Y" if deal.get("closed") else "N"):
                continue
            found.append({"ID": str(number(deal["id"])), "TITLE": deal["title"],
                          "STAGE_ID": str(deal.get("stage") or "NEW").upper(),
                          "OPPORTUNITY": deal.get("amount") or "0.00",
                          "CURRENCY_ID": deal.get("currency") or "RUB",
                          "DATE_CREATE": str(deal.get("opened_at")).replace("Z", "+00:00"),
                          "CLOSED": "N"})
        return sorted(found, key=lambda d: d["DATE_CREATE"], reverse=True)

    def activities(self, params: Record) -> Any:
        wanted = params.get("filter") or {}
        found = [{**copy.deepcopy(a), "ID": a["id"]} for a in self.data.activities.values()
                 if "OWNER_TYPE_ID" in a
                 and all(str(a.get(k)) == str(v) for k, v in wanted.items())]
        return sorted(found, key=lambda a: str(a.get("START_TIME")), reverse=True)

    def add_contact(self, params: Record) -> Any:
        fields = params.get("fields") or {}
        if not fields.get("NAME") and not fields.get("LAST_NAME"):
            raise BitrixError("ERROR_CORE", "Required field NAME or LAST_NAME is not filled")
        new_id = max([number(c) for c in self.data.customers] + [0]) + 1
        assigned = str(fields.get("ASSIGNED_BY_ID") or "")
        manager = next((m["id"] for m in self.data.managers.values()
                        if str(number(m["id"])) == assigned), None)
        self.data.customers[f"C-{new_id}"] = {
            "id": f"C-{new_id}", "type": "person", "last_name": fields.get("LAST_NAME"),
            "first_name": fields.get("NAME") or None, "segment": None, "status": "active",
            "manager_id": manager, "inn": None, "emails": [],
            "phones": [{"number": p["VALUE"], "type": str(p.get("VALUE_TYPE", "")).lower()}
                       for p in fields.get("PHONE") or []]}
        return new_id

    def add_activity(self, params: Record) -> Any:
        fields = params.get("fields") or {}
        for name in ("OWNER_TYPE_ID", "OWNER_ID", "TYPE_ID", "COMMUNICATIONS"):
            if not fields.get(name):
                raise BitrixError("ERROR_CORE", f"Required field {name} is not filled")
        activity, _ = self.data.add_activity(None, {**fields, "START_TIME": fields.get(
            "START_TIME") or time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())},
            locked=True)
        return int(activity["id"])

    def update_activity(self, params: Record) -> Any:
        activity = self.data.activities.get(str(params.get("id")))
        if activity is None or "OWNER_TYPE_ID" not in activity:
            raise BitrixError("NOT_FOUND", "Not found")
        activity.update(params.get("fields") or {})
        return True

    def register(self, params: Record) -> Any:
        if not params.get("USER_ID") and not params.get("USER_PHONE_INNER"):
            raise BitrixError("ERROR_ARGUMENT", "USER_ID or USER_PHONE_INNER is required")
        if not params.get("PHONE_NUMBER") or int(params.get("TYPE") or 0) not in range(1, 6):
            raise BitrixError("ERROR_ARGUMENT", "PHONE_NUMBER and TYPE (1..5) are required")
        same = "|".join(str(params.get(k)) for k in (
            "USER_ID", "USER_PHONE_INNER", "PHONE_NUMBER", "TYPE", "CALL_START_DATE"))
        for call in self.calls.values():  # same parameters, not finished: the same call
            if call["key"] == same and "result" not in call:
                return copy.deepcopy(call["registered"])
        entity_type, entity_id = params.get("CRM_ENTITY_TYPE"), params.get("CRM_ENTITY_ID")
        if not entity_type:
            found = self.findbycomm({"type": "PHONE", "values": [params["PHONE_NUMBER"]]})
            for kind in ("CONTACT", "COMPANY"):
                if found and found.get(kind):
                    entity_type, entity_id = kind, found[kind][0]
                    break
        digest = hashlib.md5(same.encode()).hexdigest()
        call_id = f"externalCall.{digest}.{len(self.calls) + 1}"
        registered: Record = {"CALL_ID": call_id, "CRM_CREATED_LEAD": None,
                      "CRM_ENTITY_TYPE": entity_type, "CRM_ENTITY_ID": entity_id,
                      "CRM_CREATED_ENTITIES": []}
        self.calls[call_id] = {"key": same, "params": copy.deepcopy(dict(params)),
                               "registered": registered}
        return copy.deepcopy(registered)

    def finish(self, params: Record) -> Any:
        call = self.calls.get(str(params.get("CALL_ID")))
        if call is None:
            raise BitrixError("ERROR_NOT_FOUND", "Call is not found")
        if not params.get("USER_ID") and not params.get("USER_PHONE_INNER"):
            raise BitrixError("ERROR_ARGUMENT", "USER_ID or USER_PHONE_INNER is required")
        self.data.received.append({"dialect": "bitrix24", **copy.deepcopy(dict(params))})
        if "result" in call:
            return copy.deepcopy(call["result"])
        registered, asked = call["registered"], call["params"]
        activity_id = None
        if registered.get("CRM_ENTITY_TYPE"):
            owner = CONTACT if registered["CRM_ENTITY_TYPE"] == "CONTACT" else COMPANY
            activity, _ = self.data.add_activity(None, {
                "OWNER_TYPE_ID": owner, "OWNER_ID": int(registered["CRM_ENTITY_ID"]),
                "TYPE_ID": 2, "DIRECTION": 2 if int(asked["TYPE"]) == 1 else 1,
                "SUBJECT": "Outgoing call" if int(asked["TYPE"]) == 1 else "Incoming call",
                "START_TIME": asked.get("CALL_START_DATE"), "COMPLETED": "Y",
                "DURATION": int(params.get("DURATION") or 0),
                "RESPONSIBLE_ID": params.get("USER_ID"),
                "COMMUNICATIONS": [{"VALUE": asked["PHONE_NUMBER"]}],
                "ORIGIN_ID": f"VI_{params['CALL_ID']}", "DESCRIPTION": ""}, locked=True)
            activity_id = int(activity["id"])
        call["result"] = {"CALL_ID": params["CALL_ID"], "PHONE_NUMBER": asked["PHONE_NUMBER"],
                          "CALL_DURATION": int(params.get("DURATION") or 0),
                          "CALL_FAILED_CODE": str(params.get("STATUS_CODE") or "200"),
                          "CALL_TYPE": int(asked["TYPE"]), "CRM_ACTIVITY_ID": activity_id,
                          "CRM_ENTITY_TYPE": registered.get("CRM_ENTITY_TYPE"),
                          "CRM_ENTITY_ID": registered.get("CRM_ENTITY_ID")}
        return copy.deepcopy(call["result"])

    def card_view(self, verb: str) -> Callable[[Record], Any]:
        def show(params: Record) -> Any:
            if params.get("CALL_ID") not in self.calls:
                raise BitrixError("ERROR_NOT_FOUND", "Call is not found")
            users = params.get("USER_ID")
            listed = users if isinstance(users, list) else [users]
            self.shown.append((verb, str(params["CALL_ID"]), [int(str(u)) for u in listed]))
            return True
        return show

    def methods(self) -> dict[str, Callable[[Record], Any]]:
        return {
            "crm.duplicate.findbycomm": self.findbycomm,
            "crm.contact.get": lambda p: self.get("contact", p),
            "crm.company.get": lambda p: self.get("company", p),
            "crm.contact.add": self.add_contact,
            "user.get": self.users, "crm.requisite.list": self.requisites,
            "crm.deal.list": self.deals, "crm.activity.list": self.activities,
            "crm.activity.add": self.add_activity, "crm.activity.update": self.update_activity,
            "telephony.externalcall.register": self.register,
            "telephony.externalcall.finish": self.finish,
            "telephony.externalcall.show": self.card_view("show"),
            "telephony.externalcall.hide": self.card_view("hide"),
        }


def bitrix_router(dialect: BitrixDialect, code: str) -> APIRouter:
    """``POST /rest/{user}/{code}/{method}``; a different webhook code is refused."""
    router = APIRouter()
    methods = dialect.methods()

    @router.post("/rest/{user}/{webhook}/{method}")
    async def call(user: str, webhook: str, method: str, request: Request) -> JSONResponse:
        began = time.time()
        if webhook != code:
            return _error(BitrixError("INVALID_CREDENTIALS", "Invalid request credentials", 401))
        name = method.removesuffix(".json").lower()
        handler = methods.get(name)
        if handler is None:
            return _error(BitrixError("ERROR_METHOD_NOT_FOUND", "Method not found!", 404))
        try:
            params = await request.json() if await request.body() else {}
            with dialect.data.lock:
                result = handler(params if isinstance(params, dict) else {})
        except BitrixError as error:
            return _error(error)
        except (ValueError, TypeError, KeyError) as error:
            return _error(BitrixError("ERROR_ARGUMENT", f"bad parameters: {error}"))
        return JSONResponse({"result": result, "time": {
            "start": began, "finish": time.time(), "duration": time.time() - began}})

    return router


def _error(error: BitrixError) -> JSONResponse:
    return JSONResponse({"error": error.code, "error_description": error.description},
                        status_code=error.status)
