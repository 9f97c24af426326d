"""Schema migrations of the bus's database, with Alembic.

``registry`` lists every table's metadata; ``versions/`` holds the revisions;
``esb db upgrade | current | check | history`` (:mod:`migrations.cli`) runs them, and
:mod:`migrations.startup` keeps a starting bus from running on an outdated schema.
"""

import logging

# Alembic announces each of its autogenerate plug-ins at INFO when it is imported (seven
# lines in the log of `esb db` and of every bus start); set before any module imports it.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
