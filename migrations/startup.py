"""The schema gate a bus runs at start, before anything touches its database.

Registered in the ``esb.schema`` entry-point group (the bus knows no migrations, nor
the adapters whose tables they make); :func:`bus.db.prepare_database` runs it.

============  =================================================================
database      at start
============  =================================================================
current       nothing to do
empty         the whole schema is made at the head revision (so ``esb demo`` and
              a first ``esb run`` just work), under the migration lock
behind        refused: :class:`~bus.errors.DatabaseOutdated`, run ``esb db upgrade``
unversioned   made by a release before migrations: while the code's head is the
              baseline it is what that release made, so the bus starts as it did
              (a warning says to run ``esb db upgrade``); after that, refused
ahead         a newer release migrated it (a rolling upgrade, an old worker
              restarting): a warning, and the bus starts; revisions are written so
              that the release before them still runs on the new schema
============  =================================================================
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import sqlalchemy as sa

from bus.errors import DatabaseOutdated
from migrations.head import HEAD

if TYPE_CHECKING:
    from migrations.scripts import Scripts
    from migrations.state import DatabaseState

__all__ = ["prepare_database"]

log = logging.getLogger(__name__)

_VERSION_TABLE = "alembic_version"


def prepare_database(engine: sa.Engine, *, scripts: Scripts | None = None) -> None:
    """Make an empty database at the head revision; refuse one that is behind.

    A database already at :data:`~migrations.head.HEAD` is let through after one query,
    with nothing of Alembic imported (see :mod:`migrations.head`)."""
    if scripts is None:
        if _revisions(engine) == {HEAD}:
            return
        from migrations.scripts import PROJECT

        scripts = PROJECT
    _prepare(engine, scripts)


def _revisions(engine: sa.Engine) -> set[str]:
    """What ``alembic_version`` holds (nothing when there is no such table yet)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(_VERSION_TABLE):
            return set()
        rows = connection.execute(sa.text(f"SELECT version_num FROM {_VERSION_TABLE}"))
        return {str(revision) for revision in rows.scalars()}


def _prepare(engine: sa.Engine, scripts: Scripts) -> None:
    from alembic import command

    from migrations.state import Standing, read_state, shown_revisions
    from migrations.upgrade import exclusive

    with engine.connect() as connection:
        state = read_state(connection)
    if state.standing(scripts.heads, scripts.known) is Standing.EMPTY:
        with exclusive(engine) as connection:  # another process may be at it too
            state = read_state(connection)
            if state.empty:
                command.upgrade(scripts.config(connection), "heads")
                log.info("created the database schema at revision %s",
                         shown_revisions(scripts.heads))
                return
    _judge(state, scripts)


def _judge(state: DatabaseState, scripts: Scripts) -> None:
    from migrations.scripts import BASELINE
    from migrations.state import Standing, shown_revisions

    standing = state.standing(scripts.heads, scripts.known)
    expected = shown_revisions(scripts.heads)
    if standing is Standing.BEHIND:
        raise DatabaseOutdated(
            f"the database schema is at revision {shown_revisions(state.revisions)}, this release "
            f"needs {expected}: run `esb db upgrade` (with this release) before starting it")
    if standing is Standing.UNVERSIONED:
        if scripts.heads != {BASELINE}:
            raise DatabaseOutdated(
                "the database was made by a release before migrations (no schema revision) "
                f"and this release needs revision {expected}: run `esb db upgrade` (with this "
                "release) before starting it")
        log.warning("the database has no schema revision (made by a release before "
                    "migrations): run `esb db upgrade` once to check and stamp it")
    elif standing is Standing.AHEAD:
        log.warning("the database schema is at revision %s, which this release does not know "
                    "(it expects %s): a newer release has migrated it",
                    shown_revisions(state.revisions), expected)
