"""``esb adapters list|check``: the systems plugged into the bus."""

from __future__ import annotations

import asyncio

import click

from bus.adapters import AdapterHost, discover
from bus.cli.output import emit
from bus.settings import load_settings


@click.group()
def adapters() -> None:
    """Adapters discovered through the esb.adapters entry points."""


@adapters.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """Every discovered adapter, whether it loads, and what it consumes and publishes."""
    from bus.app import Bus

    bus = Bus(load_settings(), source="esb")
    host = AdapterHost(bus, discover())
    host.build()
    emit([loaded.to_json() for loaded in host.adapters],
         ["name", "state", "version", "error", "description"], as_json=as_json)
    bus.close()


@adapters.command()
@click.argument("name")
def check(name: str) -> None:
    """Connect to NAME's external system with the current settings and do a harmless read."""
    from bus.app import Bus

    bus = Bus(load_settings(), source="esb")
    host = AdapterHost(bus, [a for a in discover() if a.name == name])
    if not host.adapters:
        raise click.ClickException(f"no adapter named {name!r} is installed")
    host.build()
    [loaded] = host.adapters
    if loaded.instance is None:
        raise click.ClickException(f"{name}: {loaded.error or loaded.state}")
    try:
        found = asyncio.run(loaded.instance.check())
    except Exception as error:
        raise click.ClickException(f"{name}: {type(error).__name__}: {error}") from None
    finally:
        bus.close()
    click.echo(f"{name}: {found}")
