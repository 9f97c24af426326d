"""Routing as a running service: local state, the CRM asked on a miss, deadlines, journal.

:class:`RoutingService` owns the state the rules read (directory, presence board,
numbering plan), keeps it current from events, persists it through :class:`RoutingStore`,
and answers :meth:`route` within the configured deadline: past it, the default queue.
Every decision is published as ``pbx.route.decided.v1`` in the background, so the journal
records it without the caller waiting for the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import random
import re
import time
from collections import deque
from collections.abc import Coroutine, Iterable, Mapping
from typing import Any

from adapters.pbx.routing.decision import Decision, RouteRequest
from adapters.pbx.routing.directory import (
    Assignment,
    CustomerRef,
    Directory,
    customer_refs,
    manager_ref,
)
from adapters.pbx.routing.numbering import NumberingPlan, caller_region
from adapters.pbx.routing.presence import AgentStatus, ManualStatus, PresenceBoard
from adapters.pbx.routing.rules import RuleEngine
from adapters.pbx.routing.settings import RoutingSettings
from adapters.pbx.routing.store import RoutingStore
from bus.app import Bus
from bus.delivery.rpc import RemoteError
from bus.envelope import Envelope
from bus.errors import EsbError, RequestTimeout
from bus.masking import mask_phone
from bus.phones import to_e164

__all__ = ["DECIDED", "LEAD_REQUESTED", "RoutingService"]

log = logging.getLogger(__name__)

DECIDED = "pbx.route.decided.v1"
LEAD_REQUESTED = "crm.lead.requested.v1"
CUSTOMER_REQUESTED = "crm.customer.requested.v1"
SOURCE = "pbx"
_DIALED = re.compile(r"^\+?[0-9*#]{1,32}$")


class RoutingService:
    def __init__(self, settings: RoutingSettings, bus: Bus, *,
                 rng: random.Random | None = None) -> None:
        self.settings = settings.with_rules_file()
        self.bus = bus
        self.directory = Directory()
        self.presence = PresenceBoard(
            assume_free_when_unknown=self.settings.assume_free_when_unknown)
        self._store: RoutingStore | None = None
        self.rules = RuleEngine(self.settings, self.directory, self.presence, rng=rng)
        self.decisions = 0
        self.durations: deque[float] = deque(maxlen=10_000)
        """Seconds each recent :meth:`route` took, for health and the benchmark."""
        self._misses: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._snapshotter: asyncio.Task[None] | None = None
        self._saved_version = -1

    @property
    def store(self) -> RoutingStore:
        """The SQL side, made on first use (an adapter built only for ``check`` has no bus)."""
        if self._store is None:
            self._store = RoutingStore(self.bus.engine)
        return self._store

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        await asyncio.to_thread(self.store.load, self.directory, self.presence)
        self._saved_version = self.presence.version
        if self.settings.unknown_strategy in ("region", "auto_assign") or self.settings.branches:
            self.rules.plan = await asyncio.to_thread(NumberingPlan.load,
                                                      self.settings.numbering_plan)
        self._snapshotter = asyncio.create_task(self._snapshots(), name="routing-snapshots")
        log.info("routing: %d customers' phones, %d managers, %d presences restored",
                 len(self.directory.customers), len(self.directory.managers),
                 len(self.presence.agents))

    async def stop(self) -> None:
        if self._snapshotter is not None:
            self._snapshotter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._snapshotter
            self._snapshotter = None
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        await self.snapshot()

    async def snapshot(self) -> None:
        """Write the presence board to SQL if it changed since the last snapshot."""
        version = self.presence.version
        if version == self._saved_version:
            return
        agents = {ext: AgentStatus(a.device, set(a.queues), set(a.paused), a.manual,
                                   a.manual_reason, a.updated_at)
                  for ext, a in self.presence.agents.items()}
        await asyncio.to_thread(self.store.snapshot_presence, agents)
        self._saved_version = version

    async def _snapshots(self) -> None:
        while True:
            await asyncio.sleep(self.settings.snapshot_interval)
            try:
                await self.snapshot()
            except Exception:
                log.exception("routing: presence snapshot failed; retried next time")

    # -- deciding ----------------------------------------------------------------

    def request_of(self, linkedid: str, caller: str | None, called: str | None) -> RouteRequest:
        return RouteRequest(linkedid, caller, _caller_e164(caller, self.settings.region), called)

    async def route(self, request: RouteRequest, *, cause: Envelope | None = None) -> Decision:
        """A decision within ``deadline_ms`` (else the default queue), journaled."""
        limit = self.settings.deadline_ms / 1000
        began = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                decision = await self.decide(request)
        except TimeoutError:
            decision = self.rules.default(
                request, f"no decision within {self.settings.deadline_ms:g} ms")
        self._decided(decision, began, cause)
        return decision

    def route_now(self, request: RouteRequest, *, cause: Envelope | None = None
                  ) -> Decision | None:
        """The decision from local state, at once and journaled; None when the CRM has to
        be asked first (then :meth:`route`). Answering without an ``await`` lets the
        dialplan's door reply in the same event-loop pass that read the request."""
        began = time.perf_counter()
        decision = self._decide_locally(request, dt.datetime.now(dt.UTC))
        if decision is not None:
            self._decided(decision, began, cause)
        return decision

    def _decided(self, decision: Decision, began: float, cause: Envelope | None) -> None:
        self.decisions += 1
        self.durations.append(time.perf_counter() - began)
        self.journal(decision, cause)

    async def decide(self, request: RouteRequest, at: dt.datetime | None = None) -> Decision:
        now = at or dt.datetime.now(dt.UTC)
        decision = self._decide_locally(request, now)
        if decision is not None:
            return decision
        phone = request.caller_e164
        assert phone is not None  # only an unknown phone is left undecided locally
        closed = self.rules.after_hours(request, None, now)
        if closed is not None:
            return closed
        customer, failure = await self._ask_crm(phone, request)
        if failure is not None:
            return self.rules.default(request, failure)
        return self._by_rules(request, customer, now)

    def _decide_locally(self, request: RouteRequest, now: dt.datetime) -> Decision | None:
        """The rules' decision when local state is enough; None when the CRM may know the
        caller and has not been asked lately."""
        phone = request.caller_e164
        customer = self.directory.customers.get(phone) if phone else None
        if customer is None and phone is not None and self._worth_asking(phone):
            return None
        return self._by_rules(request, customer, now)

    def _by_rules(self, request: RouteRequest, customer: CustomerRef | None,
                  now: dt.datetime) -> Decision:
        decision = self.rules.decide(request, customer, now)
        if decision.assignment is not None:
            self.remember_assignment(decision, request)
        return decision

    def _worth_asking(self, phone: str) -> bool:
        if not self.settings.crm_lookup or phone in self.directory.assignments:
            return False
        missed = self._misses.get(phone)
        return missed is None or time.monotonic() - missed > self.settings.miss_ttl

    async def _ask_crm(self, phone: str, request: RouteRequest
                       ) -> tuple[CustomerRef | None, str | None]:
        """(customer or None, None) from the CRM, or (None, why) when it did not answer."""
        timeout = self.settings.crm_timeout_ms / 1000
        try:
            reply = await self.bus.request(CUSTOMER_REQUESTED, {"phone": phone, "limit": 5},
                                           timeout=timeout)
        except RequestTimeout:
            return None, f"CRM did not answer within {self.settings.crm_timeout_ms:g} ms"
        except (RemoteError, EsbError) as error:
            return None, f"CRM lookup failed: {error}"[:256]
        fault = reply.payload.get("error")
        if fault and fault.get("code") != "not_found":
            return None, f"CRM lookup failed: {fault.get('code')}"
        found = list(reply.payload.get("customers") or [])
        if not found:
            if len(self._misses) > 100_000:  # bounded memory: forget and ask again
                self._misses.clear()
            self._misses[phone] = time.monotonic()
            return None, None
        for customer in found:
            refs = customer_refs(customer, source="crm")
            self._put_customer(str(customer["id"]), refs)
        first = found[0]
        ref = self.directory.customers.get(phone) or CustomerRef(
            phone, str(first["id"]), first.get("segment"), first.get("manager_id"), "crm")
        log.debug("routing: CRM knows %s as %s (linkedid %s)", mask_phone(phone),
                  ref.customer_id, request.linkedid)
        return ref, None

    def remember_assignment(self, decision: Decision, request: RouteRequest) -> None:
        """Keep an auto-assignment (memory now, SQL soon) and ask the CRM for the lead."""
        assignment = decision.assignment
        assert assignment is not None
        self.directory.assign(assignment)
        called = request.called if request.called and _DIALED.match(request.called) else None
        self._background(asyncio.to_thread(self.store.save_assignment, assignment))
        self._background(self._request_lead(assignment, called, dt.datetime.now(dt.UTC)))

    async def _request_lead(self, assignment: Assignment, called: str | None,
                            at: dt.datetime) -> None:
        """``crm.lead.requested.v1`` with the caller's region (numbering plan for mobiles,
        area code for landlines), found after the call has its answer."""
        found = caller_region(assignment.phone, self.rules.plan)
        lead = {"phone": assignment.phone, "manager_id": assignment.manager_id,
                "linkedid": assignment.linkedid, "called_number": called,
                "region": found.region[:256] if found else None, "requested_at": _iso(at)}
        await self.bus.emit(LEAD_REQUESTED, lead, key=assignment.phone, source=SOURCE)

    def journal(self, decision: Decision, cause: Envelope | None = None) -> None:
        """Publish the decision as ``pbx.route.decided.v1`` without waiting for it."""
        payload = decision.to_payload()
        if cause is not None:
            envelope = cause.caused(DECIDED, payload, SOURCE)
        else:
            envelope = Envelope(type=DECIDED, payload=payload, source=SOURCE,
                                key=decision.linkedid)
        self._background(self.bus.publish(envelope))

    def _background(self, work: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("routing: background work failed: %s", task.exception())

    # -- keeping the state current -------------------------------------------------

    def observe_presence(self, events: Iterable[Mapping[str, Any]]) -> None:
        self.presence.apply_all(events)

    async def set_manual(self, extension: str, status: ManualStatus | None,
                         reason: str = "") -> AgentStatus:
        self.presence.set_manual(extension, status, reason)
        await self.snapshot()
        return self.presence.agents[extension]

    async def customer_changed(self, envelope: Envelope) -> None:
        """``crm.customer.changed.v1`` / ``sync.customer.updated.v1``: who owns which phone."""
        payload = envelope.payload
        customer = payload["customer"]
        if envelope.type.startswith("sync."):
            refs = customer_refs(customer, source="sync", customer_id=str(payload["golden_id"]))
            ident = str(payload["golden_id"])
        else:
            deleted = payload.get("change") == "deleted"
            refs = [] if deleted else customer_refs(customer, source="crm")
            ident = str(customer["id"])
        self._put_customer(ident, refs)
        for ref in refs:
            self._misses.pop(ref.phone, None)

    def _put_customer(self, customer_id: str, refs: list[CustomerRef]) -> None:
        self.directory.put_customer(customer_id, refs)
        self._background(asyncio.to_thread(self.store.save_customer, customer_id, refs))

    async def manager_changed(self, payload: Mapping[str, Any]) -> None:
        manager = manager_ref(payload["manager"], deleted=payload.get("change") == "deleted")
        self.directory.put_manager(manager)
        await asyncio.to_thread(self.store.save_manager, manager)


@functools.lru_cache(maxsize=65_536)
def _caller_e164(caller: str | None, region: str) -> str | None:
    """``to_e164``, remembered: callers call again, and parsing a number is a good part
    of a decision's CPU."""
    return to_e164(caller, region)


def _iso(at: dt.datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
