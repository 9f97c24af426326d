"""The billing adapter's bus handlers: answer account look-ups, write golden records back.

Both get the :class:`~adapters.billing.client.BillingClient` and the
:class:`~adapters.billing.settings.BillingSettings` injected (``Adapter.provide``),
so each is a plain async function in a unit test.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from adapters.billing import mapping
from adapters.billing import normalize as norm
from adapters.billing.client import BillingClient, NotFound
from adapters.billing.settings import BillingSettings
from bus.adapters.replies import failure
from bus.envelope import Envelope
from bus.errors import ExternalSystemRejected, ExternalSystemUnavailable
from bus.router import Router

__all__ = ["BILLING_SYSTEMS", "accounts_of_customer", "router", "write_back"]

log = logging.getLogger(__name__)

router = Router(source="billing")

BILLING_SYSTEMS = frozenset({"billing", "billing.lanbilling"})
"""``record_ref.system`` values naming this billing in a golden record's sources."""


@router.responder("billing.accounts.requested.v1", "billing.accounts.replied.v1")
async def accounts_of_customer(
    payload: dict[str, Any], client: BillingClient, settings: BillingSettings,
) -> dict[str, Any]:
    """A customer's personal accounts with balances (and services), live from the billing."""
    services = bool(payload.get("include_services"))
    try:
        uids = await find_holders(client, payload)
        holders = await asyncio.gather(*(
            client.run(client.fetch_holder, uid, services=services) for uid in uids))
    except NotFound:
        holders = []
    except (ExternalSystemUnavailable, ExternalSystemRejected) as error:
        return {"accounts": [], "error": failure(error)}
    accounts = [
        mapping.account(agreement, holder["vgroups"] if services else None,
                        uid=holder["account"]["uid"], currency=settings.currency,
                        updated_at=norm.to_timestamp(holder["account"].get("lastmoddate"),
                                                     settings.timezone))
        for holder in holders for agreement in holder.get("agreements") or []
    ]
    if not accounts:
        return {"accounts": [], "error": {"code": "not_found",
                                          "message": "no personal account matches"}}
    return {"accounts": accounts}


@router.subscriber("billing.write-back", "sync.customer.updated.v1")
async def write_back(
    envelope: Envelope, client: BillingClient, settings: BillingSettings,
) -> None:
    """Write a golden record's allowed fields into the billing holders it links (insupdAccount).

    Idempotent twice over: the bus skips a redelivered message, and a holder
    that already has the values is not written again.
    """
    update = envelope.payload
    refs = [str(s["id"]) for s in update.get("sources") or [] if s["system"] in BILLING_SYSTEMS]
    for uid in await resolve_holders(client, refs):
        try:
            holder = await client.run(client.get_account, uid)
        except NotFound:
            raise ExternalSystemRejected(f"billing holder {uid} of golden record "
                                         f"{update['golden_id']} does not exist") from None
        current = holder["account"]
        desired = mapping.soap_account(update["customer"], current, settings.writeback_fields)
        if desired == current:
            log.info("billing holder %s already matches golden record %s", uid,
                     update["golden_id"])
            continue
        changed = sorted(k for k in desired if desired[k] != current.get(k))
        await client.run(client.insupd_account,
                         {"account": desired, "addresses": holder.get("addresses") or []})
        log.info("billing holder %s updated from golden record %s: %s", uid,
                 update["golden_id"], ", ".join(changed))


async def find_holders(client: BillingClient, query: Mapping[str, Any]) -> list[int]:
    """uids of the holders a ``billing.accounts.requested.v1`` names."""
    if query.get("customer_id"):
        customer_id = str(query["customer_id"])
        return [int(customer_id)] if customer_id.isdigit() else []
    if query.get("account_number"):
        return await _by_number(client, str(query["account_number"]))
    flt = {"inn": query["inn"]} if query.get("inn") else {"phone": query.get("phone")}
    rows = await client.run(client.get_accounts, flt)
    return list(dict.fromkeys(int(row["account"]["uid"]) for row in rows))


async def resolve_holders(client: BillingClient, refs: Iterable[str]) -> list[int]:
    """Record ids of billing records: a holder uid (digits) or a personal account number."""
    uids: list[int] = []
    for ref in refs:
        found = [int(ref)] if ref.isdigit() else await _by_number(client, ref)
        if not found:
            raise ExternalSystemRejected(f"billing has no holder or account {ref!r}")
        uids.extend(uid for uid in found if uid not in uids)
    return uids


async def _by_number(client: BillingClient, number: str) -> list[int]:
    for candidate in norm.number_candidates(number):
        rows = await client.run(client.get_agreements, {"agrmnum": candidate})
        if rows:
            return list(dict.fromkeys(int(row["uid"]) for row in rows))
    return []
