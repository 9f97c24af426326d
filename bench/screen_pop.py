"""Call-center latencies against the AMI simulator, next to the bare AMI parse time of the same run.

Three processes, as on a site: the AMI simulator (``python -m adapters.pbx.simulator``)
at ``--rate`` calls/s for ``--seconds``; the bus with the PBX adapter (AMI client,
pipeline, publisher, routing) on ``memory://`` with the SQLite journal, serving its API
with uvicorn on loopback and routing's own dialplan port
(``ESB_PBX__ROUTING__DIALPLAN_PORT``, :mod:`adapters.pbx.routing.dialplan`); and a
*dialplan* stand-in (this file with ``--dialplan``): a second AMI session that, at the
first ``Newchannel`` of every inbound call, asks ``GET /route?...`` on that port as
Asterisk's ``CURL()`` would (``--routing-via api``: the bus API's
``/v1/adapters/pbx/route`` instead). The first line printed says which.

Sections (``--sections``), each adding its lines to the report:

* ``routing``: routing-decision latency as the dialplan sees it (AMI event parsed ->
  answer received over HTTP), the same question asked in process without a socket (at a
  tenth of the rate), and the decision's own time (``RoutingService.durations``).
  Target: p99 <= 20 ms. The first figure is stricter than what ``CURL()`` waits for
  (request sent -> answer received): it also holds the stand-in's own scheduling, task
  start and connect, under 0.5 ms at p50 when measured.
* ``screen_pop``: AMI ring -> screen-pop push through the unified window (``window/``):
  the first push (the card known locally) and the enriched card, to the agents'
  sessions. Targets: p99 <= 50 ms and <= 300 ms.

Baseline: the AMI parser alone on the bytes the dialplan session captured (its session
filters ``Newchannel`` only, so that on a small machine it does not compete with the
adapter for CPU), one event block at a time. The bus process settles its garbage
collector once started as ``esb run`` does (``bus.cli.serve.settle_garbage_collector``).
Also printed: the bus process's event-loop lag (how late a 1 ms sleep wakes), which
every latency in that process waits for first, and its CPU per call and per AMI event:
on a shared machine, judge by that.
``ESB_BENCH_PROFILE=FILE`` writes a cProfile (CPU time) of the bus process's run.
Not a test: nothing is asserted.

The bus process runs on the event loop ``esb run`` would (``--event-loop``, uvloop by
default, :mod:`bus.event_loop`); the dialplan stand-in on asyncio's whatever the choice.

    python bench/screen_pop.py [--rate 100] [--seconds 5] [--speed 20] [--sections routing]
                               [--event-loop uvloop|asyncio]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from adapters.pbx.adapter import PbxAdapter
from adapters.pbx.ami.protocol import AmiMessage, AmiParser
from adapters.pbx.callstore import CALLS_REQUESTED
from adapters.pbx.events import PbxEvent
from adapters.pbx.settings import AmiSettings
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.app import Bus
from bus.cli.serve import settle_garbage_collector
from bus.envelope import Envelope
from bus.event_loop import event_loop_named, loop_name, run_on
from bus.router import Router
from bus.settings import Settings

SELF = Path(__file__).resolve()
ROOT = SELF.parents[1]
AGENTS = ("2001", "2002", "2003", "2004", "2005", "2006")
SECRET = "bench"
CALL_ENDED = "pbx.call.ended.v1"
BRANCHES = {"Свердловская": "7002", "Моск": "7001", "Иркутская": "7003", "Красноярский": "7004"}


# -- figures ---------------------------------------------------------------------------

def percentiles(samples: list[float]) -> tuple[float, float]:
    if len(samples) < 2:
        value = samples[0] if samples else float("nan")
        return value, value
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return statistics.median(samples), cuts[98]


def line(label: str, samples: list[float], baseline_p99: float | None = None) -> str:
    p50, p99 = percentiles(samples)
    text = f"  {label:<48} n={len(samples):>6}  p50 {p50 * 1000:8.3f} ms  p99 {p99 * 1000:8.3f} ms"
    if baseline_p99:
        text += f"  p99 = {p99 / baseline_p99:,.0f} x parse p99"
    return text


def parse_baseline(captured: bytes) -> list[float]:
    """Seconds the bare parser takes per event block of the captured stream."""
    banner_end = captured.find(b"\n") + 1
    blocks = [b + b"\r\n\r\n" for b in captured[banner_end:].split(b"\r\n\r\n") if b.strip()]
    parser = AmiParser(expect_banner=False)
    timings = []
    clock = time.perf_counter
    for chunk in blocks:
        began = clock()
        parser.feed(chunk)
        timings.append(clock() - began)
    return timings


# -- the dialplan stand-in (its own process) ----------------------------------------------

async def dialplan(ami_port: int, api: str, calls: int, out: Path, deadline: float,
                   ask_routing: bool = True) -> None:
    """Watch the AMI stream; ask routing for each inbound call (with the routing section);
    write what was seen. Every run has this process: it counts the calls and captures the
    bytes of the parse baseline."""
    latencies: list[float] = []
    answers: dict[str, int] = {}
    captured = bytearray()
    pending: set[asyncio.Task[None]] = set()
    inbound = 0
    linkedids: list[str] = []
    reader, writer = await asyncio.open_connection("127.0.0.1", ami_port)
    writer.write(f"Action: Login\r\nUsername: esb\r\nSecret: {SECRET}\r\n\r\n"
                 "Action: Filter\r\nOperation: Add\r\nFilter: Event: Newchannel\r\n\r\n"
                 .encode())  # Asterisk needs no AMI to ask: this session only times calls
    parser = AmiParser()
    filtering = False
    while not filtering:
        data = await reader.read(65536)
        captured += data
        filtering = any(m.get("Message") == "Filter Added Successfully"
                        for m in parser.feed(data))
    print("ready", flush=True)  # the bus process starts the adapter now
    url = httpx.URL(api)
    host, port, path = url.host, url.port or 80, url.path

    async def ask(linkedid: str, caller: str, seen: float) -> None:
        """One GET on a new connection, like ``CURL()``; plain HTTP/1.1, no client lib."""
        query = httpx.QueryParams({"caller": caller, "called": "74951234567",
                                   "linkedid": linkedid, "format": "text"})
        http_reader, http_writer = await asyncio.open_connection(host, port)
        http_writer.write(f"GET {path}?{query} HTTP/1.1\r\nHost: {host}"
                          "\r\nConnection: close\r\n\r\n".encode())
        response = await http_reader.read()
        latencies.append(time.perf_counter() - seen)
        http_writer.close()
        head, _, body = response.partition(b"\r\n\r\n")
        ok = head.startswith(b"HTTP/1.1 200")
        rule = body.decode().rsplit(",", 1)[-1] if ok else "error"
        answers[rule] = answers.get(rule, 0) + 1

    stop_at = time.monotonic() + deadline
    first = last = 0.0
    while inbound < calls and time.monotonic() < stop_at:
        try:
            data = await asyncio.wait_for(reader.read(65536), 1.0)
        except TimeoutError:
            if inbound and time.perf_counter() - last > 3.0:
                break  # the simulator is done (a call may start before the filter is set)
            continue
        if not data:
            break
        seen = time.perf_counter()
        captured += data
        for message in parser.feed(data):
            if (message.name == "Newchannel" and message.get("Context") == "from-trunk"
                    and message.get("Uniqueid") == message.get("Linkedid")):
                inbound += 1
                linkedids.append(message.get("Linkedid") or "")
                first, last = first or seen, seen
                if not ask_routing:
                    continue
                task = asyncio.create_task(ask(message.get("Linkedid") or "",
                                               message.get("CallerIDNum") or "", seen))
                pending.add(task)
                task.add_done_callback(pending.discard)
        await asyncio.sleep(0)  # a read from a full buffer does not yield: let them run
    if pending:
        await asyncio.wait(list(pending), timeout=10)
    writer.close()
    (out / "ami.bin").write_bytes(bytes(captured))
    (out / "dialplan.json").write_text(json.dumps(
        {"inbound": inbound, "latencies": latencies, "rules": answers,
         "arrival_seconds": last - first, "linkedids": linkedids}), encoding="utf-8")


# -- the bus process ---------------------------------------------------------------------

@dataclass
class Run:
    """What every section can use: the adapter on its bus, the routing URL the dialplan
    asks, the work dir."""

    args: argparse.Namespace
    adapter: PbxAdapter
    route_url: str
    app: Any
    workdir: Path
    ami_port: int
    loop_lag: list[float] = field(default_factory=list)
    ami_events: int = 0
    """AMI events the adapter's pipeline took (counted by :func:`count_ami_events`)."""


