"""Screen pop: the caller's card on the ringing agents' pages before they answer.

On ``pbx.call.ringing.v1`` each ringing extension's open pages (the
``/v1/screen-pop/stream?agent=…`` sessions) get at once the card known locally
(:class:`~window.directory.Directory`), then the enriched card when the
scatter-gather completes; ``answered`` and ``ended`` let the page close the pop.
Every push is one event ``{"event": kind, "call_id": …, …}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bus.masking import mask_phone
from bus.phones import call_customer_e164
from window.directory import Directory
from window.identity import Identity
from window.view import ViewService

__all__ = ["AgentSession", "ScreenPop", "ScreenPopHub"]

log = logging.getLogger(__name__)

_SESSION_BACKLOG = 100
_CALLS_REMEMBERED = 10_000


@dataclass(eq=False, slots=True)
class AgentSession:
    """One open operator page: pushes wait here until the stream sends them."""

    agent: str
    queue: asyncio.Queue[dict[str, Any]] = field(
        default_factory=lambda: asyncio.Queue(_SESSION_BACKLOG))
    dropped: int = 0

    def put(self, event: dict[str, Any]) -> None:
        if self.queue.full():  # a page that stopped reading loses its oldest pushes
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class ScreenPopHub:
    """Agents' open sessions, by extension."""

    def __init__(self) -> None:
        self._sessions: dict[str, set[AgentSession]] = {}
        self.pushed = 0

    def open(self, agent: str) -> AgentSession:
        session = AgentSession(agent)
        self._sessions.setdefault(agent, set()).add(session)
        return session

    def close(self, session: AgentSession) -> None:
        sessions = self._sessions.get(session.agent)
        if sessions is not None:
            sessions.discard(session)
            if not sessions:
                del self._sessions[session.agent]

    def push(self, agent: str, event: dict[str, Any]) -> int:
        sessions = self._sessions.get(agent, ())
        for session in sessions:
            session.put(event)
        self.pushed += len(sessions)
        return len(sessions)

    def agents(self) -> dict[str, int]:
        return {agent: len(sessions) for agent, sessions in sorted(self._sessions.items())}


@dataclass(slots=True)
class _Call:
    popped: set[str] = field(default_factory=set)
    local: dict[str, Any] | None = None
    enriched: dict[str, Any] | None = None
    enriching: asyncio.Task[None] | None = None
    answered: bool = False


class ScreenPop:
    def __init__(self, hub: ScreenPopHub, directory: Directory, views: ViewService,
                 region: str = "RU") -> None:
        self.hub = hub
        self.directory = directory
        self.views = views
        self.region = region
        self._calls: OrderedDict[str, _Call] = OrderedDict()

    async def ringing(self, call: Mapping[str, Any], occurred_at: str | None = None) -> None:
        """Push the local card to every newly ringing agent; enrich once per call."""
        call_id = str(call["linkedid"])
        state = self._call(call_id)
        targets = [str(t) for t in call.get("ring_targets") or () if str(t) not in state.popped]
        if not targets:
            return
        phone = call_customer_e164(call, self.region)  # the PBX adapter's, or parsed here
        base = _call_fields(call, phone, occurred_at)
        local = {"event": "pop", "stage": "local", **base,
                 "card": self.directory.card(phone, _customer_number(call)),
                 "pushed_at": _now()}
        state.local = local
        for agent in targets:
            state.popped.add(agent)
            self.hub.push(agent, local)
            if state.enriched is not None:  # a late ring target of a call already enriched
                self.hub.push(agent, state.enriched)
        if state.enriching is None and phone is not None:
            state.enriching = asyncio.create_task(self._enrich(call_id, state, phone, base),
                                                  name=f"screen-pop-{call_id}")

    def ringing_for(self, agent: str) -> list[dict[str, Any]]:
        """The pops of calls still ringing at ``agent``: for a page opened (or reloaded) late."""
        events: list[dict[str, Any]] = []
        for state in self._calls.values():
            if agent in state.popped and not state.answered:
                events += [e for e in (state.local, state.enriched) if e is not None]
        return events

    async def answered(self, call: Mapping[str, Any]) -> None:
        state = self._calls.get(str(call["linkedid"]))
        if state is not None:
            state.answered = True
        await self._close_event(call, "answered", {
            "answered_by": call.get("answered_by_extension"),
            "answered_at": call.get("answered_at")})

    async def ended(self, call: Mapping[str, Any]) -> None:
        await self._close_event(call, "ended", {
            "disposition": call.get("disposition"), "ended_at": call.get("ended_at"),
            "answered_by": call.get("answered_by_extension")})
        state = self._calls.pop(str(call["linkedid"]), None)
        if state is not None and state.enriching is not None and not state.enriching.done():
            state.enriching.cancel()

    async def close(self) -> None:
        tasks = [s.enriching for s in self._calls.values() if s.enriching is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._calls.clear()

    async def _close_event(self, call: Mapping[str, Any], kind: str,
                           extra: dict[str, Any]) -> None:
        call_id = str(call["linkedid"])
        state = self._calls.get(call_id)
        agents = set(state.popped) if state else set()
        agents |= {str(t) for t in call.get("ring_targets") or ()}
        event = {"event": kind, "call_id": call_id, **extra, "pushed_at": _now()}
        for agent in sorted(agents):
            self.hub.push(agent, event)

    async def _enrich(self, call_id: str, state: _Call, phone: str,
                      base: dict[str, Any]) -> None:
        began = time.monotonic()
        try:
            view = await self.views.view({"phone": phone}, Identity.from_query(phone=phone))
        except Exception:
            log.exception("screen pop of call %s: the view failed", call_id)
            return
        card = view["customer"] or self.directory.card(phone)
        event = {"event": "pop", "stage": "enriched", **base, "card": card, "view": view,
                 "pushed_at": _now()}
        state.enriched = event
        for agent in sorted(state.popped):
            self.hub.push(agent, event)
        log.debug("screen pop of %s enriched in %.0f ms", mask_phone(phone),
                  (time.monotonic() - began) * 1000)

    def _call(self, call_id: str) -> _Call:
        state = self._calls.get(call_id)
        if state is None:
            state = self._calls[call_id] = _Call()
            while len(self._calls) > _CALLS_REMEMBERED:  # calls whose end never came
                _, old = self._calls.popitem(last=False)
                if old.enriching is not None:
                    old.enriching.cancel()
        return state


def _call_fields(call: Mapping[str, Any], phone: str | None,
                 occurred_at: str | None) -> dict[str, Any]:
    return {"call_id": str(call["linkedid"]), "caller": phone or _customer_number(call),
            "caller_name": call.get("caller_name"), "called": call.get("called_number"),
            "queue": call.get("queue"), "direction": call.get("direction"),
            "ring_targets": list(call.get("ring_targets") or ()),
            "started_at": call.get("started_at"), "event_at": occurred_at}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _customer_number(call: Mapping[str, Any]) -> str | None:
    """The customer's number as the PBX saw it: the dialled one of an outbound call (the
    agent's phone rings first on click-to-call), else the caller's."""
    number = call.get("called_number" if call.get("direction") == "outbound" else "caller_number")
    return str(number) if number is not None else None
