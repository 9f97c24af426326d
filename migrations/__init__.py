"""Schema migrations of the bus's database, with Alembic.

``registry`` lists every table's metadata; ``versions/`` holds the revisions;
``esb db upgrade | current | check | history`` (:mod:`migrations.cli`) runs them, and
:mod:`migrations.startup` keeps a starting bus from running on an outdated schema.
"""