def count_ami_events(run: Run) -> None:
    feed = run.adapter.pipeline.feed

    def counted(messages: Iterable[AmiMessage]) -> list[PbxEvent]:
        messages = list(messages)
        run.ami_events += len(messages)
        return feed(messages)

    run.adapter.pipeline.feed = counted  # type: ignore[method-assign]


def cpu_line(run: Run, cpu_seconds: float, elapsed: float, calls: int) -> str:
    """CPU of the bus process per call and per AMI event: unlike the latencies, this
    hardly depends on what else the (shared) machine is doing."""
    per_call = cpu_seconds / max(calls, 1) * 1000
    per_event = cpu_seconds / max(run.ami_events, 1) * 1_000_000
    return (f"  bus process CPU: {cpu_seconds:.2f} s in {elapsed:.1f} s "
            f"({cpu_seconds / max(elapsed, 1e-9):.0%} of a core): {per_call:.2f} ms per call, "
            f"{per_event:.0f} us per AMI event ({run.ami_events} events read, "
            f"{run.adapter.client.stats.skipped_events} dropped unparsed)")


async def start_dialplan(run: Run) -> asyncio.subprocess.Process:
    """The dialplan stand-in, logged in and filtering before the adapter connects."""
    calls = int(run.args.rate * run.args.seconds)
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(SELF), "--dialplan", str(run.ami_port),
        run.route_url, str(calls), str(run.workdir), str(run.args.seconds * 3 + 30),
        "yes" if "routing" in run.args.sections else "no", cwd=ROOT,
        stdout=asyncio.subprocess.PIPE)
    assert process.stdout is not None
    await process.stdout.readline()  # logged in and filtering: it will see every call
    return process


