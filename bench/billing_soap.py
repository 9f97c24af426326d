"""Full export through the billing adapter against raw zeep, on the same simulator, in one run.

The LANBilling simulator runs in its own process (``python -m adapters.billing.simulator``)
with a datagen directory, so client and server do not share a GIL. Then:

* baseline: raw zeep ``getAccounts``, page by page (``pgsize`` 100), the whole directory:
  the cheapest way to list the holders over this API;
* raw zeep, the calls the adapter needs: ``getAccounts`` pages, ``getAccount`` per
  holder (LANBilling lists holders briefly: INN, passport, birth date and the
  agreements' details need it) and ``getVgroups`` pages ordered by holder (services,
  tariffs, blocks), sequential, no mapping;
* the adapter: ``ChangeFeed.export`` on ``memory://``: the same calls (``concurrency``
  in flight), zeep parsing, mapping to canonical payloads, schema validation, publish.

Prints accounts/s and the ratios adapter / baseline. Not a test: nothing is asserted.

    python bench/billing_soap.py [--customers 1000] [--data DIR] [--concurrency 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zeep
from zeep.transports import Transport

from adapters.billing.adapter import BillingAdapter
from adapters.billing.client import load_wsdl
from adapters.billing.settings import BillingSettings
from bus.app import Bus
from bus.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
GENERATOR = ROOT.parent / "shared" / "datagen" / "generate.py"


def start_simulator(data: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "adapters.billing.simulator", "--data", str(data), "--port", "0"],
        stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def raw_service(url: str) -> tuple[zeep.Client, object]:
    client = zeep.Client(load_wsdl(), transport=Transport(cache=None))
    service = client.create_service("{urn:api3}api3", url)
    service.Login(login="admin", **{"pass": "secret"})
    return client, service


def raw_list(url: str, page: int = 100) -> tuple[int, float]:
    """Every holder through getAccounts pages; (accounts, seconds)."""
    _client, service = raw_service(url)
    started = time.perf_counter()
    count, number = 0, 1
    while True:
        rows = service.getAccounts(flt={"pgnum": number, "pgsize": page})  # type: ignore[attr-defined]
        count += sum(len(row.agreements) for row in rows)
        if len(rows) < page:
            return count, time.perf_counter() - started
        number += 1


def raw_details(url: str, page: int = 100) -> tuple[int, float]:
    """getAccounts pages, getAccount per holder, getVgroups pages; (accounts, seconds)."""
    _client, service = raw_service(url)
    started = time.perf_counter()
    count, number = 0, 1
    while True:
        rows = service.getAccounts(flt={"pgnum": number, "pgsize": page})  # type: ignore[attr-defined]
        for row in rows:
            holder = service.getAccount(id=row.account.uid)[0]  # type: ignore[attr-defined]
            count += len(holder.agreements)
        if len(rows) < page:
            break
        number += 1
    number = 1
    while True:
        vgroups = service.getVgroups(  # type: ignore[attr-defined]
            flt={"pgnum": number, "pgsize": page}, ord=[{"name": "uid", "ascdesc": 0}])
        if len(vgroups) < page:
            return count, time.perf_counter() - started
        number += 1


async def adapter_export(url: str, concurrency: int, workdir: Path) -> tuple[int, float]:
    settings = Settings(broker_url=f"memory://{uuid.uuid4().hex}",
                        database_url=f"sqlite:///{workdir / f'bus-{uuid.uuid4().hex}.db'}")
    bus = Bus(settings, source="bench")
    adapter = BillingAdapter(BillingSettings(url=url, password="secret", feed=False,
                                             page_size=100, concurrency=concurrency), bus)
    await bus.start()
    await adapter.start()
    try:
        started = time.perf_counter()
        count = await adapter.feed.export()
        return count, time.perf_counter() - started
    finally:
        await adapter.stop()
        await bus.stop()
        bus.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else "")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--data", type=Path, help="an existing datagen directory")
    parser.add_argument("--concurrency", default="1,4")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        data = options.data
        if data is None:
            data = workdir / "datagen"
            subprocess.run([sys.executable, str(GENERATOR), "--customers",
                            str(options.customers), "--seed", "7", "--out", str(data)],
                           check=True, capture_output=True)
        process, url = start_simulator(data)
        try:
            load_wsdl()
            raw_list(url)  # warm both sides up
            listed, list_seconds = raw_list(url)
            detailed, detail_seconds = raw_details(url)
            exports = {c: asyncio.run(adapter_export(url, c, workdir))
                       for c in (int(n) for n in options.concurrency.split(","))}
        finally:
            process.terminate()
            process.wait(10)
    list_rate = listed / list_seconds
    detail_rate = detailed / detail_seconds
    print(f"billing directory: {listed} accounts ({data})")
    print(f"raw zeep getAccounts pages       {list_rate:9.0f} accounts/s   (baseline)")
    print(f"raw zeep, the adapter's calls    {detail_rate:9.0f} accounts/s   "
          f"ratio {detail_rate / list_rate:.3f}")
    for concurrency, (count, seconds) in exports.items():
        rate = count / seconds
        print(f"adapter export, concurrency {concurrency}    {rate:9.0f} accounts/s   "
              f"ratio {rate / list_rate:.3f}  (vs same raw calls {rate / detail_rate:.2f})")


if __name__ == "__main__":
    main()
