"""The durable embedded broker: messages as rows in SQLite or PostgreSQL.

``transport`` is the :class:`~bus.transport.base.Transport`; ``store`` holds
the SQL statements; ``consumer`` the leasing consumers and their deliveries;
``group_commit`` batches writes; ``tables`` the schema (its own metadata,
tables prefixed ``esb_broker_``).
"""

from __future__ import annotations

from bus.transport.sql.transport import SqlTransport

__all__ = ["SqlTransport"]
