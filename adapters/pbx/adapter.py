"""The PBX adapter on the bus: AMI client -> pipeline -> publisher.

Registered in the ``esb.adapters`` entry-point group; off until ``ESB_PBX__ENABLED=true``
and ``ESB_PBX__AMI_HOST`` / ``_PORT`` / ``_USER`` / ``_SECRET`` point at a PBX.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from typing import Any

from fastapi import APIRouter

from adapters.pbx.ami.actions import AmiError
from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.callstore import (
    CALLS_REPLIED,
    CALLS_REQUESTED,
    CallStore,
    analytics_routes,
    calls_router,
)
from adapters.pbx.events import AGENT_PRESENCE, CALL_ENDED, PUBLISHED_TYPES, PbxEvent
from adapters.pbx.originate import ORIGINATE_REPLIED, ORIGINATE_REQUESTED, Originator
from adapters.pbx.originate import router as originate_router
from adapters.pbx.pipeline import AMI_FILTERS, NEEDED_EVENTS, Pipeline, Snapshot
from adapters.pbx.publisher import PbxPublisher
from adapters.pbx.routing.api import routing_api
from adapters.pbx.routing.dialplan import DialplanDoor
from adapters.pbx.routing.handlers import ROUTING_CONSUMES, ROUTING_PUBLISHES
from adapters.pbx.routing.handlers import router as routing_router
from adapters.pbx.routing.service import RoutingService
from adapters.pbx.settings import AmiSettings
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.router import Router

__all__ = ["PbxAdapter"]

log = logging.getLogger(__name__)


class PbxAdapter(Adapter):
    manifest = AdapterManifest(
        name="pbx", version="0.1.0",
        description="Asterisk AMI: calls (ringing, answered, transferred, ended) and presence",
        consumes=(CALL_ENDED, CALLS_REQUESTED, *ROUTING_CONSUMES, ORIGINATE_REQUESTED),
        publishes=(*PUBLISHED_TYPES, CALLS_REPLIED, *ROUTING_PUBLISHES, ORIGINATE_REPLIED),
        settings=AmiSettings,
    )
    router = Router(source="pbx")
    router.include(calls_router)  # the call store: adapters/pbx/callstore
    router.include(routing_router)  # who takes a call: adapters/pbx/routing
    router.include(originate_router)  # click-to-call: adapters/pbx/originate.py

    def __init__(self, settings: AdapterSettings, bus: Any) -> None:
        super().__init__(settings, bus)
        assert isinstance(settings, AmiSettings)
        self.ami_settings = settings
        self.pipeline = Pipeline(extension_pattern=settings.extension_pattern,
                                 call_timeout=settings.call_timeout,
                                 report_internal=settings.report_internal_calls,
                                 hold_first_session=True, region=settings.region)
        self.publisher = PbxPublisher(bus)
        only_needed = settings.needed_events_only
        self.client = AmiClient(settings, on_events=self._on_events, on_login=self._on_login,
                                keep_events=NEEDED_EVENTS if only_needed else None,
                                filters=AMI_FILTERS if only_needed else ())
        self._last_event_at = (0, 0.0)  # (PBX time, monotonic time when it arrived)
        self._sweeper: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self.rebuilds = 0
        self.routing = RoutingService(settings.routing, bus)
        self.originator = Originator(self.client, extension_pattern=settings.extension_pattern)
        routing = settings.routing
        self.dialplan = (DialplanDoor(self.routing, routing.dialplan_host, routing.dialplan_port)
                         if routing.dialplan_port else None)
        """The dialplan's own port for routing decisions (off unless configured)."""

    @functools.cached_property
    def call_store(self) -> CallStore:
        """The ended calls (recent calls, analytics), opened on first use: a health check
        or ``esb adapters check pbx`` needs no database."""
        return CallStore.for_settings(self.ami_settings, self.bus.engine)

    def provide(self) -> dict[type, object]:
        return {CallStore: self.call_store, RoutingService: self.routing,
                Originator: self.originator}

    def api_routes(self) -> APIRouter:
        routes = APIRouter()
        routes.include_router(analytics_routes(self.call_store))  # /analytics, /calls
        routes.include_router(routing_api(self.routing))  # /route, /presence
        return routes

    async def start(self) -> None:
        await self.routing.start()
        if self.dialplan is not None:
            await self.dialplan.start()
        await self.client.start()
        self._sweeper = asyncio.create_task(self._sweep(), name="pbx-call-timeouts")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.client.stop()
        if self.dialplan is not None:
            await self.dialplan.stop()
        await self.routing.stop()

    async def health(self) -> Health:
        connected = self.client.connected.is_set()
        detail = (f"connected to {self.ami_settings.ami_host} ({self.client.banner})"
                  if connected else f"not connected: {self.client.last_error or 'connecting'}")
        return Health(ok=connected, detail=detail, checks={
            "calls_in_flight": len(self.pipeline.calls.calls),
            "sessions": self.client.sessions, "published": self.publisher.published})

    async def check(self) -> str:
        await self.client.start()
        try:
            await self.client.wait_connected(self.ami_settings.connect_timeout * 2)
            channels = await self.client.core_show_channels()
            return f"{self.client.banner}: {len(channels)} channel(s) up"
        except TimeoutError:
            raise RuntimeError(self.client.last_error or "no AMI session") from None
        finally:
            await self.client.stop()

    def pbx_now_us(self) -> int:
        """The PBX clock, estimated: the last event's Timestamp plus the time since."""
        pbx_us, seen = self._last_event_at
        if not pbx_us:
            return time.time_ns() // 1000
        return pbx_us + int((time.monotonic() - seen) * 1_000_000)

    # -- the flow ------------------------------------------------------------------

    async def _on_events(self, messages: list[AmiMessage]) -> None:
        self.originator.observe(messages)  # click-to-call outcomes
        async with self._lock:
            events = self.pipeline.feed(messages)
            if self.pipeline.last_event_us is not None:
                self._last_event_at = (self.pipeline.last_event_us, time.monotonic())
            await self._publish(events)

    async def _publish(self, events: list[PbxEvent]) -> None:
        self.routing.observe_presence(e.payload for e in events if e.type == AGENT_PRESENCE)
        await self.publisher.publish(events)

    async def _on_login(self, reconnected: bool) -> None:
        if not reconnected:
            # Calls already in progress when the adapter starts: adopted from the
            # snapshot, with the events that arrive meanwhile held until it is in.
            self.pipeline.hold()
            snapshot = await self._snapshot()
            async with self._lock:
                events = self.pipeline.adopt(snapshot, self.pbx_now_us())
                self._events_seen()
                await self._publish(events)
            return
        snapshot = await self._snapshot()
        async with self._lock:
            events = self.pipeline.reconcile(snapshot, self.pbx_now_us())
            self._events_seen()
            self.rebuilds += 1
            await self._publish(events)

    def _events_seen(self) -> None:
        """Events held for the snapshot move the PBX clock on too: those held when it is
        asked for (they came before it), and the others once applied."""
        newest = self.pipeline.newest_event_us
        if newest is not None and newest > self._last_event_at[0]:
            self._last_event_at = (newest, time.monotonic())

    async def _snapshot(self) -> Snapshot:
        """Ask the PBX what is going on now; each question may go unanswered."""
        self._events_seen()
        snapshot = Snapshot(as_of_us=self.pipeline.last_event_us)
        with contextlib.suppress(AmiError, TimeoutError):
            snapshot.channels = await self.client.core_show_channels()
        with contextlib.suppress(AmiError, TimeoutError):
            items = await self.client.queue_status()
            snapshot.queue_members = [i for i in items if i.name == "QueueMember"]
            snapshot.queues = [i.get("Queue") or "" for i in items if i.name == "QueueParams"]
        with contextlib.suppress(AmiError, TimeoutError):
            snapshot.extension_states = await self.client.extension_state_list()
        if snapshot.channels is None:
            log.warning("CoreShowChannels unanswered after reconnect: calls in flight kept "
                        "as they were")
        return snapshot

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.ami_settings.sweep_interval)
            async with self._lock:
                await self._publish(self.pipeline.expire(self.pbx_now_us()))
