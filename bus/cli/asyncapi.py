"""``esb asyncapi [-o FILE]``: the AsyncAPI document of the installed adapters and schemas."""

from __future__ import annotations

import json
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import click

__all__ = ["asyncapi"]


def _version() -> str:
    try:
        return version("telecom-esb")
    except PackageNotFoundError:
        return "0.0.0"


@click.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the document to FILE instead of standard output.")
def asyncapi(output: Path | None) -> None:
    """Write the AsyncAPI 2.6 document: every adapter's channels, operations and schemas."""
    from bus.adapters import discover
    from bus.asyncapi import asyncapi_document
    from bus.schema import default_registry
    from bus.settings import load_settings

    settings = load_settings()
    document = asyncapi_document(discover(), default_registry(), exchange=settings.exchange,
                                 queue_prefix=settings.queue_prefix, version=_version())
    for problem in document["x-esb-unknown-types"]:
        click.echo(f"esb asyncapi: {problem!r} is declared by an adapter but has no schema",
                   err=True)
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"{output}: {len(document['channels'])} channels, "
               f"{len(document['components']['schemas'])} schemas")