async def calls_ended(adapter: PbxAdapter, timeout: float) -> int:
    """Wait until the calls in flight have ended (the CPU per call then covers whole
    calls); how many are still open when ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while adapter.pipeline.calls.calls and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.1)
    return len(adapter.pipeline.calls.calls)


def call_records(records: Counter[str]) -> Router:
    """Counts ``pbx.call.ended.v1`` per Linkedid: the record the CRM logs, once per call."""
    router = Router(source="bench")

    @router.subscriber("bench.call-records", CALL_ENDED, idempotent=False)
    async def ended(payload: dict[str, Any]) -> None:
        records[str(payload["linkedid"])] += 1

    return router


async def records_settled(inbound: list[str], records: Counter[str],
                          timeout: float = 10.0) -> None:
    """Wait for the last records through the bus (a loaded machine may take seconds),
    then one more second for duplicates."""
    deadline = time.monotonic() + timeout
    while (any(records[i] == 0 for i in inbound)  # noqa: ASYNC110
           and time.monotonic() < deadline):
        await asyncio.sleep(0.2)
    await asyncio.sleep(1.0)


def records_line(inbound: list[str], records: Counter[str]) -> str:
    """Every inbound call the PBX started has exactly one call record: lost, duplicated."""
    lost = [linkedid for linkedid in inbound if records[linkedid] == 0]
    duplicated = [linkedid for linkedid, count in records.items() if count > 1]
    return (f"  call records (pbx.call.ended.v1): {len(inbound)} inbound calls, "
            f"{sum(records[i] > 0 for i in inbound)} recorded, lost {len(lost)}, "
            f"duplicated {len(duplicated)}"
            + (f" (lost: {', '.join(lost[:5])})" if lost else ""))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def callers(count: int, seed: int) -> tuple[list[str], list[str]]:
    """(known, unknown) caller numbers: mobiles in numbering-plan ranges and landlines."""
    rng = random.Random(seed)
    prefixes = ("+7912", "+7916", "+7950", "+7903", "+7343", "+7495", "+7391", "+7812")
    numbers = [f"{rng.choice(prefixes)}{rng.randrange(10**7):07d}" for _ in range(count)]
    return numbers[: count // 2], numbers[count // 2:]


def start_simulator(port: int, args: argparse.Namespace, numbers: list[str],
                    workdir: Path) -> subprocess.Popen[bytes]:
    listing = workdir / "callers.txt"
    listing.write_text("\n".join(numbers), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, "-m", "adapters.pbx.simulator", "--port", str(port),
         "--rate", str(args.rate), "--speed", str(args.speed),
         "--calls", str(int(args.rate * args.seconds)), "--secret", SECRET,
         "--callers", f"@{listing}", "--seed", str(args.seed)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return


async def seed_reference_data(adapter: PbxAdapter, known: list[str]) -> None:
    """Managers on the simulator's agents, and customers owned by them (one in ten VIP)."""
    routing = adapter.routing
    for number, extension in enumerate(AGENTS):
        await routing.manager_changed({"change": "updated", "manager": {
            "id": f"m{number}", "first_name": "Agent", "last_name": extension,
            "extension": extension, "queues": ["support"], "active": True}})
    for index, phone in enumerate(known):
        payload = {"change": "updated", "customer": {
            "id": f"C{index}", "person": {"last_name": "Bench"},
            "segment": "vip" if index % 10 == 0 else "consumer",
            "manager_id": f"m{index % len(AGENTS)}", "contacts": [{"phone": phone}]}}
        await routing.customer_changed(Envelope(type="crm.customer.changed.v1",
                                                payload=payload, source="bench"))


