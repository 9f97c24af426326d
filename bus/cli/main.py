"""``esb``: the command line of the bus.

Every listing command takes ``--json`` and then prints one JSON object per line.
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import entry_points
from typing import Any

import click

from bus.cli import adapters, asyncapi, dead_letters, messages, schemas, serve
from bus.cli.output import emit, emit_one
from bus.settings import load_settings, masked

__all__ = ["cli"]


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at debug level.")
def cli(verbose: bool) -> None:
    """Telecom ESB: the canonical message bus for CRM, billing, PBX and document flow."""
    from bus.masking import install_log_masking

    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )
    if not verbose:
        # pika narrates every connection step at INFO; httpx logs every request URL,
        # and look-up URLs carry phone numbers
        for chatty in ("pika", "httpx"):
            logging.getLogger(chatty).setLevel(logging.WARNING)
    install_log_masking()


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def config(as_json: bool) -> None:
    """Print the effective settings, secrets masked."""
    emit_one(masked(load_settings()), as_json=as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per queue.")
def topology(as_json: bool) -> None:
    """Print the exchange, the subscription queues, their bindings, DLQs and retry queues.

    A per-instance queue is shown under this command's own instance name: each bus
    process declares its own while it runs (none is declared for this command).
    """
    rows = asyncio.run(_topology())
    emit(rows, ["exchange", "queue", "bindings", "dead_letter_queue", "retry_delays",
                "per_instance", "messages", "consumers"], as_json=as_json)


async def _topology() -> list[dict[str, Any]]:
    bus, _adapters = serve.build_bus(load_settings())
    try:
        await bus.start(consume=False)
        described = await bus.topology()
    finally:
        await bus.stop()
        bus.close()
    return [{"exchange": described["exchange"], **queue} for queue in described["queues"]]


cli.add_command(serve.run)
cli.add_command(messages.messages)
cli.add_command(dead_letters.dlq)
cli.add_command(schemas.schemas)
cli.add_command(adapters.adapters)
cli.add_command(asyncapi.asyncapi)


COMMANDS_GROUP = "esb.commands"


def load_plugin_commands(group: str = COMMANDS_GROUP) -> None:
    """Add the click commands adapters declare in the ``esb.commands`` entry-point group.

    ``bus`` stays free of adapter imports; a command that fails to load, is not a click
    command or would hide a built-in one is reported on stderr and skipped.
    """
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            command = entry.load()
            if not isinstance(command, click.Command):
                raise TypeError(f"{entry.value} is not a click command")
            if entry.name in cli.commands:
                raise ValueError(f"'esb {entry.name}' is a built-in command")
        except Exception as error:
            click.echo(f"esb: command plug-in {entry.name!r} skipped: "
                       f"{type(error).__name__}: {error}", err=True)
            continue
        cli.add_command(command, entry.name)


load_plugin_commands()
