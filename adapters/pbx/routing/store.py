"""Routing's local state in SQL (the bus's database): survives restarts, read once at start.

The hot path never touches these tables: customers, managers and assignments are written
through as events arrive (in a worker thread), presence is snapshotted every few seconds
and at stop. :meth:`RoutingStore.load` fills a :class:`Directory` and a
:class:`PresenceBoard` back.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa

from adapters.pbx.routing.directory import Assignment, CustomerRef, Directory, ManagerRef
from adapters.pbx.routing.presence import AgentStatus, PresenceBoard
from bus.db import ensure_tables, upsert

__all__ = ["RoutingStore"]

METADATA = sa.MetaData()

customers = sa.Table(
    "pbx_routing_customers", METADATA,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("customer_id", sa.String(128), nullable=False, index=True),
    sa.Column("segment", sa.String(32)),
    sa.Column("manager_id", sa.String(128)),
    sa.Column("source", sa.String(64), nullable=False),
)
managers = sa.Table(
    "pbx_routing_managers", METADATA,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("extension", sa.String(16)),
    sa.Column("queues", sa.Text, nullable=False),
    sa.Column("region", sa.String(256)),
    sa.Column("active", sa.Boolean, nullable=False),
)
assignments = sa.Table(
    "pbx_routing_assignments", METADATA,
    sa.Column("phone", sa.String(32), primary_key=True),
    sa.Column("manager_id", sa.String(128), nullable=False),
    sa.Column("linkedid", sa.String(128)),
    sa.Column("assigned_at", sa.Float, nullable=False),
)
presence = sa.Table(
    "pbx_routing_presence", METADATA,
    sa.Column("extension", sa.String(16), primary_key=True),
    sa.Column("device", sa.String(32), nullable=False),
    sa.Column("queues", sa.Text, nullable=False),
    sa.Column("paused", sa.Text, nullable=False),
    sa.Column("manual", sa.String(16)),
    sa.Column("manual_reason", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)


class RoutingStore:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        ensure_tables(METADATA, engine)

    def load(self, directory: Directory, board: PresenceBoard) -> None:
        """Fill what is not known yet (events that arrived first are newer than SQL)."""
        with self.engine.connect() as db:
            found: dict[str, list[CustomerRef]] = {}
            for row in db.execute(sa.select(customers)).mappings():
                found.setdefault(row["customer_id"], []).append(CustomerRef(
                    row["phone"], row["customer_id"], row["segment"], row["manager_id"],
                    row["source"]))
            for customer_id, refs in found.items():
                fresh = [r for r in refs if r.phone not in directory.customers]
                if fresh and len(fresh) == len(refs):
                    directory.put_customer(customer_id, fresh)
            for row in db.execute(sa.select(managers)).mappings():
                directory.managers.setdefault(row["id"], ManagerRef(
                    row["id"], row["name"], row["extension"], tuple(json.loads(row["queues"])),
                    row["region"], bool(row["active"])))
            for row in db.execute(sa.select(assignments)).mappings():
                directory.assignments.setdefault(row["phone"], Assignment(
                    row["phone"], row["manager_id"], row["linkedid"], row["assigned_at"]))
            for row in db.execute(sa.select(presence)).mappings():
                board.agents.setdefault(row["extension"], AgentStatus(
                    device=row["device"], queues=set(json.loads(row["queues"])),
                    paused=set(json.loads(row["paused"])), manual=row["manual"],
                    manual_reason=row["manual_reason"], updated_at=row["updated_at"]))

    def save_customer(self, customer_id: str, refs: Sequence[CustomerRef]) -> None:
        with self.engine.begin() as db:
            db.execute(customers.delete().where(customers.c.customer_id == customer_id))
            phones = [ref.phone for ref in refs]
            if phones:
                db.execute(customers.delete().where(customers.c.phone.in_(phones)))
                db.execute(assignments.delete().where(assignments.c.phone.in_(phones)))
                # every routing process writes the same change (per-instance
                # subscriptions): an upsert, so two at once never clash on the phone
                upsert(db, customers, list({r.phone: {
                    "phone": r.phone, "customer_id": r.customer_id, "segment": r.segment,
                    "manager_id": r.manager_id, "source": r.source} for r in refs}.values()))

    def save_manager(self, manager: ManagerRef) -> None:
        row = {"name": manager.name, "extension": manager.extension,
               "queues": json.dumps(list(manager.queues)), "region": manager.region,
               "active": manager.active}
        with self.engine.begin() as db:
            upsert(db, managers, [{"id": manager.id, **row}])

    def save_assignment(self, assignment: Assignment) -> None:
        with self.engine.begin() as db:
            upsert(db, assignments, [{
                "phone": assignment.phone, "manager_id": assignment.manager_id,
                "linkedid": assignment.linkedid, "assigned_at": assignment.assigned_at}])

    def snapshot_presence(self, agents: dict[str, AgentStatus]) -> None:
        """Replace the stored presence by ``agents`` (a copy taken on the event loop)."""
        rows = [{"extension": ext, "device": a.device, "queues": json.dumps(sorted(a.queues)),
                 "paused": json.dumps(sorted(a.paused)), "manual": a.manual,
                 "manual_reason": a.manual_reason, "updated_at": a.updated_at}
                for ext, a in agents.items()]
        with self.engine.begin() as db:
            db.execute(presence.delete())
            if rows:
                db.execute(presence.insert(), rows)