async def tick(run: Run, done: asyncio.Event) -> None:
    while not done.is_set():
        began = time.perf_counter()
        await asyncio.sleep(0.001)
        run.loop_lag.append(max(0.0, time.perf_counter() - began - 0.001))


# -- sections ----------------------------------------------------------------------------

Report = Callable[[float], Awaitable[None]]
"""Prints a section's lines, given the parse baseline's p99 (seconds)."""


async def routing_section(run: Run) -> Report:
    """The dialplan process asks for every inbound call; report both sides' figures."""
    service = run.adapter.routing
    in_process: list[float] = []
    probing = asyncio.create_task(probe(run, in_process))

    async def report(baseline_p99: float) -> None:
        probing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probing
        seen = json.loads((run.workdir / "dialplan.json").read_text(encoding="utf-8"))
        print(line("routing, dialplan: AMI event -> HTTP answer", seen["latencies"],
                   baseline_p99))
        print(line("routing, same GET in the bus process (no socket)", in_process,
                   baseline_p99))
        print(line("routing, RoutingService.route own time", list(service.durations),
                   baseline_p99))
        print(f"  rules fired: {seen['rules']}")

    REPORTS.append(report)
    return report


PROBE_EVERY = 10
"""The in-process probe asks once per this many calls: enough samples, little extra CPU
(each decision is also journaled) in the process being measured."""


async def probe(run: Run, samples: list[float]) -> None:
    """The same GET, at a tenth of the call rate, in process, through what serves the dialplan (its
    own port's handler, or the API app): no sockets, no second process to schedule, so
    what is left is the handler's and the event loop's share."""
    known, unknown = callers(400, run.args.seed)
    numbers = known + unknown
    door = run.adapter.dialplan
    if door is not None:
        index = 0
        while True:
            query = httpx.QueryParams({"caller": numbers[index % len(numbers)],
                                       "linkedid": f"probe.{index}"})
            began = time.perf_counter()
            await door.answer(f"GET /route?{query} HTTP/1.1\r\n\r\n".encode())
            samples.append(time.perf_counter() - began)
            index += 1
            await asyncio.sleep(PROBE_EVERY / run.args.rate)
    transport = httpx.ASGITransport(app=run.app)
    pending: set[asyncio.Task[None]] = set()
    async with httpx.AsyncClient(transport=transport, base_url="http://esb") as client:

        async def ask(index: int) -> None:
            began = time.perf_counter()
            await client.get("/v1/adapters/pbx/route", params={
                "caller": numbers[index % len(numbers)], "linkedid": f"probe.{index}",
                "format": "text"})
            samples.append(time.perf_counter() - began)

        index = 0
        while True:
            task = asyncio.create_task(ask(index))
            pending.add(task)
            task.add_done_callback(pending.discard)
            index += 1
            await asyncio.sleep(PROBE_EVERY / run.args.rate)


