"""The test backends of ``bench/unified_view.py``, and what its processes share.

Five backends answer the real request types over the bus with fixed latencies
(synchronizer 50 ms, documents 50 ms, CRM 80 ms, calls 80 ms, billing 120 ms —
50/80/120 as in the issue). Run as a script, they serve in a process of their own
(they are other systems) until stdin closes, answering ``cpu`` with their CPU seconds,
on the event loop LOOP names (``uvloop`` or ``asyncio``, :mod:`bus.event_loop`; default
uvloop, as ``esb run``'s); ``--gc-freeze`` settles the garbage collector once started,
as ``esb run`` does:

    python bench/unified_view_backends.py URL PREFIX WORKDIR [LOOP] [--gc-freeze]
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bus.app import Bus
from bus.cli.serve import settle_garbage_collector
from bus.event_loop import event_loop_named, run_on
from bus.router import Router
from bus.settings import Settings

LATENCY = {"profile": 0.050, "documents": 0.050, "crm": 0.080, "calls": 0.080,
           "billing": 0.120}


def phone(n: int) -> str:
    return f"+7912{n:07d}"


def inn(n: int) -> str:
    return f"{n:012d}"


def number_of(payload: dict[str, Any]) -> int:
    """Which bench customer a request is about, by whatever key it carries."""
    for key in ("phone", "inn", "customer_id", "golden_id", "account_number"):
        if key in payload:
            return int(str(payload[key])[-7:])
    raise ValueError(payload)


def backends(latency: dict[str, float]) -> Router:
    router = Router(source="bench-backends")

    def responder(request: str, reply: str, section: str,
                  answer: Callable[[int], dict[str, Any]]) -> None:
        async def respond(payload: dict[str, Any]) -> dict[str, Any]:
            await asyncio.sleep(latency[section])
            return answer(number_of(payload))

        respond.__qualname__ = f"bench_{section}"
        router.responder(request, reply, concurrency=256)(respond)

    responder("sync.customer.requested.v1", "sync.customer.replied.v1", "profile",
              lambda n: {"customers": [{"golden_id": f"g-{n:07d}", "customer": {
                  "id": f"g-{n:07d}", "person": {"last_name": f"Клиент {n}"}, "inn": inn(n),
                  "segment": "consumer", "contacts": [{"phone": phone(n)}]},
                  "xref": [{"system": "crm", "id": f"crm-{n:07d}"},
                           {"system": "billing", "id": f"b-{n:07d}"}]}]})
    responder("crm.card.requested.v1", "crm.card.replied.v1", "crm",
              lambda n: {"card": {"customer": {"id": f"crm-{n:07d}",
                                               "person": {"last_name": f"Клиент {n}"}},
                                  "manager": {"id": "mgr-1", "name": "Петров Олег",
                                              "extension": "2001"},
                                  "segment": "consumer", "deals": [], "interactions": []}})
    responder("billing.accounts.requested.v1", "billing.accounts.replied.v1", "billing",
              lambda n: {"accounts": [{"number": f"{n:07d}", "status": "active",
                                       "balance": {"amount": "10.00", "currency": "RUB"},
                                       "customer_id": f"b-{n:07d}", "services": []}]})
    responder("docflow.documents.requested.v1", "docflow.documents.replied.v1", "documents",
              lambda n: {"documents": [{"id": f"d-{n}", "kind": "contract",
                                        "number": f"Д-{n}", "date": "2024-01-15"}]})
    responder("pbx.calls.requested.v1", "pbx.calls.replied.v1", "calls",
              lambda n: {"calls": []})
    return router


def bus_settings(url: str, prefix: str, workdir: Path, name: str) -> Settings:
    return Settings(broker_url=url, database_url=f"sqlite:///{workdir / f'{prefix}-{name}.db'}",
                    exchange=f"{prefix}.events", queue_prefix=prefix,
                    instance=f"{prefix}-{name}", journal={"enabled": False},
                    delivery={"prefetch": 500})


async def in_rounds(count: int, concurrency: int,
                    one: Callable[[int], Awaitable[float]]) -> list[float]:
    """``count`` calls, ``concurrency`` in flight at every moment; their latencies in call order.

    One stream: callers that want a warm-up take the first ``concurrency`` samples
    off rather than running a separate round first. A round of its own would end with
    every connection idle and start the measured calls all together again, so the
    first measured round would be one burst (50 views x ~1.3 ms of CPU arriving at
    once) instead of the steady state that a constant 50 in flight settles into.
    """
    samples: dict[int, float] = {}
    counter = iter(range(count))

    async def worker() -> None:
        for n in counter:
            samples[n] = await one(n)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [samples[n] for n in range(count)]


async def serve_backends(url: str, prefix: str, workdir: Path, *, gc_freeze: bool) -> None:
    """The backends on a bus of this process, until stdin closes."""
    bus = Bus(bus_settings(url, prefix, workdir, "backends"), source="backends")
    bus.include(backends(dict(LATENCY)))
    await bus.start()
    if gc_freeze:  # as esb run does once started (they are bus processes too)
        settle_garbage_collector()
    print("ready", flush=True)
    while line := await asyncio.to_thread(sys.stdin.readline):  # "cpu": this process's CPU s
        if line.strip() == "cpu":
            print(time.process_time(), flush=True)
    await bus.stop()
    bus.close()


if __name__ == "__main__":
    url_, prefix_, workdir_, *rest = sys.argv[1:]
    loop_ = next((arg for arg in rest if not arg.startswith("--")), "uvloop")
    run_on(event_loop_named(loop_),
           serve_backends(url_, prefix_, Path(workdir_), gc_freeze="--gc-freeze" in rest))
