"""The billing change feed and the full export: LANBilling does not push, so we poll.

**Change feed** (:meth:`ChangeFeed.pass_once`, a :class:`~bus.adapters.feed.PollingFeed`):

1. *as of*: the newest ``lastmoddate`` in the billing right now (one holder, newest first);
2. holders with ``lastmoddate >= watermark - overlap``, paged by ``uid`` (a stable
   order: a record changing during the poll cannot push another out of a page);
3. holders with payments since the payments watermark (an agreement's balance
   moves without its holder's ``lastmoddate`` moving);
4. each holder fetched in full, mapped, and staged through the transactional
   outbox only where a canonical field changed (:class:`~.feedstate.FeedState`);
   the last page's transaction moves the watermarks to the *as of* values.

Anything modified after step 1 has a later ``lastmoddate`` and is read by the
next poll; what is read twice is published once.

**Full export** (:meth:`ChangeFeed.export`): every holder, page by page,
published with one confirm wait per page (at least once; a snapshot for the
synchronizer's first load, independent of the feed's state).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from adapters.billing import mapping
from adapters.billing.client import BillingClient, NotFound
from adapters.billing.feedstate import EVENT, FeedState
from adapters.billing.settings import BillingSettings
from bus.adapters.feed import PollingFeed
from bus.app import Bus
from bus.envelope import Envelope

__all__ = ["ChangeFeed"]

log = logging.getLogger(__name__)

STAMP = "%Y-%m-%d %H:%M:%S"
Record = dict[str, Any]


class ChangeFeed(PollingFeed[BillingSettings]):
    system = "billing"

    def __init__(self, bus: Bus, client: BillingClient, settings: BillingSettings,
                 *, source: str = "billing") -> None:
        super().__init__(bus, settings, source=source)
        self.client = client
        self.state = FeedState(bus.engine)

    # -- the feed -------------------------------------------------------------

    def watermark(self, source: str) -> str | None:
        return self.state.watermark(source)

    async def pass_once(self) -> int:
        client = self.client
        holders_since = self.state.watermark("accounts")
        payments_since = self.state.watermark("payments")
        as_of = await self._newest_modification()
        advance = {"accounts": as_of} if as_of else {}
        staged = 0
        seen: set[int] = set()
        flt: Record = {}
        if holders_since:
            flt["dtfrom"] = _shift(holders_since, -self.settings.feed_overlap)
        number = 1
        while True:
            page = await client.run(client.get_accounts, {
                **flt, "pgnum": number, "pgsize": self.settings.page_size}, [("uid", True)])
            uids = [int(item["account"]["uid"]) for item in page]
            seen.update(uids)
            staged += await self._stage(uids, {}, initial=holders_since is None)
            if len(page) < self.settings.page_size:
                break
            number += 1
        paid, newest_payment = await self._paid_since(payments_since,
                                                      collect=holders_since is not None)
        if newest_payment:
            advance["payments"] = newest_payment
        staged += await self._stage(sorted(paid - seen), advance,
                                    initial=holders_since is None)
        return staged

    async def _newest_modification(self) -> str | None:
        newest = await self.client.run(self.client.get_accounts, {"pgnum": 1, "pgsize": 1},
                                       [("lastmoddate", False)])
        if not newest:
            return None
        holder = await self.client.run(self.client.get_account,
                                       int(newest[0]["account"]["uid"]))
        return str(holder["account"].get("lastmoddate") or "") or None

    async def _paid_since(self, since: str | None, *, collect: bool
                          ) -> tuple[set[int], str | None]:
        """Holders with payments since ``since``; on a first poll (not ``collect``) every
        holder is read anyway and only the newest payment date matters."""
        flt: Record = {"dtfrom": _shift(since, -self.settings.feed_overlap)} if since else {}
        uids: set[int] = set()
        newest = since
        number = 1
        while True:
            page = await self.client.run(self.client.get_payments, {
                **flt, "pgnum": number, "pgsize": self.settings.page_size})
            for payment in page:
                paid = str((payment.get("pay") or {}).get("paydate") or "")
                newest = max(newest or "", paid) or None
                if collect and payment.get("uid"):
                    uids.add(int(payment["uid"]))
            if len(page) < self.settings.page_size:
                return uids, newest
            number += 1

    async def _stage(self, uids: Sequence[int], advance: Mapping[str, str],
                     *, initial: bool) -> int:
        holders = await self._fetch(uids)
        payloads = [p for holder in holders for p in self._map(holder)]
        staged = await asyncio.to_thread(self.state.stage, payloads, self._envelope, advance,
                                         initial=initial)
        return len(staged)

    # -- the export -----------------------------------------------------------

    async def export(self, *, flt: Mapping[str, Any] | None = None) -> int:
        """Publish every holder's accounts, one page at a time; how many were published.

        Services are read in pages of their own, ordered by holder, alongside the
        holders' pages, instead of one ``getVgroups`` per holder (a filtered export,
        ``flt``, asks per holder).
        """
        client = self.client
        services = None if flt else _ServicePages(client, self.settings.page_size)
        count = 0
        number = 1
        while True:
            page = await client.run(client.get_accounts, {
                **(flt or {}), "pgnum": number, "pgsize": self.settings.page_size},
                [("uid", True)])
            uids = [int(item["account"]["uid"]) for item in page]
            if services is not None and uids:
                await services.read_up_to(max(uids))
            holders = await self._fetch(uids, services=services is None)
            if services is not None:
                for holder in holders:
                    holder["vgroups"] = services.take(int(holder["account"]["uid"]))
            built = [self._envelope(p) for holder in holders for p in self._map(holder)]
            envelopes = [envelope for envelope in built if envelope is not None]
            if envelopes:
                await self.bus.publish_many(envelopes)
            count += len(envelopes)
            if len(page) < self.settings.page_size:
                log.info("billing export: %d accounts published", count)
                return count
            number += 1

    # -- shared ---------------------------------------------------------------

    async def _fetch(self, uids: Sequence[int], *, services: bool = True) -> list[Record]:
        """Holders in full (with their services), ``concurrency`` at a time; gone ones skipped."""
        async def one(uid: int) -> Record | None:
            try:
                return await self.client.run(self.client.fetch_holder, uid, services=services)
            except NotFound:
                return None

        found = await asyncio.gather(*(one(uid) for uid in uids))
        return [holder for holder in found if holder is not None]

    def _map(self, holder: Record) -> list[dict[str, Any]]:
        try:
            return mapping.account_changed(holder, timezone=self.settings.timezone,
                                           currency=self.settings.currency)
        except Exception:  # one odd holder must not stop the feed; it is read again next poll
            log.exception("billing holder %s could not be mapped",
                          (holder.get("account") or {}).get("uid"))
            return []

    def _envelope(self, payload: Mapping[str, Any]) -> Envelope | None:
        """A checked envelope, or None (logged) so one odd record cannot stop the feed."""
        envelope = Envelope(type=EVENT, payload=payload, source=self.source,
                            key=payload["account"]["number"])
        return self.checked(envelope, f"account {payload['account'].get('id')}")


class _ServicePages:
    """Every vgroup, ordered by holder, read a page at a time as far as the export needs."""

    def __init__(self, client: BillingClient, page_size: int) -> None:
        self.client = client
        self.page_size = page_size
        self.number = 1
        self.last_uid = -1
        self.done = False
        self.by_holder: dict[int, list[Record]] = {}

    async def read_up_to(self, uid: int) -> None:
        """Read pages until every vgroup of holders up to ``uid`` is in hand."""
        while not self.done and self.last_uid <= uid:
            rows = await self.client.run(self.client.get_vgroups, {
                "pgnum": self.number, "pgsize": self.page_size}, [("uid", True), ("vgid", True)])
            for row in rows:
                self.by_holder.setdefault(int(row["uid"]), []).append(row)
                self.last_uid = max(self.last_uid, int(row["uid"]))
            self.number += 1
            self.done = len(rows) < self.page_size

    def take(self, uid: int) -> list[Record]:
        return self.by_holder.pop(uid, [])


def _shift(stamp: str, seconds: float) -> str:
    try:
        moment = datetime.strptime(stamp[:19], STAMP)
    except ValueError:
        return stamp
    return (moment + timedelta(seconds=seconds)).strftime(STAMP)
