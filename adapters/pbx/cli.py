"""``esb pbx ...``: the PBX adapter's commands (plugged in through ``esb.commands``)."""

from __future__ import annotations

from pathlib import Path

import click
import orjson

from adapters.pbx.mapping import DEFAULT_EXTENSION_PATTERN
from adapters.pbx.replay import replay

__all__ = ["pbx", "pbx_replay"]


@click.group()
def pbx() -> None:
    """The PBX adapter (Asterisk AMI)."""


@pbx.command("replay")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--extension-pattern", default=DEFAULT_EXTENSION_PATTERN, show_default=True,
              help="Regular expression of an agent extension.")
@click.option("--region", default="RU", show_default=True,
              help="Region of national caller numbers, for customer_e164 (like ESB_PBX__REGION).")
@click.option("--type", "types", multiple=True,
              help="Only these event types (e.g. pbx.call.ended.v1); repeatable.")
def pbx_replay(file: Path, extension_pattern: str, region: str, types: tuple[str, ...]) -> None:
    """Feed a captured AMI transcript through the parser and the call state machine,
    without a network, and print the canonical events as JSON lines."""
    for event in replay(file, extension_pattern=extension_pattern, region=region):
        if not types or event["type"] in types:
            click.echo(orjson.dumps(event).decode())
