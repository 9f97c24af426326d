"""``esb run``: the bus, its plug-ins and the HTTP API in one process.

:func:`serve` is also what other compositions (the ``demo`` package's ``esb demo``) run.
"""

from __future__ import annotations

import contextlib
import gc
import signal
import socket
from collections.abc import Iterator, Sequence

import click
import uvicorn
from fastapi import FastAPI

from bus.adapters import AdapterHost, discover
from bus.api.app import create_app
from bus.api.shutdown import shutting_down
from bus.app import Bus
from bus.errors import DatabaseOutdated
from bus.event_loop import loop_name, run_on
from bus.router import Router
from bus.settings import Settings, load_settings

__all__ = ["api_config", "build_bus", "run", "serve"]

SHUTDOWN_GRACE = 3
"""Seconds open HTTP requests get to finish after SIGTERM before they are cancelled."""


def build_bus(settings: Settings, *, routers: Sequence[Router] = ()) -> tuple[Bus, AdapterHost]:
    """A bus with every discovered adapter built on it (broken ones reported and skipped),
    and the given routers included."""
    bus = Bus(settings, source="esb")
    host = AdapterHost(bus, discover())
    host.build()
    for loaded in host.adapters:
        if loaded.error:
            click.echo(f"adapter {loaded.name} skipped: {loaded.error}", err=True)
    for router in routers:
        bus.include(router)
    return bus, host


class _Server(uvicorn.Server):
    """Tells the app it is shutting down first, so that its event streams end instead of
    holding the shutdown until :data:`SHUTDOWN_GRACE` cancels them."""

    def __init__(self, app: FastAPI, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.app = app

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        shutting_down(self.app).set()
        await super().shutdown(sockets)


@contextlib.contextmanager
def _signals_end_serving_only() -> Iterator[None]:
    """Let SIGTERM/SIGINT stop uvicorn, then let the bus stop cleanly.

    uvicorn re-raises the signal it caught once it has shut down; with the
    default handlers that would kill the process before ``Bus.stop()``
    flushes the journal and settles the ledger. While serving, the handlers
    uvicorn restores (and then re-raises into) are no-ops.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


FULL_COLLECTION_AFTER = 100
"""Middle-generation collections between two full ones (CPython's default: 10)."""


def settle_garbage_collector() -> None:
    """Once started: keep what start-up made out of full collections, and make those rare.

    What start-up made lives as long as the process: frozen, it is kept out of every later
    full collection, which otherwise scanned it all and held the event loop ~130 ms each
    time (bench/unified_view.py, 3-4 per 1000 views). What is left to scan still holds the
    loop ~60 ms per full collection under load (bench/screen_pop.py: the calls in flight,
    promoted because they outlive young collections); after a freeze CPython's rule that
    a full collection waits for the survivors to grow by a quarter hardly waits, so at
    100 calls/s one came every ~5 s, the routing answer's p99. A full collection after
    every 100 middle ones instead of 10 makes that one every half minute or more; cyclic
    garbage that reaches the oldest generation waits that long to be freed.
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def api_config(app: FastAPI, host: str, port: int) -> uvicorn.Config:
    """How the API is served: uvicorn on the bus's loop, listening on ``host:port``.

    The loop is the one the process runs (``ESB_EVENT_LOOP``, :mod:`bus.event_loop`):
    uvicorn's own ``loop`` option only applies to ``uvicorn.run``, which we do not use.

    uvicorn binds the address itself (``loop.create_server``), so every connection it
    accepts has Nagle's algorithm off (asyncio sets ``TCP_NODELAY`` on TCP sockets).
    A listening socket made by hand with ``socket.socket()`` has protocol number 0, which
    asyncio does not take for TCP: its connections keep Nagle on, and a response whose
    body is written after its head waits for the client's delayed ACK, ~40 ms on Linux
    (bench/unified_view.py measured the body 44 ms behind the head at p50).
    """
    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="off",
        # a response that never ends (an event stream of an open page) must not keep
        # SIGTERM from stopping the process: it is cancelled after this grace
        timeout_graceful_shutdown=SHUTDOWN_GRACE,
    )


async def serve(settings: Settings, *, routers: Sequence[Router] = ()) -> None:
    """Serve the bus, its adapters, ``routers`` and the API until SIGTERM/SIGINT."""
    try:
        bus, adapters = build_bus(settings, routers=routers)
    except DatabaseOutdated as outdated:  # the operator's next step, not a traceback
        raise click.ClickException(str(outdated)) from None
    app = create_app(bus, adapters)
    server = _Server(app, api_config(app, settings.api.host, settings.api.port))
    async with bus:
        await adapters.start()
        settle_garbage_collector()
        base = f"http://{settings.api.host}:{settings.api.port}"
        click.echo(f"Telecom ESB is running on {type(bus.transport).__name__}"
                   f" with {len(bus.subscriptions)} subscriptions"
                   f" (event loop: {loop_name()}).")
        click.echo(f"  API and docs:  {base}/docs")
        click.echo(f"  journal:       {base}/v1/messages")
        click.echo(f"  dead letters:  {base}/v1/dlq")
        click.echo(f"  metrics:       {base}/metrics")
        click.echo("Press Ctrl+C to stop.")
        try:
            with _signals_end_serving_only():
                await server.serve()
        finally:
            click.echo("stopping: settling in-flight messages and flushing the journal")
            await adapters.stop()


@click.command()
@click.option("--host", help="API address (default from ESB_API__HOST).")
@click.option("--port", type=int, help="API port (default from ESB_API__PORT).")
def run(host: str | None, port: int | None) -> None:
    """Run the bus with every installed adapter and the HTTP API."""
    settings = load_settings()
    if host:
        settings.api.host = host
    if port is not None:
        settings.api.port = port
    run_on(settings.event_loop, serve(settings))

