"""``esb run`` and ``esb demo``: the bus, its plug-ins and the HTTP API in one process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator

import click
import uvicorn

from bus.adapters import AdapterHost, discover
from bus.api.app import create_app
from bus.app import Bus
from bus.settings import Settings, load_settings

__all__ = ["build_bus", "demo", "run"]


def build_bus(settings: Settings, *, with_demo: bool = False) -> tuple[Bus, AdapterHost]:
    """A bus with every discovered adapter built on it (broken ones reported and skipped)."""
    bus = Bus(settings, source="esb")
    host = AdapterHost(bus, discover())
    host.build()
    for loaded in host.adapters:
        if loaded.error:
            click.echo(f"adapter {loaded.name} skipped: {loaded.error}", err=True)
    if with_demo:
        from bus.demo import router as demo_router

        bus.include(demo_router)
    return bus, host


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


async def _serve(settings: Settings, *, with_demo: bool) -> None:
    bus, adapters = build_bus(settings, with_demo=with_demo)
    server = uvicorn.Server(uvicorn.Config(
        create_app(bus, adapters), host=settings.api.host, port=settings.api.port,
        log_level="warning", lifespan="off",
    ))
    async with bus:
        await adapters.start()
        traffic = None
        if with_demo:
            from bus.demo import generate_calls

            traffic = asyncio.get_running_loop().create_task(generate_calls(bus))
        base = f"http://{settings.api.host}:{settings.api.port}"
        click.echo(f"Telecom ESB is running on {type(bus.transport).__name__}"
                   f" with {len(bus.subscriptions)} subscriptions.")
        click.echo(f"  API and docs:  {base}/docs")
        click.echo(f"  journal:       {base}/v1/messages")
        click.echo(f"  dead letters:  {base}/v1/dlq")
        click.echo(f"  metrics:       {base}/metrics")
        click.echo("Press Ctrl+C to stop.")
        try:
            with _signals_end_serving_only():
                await server.serve()
        finally:
            if traffic is not None:
                traffic.cancel()
                await asyncio.gather(traffic, return_exceptions=True)
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
    asyncio.run(_serve(settings, with_demo=False))


@click.command()
@click.option("--port", type=int, default=None, help="API port (default 8080).")
def demo(port: int | None) -> None:
    """Run the embedded default: in-memory broker, SQLite, demo call traffic."""
    os.environ.setdefault("ESB_BROKER_URL", "memory://")
    os.environ.setdefault("ESB_DATABASE_URL", "sqlite:///var/demo.db")
    settings = load_settings()
    if port is not None:
        settings.api.port = port
    asyncio.run(_serve(settings, with_demo=True))