async def screen_pop_section(run: Run) -> Report:
    """AMI ring -> screen-pop pushes through the unified window, on the adapter's broker.

    The window (``window.component.WindowComponent``) runs on a bus of its own in this
    process, next to test backends of 50/80/120 ms for the enrichment (those of
    ``bench/unified_view.py``); the known callers are in its directory as
    ``crm.customer.changed.v1`` would put them; every agent has an open session. The clock
    starts when the adapter's pipeline takes the call's first ``DialBegin``/``AgentCalled``
    (what makes it publish ``pbx.call.ringing.v1``) and stops when the pop is pushed to the
    agent's session. Targets: first push p99 <= 50 ms, enriched p99 <= 300 ms."""
    from unified_view_backends import LATENCY  # the unified view bench's test backends
    from unified_view_backends import backends as window_backends

    from window.component import WindowComponent
    from window.settings import WindowSettings

    own = run.adapter.bus.settings  # same broker; the PBX bus journals the events already
    quiet = {"journal": own.journal.model_copy(update={"enabled": False})}
    backend_bus = Bus(own.model_copy(update={"instance": "bench-backends", **quiet}),
                      source="backends")
    test_backends = window_backends(dict(LATENCY))
    # the PBX adapter's own call store answers pbx.calls.requested.v1, as on a site: a test
    # backend answering it too would double the work of every enrichment
    test_backends.subscriptions = [s for s in test_backends.subscriptions
                                   if CALLS_REQUESTED not in s.patterns]
    backend_bus.include(test_backends)
    window_bus = Bus(own.model_copy(update={"instance": "bench-window", **quiet}),
                     source="window")
    window = WindowComponent(WindowSettings(), window_bus)
    window_bus.include(window.router)
    for kind, provided in window.provide().items():
        window_bus.provide(kind, provided)
    await backend_bus.start()
    await window_bus.start()
    known, _ = callers(400, run.args.seed)
    for index, phone in enumerate(known):
        window.state.directory.remember_customer({
            # seven digits: the test backends find a customer by the key's last 7 digits
            "id": f"{index:07d}", "person": {"last_name": "Bench"}, "segment": "consumer",
            "manager_id": f"m{index % len(AGENTS)}", "contacts": [{"phone": phone}]}, "crm")
    rang: dict[str, float] = {}
    pushed: dict[str, dict[str, float]] = {"local": {}, "enriched": {}}
    feed = run.adapter.pipeline.feed

    def stamped(messages: Iterable[AmiMessage]) -> list[PbxEvent]:
        messages = list(messages)
        now = time.perf_counter()
        for message in messages:
            if message.name in ("DialBegin", "AgentCalled"):
                rang.setdefault(message.get("Linkedid") or "", now)
        return feed(messages)

    run.adapter.pipeline.feed = stamped  # type: ignore[method-assign]

    async def agent_page(agent: str) -> None:
        session = window.state.hub.open(agent)
        while True:
            event = await session.queue.get()
            if event["event"] == "pop":
                pushed[event["stage"]].setdefault(event["call_id"], time.perf_counter())

    pages = [asyncio.create_task(agent_page(agent)) for agent in AGENTS]

    async def report(baseline_p99: float) -> None:
        await asyncio.sleep(0.5)  # the last enrichments
        for page in pages:
            page.cancel()
        await asyncio.gather(*pages, return_exceptions=True)
        await window.stop()
        await window_bus.stop()
        await backend_bus.stop()
        local, enriched = ([at - rang[call] for call, at in pushed[stage].items() if call in rang]
                           for stage in ("local", "enriched"))
        print(line("screen pop: AMI ring -> first push (local card)", local, baseline_p99))
        print(line("screen pop: AMI ring -> enriched push", enriched, baseline_p99))
        print(f"  calls rung {len(rang)}, popped {len(pushed['local'])}, enriched "
              f"{len(pushed['enriched'])} (a call that ends first is not enriched)")

    REPORTS.append(report)
    return report


REPORTS: list[Report] = []
PROFILE_ENV = "ESB_BENCH_PROFILE"
"""Names a file: the bus process's run is profiled with cProfile into it (pstats)."""


def profiler() -> cProfile.Profile | None:
    if not os.environ.get(PROFILE_ENV):
        return None
    profile = cProfile.Profile(time.process_time)  # CPU, not wall: the machine is shared
    profile.enable()
    return profile

SECTIONS: dict[str, Callable[[Run], Awaitable[Report]]] = {
    "routing": routing_section, "screen_pop": screen_pop_section}


