"""``esb demo``: the embedded default (in-memory broker, SQLite) with live systems.

It starts on loopback the four simulated systems — an Asterisk (AMI) generating
calls, LANBilling (SOAP), the CRM (REST) and the document flow (CMIS) — all seeded
from one synthetic customer directory (``demo/data``), points the real adapters at
them through ``ESB_*`` defaults (settings already in the environment win), and
serves the bus, its API, the operator page and the operations console.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

import click

from adapters.billing.simdata import BillingData
from adapters.billing.simulator import BillingSimulator
from adapters.crm.simdata import CrmData
from adapters.crm.simulator import CrmSimulator
from adapters.docflow.simdata import DocflowData
from adapters.docflow.simulator import DocflowSimulator
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from bus.api.auth_credentials import hash_password
from bus.cli.serve import serve
from bus.event_loop import run_on
from bus.phones import to_e164
from bus.settings import load_settings
from demo.call_quality import router as call_quality

__all__ = ["DATA", "demo", "demo_callers"]

DATA = Path(__file__).with_name("data")
"""The demo's synthetic customer directory (see ``demo/data/README.md``)."""

STRANGERS = ("+74951234567", "+78123334455", "+79834567890", "<unknown>")
"""Callers no system knows: the unknown-number strategies and "new caller" cards."""

AGENTS = ("2001", "2002", "2003", "2004", "2005", "2006")
"""The simulated PBX's agents: the extensions of the directory's managers M0001..M0006."""

DEMO_USERS = {"operator": "operator", "admin": "admin", "monitoring": "monitoring"}
"""Sign-in names of the demo, each with the role and password of its name (loopback only)."""


def demo_callers(directory: Path = DATA, limit: int = 40) -> tuple[str, ...]:
    """Phones of the directory's CRM customers in E.164, then a few strangers."""
    return (*_customer_phones(directory, limit), *STRANGERS)


def _customer_phones(directory: Path, limit: int) -> Iterator[str]:
    seen: set[str] = set()
    with open(directory / "crm_customers.csv", newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            phone = to_e164(row["phone"])
            if phone is not None and phone not in seen:
                seen.add(phone)
                yield phone
                if len(seen) == limit:
                    return


@click.command()
@click.option("--port", type=int, default=None, help="API port (default 8080).")
@click.option("--rate", type=float, default=0.3, show_default=True, envvar="ESB_DEMO__RATE",
              help="New calls per second from the AMI simulator (ESB_DEMO__RATE).")
@click.option("--speed", type=float, default=1.0, show_default=True, envvar="ESB_DEMO__SPEED",
              help="Time compression of the simulated calls: 10 plays a 60 s call in 6 s "
                   "(ESB_DEMO__SPEED).")
def demo(port: int | None, rate: float, speed: float) -> None:
    """Run the embedded default with simulated PBX, billing, CRM and document flow."""
    os.environ.setdefault("ESB_BROKER_URL", "memory://")
    os.environ.setdefault("ESB_DATABASE_URL", "sqlite:///var/demo.db")
    # the loop is chosen before the demo's defaults are set: none of them is ESB_EVENT_LOOP
    run_on(load_settings().event_loop, _demo(port, rate, speed))


async def _demo(port: int | None, rate: float, speed: float) -> None:
    os.environ.setdefault("ESB_PBX__AMI_USER", "esb")
    os.environ.setdefault("ESB_PBX__AMI_SECRET", "demo")
    pbx_config = SimulatorConfig(port=0, rate=rate, speed=speed, callers=demo_callers(),
                                 agents=AGENTS, user=os.environ["ESB_PBX__AMI_USER"],
                                 secret=os.environ["ESB_PBX__AMI_SECRET"])
    async with AmiSimulator(pbx_config) as pbx:
        with BillingSimulator(BillingData.from_directory(DATA)) as billing, \
                CrmSimulator(CrmData.from_directory(DATA)) as crm, \
                DocflowSimulator(DocflowData.from_directory(DATA)) as docflow:
            defaults = {
                "ESB_PBX__ENABLED": "true", "ESB_PBX__AMI_HOST": "127.0.0.1",
                "ESB_PBX__AMI_PORT": str(pbx.port),
                "ESB_BILLING__URL": billing.url, "ESB_BILLING__LOGIN": billing.login,
                "ESB_BILLING__PASSWORD": billing.password,
                "ESB_CRM__URL": crm.url, "ESB_CRM__TOKEN": crm.token,
                "ESB_CRM__WEBHOOK_SECRET": "demo-webhook-secret",
                "ESB_DOCFLOW__URL": docflow.url, "ESB_DOCFLOW__USER": docflow.user,
                "ESB_DOCFLOW__PASSWORD": docflow.password, "ESB_DOCFLOW__POLL_INTERVAL": "5",
            }
            if not any(name.startswith("ESB_API__AUTH__") for name in os.environ):
                defaults.update(demo_credentials())
            for name, value in defaults.items():
                os.environ.setdefault(name, value)
            settings = load_settings()
            if port is not None:
                settings.api.port = port
            click.echo(f"Simulated PBX (AMI): 127.0.0.1:{pbx.port}, {rate:g} calls/s"
                       f"{f', speed x{speed:g}' if speed != 1 else ''}")
            click.echo(f"Simulated billing (LANBilling SOAP): {billing.url}")
            click.echo(f"Simulated CRM (REST): {crm.url}")
            click.echo(f"Simulated document flow (CMIS): {docflow.url}")
            api = f"http://{settings.api.host}:{settings.api.port}"
            click.echo(f"Operator page: {api}/ui/operator   Console: {api}/ui/console")
            if settings.api.auth.users.keys() >= DEMO_USERS.keys():
                click.echo("Sign in as operator/operator, admin/admin or monitoring/monitoring")
            await serve(settings, routers=[call_quality])


def demo_credentials() -> dict[str, str]:
    """``ESB_API__AUTH__*`` for the demo's users (a fresh session secret per run)."""
    return {f"ESB_API__AUTH__USERS__{user}": f"{role}:{hash_password(role)}"
            for user, role in DEMO_USERS.items()}
