"""The ``bitrix24`` profile behind the :class:`~adapters.crm.gateway.CrmGateway` protocol.

Reads: ``crm.duplicate.findbycomm`` then ``crm.contact.get`` / ``crm.company.get``;
``crm.requisite.list`` by INN; the card adds ``user.get`` (the responsible manager),
``crm.deal.list`` (open deals, ``CLOSED: N``) and ``crm.activity.list`` (last
activities). Writes: a new caller's lead is ``crm.contact.add``; a call is
``telephony.externalcall.register`` then ``finish``, once per call
(:class:`~adapters.crm.bitrix.ledger.CallLedger`); a call-back and a click-to-call
outcome are ``crm.activity.add``; the agent's result and notes are
``crm.activity.update`` of the call's activity.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa

from adapters.crm.bitrix import mapping
from adapters.crm.bitrix.client import Bitrix24Client
from adapters.crm.bitrix.ledger import CallLedger
from adapters.crm.client import NotFound
from adapters.crm.mapping import e164, interaction_id
from adapters.crm.settings import CrmSettings

__all__ = ["Bitrix24Crm"]

log = logging.getLogger(__name__)

Canonical = dict[str, Any]
MATCHES = 5
"""At most this many contacts/companies are read per phone search."""


class Bitrix24Crm:
    profile = "bitrix24"

    def __init__(self, client: Bitrix24Client, ledger: CallLedger, *, region: str = "RU",
                 default_user: int = 1) -> None:
        self.client = client
        self.ledger = ledger
        self.region = region
        self.default_user = default_user

    @classmethod
    def from_settings(cls, settings: CrmSettings, engine: sa.Engine | None = None
                      ) -> Bitrix24Crm:
        client = Bitrix24Client(settings.url, settings.token.get_secret_value(),
                                timeout=settings.timeout)
        ledger = CallLedger(engine if engine is not None else sa.create_engine("sqlite://"))
        return cls(client, ledger, region=settings.region,
                   default_user=settings.bitrix_default_user)

    async def close(self) -> None:
        await self.client.close()

    # -- reads -------------------------------------------------------------------------

    async def find_by_phone(self, phone: str) -> list[Canonical]:
        number = e164(phone, self.region)
        if number is None:
            return []
        found = await self.client.find_by_phone([number])
        refs = [("contact", int(i)) for i in found.get("CONTACT") or []]
        refs += [("company", int(i)) for i in found.get("COMPANY") or []]
        return await self._customers(refs[:MATCHES])

    async def find_by_inn(self, inn: str) -> list[Canonical]:
        kinds = {3: "contact", 4: "company"}
        refs = [(kinds[int(r["ENTITY_TYPE_ID"])], int(r["ENTITY_ID"]))
                for r in await self.client.requisites_by_inn(inn)
                if int(r.get("ENTITY_TYPE_ID") or 0) in kinds]
        customers = await self._customers(refs[:MATCHES])
        for found in customers:
            found["inn"] = inn
        return customers

    async def get_customer(self, customer_id: str) -> Canonical:
        try:
            kind, number = mapping.entity_ref(customer_id)
        except ValueError:
            raise NotFound(f"bitrix24: no customer {customer_id!r}") from None
        return mapping.customer(kind, await self.client.entity(kind, number), region=self.region)

    async def card(self, customer_id: str, interactions: int = 10) -> Canonical:
        found = await self.get_customer(customer_id)
        kind, number = mapping.entity_ref(customer_id)
        owner = {"contact": "CONTACT_ID", "company": "COMPANY_ID"}[kind]
        manager, deals, activities = await asyncio.gather(
            self.client.user(int(found["manager_id"])) if found["manager_id"] else _none(),
            self.client.list_records("crm.deal.list", {owner: number, "CLOSED": "N"},
                             ["ID", "TITLE", "STAGE_ID", "OPPORTUNITY", "CURRENCY_ID",
                              "DATE_CREATE"], {"DATE_CREATE": "DESC"}),
            self.client.list_records("crm.activity.list",
                             {"OWNER_TYPE_ID": mapping.OWNER_TYPES[kind], "OWNER_ID": number},
                             ["ID", "TYPE_ID", "SUBJECT", "DESCRIPTION", "DIRECTION",
                              "START_TIME", "RESPONSIBLE_ID", "COMMUNICATIONS", "ORIGIN_ID"],
                             {"START_TIME": "DESC"}) if interactions else _empty())
        return {"customer": found, "manager": mapping.card_manager(manager),
                "segment": found["segment"], "deals": [mapping.deal(d) for d in deals],
                "interactions": [mapping.interaction(a, customer_id)
                                 for a in activities[:interactions]]}

    async def _customers(self, refs: list[tuple[str, int]]) -> list[Canonical]:
        records = await asyncio.gather(*(self.client.entity(k, n) for k, n in refs),
                                       return_exceptions=True)
        found: list[Canonical] = []
        for (kind, _number), record in zip(refs, records, strict=True):
            if isinstance(record, NotFound):
                continue  # deleted between the search and the read
            if isinstance(record, BaseException):
                raise record
            found.append(mapping.customer(kind, record, region=self.region))
        return found

    # -- writes ------------------------------------------------------------------------

    async def create_lead(self, lead: Canonical) -> tuple[Canonical, bool]:
        """A contact with the routed manager responsible, unless the number has one."""
        existing = await self.find_by_phone(str(lead["phone"]))
        if existing:
            return existing[0], False
        number = await self.client.add_contact(mapping.lead_contact(lead))
        return await self.get_customer(f"contact-{number}"), True

    async def call_ringing(self, call: Canonical) -> None:
        """Register the call at once and show its card to the ringing agents
        (``telephony.externalcall.show``); ``finish`` at the end hides it."""
        if call.get("direction") != "inbound" or not call.get("ring_targets"):
            return
        key = interaction_id(str(call["linkedid"]))
        if await self.ledger.get(key) is not None:
            return  # registered already (a redelivery, or the call has ended)
        targets = [str(t) for t in call["ring_targets"]]
        registered = await self.client.register_call(mapping.ringing_params(call, targets[0]))
        call_id = str(registered["CALL_ID"])
        await self.ledger.registered(key, call_id)
        users = [u for u in await asyncio.gather(*(self.client.user_by_extension(t)
                                                   for t in targets)) if u]
        if users:
            await self.client.show_call(call_id, [int(u["ID"]) for u in users])

    async def log_call(self, logged: Canonical) -> bool:
        key = str(logged["id"])
        known = await self.ledger.get(key)
        if known is not None and known.finished:
            return False
        attributes = logged.get("attributes") or {}
        extension = attributes.get("answered_by_extension")
        user = (int(logged["manager_id"]) if str(logged.get("manager_id") or "").isdigit()
                else None)
        if user is None and not extension:
            user = self.default_user
        if known is None:
            registered = await self.client.register_call(
                mapping.register_params(logged, user_id=user, extension=extension))
            call_id = str(registered["CALL_ID"])
            await self.ledger.registered(key, call_id)
        else:
            call_id = known.call_id
        finished = await self.client.finish_call(
            mapping.finish_params(call_id, logged, user_id=user, extension=extension))
        activity = str(finished.get("CRM_ACTIVITY_ID") or "") if isinstance(finished, dict) else ""
        await self.ledger.finished(key, int(activity) if activity.isdigit() else None)
        return True

    async def create_callback(self, logged: Canonical, due_minutes: int) -> None:
        await self._add_once(mapping.callback_activity(logged, due_minutes=due_minutes))

    async def annotate(self, annotation: Canonical) -> None:
        known = await self.ledger.get(interaction_id(str(annotation["call_id"])))
        if known is None or not known.finished or known.activity_id is None:
            raise NotFound(f"bitrix24: call {annotation['call_id']} has no activity yet")
        await self.client.update_activity(known.activity_id,
                                          mapping.annotation_fields(annotation))

    async def record_originate(self, reply: Canonical, key: str) -> None:
        user = None
        if reply.get("requested_by", {}).get("user_id"):
            user_id = str(reply["requested_by"]["user_id"])
            user = int(user_id) if user_id.isdigit() else None
        fields = mapping.originate_activity(reply, responsible=user)
        if fields is None:
            log.info("click-to-call %s: no CRM record to note it on", key)
            return
        await self._add_once({**fields, "ORIGIN_ID": f"esb-{key}"})

    async def _add_once(self, fields: Canonical) -> None:
        """``crm.activity.add`` unless an activity with this ``ORIGIN_ID`` exists."""
        origin = fields["ORIGIN_ID"]
        if await self.client.list_records("crm.activity.list", {"ORIGIN_ID": origin}, ["ID"]):
            log.info("activity %s exists in Bitrix24: not added again", origin)
            return
        await self.client.add_activity(fields)


async def _none() -> None:
    return None


async def _empty() -> list[dict[str, Any]]:
    return []
