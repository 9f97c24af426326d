"""The bus's database as a command opens it: the schema gates first, as a starting bus runs them."""

from __future__ import annotations

import click
import sqlalchemy as sa

from bus import db
from bus.errors import DatabaseOutdated

__all__ = ["open_database"]


def open_database(url: str) -> sa.Engine:
    """An engine on ``url`` once the installed schema gates let it through (an empty
    database gets the schema at the head revision, as ``esb run`` would make it); an
    outdated schema is the operator's next step, not a traceback. Inside a command the
    engine lives as long as the command: its connections are closed when it ends."""
    engine = db.create_engine(url)
    try:
        db.prepare_database(engine)
    except DatabaseOutdated as outdated:
        engine.dispose()
        raise click.ClickException(str(outdated)) from None
    command = click.get_current_context(silent=True)
    if command is not None:
        command.call_on_close(engine.dispose)
    return engine
