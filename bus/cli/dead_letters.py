"""``esb dlq list|show|replay``: the dead letters kept in SQL."""

from __future__ import annotations

import asyncio
import getpass
from pathlib import Path

import click

from bus.cli.database import open_database
from bus.cli.output import emit, emit_one
from bus.delivery.dead_letters import DeadLetter, DeadLetterStore, NotReplayable
from bus.delivery.outbox import OutboxRelay
from bus.errors import EsbError
from bus.journal import Journal
from bus.settings import Settings, load_settings
from bus.transport import transport_for


def _store() -> DeadLetterStore:
    return DeadLetterStore(open_database(load_settings().database))


@click.group()
def dlq() -> None:
    """Dead letters: messages the bus gave up on, with the reason."""


@dlq.command("list")
@click.option("--queue", help="Only this subscription queue.")
@click.option("--status", default="dead", show_default=True,
              help="dead, replayed, or 'all'.")
@click.option("--type", "type_prefix", help="Only types starting with this.")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_(queue: str | None, status: str, type_prefix: str | None, limit: int,
          as_json: bool) -> None:
    """List dead letters, newest first."""
    records = _store().list(queue=queue, status=None if status == "all" else status,
                            type_prefix=type_prefix, limit=limit)
    emit([r.to_json() for r in records],
         ["id", "queue", "type", "message_id", "attempts", "status", "reason"], as_json=as_json)


@dlq.command()
@click.argument("record_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def show(record_id: int, as_json: bool) -> None:
    """Show one dead letter with its body, headers and stack summary."""
    record = _store().get(record_id)
    if record is None:
        raise click.ClickException(f"no dead letter {record_id}")
    emit_one(record.to_json(with_body=True), as_json=as_json)


@dlq.command()
@click.argument("record_id", type=int)
@click.option("--body", "body_file", type=click.Path(exists=True, dir_okay=False),
              help="Replay this edited envelope (JSON file) instead of the original.")
@click.option("--by", default=None, help="Who replays (default: the OS user).")
def replay(record_id: int, body_file: str | None, by: str | None) -> None:
    """Send a dead letter back to its queue, once."""
    settings = load_settings()
    store = _store()
    body = Path(body_file).read_bytes() if body_file else None
    if body is not None:
        try:
            _check_edit(body, settings)
        except EsbError as invalid:
            raise click.ClickException(f"{body_file}: {invalid.reason}") from None
    who = by or getpass.getuser()
    try:
        record = store.replay(record_id, by=who, body=body)
    except NotReplayable as refused:
        raise click.ClickException(str(refused)) from None
    _journal_replay(store, settings, record, who)
    transport = transport_for(settings.broker)
    if transport.durable:
        asyncio.run(_relay_now(store, settings.exchange, settings.broker))
        click.echo(f"replayed dead letter {record.id} to {record.queue}")
    else:
        click.echo(f"dead letter {record.id} staged; the running bus sends it to {record.queue}")


def _check_edit(body: bytes, settings: Settings) -> None:
    """Refuse an edited envelope the bus would refuse, before it is staged (as the API does)."""
    from bus.envelope import decode

    envelope = decode(body, max_bytes=settings.delivery.max_message_bytes)
    if settings.delivery.validate_on_publish:
        from bus.schema import default_registry

        default_registry().validate(envelope.type, envelope.payload)


def _journal_replay(store: DeadLetterStore, settings: Settings, record: DeadLetter,
                    by: str) -> None:
    """The ``replayed`` hop in the message's journal path, as ``Bus.replay`` writes it."""
    journal = Journal(store.engine, settings.journal).start()
    try:
        journal.record(record.message_id, "replayed", record.queue, record.attempts,
                       detail=f"dead letter {record.id} replayed by {by}")
        journal.flush()
    finally:
        journal.close()


async def _relay_now(store: DeadLetterStore, exchange: str, broker: str) -> None:
    transport = transport_for(broker)
    await transport.connect()
    try:
        await OutboxRelay(store.engine, transport, exchange).relay_once()
    finally:
        await transport.close()
