"""Schema migrations of the bus's database, with Alembic.

``registry`` lists every table's metadata; ``versions/`` holds the revisions;
``esb db upgrade | current | check | history`` (:mod:`migrations.cli`) runs them, and
:mod:`migrations.startup` keeps a starting bus from running on an outdated schema.
"""

import logging

# Alembic announces each of its autogenerate plug-ins at INFO when it is imported (seven
# lines in the log of `esb db` and of every bus start); set before any module imports it.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def _not_preamble(record: logging.LogRecord) -> bool:
    """Alembic's two lines on every connection it configures ("Context impl SQLiteImpl.",
    "Will assume non-transactional DDL."): six per start on an empty database, saying
    nothing an operator acts on. "Running upgrade ..." lines still come through."""
    return not record.getMessage().startswith(("Context impl ", "Will assume "))


logging.getLogger("alembic.runtime.migration").addFilter(_not_preamble)
