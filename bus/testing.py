"""A test kit for integrators: one adapter on a real embedded bus, and helpers to await messages.

::

    async with AdapterHarness(MyAdapter, tmp_path) as harness:
        logged = harness.collect("crm.interaction.logged.v1")
        await harness.publish("pbx.call.ended.v1", payload)
        [event] = await logged.wait_for(1)

The bus is the real one (``memory://`` broker with its ack, retry and
dead-letter semantics, SQLite for its state); nothing of the bus is faked.
Point the adapter at its simulator through its ``ESB_<NAME>__*`` settings.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from bus.adapters import Adapter, AdapterHost, LoadedAdapter
from bus.app import Bus
from bus.envelope import Envelope
from bus.router import Router
from bus.settings import Settings

__all__ = ["AdapterHarness", "Collector"]


class Collector:
    """Every envelope of the given types that reaches the bus, in arrival order."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self._arrived = asyncio.Event()

    async def _take(self, envelope: Envelope) -> None:
        self.envelopes.append(envelope)
        self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[Envelope]:
        """The first ``count`` envelopes; AssertionError if they do not come in time."""
        deadline = time.monotonic() + timeout
        while len(self.envelopes) < count:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"got {len(self.envelopes)} of {count} messages in {timeout}s")
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                continue
        return self.envelopes[:count]


class AdapterHarness:
    """Starts a bus with ``adapter`` built, included and started; stops both on exit."""

    def __init__(self, adapter: type[Adapter], workdir: Path, **delivery: Any) -> None:
        name = f"kit{uuid.uuid4().hex[:8]}"
        self.settings = Settings(
            broker_url=f"memory://{name}", database_url=f"sqlite:///{workdir / f'{name}.db'}",
            queue_prefix=name, instance=name, delivery={"retry_delays": (0.1,), **delivery},
        )
        self.bus = Bus(self.settings, source="test")
        self.loaded = LoadedAdapter(adapter.manifest.name, adapter)
        self.host = AdapterHost(self.bus, [self.loaded])
        self._collectors = Router(source="test")

    @property
    def adapter(self) -> Adapter:
        if self.loaded.instance is None:
            raise RuntimeError(f"adapter {self.loaded.name} is {self.loaded.state}: "
                               f"{self.loaded.error}")
        return self.loaded.instance

    def collect(self, *patterns: str) -> Collector:
        """Record messages matching ``patterns``; call before entering the harness."""
        collector = Collector()
        self._collectors.subscriber(f"kit.collect.{len(self._collectors.subscriptions)}",
                                    *patterns, idempotent=False)(collector._take)
        return collector

    async def publish(self, type: str, payload: Mapping[str, Any], *,
                      key: str | None = None) -> Envelope:
        return await self.bus.emit(type, payload, key=key, source="test")

    async def __aenter__(self) -> AdapterHarness:
        self.host.build()
        self.bus.include(self._collectors)
        await self.bus.start()
        await self.host.start()
        _ = self.adapter  # fail early, with the reason, if it did not build or start
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                        ) -> None:
        await self.host.stop()
        await self.bus.stop()
        self.bus.close()
