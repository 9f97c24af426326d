"""``esb messages search|tail``: the message journal."""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import click

from bus.cli.database import open_database
from bus.cli.output import emit
from bus.journal import JournalQuery
from bus.settings import load_settings

COLUMNS = ["occurred_at", "type", "id", "source", "correlation_id", "status"]


def _query() -> JournalQuery:
    settings = load_settings()
    return JournalQuery(open_database(settings.database), settings.journal)


def _rows(entries: Any) -> list[dict[str, Any]]:
    return [entry.to_dict() for entry in entries]


@click.group()
def messages() -> None:
    """The message journal: every message and the path it took."""


@messages.command()
@click.option("--id", "message_id", help="Message id.")
@click.option("--correlation-id", help="All messages of one conversation.")
@click.option("--type", "type_", help="Exact message type.")
@click.option("--type-prefix", help="Types starting with this, e.g. pbx.call.")
@click.option("--key", help="Business key: phone, account, customer id, INN.")
@click.option("--status", help="Messages with a hop of this status (dead_lettered, ...).")
@click.option("--since", type=click.DateTime(), help="From this time (UTC).")
@click.option("--until", type=click.DateTime(), help="Up to this time (UTC).")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def search(message_id: str | None, correlation_id: str | None, type_: str | None,
           type_prefix: str | None, key: str | None, status: str | None,
           since: datetime | None, until: datetime | None, limit: int, as_json: bool) -> None:
    """Search the journal, newest first."""
    page = _query().search(
        message_id=message_id, correlation_id=correlation_id, type=type_,
        type_prefix=type_prefix, key=key, status=status, since=_utc(since), until=_utc(until),
        limit=limit,
    )
    emit(_rows(page.entries), COLUMNS, as_json=as_json)


@messages.command()
@click.option("--type-prefix", help="Only types starting with this.")
@click.option("-n", "--lines", default=20, show_default=True, help="Messages shown first.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new messages.")
@click.option("--interval", default=1.0, show_default=True, help="Poll interval, seconds.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def tail(type_prefix: str | None, lines: int, follow: bool, interval: float,
         as_json: bool) -> None:
    """The newest messages; with --follow, new ones as they arrive."""
    query = _query()
    entries = list(reversed(query.search(type_prefix=type_prefix, limit=lines).entries))
    emit(_rows(entries), COLUMNS, as_json=as_json)
    seen = {entry.id for entry in entries}
    while follow:
        time.sleep(interval)
        fresh = [e for e in reversed(query.search(type_prefix=type_prefix, limit=200).entries)
                 if e.id not in seen]
        for entry in fresh:
            seen.add(entry.id)
            if as_json:
                emit([entry.to_dict()], COLUMNS, as_json=True)
            else:
                row = entry.to_dict()
                click.echo("  ".join(str(row.get(c) or "-") for c in COLUMNS))


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value
