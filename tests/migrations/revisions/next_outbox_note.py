"""Test only: a revision after the project's head, so that a database can be behind.

It adds a column to ``esb_outbox`` and drops it again (in batch mode on SQLite: the
table is copied without it), like a real next revision would.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.scripts import PROJECT

revision = "test_next"
(down_revision,) = PROJECT.heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("esb_outbox", sa.Column("test_note", sa.Text()))


def downgrade() -> None:
    with op.batch_alter_table("esb_outbox") as batch:
        batch.drop_column("test_note")
