"""Soak: a steady message rate through RabbitMQ for N minutes, every process sampled.

The processes are the chaos suite's (``tests/chaos/harness.py``): two ``esb run``
workers (competing consumers on quorum queues, journal on, PostgreSQL state) with
the CRM adapter and the chaos work installed, the CRM simulator, plus an AMI
simulator generating calls and a third ``esb run`` with the PBX adapter, whose
calls end up logged in the CRM. This script publishes ``test.thing.happened.v1``
at ``--rate`` messages/s and, every ``--interval`` seconds, samples each process:
RSS, open file descriptors, open sockets, and (for the PBX worker) the calls in
flight as the bus sees them;
plus how many messages took effect and the backlog in RabbitMQ.

At the end it prints each process's memory growth from the first sample after
warm-up to the last (target < 10 %), and writes ``soak.csv`` and ``soak.svg``
(RSS per process over time) to ``--out``. Not a test: nothing is asserted.

    python bench/soak.py [--minutes 30] [--rate 200] [--interval 60] [--out var/soak]

Needs RabbitMQ on 127.0.0.1:5672 and PostgreSQL on 127.0.0.1:5432 (the test ones).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bus.app import Bus  # noqa: E402
from bus.envelope import Envelope  # noqa: E402
from bus.router import Router  # noqa: E402
from tests.chaos.faults import ensure_broker_up, queue_depths  # noqa: E402
from tests.chaos.harness import Chaos  # noqa: E402
from tests.chaos.plan import ChaosPlan  # noqa: E402
from tests.esb_processes import EsbProcess, free_port  # noqa: E402
from tests.services import POSTGRES_URL, RABBITMQ_URL  # noqa: E402

WORK_TYPE = "test.thing.happened.v1"


@dataclass(frozen=True)
class Sample:
    minute: float
    process: str
    pid: int
    rss_mb: float
    fds: int
    sockets: int
    calls_in_flight: int | None
    effects: int
    backlog: int


def proc_stats(pid: int) -> tuple[float, int, int]:
    """RSS in MB, open file descriptors and, among them, sockets, from ``/proc``."""
    rss_kb = 0
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    fds = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return rss_kb / 1024, fds, sockets


class OpenCalls:
    """Calls in flight as the bus sees them: linkedids with a ``pbx.call.*`` event and no
    ``pbx.call.ended.v1`` yet. A PBX adapter leaking call state shows here as growth."""

    def __init__(self) -> None:
        self.open: set[str] = set()
        self.ended: set[str] = set()
        self.router = Router(source="soak")
        self.router.subscriber("soak.calls", "pbx.call.#")(self.seen)

    async def seen(self, envelope: Envelope) -> None:
        linkedid = str(envelope.payload.get("linkedid"))
        if envelope.type == "pbx.call.ended.v1":
            self.open.discard(linkedid)
            self.ended.add(linkedid)
        elif linkedid not in self.ended:
            self.open.add(linkedid)


class Soak:
    def __init__(self, directory: Path, minutes: float, rate: float, interval: float) -> None:
        self.chaos = Chaos(directory, RABBITMQ_URL, POSTGRES_URL, ChaosPlan(
            messages=0, calls=0, kills=0, broker_restarts=0, broker_down=0.0, crm_slow=0.0,
            billing_down=0.0, traffic_seconds=minutes * 60, seed=0))
        self.minutes = minutes
        self.rate = rate
        self.interval = interval
        self.samples: list[Sample] = []
        self.published = 0
        self.ami: subprocess.Popen[bytes] | None = None
        self.pbx: EsbProcess | None = None
        self.calls = OpenCalls()

    def start(self) -> None:
        ensure_broker_up()
        self.chaos.start()
        self.chaos.stop_refusing()
        ami_port = free_port()
        log = (self.chaos.directory / "ami.log").open("wb")
        self.ami = subprocess.Popen(
            [sys.executable, "-m", "adapters.pbx.simulator", "--port", str(ami_port),
             "--rate", "2", "--speed", "10", "--seed", "7"],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        self.pbx = self.chaos.start_esb(
            "pbx", ESB_PBX__ENABLED="true", ESB_PBX__AMI_PORT=str(ami_port),
            ESB_PBX__AMI_SECRET="esb")

    def processes(self) -> dict[str, int]:
        found = {name: worker.process.pid for name, worker in self.chaos.workers.items()
                 if worker.process is not None}
        if self.pbx is not None and self.pbx.process is not None:
            found["pbx"] = self.pbx.process.pid
        if self.chaos.crm is not None:
            found["crm-simulator"] = self.chaos.crm.pid
        if self.ami is not None:
            found["ami-simulator"] = self.ami.pid
        found["soak-publisher"] = os.getpid()
        return found

    def sample(self, minute: float) -> None:
        effects = sum(self.chaos.effects().values())
        backlog = sum(total for total, _ in queue_depths(self.chaos.run).values())
        in_flight = len(self.calls.open)
        for name, pid in self.processes().items():
            rss, fds, sockets = proc_stats(pid)
            row = Sample(round(minute, 2), name, pid, round(rss, 1), fds, sockets,
                         in_flight if name == "pbx" else None, effects, backlog)
            self.samples.append(row)
            print(f"{row.minute:6.2f} min  {name:<16} rss {row.rss_mb:7.1f} MB  fds {fds:4d}"
                  f"  sockets {sockets:3d}  calls in flight {row.calls_in_flight}"
                  f"  effects {effects}  backlog {backlog}", flush=True)

    async def drive(self) -> None:
        """Publish at a steady rate (one batch every 0.1 s), sampling every interval."""
        publisher = Bus(self.chaos.settings(f"{self.chaos.run}-soak"), source="soak")
        publisher.include(self.calls.router)
        await publisher.start()
        began = time.monotonic()
        next_sample = began + self.interval
        try:
            while (now := time.monotonic()) < began + self.minutes * 60:
                due = int(self.rate * (now - began))  # paced by the clock: a slow
                count = min(due - self.published, int(self.rate))  # batch is caught up
                batch = [Envelope(type=WORK_TYPE, source="soak", payload={"n": str(i)})
                         for i in range(self.published, self.published + count)]
                if batch:
                    await publisher.publish_many(batch)
                    self.published += len(batch)
                if now >= next_sample:
                    await asyncio.to_thread(self.sample, (now - began) / 60)
                    next_sample += self.interval
                await asyncio.sleep(0.1)
            if time.monotonic() >= next_sample - self.interval / 2:  # not sampled just now
                await asyncio.to_thread(self.sample, (time.monotonic() - began) / 60)
        finally:
            await publisher.stop()
            publisher.close()

    def stop(self) -> None:
        try:
            if self.pbx is not None:
                self.pbx.stop()
            if self.ami is not None:
                self.ami.terminate()
                self.ami.wait(10)
        finally:
            self.chaos.stop()


def growth(samples: list[Sample]) -> dict[str, tuple[float, float, float]]:
    """Per process: RSS after warm-up (the first sample), RSS at the end, growth in %."""
    found: dict[str, tuple[float, float, float]] = {}
    for name in dict.fromkeys(s.process for s in samples):
        own = [s for s in samples if s.process == name]
        first, last = own[0].rss_mb, own[-1].rss_mb
        found[name] = (first, last, 100 * (last - first) / first)
    return found


def write_csv(samples: list[Sample], path: Path) -> None:
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(Sample.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(s) for s in samples)


COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")


def write_svg(samples: list[Sample], path: Path, title: str) -> None:
    """RSS (MB) of each process against minutes: one polyline each, axes and a legend."""
    width, height, left, bottom, top, right = 760, 420, 60, 40, 30, 170
    plot_w, plot_h = width - left - right, height - top - bottom
    x_max = max((s.minute for s in samples), default=1.0) or 1.0
    y_max = max((s.rss_mb for s in samples), default=1.0) * 1.1 or 1.0

    def x(minute: float) -> float:
        return left + plot_w * minute / x_max

    def y(mb: float) -> float:
        return top + plot_h * (1 - mb / y_max)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{left}" y="18" font-size="14">{title}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
             'stroke="black"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
             f'<text x="{left + plot_w / 2}" y="{height - 8}">minutes</text>',
             f'<text x="8" y="{top + 10}">RSS MB</text>']
    for step in range(6):
        mb, minute = y_max * step / 5, x_max * step / 5
        parts.append(f'<text x="{left - 40}" y="{y(mb) + 4:.1f}">{mb:.0f}</text>')
        parts.append(f'<text x="{x(minute) - 8:.1f}" y="{top + plot_h + 16}">'
                     f'{minute:.1f}</text>')
    for number, name in enumerate(dict.fromkeys(s.process for s in samples)):
        colour = COLOURS[number % len(COLOURS)]
        points = " ".join(f"{x(s.minute):.1f},{y(s.rss_mb):.1f}"
                          for s in samples if s.process == name)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" '
                     f'points="{points}"/>')
        legend_y = top + 16 * number
        parts.append(f'<rect x="{width - right + 10}" y="{legend_y}" width="12" height="12" '
                     f'fill="{colour}"/>')
        parts.append(f'<text x="{width - right + 28}" y="{legend_y + 10}">{name}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "soak")
    options = parser.parse_args(argv)
    options.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="esb-soak-") as directory:
        soak = Soak(Path(directory), options.minutes, options.rate, options.interval)
        try:
            soak.start()
            asyncio.run(soak.drive())
        finally:
            soak.stop()
    samples = soak.samples
    write_csv(samples, options.out / "soak.csv")
    write_svg(samples, options.out / "soak.svg",
              f"soak: {options.rate:.0f} msg/s for {options.minutes:g} min, RSS per process")
    last = samples[-1] if samples else None
    print(f"\npublished {soak.published} messages in {options.minutes:g} min "
          f"({soak.published / (options.minutes * 60):.0f}/s); took effect "
          f"{last.effects if last else 0}; backlog at the end {last.backlog if last else 0}")
    print("memory growth after warm-up (first sample -> last), target < 10 %:")
    for name, (first, end, percent) in growth(samples).items():
        flag = "ok" if percent < 10 else "OVER"
        print(f"  {name:<16} {first:7.1f} MB -> {end:7.1f} MB  {percent:+6.1f} %  {flag}")
    print(f"samples: {options.out / 'soak.csv'}, chart: {options.out / 'soak.svg'}")


if __name__ == "__main__":
    main()
