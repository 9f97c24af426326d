"""``esb demo``: the embedded default (in-memory broker, SQLite) with live systems.

It starts, on loopback, the AMI simulator (an Asterisk generating calls) and the
LANBilling SOAP simulator (built-in seed), points the real PBX and billing adapters at
them through ``ESB_PBX__*`` / ``ESB_BILLING__*`` defaults (settings already in the
environment win), adds the CRM stand-in call log, and serves the bus and its API.
"""

from __future__ import annotations

import asyncio
import os

import click

from adapters.billing.simulator import BillingSimulator
from adapters.pbx.simulator import AmiSimulator, SimulatorConfig
from bus.cli.serve import serve
from bus.settings import load_settings
from demo.crm_stand_in import router as crm_stand_in

__all__ = ["demo"]

DEMO_CALLERS = ("+79161234567", "+79123456789", "+79031112233", "+74951234567",
                "+78123334455", "+79834567890", "+79265550101", "<unknown>")
"""The callers of the demo: E.164 numbers, and now and then a withheld id."""


@click.command()
@click.option("--port", type=int, default=None, help="API port (default 8080).")
@click.option("--rate", type=float, default=0.3, show_default=True, envvar="ESB_DEMO__RATE",
              help="New calls per second from the AMI simulator (ESB_DEMO__RATE).")
@click.option("--speed", type=float, default=1.0, show_default=True, envvar="ESB_DEMO__SPEED",
              help="Time compression of the simulated calls: 10 plays a 60 s call in 6 s "
                   "(ESB_DEMO__SPEED).")
def demo(port: int | None, rate: float, speed: float) -> None:
    """Run the embedded default with a simulated PBX and billing, and a CRM stand-in."""
    os.environ.setdefault("ESB_BROKER_URL", "memory://")
    os.environ.setdefault("ESB_DATABASE_URL", "sqlite:///var/demo.db")
    asyncio.run(_demo(port, rate, speed))


async def _demo(port: int | None, rate: float, speed: float) -> None:
    os.environ.setdefault("ESB_PBX__AMI_USER", "esb")
    os.environ.setdefault("ESB_PBX__AMI_SECRET", "demo")
    pbx_config = SimulatorConfig(port=0, rate=rate, speed=speed, callers=DEMO_CALLERS,
                                 user=os.environ["ESB_PBX__AMI_USER"],
                                 secret=os.environ["ESB_PBX__AMI_SECRET"])
    async with AmiSimulator(pbx_config) as pbx:
        with BillingSimulator() as billing:
            defaults = {
                "ESB_PBX__ENABLED": "true", "ESB_PBX__AMI_HOST": "127.0.0.1",
                "ESB_PBX__AMI_PORT": str(pbx.port),
                "ESB_BILLING__URL": billing.url, "ESB_BILLING__LOGIN": billing.login,
                "ESB_BILLING__PASSWORD": billing.password,
            }
            for name, value in defaults.items():
                os.environ.setdefault(name, value)
            settings = load_settings()
            if port is not None:
                settings.api.port = port
            click.echo(f"Simulated PBX (AMI): 127.0.0.1:{pbx.port}, {rate:g} calls/s"
                       f"{f', speed x{speed:g}' if speed != 1 else ''}")
            click.echo(f"Simulated billing (LANBilling SOAP): {billing.url}")
            await serve(settings, routers=[crm_stand_in])
