"""The audit log: who changed what through the API, when and from where.

The authentication middleware writes one row for every request that is not a
read (``GET``/``HEAD``/``OPTIONS``) and reached a protected route with a
principal, whatever its outcome, and one for every failed login. A handler that
knows better names its action (``dlq.edit_and_replay``) with :func:`note`;
otherwise the action is the method and the route template
(``POST /v1/sync/conflicts/{conflict_id}/resolve``) and the target its path
parameters. ``GET /v1/audit`` (admin) lists the rows, newest first.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Request

from bus.db import METADATA

__all__ = ["AuditEntry", "AuditLog", "audit_log", "note", "router"]

audit_log = sa.Table(
    "api_audit_log", METADATA,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False, index=True),
    sa.Column("role", sa.String(40), nullable=False),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("action", sa.String(300), nullable=False, index=True),
    sa.Column("target", sa.String(300), nullable=False, default=""),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("client", sa.String(100), nullable=False, default=""),
    sa.Column("detail", sa.String(1000), nullable=False, default=""),
)

_NOTE_KEY = "audit_note"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    actor: str
    role: str
    kind: str
    action: str
    target: str
    status: int
    client: str
    detail: str = ""
    at: float = 0.0


class AuditLog:
    """Rows of :data:`audit_log` in the bus's database."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        audit_log.create(engine, checkfirst=True)

    def record(self, entry: AuditEntry) -> None:
        row = {name: getattr(entry, name) for name in AuditEntry.__slots__}
        row["at"] = entry.at or time.time()
        row["target"], row["detail"] = entry.target[:300], entry.detail[:1000]
        with self.engine.begin() as connection:
            connection.execute(audit_log.insert(), [row])

    def search(self, *, actor: str | None = None, action: str | None = None,
               since: float | None = None, limit: int = 100) -> list[dict[str, Any]]:
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if actor:
            query = query.where(audit_log.c.actor == actor)
        if action:
            query = query.where(audit_log.c.action.startswith(action, autoescape=True))
        if since is not None:
            query = query.where(audit_log.c.at >= since)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]


def note(request: Request, action: str, *, target: str = "", detail: str = "") -> None:
    """Name what this request did, for its audit row (instead of method and route)."""
    request.state.audit_note = (action, target, detail)


def noted(state: dict[str, Any]) -> tuple[str, str, str] | None:
    """What :func:`note` left in a request's ``scope["state"]``, if anything."""
    value = state.get(_NOTE_KEY)
    return value if isinstance(value, tuple) else None


router = APIRouter(tags=["audit"])


@router.get("/audit")
async def list_audit(
    request: Request,
    actor: str | None = None,
    action: str | None = Query(None, description="action prefix, e.g. 'dlq.' or 'POST /v1/sync'"),
    since: float | None = Query(None, description="epoch seconds"),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Audit rows, newest first (admin only)."""
    log: AuditLog = request.app.state.audit
    rows = await asyncio.to_thread(log.search, actor=actor, action=action, since=since,
                                   limit=limit)
    return {"entries": rows}
