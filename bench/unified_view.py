"""The unified view's latency at 50 concurrent requests, next to its slowest backend.

Measured the way a site sees it, three processes (``bench/unified_view_backends.py``
describes the backends: synchronizer 50 ms, documents 50 ms, CRM 80 ms, calls 80 ms,
billing 120 ms — 50/80/120 as in the issue):

* **server** (``bench/unified_view_server.py``): the bus with the unified window, its
  API served by uvicorn on loopback as ``esb run`` serves it;
* **backends**: on RabbitMQ in a process of their own (they are other systems); on
  memory:// in the server process (that broker does not cross processes), so there
  the server's CPU includes theirs;
* **load generator**: this process, ``--concurrency`` plain keep-alive HTTP/1.1
  connections, each with a ``GET /v1/customers/lookup?phone=…`` in flight.

Each view asks for a customer never seen before (cold: no cache, no directory).
Baseline in the same run: the slowest backend alone through bus request-reply at the
same concurrency, and the scatter-gather without HTTP, both measured inside the server
process before it serves. Prints p50/p95/max, the server's own time of a view at most (the
``elapsed_ms`` each view document carries: a slow view's time lost inside the server
or around it), CPU per view of the server and of the load generator, and whether the
target is met: view p95 <= 1.2 x the slowest backend's
latency, and never above the deadline. Not a test: nothing is asserted.

Steady state and first round: the ``--concurrency`` connections start together, so the
first round is one burst (50 views' CPU arriving at once, plus first-use costs); after
it, 50 requests are in flight at every moment and their starts spread out. Each
stream runs ``--views`` views after that first round without a pause (a separate
warm-up round would end with every connection idle and re-synchronise them). p50/p95
are of the steady state; the first round is printed on its own lines, and the
deadline holds for every view, the first round's too.

Event loop (``--event-loops``): the server and the backends' process run on the loop
``esb run`` would (:mod:`bus.event_loop`, uvloop by default); ``--event-loops
uvloop,asyncio`` runs the whole measurement once on each, one after the other, per broker.

    python bench/unified_view.py [--views 1000] [--concurrency 50] [--brokers memory,rabbitmq]
                                 [--no-gc-freeze] [--event-loops uvloop,asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from unified_view_backends import LATENCY, backends, in_rounds, phone

from bus.transport import dead_letter_queue, transport_for
from window.component import WindowComponent

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/%2F"
_VIEW_ELAPSED = re.compile(rb'"elapsed_ms":([0-9.]+)')
HERE = Path(__file__).resolve().parent
Child = asyncio.subprocess.Process


def percentile(samples: list[float], cut: int) -> float:
    return statistics.quantiles(samples, n=100, method="inclusive")[cut - 1]


async def spawn(script: str, *args: str) -> Child:
    child = await asyncio.create_subprocess_exec(
        sys.executable, str(HERE / script), *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        limit=2**26)  # the in-process samples come as one JSON line
    assert child.stdout is not None and child.stdin is not None
    return child


async def line_of(child: Child) -> str:
    assert child.stdout is not None
    line = (await child.stdout.readline()).decode().strip()
    if not line:
        raise RuntimeError(f"a bench process ended early (exit {await child.wait()})")
    return line


async def stopped(child: Child) -> None:
    assert child.stdin is not None
    child.stdin.close()
    await child.wait()


@contextlib.asynccontextmanager
async def processes(url: str, prefix: str, workdir: Path, loop: str,
                    args: argparse.Namespace) -> AsyncIterator[tuple[Child, Child | None]]:
    """The server (and, on a real broker, the backends' own process), on ``loop``."""
    apart = url.startswith("amqp")
    backend_child = await spawn("unified_view_backends.py", url, prefix, str(workdir), loop,
                                *(("--gc-freeze",) if args.gc_freeze else ())) \
        if apart else None
    try:
        if backend_child is not None:
            await line_of(backend_child)
        server = await spawn("unified_view_server.py", url, prefix, str(workdir),
                             str(args.views), str(args.concurrency), str(args.deadline),
                             *(() if apart else ("--backends-here",)),
                             *(("--gc-freeze",) if args.gc_freeze else ()),
                             "--event-loop", loop)
        try:
            yield server, backend_child
        finally:
            await stopped(server)
    finally:
        if backend_child is not None:
            await stopped(backend_child)


async def cpu_of(child: Child) -> float:
    """A bench process's CPU seconds so far (it answers ``cpu`` on stdin)."""
    assert child.stdin is not None
    child.stdin.write(b"cpu\n")
    await child.stdin.drain()
    return float(await line_of(child))


def broker_cpu() -> float | None:
    """CPU seconds of the local RabbitMQ (Erlang ``beam.smp``) so far, if it can be read."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if "(beam.smp)" in stat.read_text():
                return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return None


async def run(url: str, loop: str, args: argparse.Namespace, workdir: Path) -> None:
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    try:
        async with processes(url, prefix, workdir, loop, args) as (server, backend_child):
            in_process = json.loads(await line_of(server))
            port = int((await line_of(server)).split()[1])
            measured = await over_http(server, backend_child, port, args)
    finally:
        if url.startswith("amqp"):
            await delete_queues(url, prefix)
    where = "in their own process" if backend_child else "in the server process"
    report(url, args, where, in_process, measured)


async def delete_queues(url: str, prefix: str) -> None:
    """The run's queues and their dead-letter queues, off the shared broker."""
    cleaner = transport_for(url)
    await cleaner.connect()
    for subscription in [*backends(LATENCY).subscriptions, *WindowComponent.router.subscriptions]:
        queue = f"{prefix}.{subscription.name}"
        for name in (queue, dead_letter_queue(queue)):
            with contextlib.suppress(Exception):  # never declared, or gone already
                await cleaner.delete_queue(name)
    await cleaner.close()


class Connection:
    """One keep-alive HTTP/1.1 connection with the least client work: a browser's, not
    a Python client's CPU (httpx costs more per request than the server's whole view)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, target: str) -> tuple[int, bytes]:
        self.writer.write(f"GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        if length is None:
            raise RuntimeError(f"no content-length in {head!r}")
        return int(head.split(b" ", 2)[1]), await self.reader.readexactly(int(length[1]))

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@dataclass
class OverHttp:
    """What the load generator saw."""

    latencies: list[float]
    """Each view's, as this process timed it (request written to last byte read)."""
    server_ms: list[float]
    """Each view's ``elapsed_ms``: the server's own time of the view, from the lookup's
    start to the document (HTTP, the loop's queue and this client left out): where a
    slow view lost its time."""
    cpu: dict[str, float]
    """CPU seconds per view of each process."""
    incomplete: int
    """Views with a section missing."""
    rate: float
    """Views served per second."""


async def over_http(server: Child, backend_child: Child | None, port: int,
                    args: argparse.Namespace) -> OverHttp:
    """The views over HTTP: see :class:`OverHttp`."""
    connections = [await Connection.open(port) for _ in range(args.concurrency)]
    idle = asyncio.Queue[Connection]()
    for connection in connections:
        idle.put_nowait(connection)
    incomplete = 0
    server_ms: dict[int, float] = {}

    async def view(n: int) -> float:
        nonlocal incomplete
        connection = await idle.get()
        began = time.perf_counter()
        status, body = await connection.get(
            f"/v1/customers/lookup?phone=%2B{phone(n + 3 * 10**6)[1:]}")
        elapsed = time.perf_counter() - began
        idle.put_nowait(connection)
        if status != 200:
            raise RuntimeError(f"the view answered {status}: {body[:200]!r}")
        incomplete += b'"complete":true' not in body
        own = _VIEW_ELAPSED.search(body)  # the view's own figure comes before its sections'
        server_ms[n] = float(own[1]) if own else float("nan")
        return elapsed

    try:
        began = await cpu_now(server, backend_child)
        started = time.perf_counter()
        warm = args.concurrency  # the first round, all started together: reported apart
        samples = await in_rounds(warm + args.views, args.concurrency, view)
        wall = time.perf_counter() - started
        ended = await cpu_now(server, backend_child)
    finally:
        for connection in connections:
            await connection.close()
    count = warm + args.views
    return OverHttp(samples, [server_ms[n] for n in range(count)],
                    {name: (ended[name] - began[name]) / count for name in began},
                    incomplete, count / wall)


async def cpu_now(server: Child, backend_child: Child | None) -> dict[str, float]:
    """CPU seconds so far of each process taking part (the broker's if it can be read)."""
    cpu = {"server process": await cpu_of(server), "load generator": time.process_time()}
    if backend_child is not None:
        cpu["backends process"] = await cpu_of(backend_child)
        broker = broker_cpu()
        if broker is not None:
            cpu["RabbitMQ (all its clients)"] = broker
    return cpu


def report(url: str, args: argparse.Namespace, where: str, in_process: dict[str, object],
           measured: OverHttp) -> None:
    http, cpu, incomplete, rate = (measured.latencies, measured.cpu, measured.incomplete,
                                   measured.rate)
    baseline, direct = in_process["baseline"], in_process["direct"]
    direct_first = in_process["direct_first_round"]
    assert isinstance(baseline, list) and isinstance(direct, list)
    assert isinstance(direct_first, list)
    http_first, http = http[:args.concurrency], http[args.concurrency:]
    slowest = max(LATENCY.values())
    print(f"{url.split(':')[0]}: {args.views} cold views, {args.concurrency} concurrent; "
          f"backends {', '.join(f'{k} {v * 1000:.0f} ms' for k, v in LATENCY.items())}; "
          f"deadline {args.deadline * 1000:.0f} ms; backends {where}; "
          f"{'collector settled as by esb run; ' if args.gc_freeze else ''}"
          f"event loop {in_process['event_loop']}; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(figures("baseline: slowest backend alone (request-reply)", baseline, slowest))
    print(figures("view: scatter-gather in the server (no HTTP)", direct, slowest))
    print(figures("view: GET /v1/customers/lookup (uvicorn)", http, slowest))
    print(figures("first round, all started at once: no HTTP", direct_first, slowest))
    print(figures("first round, all started at once: HTTP", http_first, slowest))
    first_own, own = measured.server_ms[:args.concurrency], measured.server_ms[args.concurrency:]
    outside = [total * 1000 - inside for total, inside in zip(http, own, strict=True)]
    print(f"  the server's own time of a view (its elapsed_ms): first round max "
          f"{max(first_own):.1f} ms; steady state p50 {percentile(own, 50):.1f}, p95 "
          f"{percentile(own, 95):.1f}, max {max(own):.1f} ms; the rest of a view's time (HTTP, "
          f"the wait for the loop, this client) p50 {percentile(outside, 50):.1f}, p95 "
          f"{percentile(outside, 95):.1f}, max {max(outside):.1f} ms")
    print("  CPU per view over HTTP: " + ", ".join(
        f"{name} {seconds * 1000:.2f} ms" for name, seconds in cpu.items())
        + f"; the server without HTTP {float(str(in_process['cpu_per_view'])) * 1000:.2f} ms"
        + ("; the server's CPU includes the backends'" if "server" in where else ""))
    print(f"  {rate:.0f} views/s: the server process was busy "
          f"{100 * rate * cpu['server process']:.0f} % of the time (views/s x its CPU per view; "
          f"one core is all one process gets), and a view waits for the views ahead of it")
    print(f"  view p95 / baseline p95: scatter-gather "
          f"{percentile(direct, 95) / percentile(baseline, 95):.2f}, "
          f"HTTP {percentile(http, 95) / percentile(baseline, 95):.2f}")
    met = percentile(http, 95) <= 1.2 * slowest and max(http + http_first) <= args.deadline
    print(f"  target over HTTP: p95 <= 1.2 x {slowest * 1000:.0f} ms = {1.2 * slowest * 1000:.0f}"
          f" ms (steady state) and max <= deadline (every view): {'met' if met else 'NOT met'}"
          f"; views with a section "
          f"unavailable: {incomplete} over HTTP, {in_process['incomplete']} in the server")


def figures(label: str, samples: list[float], slowest: float) -> str:
    p95 = percentile(samples, 95)
    return (f"  {label:<48} p50 {statistics.median(samples) * 1000:7.1f} ms  "
            f"p95 {p95 * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms  "
            f"p95/slowest {p95 / slowest:5.2f}")


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for broker in args.brokers.split(","):
            for loop in args.event_loops.split(","):
                url = RABBITMQ if broker == "rabbitmq" else f"memory://bench-{uuid.uuid4().hex}"
                await run(url, loop, args, Path(tmp))


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--views", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--deadline", type=float, default=0.5, help="every backend's, seconds")
    parser.add_argument("--brokers", default="memory", help="memory,rabbitmq")
    parser.add_argument("--gc-freeze", action=argparse.BooleanOptionalAction, default=True,
                        help="the server and the backends settle the garbage collector "
                             "once started (gc.freeze() and rarer full collections), as esb run "
                             "does (--no-gc-freeze to see the difference)")
    parser.add_argument("--event-loops", default="uvloop",
                        help="the server's (and backends') event loop, one run each: "
                             "uvloop,asyncio (bus/event_loop.py)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(arguments()))
