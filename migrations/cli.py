"""``esb db upgrade|current|check|history``: the schema of the bus's database.

Each command works on ``ESB_DATABASE_URL`` unless ``--url`` names another database.
``esb db upgrade`` is the deploy step: run once, before the new release's workers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
import sqlalchemy as sa
from alembic.script import Script

from bus.cli.output import emit
from bus.db import create_engine
from bus.errors import SchemaDrift
from bus.settings import load_settings
from migrations.scripts import BASELINE, PROJECT
from migrations.state import Standing, differences, models, read_state, shown_revisions
from migrations.upgrade import upgrade as upgrade_database
from migrations.upgrade import write_sql

__all__ = ["db"]

F = TypeVar("F", bound=Callable[..., Any])

NEXT_STEP = {
    Standing.CURRENT: "",
    Standing.EMPTY: "run `esb db upgrade` (or start the bus) to create the schema",
    Standing.UNVERSIONED: "made before migrations: run `esb db upgrade` to check and stamp it",
    Standing.BEHIND: "run `esb db upgrade`",
    Standing.AHEAD: "a newer release has migrated it",
}


def _url_option(command: F) -> F:
    return click.option("--url", help="SQLAlchemy URL of the database "
                                      "(default: ESB_DATABASE_URL).")(command)


@contextmanager
def _engine(url: str | None) -> Iterator[sa.Engine]:
    engine = create_engine(url or load_settings().database)
    try:
        yield engine
    finally:
        engine.dispose()


def _down(script: Script) -> str:
    down = script.down_revision
    return shown_revisions(frozenset((down,) if isinstance(down, str) else down or ()))


@click.group()
def db() -> None:
    """The bus database's schema: its revisions and migrations (Alembic)."""


@db.command()
@click.option("--revision", default="heads", show_default=True,
              help="The revision to reach: this release's newest by default.")
@_url_option
@click.option("--sql", "as_sql", is_flag=True,
              help="Print the SQL instead of running it (nothing connects; the URL "
                   "only names the dialect), for a DBA to review and run.")
@click.option("--since", metavar="REVISION",
              help="With --sql: the revision the database is at (default: empty).")
def upgrade(revision: str, url: str | None, as_sql: bool, since: str | None) -> None:
    """Migrate the database to this release's schema.

    A database made by a release before migrations is compared with the baseline
    first and stamped only if it matches; otherwise nothing changes and the
    differences are listed.
    """
    if as_sql:
        write_sql(url or load_settings().database, sys.stdout,
                  since=since, revision=revision)
        return
    if since is not None:
        raise click.UsageError("--since goes with --sql")
    with _engine(url) as engine:
        try:
            outcome = upgrade_database(engine, revision)
        except SchemaDrift as drift:
            raise click.ClickException(str(drift)) from None
    if outcome.adopted:
        created = f"; created {', '.join(outcome.created)}" if outcome.created else ""
        click.echo(f"tables made before migrations match revision {BASELINE}: "
                   f"stamped{created}")
    if outcome.before == outcome.after:
        click.echo(f"at revision {shown_revisions(outcome.after)}: nothing to do")
    else:
        click.echo(f"upgraded from revision {shown_revisions(outcome.before)} "
                   f"to {shown_revisions(outcome.after)}")


@db.command()
@_url_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
def current(url: str | None, as_json: bool) -> None:
    """Print the database's revision and how it stands against this release."""
    with _engine(url) as engine, engine.connect() as connection:
        state = read_state(connection)
    standing = state.standing(PROJECT.heads, PROJECT.known)
    emit([{"revision": shown_revisions(state.revisions), "head": shown_revisions(PROJECT.heads),
           "standing": standing.value, "next_step": NEXT_STEP[standing] or None}],
         ["revision", "head", "standing", "next_step"], as_json=as_json)


@db.command()
@_url_option
@click.pass_context
def check(context: click.Context, url: str | None) -> None:
    """Compare the database with this release's models and revision.

    Exits 0 when they match, 1 (listing every difference) when they do not.
    """
    with _engine(url) as engine, engine.connect() as connection:
        state = read_state(connection)
        found = differences(connection)
    standing = state.standing(PROJECT.heads, PROJECT.known)
    if state.empty:  # every table missing: one line says it
        found = [f"none of the {len(models().tables)} tables exist"]
    if standing is not Standing.CURRENT:
        found.insert(0, f"revision {shown_revisions(state.revisions)}, this release's is "
                        f"{shown_revisions(PROJECT.heads)}: {NEXT_STEP[standing]}")
    for line in found:
        click.echo(f"- {line}")
    if found:
        click.echo(f"the database differs from this release's schema ({len(found)})", err=True)
        context.exit(1)
    click.echo("the database matches this release's schema "
               f"(revision {shown_revisions(PROJECT.heads)})")


@db.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per revision.")
def history(as_json: bool) -> None:
    """List this release's revisions, newest first."""
    rows = [{"revision": script.revision, "after": _down(script),
             "head": script.is_head, "message": (script.doc or "").strip()}
            for script in PROJECT.directory.walk_revisions()]
    emit(rows, ["revision", "after", "head", "message"], as_json=as_json)
