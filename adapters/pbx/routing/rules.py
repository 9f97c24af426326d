"""The rules: who takes a call, decided from local state only (no I/O, no awaiting).

Order, first match wins, each decision saying which rule fired and why:

1. ``after_hours`` — the working calendar is closed: voicemail;
2. ``vip`` — the customer's segment is a VIP one: the head of sales, if free;
3. ``owner`` — a known customer: the responsible manager if free, else ``group`` (the
   manager's first queue), else ``default``;
4. ``auto_assign`` (remembered) — a caller auto-assigned before goes to the same manager;
5. the unknown-number strategy: ``free_manager``, ``secretary``, ``auto_assign``,
   ``region``, ``ring_all`` or ``default``.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections import Counter

from adapters.pbx.routing.calendar import opening_state
from adapters.pbx.routing.decision import Decision, RouteRequest
from adapters.pbx.routing.directory import Assignment, CustomerRef, Directory, ManagerRef
from adapters.pbx.routing.numbering import NumberingPlan, caller_region
from adapters.pbx.routing.presence import PresenceBoard
from adapters.pbx.routing.settings import RoutingSettings

__all__ = ["RuleEngine"]


class RuleEngine:
    def __init__(self, settings: RoutingSettings, directory: Directory, presence: PresenceBoard,
                 *, plan: NumberingPlan | None = None, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.directory = directory
        self.presence = presence
        self.plan = plan
        self.rng = rng or random.Random()

    def default(self, request: RouteRequest, reason: str, *, manager_id: str | None = None,
                customer_id: str | None = None, region: str | None = None) -> Decision:
        return Decision(request.linkedid, "default", reason, queue=self.settings.default_queue,
                        manager_id=manager_id, customer_id=customer_id, region=region)

    def after_hours(self, request: RouteRequest, customer: CustomerRef | None,
                    at: dt.datetime) -> Decision | None:
        """Voicemail when the working calendar is closed at ``at``, else None."""
        calendar = self.settings.calendar
        if calendar is None:
            return None
        is_open, why = opening_state(calendar, at)
        if is_open:
            return None
        return Decision(request.linkedid, "after_hours", f"closed: {why}",
                        voicemail=self.settings.voicemail,
                        customer_id=customer.customer_id if customer else None)

    def decide(self, request: RouteRequest, customer: CustomerRef | None,
               at: dt.datetime) -> Decision:
        closed = self.after_hours(request, customer, at)
        if closed is not None:
            return closed
        if customer is not None:
            return self._known(request, customer)
        if request.caller_e164 is not None:
            assigned = self.directory.assignments.get(request.caller_e164)
            if assigned is not None:
                return self._to_manager(request, assigned.manager_id, "auto_assign",
                                        "assigned to this caller on an earlier call")
        return self._unknown(request)

    # -- known customers ---------------------------------------------------------

    def _known(self, request: RouteRequest, customer: CustomerRef) -> Decision:
        head = self.settings.head_of_sales
        note = ""
        if customer.segment in self.settings.vip_segments and head:
            busy = self.presence.why_not_free(head)
            if busy is None:
                return Decision(request.linkedid, "vip", f"{customer.segment} customer: head "
                                f"of sales {head} is free", targets=(head,),
                                customer_id=customer.customer_id,
                                manager_id=customer.manager_id)
            note = f"head of sales {head} {busy}; "
        if not customer.manager_id:
            return self.default(request, f"{note}known customer without a responsible manager",
                                customer_id=customer.customer_id)
        return self._to_manager(request, customer.manager_id, "owner",
                                f"{note}responsible manager", customer.customer_id)

    def _to_manager(self, request: RouteRequest, manager_id: str, rule: str, why: str,
                    customer_id: str | None = None) -> Decision:
        manager = self.directory.managers.get(manager_id)
        if manager is None or not manager.active or not manager.extension:
            state = "unknown" if manager is None else ("inactive" if not manager.active
                                                        else "without an extension")
            return self.default(request, f"{why} {manager_id} is {state}",
                                manager_id=manager_id, customer_id=customer_id)
        busy = self.presence.why_not_free(manager.extension)
        if busy is None:
            return Decision(request.linkedid, rule, f"{why} {manager.name} ({manager.extension}) "
                            "is free", targets=(manager.extension,), manager_id=manager_id,
                            customer_id=customer_id)
        if self.settings.group_fallback and manager.queues:
            return Decision(request.linkedid, "group", f"{why} {manager.name} "
                            f"({manager.extension}) {busy}: their group {manager.queues[0]}",
                            queue=manager.queues[0], manager_id=manager_id,
                            customer_id=customer_id)
        return self.default(request, f"{why} {manager.name} ({manager.extension}) {busy}",
                            manager_id=manager_id, customer_id=customer_id)

    # -- unknown numbers ---------------------------------------------------------

    def _unknown(self, request: RouteRequest) -> Decision:
        strategy = self.settings.unknown_strategy
        if strategy == "secretary":
            if self.settings.secretary:
                return Decision(request.linkedid, "secretary", "unknown caller: the secretary",
                                targets=(self.settings.secretary,))
            return self.default(request, "unknown caller; no secretary configured")
        if strategy == "random_free":
            free = self._free_managers(self.settings.pool_queue)
            if not free:
                return self.default(request, "unknown caller; no manager is free")
            chosen = self.rng.choice(free)
            return Decision(request.linkedid, "free_manager", f"unknown caller: {chosen.name} "
                            f"({chosen.extension}) picked among {len(free)} free",
                            targets=(str(chosen.extension),), manager_id=chosen.id)
        if strategy == "ring_all":
            return self._ring_all(request)
        if request.caller_e164 is None:
            return self.default(request, "caller number hidden or not a phone number")
        if strategy == "auto_assign":
            return self._auto_assign(request, request.caller_e164)
        if strategy == "region":
            return self._region(request, request.caller_e164)
        return self.default(request, "unknown caller")

    def _free_managers(self, queue: str | None) -> list[ManagerRef]:
        return [m for m in self.directory.active_managers(queue)
                if self.presence.is_free(str(m.extension))]

    def _ring_all(self, request: RouteRequest) -> Decision:
        department = self.settings.ring_all_queue
        if not department:
            return self.default(request, "unknown caller; no ring-all department configured")
        free = self._free_managers(department)
        if not free:
            return Decision(request.linkedid, "queue", f"unknown caller; nobody in {department} "
                            "is free: queued", queue=department)
        return Decision(request.linkedid, "ring_all", f"unknown caller: all {len(free)} free "
                        f"of {department} ring, first to pick up wins",
                        targets=tuple(str(m.extension) for m in free))

    def _auto_assign(self, request: RouteRequest, phone: str) -> Decision:
        candidates = self._free_managers(self.settings.pool_queue)
        if not candidates:
            return self.default(request, "unknown caller; no manager is free to assign")
        load = Counter(a.manager_id for a in self.directory.assignments.values())
        fewest = min(load[m.id] for m in candidates)
        chosen = self.rng.choice([m for m in candidates if load[m.id] == fewest])
        assignment = Assignment(phone, chosen.id, request.linkedid, time.time())
        return Decision(request.linkedid, "auto_assign", f"new caller assigned to {chosen.name} "
                        f"({chosen.extension}), free with {fewest} earlier assignments; "
                        "lead requested", targets=(str(chosen.extension),),
                        manager_id=chosen.id, assignment=assignment)

    def _region(self, request: RouteRequest, phone: str) -> Decision:
        found = caller_region(phone, self.plan)
        if found is None:
            return self.default(request, "unknown caller from an unknown region")
        text = found.region.casefold()
        matches = [(len(key), key, branch) for key, branch in self.settings.branches.items()
                   if key.casefold() in text]
        if not matches:
            return self.default(request, f"unknown caller from {found.region} (by "
                                f"{found.how}); no branch there", region=found.region[:256])
        _, key, branch = max(matches)
        return Decision(request.linkedid, "region", f"unknown caller from {found.region} (by "
                        f"{found.how}): branch '{key}'", targets=(branch,),
                        region=found.region[:256])