async def main(args: argparse.Namespace) -> None:
    ami_port, api_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        known, unknown = callers(400, args.seed)
        simulator = start_simulator(ami_port, args, known + unknown, workdir)
        try:
            await wait_listening(ami_port)
            bus = Bus(Settings(broker_url="memory://bench",
                               database_url=f"sqlite:///{workdir / 'bus.db'}",
                               queue_prefix="bench", instance="bench"), source="pbx")
            adapter = PbxAdapter(AmiSettings(
                enabled=True, ami_port=ami_port, ami_user="esb", ami_secret=SECRET,
                routing={"crm_lookup": False, "unknown_strategy": "region",
                         "head_of_sales": "2001", "branches": BRANCHES,
                         "dialplan_port": free_port() if args.routing_via == "port" else 0}),
                bus)
            for kind, provided in adapter.provide().items():
                bus.provide(kind, provided)
            bus.include(PbxAdapter.router)
            records: Counter[str] = Counter()
            bus.include(call_records(records))
            await bus.start()
            await adapter.routing.start()
            if adapter.dialplan is not None:
                await adapter.dialplan.start()
            await seed_reference_data(adapter, known)
            app = create_app(bus, AdapterHost(bus, [LoadedAdapter(
                "pbx", PbxAdapter, instance=adapter, state="running")]))
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=api_port,
                                                   log_level="warning", access_log=False))
            serving = asyncio.create_task(server.serve())
            while not server.started:  # noqa: ASYNC110 - uvicorn offers no event
                await asyncio.sleep(0.02)
            settle_garbage_collector()  # as esb run does once started
            route_url = (f"http://127.0.0.1:{adapter.dialplan.port}/route"
                         if adapter.dialplan is not None
                         else f"http://127.0.0.1:{api_port}/v1/adapters/pbx/route")
            print(f"topology: AMI simulator | bus process (PBX adapter, routing, window, test "
                  f"backends; memory:// broker, SQLite journal; event loop {loop_name()}) | "
                  f"dialplan stand-in asking "
                  f"{route_url}", flush=True)
            run = Run(args, adapter, route_url, app, workdir, ami_port)
            dialplan_process = await start_dialplan(run)
            count_ami_events(run)
            for name in args.sections:
                await SECTIONS[name](run)
            done = asyncio.Event()
            ticker = asyncio.create_task(tick(run, done))
            profile = profiler()
            began, cpu_began = time.perf_counter(), time.process_time()
            await adapter.client.start()
            await dialplan_process.wait()
            open_calls = await calls_ended(adapter, timeout=args.drain)
            if profile is not None:
                profile.disable()
                profile.dump_stats(os.environ[PROFILE_ENV])
            elapsed = time.perf_counter() - began
            cpu_seconds = time.process_time() - cpu_began
            done.set()
            await ticker
            baseline = parse_baseline((workdir / "ami.bin").read_bytes())
            _, baseline_p99 = percentiles(baseline)
            seen = json.loads((workdir / "dialplan.json").read_text(encoding="utf-8"))
            arrival = max(seen["arrival_seconds"], 1e-9)
            print(f"AMI simulator: {seen['inbound']} inbound calls arrived in {arrival:.1f} s "
                  f"({seen['inbound'] / arrival:.0f}/s, asked {args.rate:g}/s); run "
                  f"{elapsed:.1f} s, {adapter.publisher.published} PBX events published")
            print(line("baseline: bare AMI parse, per Newchannel block", baseline))
            for report in REPORTS:
                await report(baseline_p99)
            print(line("bus process event-loop lag (1 ms sleep)", run.loop_lag, baseline_p99))
            print(cpu_line(run, cpu_seconds, elapsed, seen["inbound"]))
            print(f"  calls still open when the clock stopped: {open_calls} (the CPU above "
                  f"covers every call from its start to its end when this is 0)")
            await records_settled(seen["linkedids"], records)
            print(records_line(seen["linkedids"], records))
            server.should_exit = True
            await serving
            await adapter.stop()  # the dialplan port too
            await bus.stop()
            bus.close()
        finally:
            with contextlib.suppress(ProcessLookupError):
                simulator.kill()
            simulator.wait()


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--rate", type=float, default=100.0, help="new calls per second")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long calls arrive "
                        "(the issue's figure: 60)")
    parser.add_argument("--speed", type=float, default=20.0,
                        help="simulator time compression (shorter calls, same arrival rate)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain", type=float, default=30.0,
                        help="seconds to wait, after the last call arrived, for the calls "
                        "in flight to end before the CPU clock stops")
    parser.add_argument("--routing-via", choices=("port", "api"), default="port",
                        help="what the dialplan asks: routing's own port (ESB_PBX__ROUTING__"
                        "DIALPLAN_PORT) or the bus API's /v1/adapters/pbx/route")
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=list(SECTIONS))
    parser.add_argument("--event-loop", type=event_loop_named, default="uvloop",
                        help="the bus process's loop, as ESB_EVENT_LOOP chooses esb run's")
    parser.add_argument("--dialplan", nargs=6, metavar=("AMI_PORT", "API", "CALLS", "OUT",
                                                        "DEADLINE", "ASK"),
                        help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_main(args: Any) -> None:
    if args.dialplan:
        port, api, calls, out, deadline, ask = args.dialplan
        asyncio.run(dialplan(int(port), api, int(calls), Path(out), float(deadline),
                             ask == "yes"))
        return
    run_on(args.event_loop, main(args))


if __name__ == "__main__":
    run_main(arguments())
