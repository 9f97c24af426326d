"""The Alembic environment, run by :mod:`alembic.command` (there is no ``alembic.ini``).

:meth:`migrations.scripts.Scripts.config` builds the configuration and hands over an
open connection in ``config.attributes["connection"]``: the caller owns the connection
and its transaction (it may hold a lock in it), so this script neither connects nor
commits. In offline mode (``esb db upgrade --sql``) it gets the database URL instead,
``config.attributes["sql_for"]``, only to know the dialect the SQL is written in.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from migrations.scripts import configure_options

if context.is_offline_mode():
    url = sa.engine.make_url(context.config.attributes["sql_for"])
    context.configure(url=url, literal_binds=True,
                      **configure_options(url.get_dialect()()))
else:
    connection: sa.Connection = context.config.attributes["connection"]
    context.configure(connection=connection, **configure_options(connection.dialect))
with context.begin_transaction():
    context.run_migrations()
