"""Printing for the CLI: a table for people, JSON lines (``--json``) for scripts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import click
import orjson

__all__ = ["emit", "emit_one"]


def emit(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, as_json: bool) -> int:
    """Print rows; returns how many. JSON mode prints every field, one object per line."""
    rows = list(rows)
    if as_json:
        for row in rows:
            click.echo(orjson.dumps(row, default=str).decode())
        return len(rows)
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row_cells in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row_cells, widths, strict=True)))
    return len(rows)


def emit_one(data: Mapping[str, Any], *, as_json: bool) -> None:
    if as_json:
        click.echo(orjson.dumps(data, default=str).decode())
    else:
        click.echo(orjson.dumps(data, default=str, option=orjson.OPT_INDENT_2).decode())


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    text = str(value).replace("\n", " ")
    return text if len(text) <= 60 else text[:57] + "..."
