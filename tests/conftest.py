from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from pathlib import Path

import pytest

from bus.app import Bus
from bus.envelope import Envelope
from bus.event_loop import EventLoopName, event_loop_named, loop_factory
from bus.router import Router
from bus.settings import Settings
from bus.transport import transport_for
from tests.services import require_postgres, require_rabbitmq

TRANSPORTS = ["memory", "sqlite", "postgres", "rabbitmq"]



def _test_loop() -> EventLoopName | None:
    """``ESB_TEST_LOOP`` (``uvloop`` or ``asyncio``): the loop of every async test and of
    the ``esb`` processes the tests start (tests/esb_processes.py). Unset: pytest-asyncio's
    default loop here, and the ``esb`` processes' own default (``ESB_EVENT_LOOP``: uvloop)."""
    name = os.environ.get("ESB_TEST_LOOP")
    try:
        return event_loop_named(name) if name else None
    except ValueError as unknown:
        raise pytest.UsageError(f"ESB_TEST_LOOP: {unknown}") from None


TEST_LOOP = _test_loop()

if TEST_LOOP is not None:
    # pytest-asyncio takes loop factories from this hook; defined only when asked for,
    # so that an unset ESB_TEST_LOOP leaves pytest-asyncio's own default alone
    def pytest_asyncio_loop_factories(
        config: pytest.Config, item: pytest.Item,
    ) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
        assert TEST_LOOP is not None
        return {TEST_LOOP: loop_factory(TEST_LOOP)}


@pytest.fixture(params=TRANSPORTS)
def broker_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test, once on every transport."""
    kind = request.param
    if kind == "memory":
        yield f"memory://{uuid.uuid4().hex}"
    elif kind == "sqlite":
        yield f"sqla+sqlite:///{tmp_path / 'broker.db'}?poll_interval=0.02"
    elif kind == "postgres":
        database = require_postgres()
        yield "sqla+" + database + "?poll_interval=0.02"
    else:
        yield require_rabbitmq()


@pytest.fixture
def unique() -> str:
    """A prefix that keeps a test's queues apart from every other test's."""
    return f"t{uuid.uuid4().hex[:10]}"


BusFactory = Callable[..., Awaitable[Bus]]


@pytest.fixture
async def make_bus(broker_url: str, tmp_path: Path, unique: str) -> AsyncIterator[BusFactory]:
    """Start buses on the transport under test, sharing one database and one broker."""
    started: list[Bus] = []

    async def factory(
        *routers: Router, source: str = "test", start: bool = True,
        journal: dict[str, object] | None = None, **delivery: object,
    ) -> Bus:
        settings = Settings(
            broker_url=broker_url,
            database_url=f"sqlite:///{tmp_path / 'bus.db'}",
            exchange=f"{unique}.events",
            queue_prefix=unique,
            instance=f"{unique}-{len(started)}",
            delivery={"retry_delays": (0.2,), **delivery},
            journal=journal or {},
        )
        bus = Bus(settings, source=source)
        for router in routers:
            bus.include(router)
        if start:
            await bus.start()
        started.append(bus)
        return bus

    yield factory
    for bus in reversed(started):
        await bus.stop()
        bus.close()
    cleaner = transport_for(broker_url)
    await cleaner.connect()
    for bus in started:
        for subscription in bus.subscriptions:
            await cleaner.delete_queue(bus.queue_name(subscription))
    await cleaner.close()


async def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def all_at_once(count: int, work: Callable[[], None]) -> list[BaseException]:
    """Run ``work`` in ``count`` threads released together; what each raised."""
    starting_line = threading.Barrier(count)
    failures: list[BaseException] = []

    def run() -> None:
        try:
            starting_line.wait()
            work()
        except BaseException as failure:
            failures.append(failure)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def collector(*patterns: str) -> tuple[Router, list[Envelope]]:
    """A subscriber that keeps every message of ``patterns`` it receives."""
    router = Router(source="test")
    received: list[Envelope] = []

    @router.subscriber("collect", *patterns)
    async def collect(envelope: Envelope) -> None:
        received.append(envelope)

    return router, received
