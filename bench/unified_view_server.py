"""The server side of ``bench/unified_view.py``: the bus API as a site runs it, in its own process.

The window component on a bus, its API served by uvicorn on loopback exactly as
``esb run`` serves it (``bus.cli.serve.api_config``: same event loop as the bus,
uvicorn's own HTTP parser choice — httptools when installed — and its own binding). Before it
serves, it measures in process (no HTTP): the slowest backend alone through bus
request-reply (the baseline) and the scatter-gather itself (``ViewService.view``),
and prints those samples as one JSON line. Then it prints ``ready <port>``
and answers ``cpu`` on stdin with this process's CPU seconds, until stdin closes.

    python bench/unified_view_server.py URL PREFIX WORKDIR VIEWS CONCURRENCY DEADLINE \
        [--backends-here] [--gc-freeze] [--event-loop uvloop|asyncio]

``--backends-here``: the test backends run on a bus of this process too (memory://
has no broker between processes, so there they must); their CPU then counts here.
``--gc-freeze``: the collector settled once started, before serving, as ``esb run``
does (``bus.cli.serve.settle_garbage_collector``: start-up objects frozen, so a full
collection skips them, without which each one held the loop ~130 ms here).
``--event-loop``: the process's loop, as ``ESB_EVENT_LOOP`` chooses ``esb run``'s
(:mod:`bus.event_loop`; uvloop by default, as there); it reports the loop it got.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from unified_view_backends import LATENCY, backends, bus_settings, in_rounds, phone

from bus.adapters import AdapterHost, LoadedAdapter
from bus.api.app import create_app
from bus.app import Bus
from bus.cli.serve import api_config, settle_garbage_collector
from bus.errors import RequestTimeout
from bus.event_loop import event_loop_named, loop_name, run_on
from window.component import WindowComponent
from window.identity import Identity
from window.settings import Deadlines, WindowSettings


async def in_process_figures(bus: Bus, component: WindowComponent,
                             args: argparse.Namespace) -> dict[str, object]:
    """Baseline and scatter-gather without HTTP, with this process's CPU per view."""
    async def slowest_alone(n: int) -> float:
        began = time.perf_counter()
        with contextlib.suppress(RequestTimeout):  # counted at the deadline
            await bus.request("billing.accounts.requested.v1", {"phone": phone(n)},
                              timeout=args.deadline)
        return time.perf_counter() - began

    incomplete = 0

    async def gathered(n: int) -> float:
        nonlocal incomplete
        began = time.perf_counter()
        view = await component.state.views.view({"phone": phone(n)},
                                                Identity.from_query(phone=phone(n)))
        elapsed = time.perf_counter() - began
        incomplete += not view["complete"]
        return elapsed

    warm = args.concurrency  # the first round, all started together: reported apart
    baseline = await in_rounds(warm + args.views, args.concurrency,
                               lambda n: slowest_alone(n + 10**6))
    incomplete = 0
    cpu = time.process_time()
    direct = await in_rounds(warm + args.views, args.concurrency,
                             lambda n: gathered(n + 2 * 10**6))
    return {"baseline": baseline[warm:], "direct": direct[warm:],
            "direct_first_round": direct[:warm], "incomplete": incomplete,
            "cpu_per_view": (time.process_time() - cpu) / (warm + args.views),
            "event_loop": loop_name()}


async def serve(args: argparse.Namespace) -> None:
    workdir = Path(args.workdir)
    backend_bus: Bus | None = None
    if args.backends_here:
        backend_bus = Bus(bus_settings(args.url, args.prefix, workdir, "backends"),
                          source="backends")
        backend_bus.include(backends(dict(LATENCY)))
        await backend_bus.start()
    bus = Bus(bus_settings(args.url, args.prefix, workdir, "window"), source="window")
    component = WindowComponent(
        WindowSettings(deadlines=Deadlines(**dict.fromkeys(LATENCY, args.deadline))), bus)
    bus.include(component.router)
    for kind, provided in component.provide().items():
        bus.provide(kind, provided)
    await bus.start()
    app = create_app(bus, AdapterHost(bus, [LoadedAdapter(
        "window", WindowComponent, instance=component, state="running")]))
    try:
        print(json.dumps(await in_process_figures(bus, component, args)), flush=True)
        if args.gc_freeze:  # as esb run does once started
            settle_garbage_collector()
        # served as esb run serves it (its uvicorn.Config, uvicorn binding the address;
        # a socket bound here by hand kept Nagle on: the body came ~40 ms after the head)
        server = uvicorn.Server(api_config(app, "127.0.0.1", 0))
        serving = asyncio.create_task(server.serve())
        while not server.started:
            if serving.done():
                serving.result()
            await asyncio.sleep(0.01)
        print(f"ready {server.servers[0].sockets[0].getsockname()[1]}", flush=True)
        while line := await asyncio.to_thread(sys.stdin.readline):
            if line.strip() == "cpu":
                print(time.process_time(), flush=True)
        server.should_exit = True
        await serving
    finally:
        await bus.stop()
        bus.close()
        if backend_bus is not None:
            await backend_bus.stop()
            backend_bus.close()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("url")
    parser.add_argument("prefix")
    parser.add_argument("workdir")
    parser.add_argument("views", type=int)
    parser.add_argument("concurrency", type=int)
    parser.add_argument("deadline", type=float)
    parser.add_argument("--backends-here", action="store_true")
    parser.add_argument("--gc-freeze", action="store_true")
    parser.add_argument("--event-loop", type=event_loop_named, default="uvloop")
    return parser.parse_args()


if __name__ == "__main__":
    arguments_ = arguments()
    run_on(arguments_.event_loop, serve(arguments_))
