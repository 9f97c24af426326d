"""``esb sync ...``: import, run, status, xref, conflicts, evaluate, report.

The synchronizer's tables live in the bus's database (``ESB_DATABASE_URL``);
the events a command stages leave through the outbox when ``esb run`` is up.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from bus.app import Bus
from bus.cli.database import open_database
from bus.cli.output import emit, emit_one
from bus.settings import load_settings
from sync.canonical import canonical_id
from sync.conflicts import DECISIONS
from sync.evaluate import evaluate, read_truth
from sync.fullrun import StoreChanged
from sync.lookup import iter_xref, status
from sync.partition import WORKER, worker_router
from sync.report import build_report, render_html, render_markdown
from sync.service import Outcome, SyncService
from sync.settings import SyncSettings
from sync.store.queue import get_conflict, list_conflicts, parse_conflict_id
from sync.store.xref import read_xref

__all__ = ["sync"]


def _service() -> SyncService:
    return SyncService(open_database(load_settings().database), SyncSettings())


@click.group()
def sync() -> None:
    """The reference-data synchronizer: one customer across CRM, billing and docflow."""


@sync.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--no-docflow", is_flag=True, help="Leave docflow_documents.csv out.")
def import_(directory: Path, no_docflow: bool) -> None:
    """Load a directory in the generator's format (crm_customers.csv, billing_accounts.csv,
    docflow_documents.csv)."""
    service = _service()
    files = ["crm_customers.csv", "billing_accounts.csv"] + ([] if no_docflow
                                                             else ["docflow_documents.csv"])
    total = sum(max(_lines(directory / name) - 1, 0) for name in files)
    with click.progressbar(length=total, label="importing", file=sys.stderr
                           ) as bar:
        counts = service.import_directory(directory, docflow=not no_docflow,
                                          progress=lambda _stage, n: bar.update(n))
    click.echo(", ".join(f"{system}: {n}" for system, n in sorted(counts.items())) or "nothing")


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


@sync.command("run")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@click.option("--partitions", type=click.IntRange(min=1), default=None,
              help="Hand the match step to workers on the bus (esb sync worker), "
                   "in this many partitions by blocking key.")
@click.option("--timeout", default=600.0, show_default=True,
              help="Seconds to wait for the workers (with --partitions).")
def run(as_json: bool, partitions: int | None, timeout: float) -> None:
    """Full reconciliation: match every record, keep ids stable, persist, publish changes."""
    service = _service()
    try:
        outcome = _run(service, partitions, timeout)
    except StoreChanged as changed:
        raise click.ClickException(str(changed)) from None
    if as_json:
        emit_one(outcome.to_json(), as_json=True)
        return
    click.echo(f"{outcome.records} records -> {outcome.customers} customers "
               f"({outcome.new_customers} new, {outcome.moved} records moved, "
               f"{outcome.merged} merged, {outcome.split} split); "
               f"{outcome.golden_changed} golden records changed, "
               f"{outcome.conflicts} new conflicts, {outcome.events} events staged "
               f"in {outcome.seconds:.1f} s")


def _run(service: SyncService, partitions: int | None, timeout: float) -> Outcome:
    if partitions is not None:
        return asyncio.run(_partitioned(service, partitions, timeout))
    stages = {"load": "records loaded", "match": "matched", "persist": "persisted"}
    with click.progressbar(length=len(stages), label="reconciling", file=sys.stderr) as bar:
        def step(stage: str, _n: int) -> None:
            bar.label = stages.get(stage, stage)
            bar.update(1)

        return service.run(progress=step, keep_engine=False,  # nothing follows
                           settle=service.settle_seconds)


async def _partitioned(service: SyncService, partitions: int, timeout: float) -> Outcome:
    bus = Bus(load_settings(), source="sync", engine=service.engine)
    await bus.start(consume=False)
    try:
        return await service.run_partitioned(bus, partitions, timeout=timeout,
                                             settle=service.settle_seconds)
    finally:
        await bus.stop()


@sync.command("worker")
def worker() -> None:
    """A match worker: takes partitions of full runs from the bus (competing consumers)."""
    asyncio.run(_work())


async def _work() -> None:
    settings = load_settings()
    bus = Bus(settings, source="sync")
    service = SyncService(bus.engine, SyncSettings(), on_commit=bus.outbox_relay_poke)
    bus.include(worker_router)
    bus.provide(SyncService, service)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await bus.start()
    click.echo(f"sync worker {WORKER} ready", err=True)
    try:
        await stop.wait()
    finally:
        await bus.stop()
        bus.close()


@sync.command("status")
@click.option("--json", "as_json", is_flag=True)
def status_(as_json: bool) -> None:
    """Records per system, customers, conflicts, the last run."""
    with _service().engine.connect() as connection:
        emit_one(status(connection), as_json=as_json)


@sync.command("xref")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def xref(as_json: bool) -> None:
    """Every system record with its global customer id."""
    with _service().engine.connect() as connection:
        emit(iter_xref(connection), ["system", "record_id", "global_id", "reason"],
             as_json=as_json)


@sync.group("conflicts")
def conflicts() -> None:
    """The queue of what a person must decide."""


@conflicts.command("list")
@click.option("--state", default="open", show_default=True,
              help="open, resolved, obsolete, or 'all'.")
@click.option("--kind", default=None, help="review_pair, crm_duplicate, multiple_inns, ...")
@click.option("--limit", default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def conflicts_list(state: str, kind: str | None, limit: int, as_json: bool) -> None:
    """Conflicts, oldest first."""
    with _service().engine.connect() as connection:
        found = list_conflicts(connection, state=None if state == "all" else state, kind=kind,
                               limit=limit)
    rows: list[dict[str, Any]] = [
        {**c.to_json(), "records": " ".join(f"{s}:{r}" for s, r in c.conflict.records)}
        if not as_json else c.to_json() for c in found]
    emit(rows, ["conflict_id", "kind", "golden_id", "state", "records", "explanation"],
         as_json=as_json)


@conflicts.command("show")
@click.argument("conflict_id")
@click.option("--json", "as_json", is_flag=True)
def conflicts_show(conflict_id: str, as_json: bool) -> None:
    """One conflict with its evidence."""
    with _service().engine.connect() as connection:
        stored = get_conflict(connection, _number(conflict_id))
    if stored is None:
        raise click.ClickException(f"no conflict {conflict_id}")
    emit_one(stored.to_json(), as_json=as_json)


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--resolution", "-r", required=True, type=click.Choice(sorted(DECISIONS)))
@click.option("--actor", required=True, help="Who decides (kept in the audit trail).")
@click.option("--note", default=None)
def conflicts_resolve(conflict_id: str, resolution: str, actor: str, note: str | None) -> None:
    """Decide a conflict; the decision is kept and respected by every later run."""
    try:
        outcome = _service().resolve(_number(conflict_id), resolution,  # type: ignore[arg-type]
                                     actor=actor, note=note)
    except (LookupError, ValueError) as refused:
        raise click.ClickException(str(refused)) from None
    click.echo(f"{conflict_id}: {resolution}; {outcome.moved} records moved, "
               f"{outcome.split} split, {outcome.merged} merged, {outcome.events} events")


def _number(text: str) -> int:
    try:
        return parse_conflict_id(text)
    except ValueError as bad:
        raise click.ClickException(str(bad)) from None


@sync.command("evaluate")
@click.option("--truth", "truth_file", required=True,
              type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
def evaluate_(truth_file: Path, as_json: bool) -> None:
    """Precision, recall and F1 of the stored record->customer links against truth.csv."""
    truth = {(system, canonical_id(record_id)): customer
             for (system, record_id), customer in read_truth(truth_file).items()}
    with _service().engine.connect() as connection:
        clusters = {key: int(gid[1:]) for key, gid in read_xref(connection).items()}
    result = evaluate(clusters, truth)
    if as_json:
        click.echo(orjson.dumps(orjson.loads(result.to_json())).decode())
        return
    links, crm = result.links, result.crm_duplicates
    click.echo(f"links (crm+billing, {result.records} records): precision {links.precision:.4f} "
               f"recall {links.recall:.4f} F1 {links.f1:.4f}")
    click.echo(f"CRM duplicates: precision {crm.precision:.4f} recall {crm.recall:.4f} "
               f"F1 {crm.f1:.4f}; records missing from the xref: {result.missing_from_result}")


@sync.command("report")
@click.option("--format", "fmt", type=click.Choice(["json", "md", "html"]), default="md",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None)
def report(fmt: str, output: Path | None) -> None:
    """Discrepancies per system: what write-back would fix, what needs a person."""
    service = _service()
    with service.engine.connect() as connection:
        built = build_report(connection, service.settings)
    text = (orjson.dumps(built, option=orjson.OPT_INDENT_2).decode() + "\n" if fmt == "json"
            else render_markdown(built) if fmt == "md" else render_html(built))
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"written {output}")
