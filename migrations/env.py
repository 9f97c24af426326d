"""The Alembic environment, run by :mod:`alembic.command` (there is no ``alembic.ini``).

:meth:`migrations.scripts.Scripts.config` builds the configuration and hands over an
open connection in ``config.attributes["connection"]``: the caller owns the connection
and its transaction (it may hold a lock in it), so this script neither connects nor
commits.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from migrations.scripts import configure_options

connection: sa.Connection = context.config.attributes["connection"]
context.configure(connection=connection, **configure_options(connection.dialect))
with context.begin_transaction():
    context.run_migrations()
