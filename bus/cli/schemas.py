"""``esb schemas list|validate``: the canonical message types."""

from __future__ import annotations

import click

from bus.cli.output import emit
from bus.errors import EsbError


@click.group()
def schemas() -> None:
    """Canonical schemas (XSD and JSON Schema in schemas/)."""


@schemas.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(as_json: bool) -> None:
    """Every registered message type."""
    from bus.schema import default_registry

    registry = default_registry()
    rows = [{"type": t, **registry.describe(t)} for t in registry.known_types()]
    emit(rows, ["type", "description"], as_json=as_json)


@schemas.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def validate(path: str) -> None:
    """Check a JSON or XML envelope file against the canonical schemas."""
    from bus.schema import validate_file

    try:
        message_type = validate_file(path)
    except EsbError as invalid:
        raise click.ClickException(f"{path}: {invalid.reason}") from None
    click.echo(f"{path}: valid {message_type}")
