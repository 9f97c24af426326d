"""Reading the synchronizer's truth: a customer by one key, the xref, the status.

Answers ``sync.customer.requested.v1`` and the ``/v1/sync`` API; what routing
and the unified window read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from sync.canonical import canonical_id, golden_customer
from sync.golden import GoldenRecord, GoldenValue
from sync.hold import current_hold
from sync.normalize import normalize_inn, normalize_phone
from sync.store.golden import find_customers, load_golden
from sync.store.queue import count_conflicts
from sync.store.records import count_records
from sync.store.state import read_state
from sync.store.tables import conflicts, customers, xref, xref_history
from sync.store.xref import customers_of

__all__ = ["answer", "customer_view", "find", "history_of", "iter_xref", "status"]

QUERY_KEYS = ("golden_id", "phone", "account_number", "inn", "record")


def _iso(moment: float | None) -> str | None:
    if moment is None:
        return None
    return datetime.fromtimestamp(moment, UTC).isoformat().replace("+00:00", "Z")


def find(connection: sa.Connection, query: Mapping[str, Any]) -> list[str]:
    """Global ids that exactly one key of ``query`` names (several for a shared phone)."""
    given = [k for k in QUERY_KEYS if query.get(k)]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(QUERY_KEYS)}")
    key = given[0]
    value = query[key]
    if key == "golden_id":
        found = customers_of(connection, str(value))
        return [found] if found else []
    if key == "phone":
        phone = normalize_phone(str(value))
        return find_customers(connection, "phone", phone) if phone else []
    if key == "account_number":
        return find_customers(connection, "account", canonical_id(str(value)))
    if key == "inn":
        inn = normalize_inn(str(value))
        return find_customers(connection, "inn", inn.digits) if inn and inn.valid else []
    system, record_id = str(value["system"]), canonical_id(str(value["id"]))
    row = connection.execute(sa.select(xref.c.global_id).where(
        xref.c.system == system, xref.c.record_id == record_id)).scalar()
    return [row] if row else []


def customer_view(connection: sa.Connection, global_id: str) -> dict[str, Any] | None:
    """Golden record, xref and provenance of one customer (the ``customer_view`` shape)."""
    stored = load_golden(connection, global_id)
    if stored is None:
        return None
    rows = connection.execute(
        sa.select(xref.c.system, xref.c.record_id, xref.c.linked_at, xref.c.reason)
        .where(xref.c.global_id == global_id).order_by(xref.c.system, xref.c.record_id)).all()
    golden = GoldenRecord(global_id, sources=[(r.system, r.record_id) for r in rows])
    values = stored["values"] or {}
    for name, origin in (stored["provenance"] or {}).items():
        golden.values[name] = GoldenValue(values.get(name), origin["system"], origin["id"],
                                          origin["rule"])
    open_conflicts = connection.execute(
        sa.select(sa.func.count()).select_from(conflicts)
        .where(conflicts.c.global_id == global_id, conflicts.c.state == "open")).scalar()
    return {
        "golden_id": global_id,
        "customer": golden_customer(golden),
        "xref": [{"system": r.system, "id": r.record_id, "linked_at": _iso(r.linked_at),
                  "reason": r.reason} for r in rows],
        "provenance": [{"field": name, "system": v.system, "id": v.record_id, "rule": v.rule}
                       for name, v in sorted(golden.values.items())],
        "open_conflicts": int(open_conflicts or 0),
    }


def history_of(connection: sa.Connection, system: str, record_id: str) -> list[dict[str, Any]]:
    rows = connection.execute(sa.select(xref_history).where(
        xref_history.c.system == system, xref_history.c.record_id == record_id)
        .order_by(xref_history.c.id))
    return [{**dict(row._mapping), "at": _iso(row.at)} for row in rows]


def iter_xref(connection: sa.Connection) -> Iterator[dict[str, Any]]:
    """Every system record with its global customer id."""
    rows = connection.execute(
        sa.select(xref.c.system, xref.c.record_id, xref.c.global_id, xref.c.reason)
        .order_by(xref.c.system, xref.c.record_id)
        .execution_options(stream_results=True, yield_per=20000))
    for row in rows:
        yield {"system": row.system, "record_id": row.record_id, "global_id": row.global_id,
               "reason": row.reason}


def status(connection: sa.Connection) -> dict[str, Any]:
    live = connection.execute(sa.select(sa.func.count()).select_from(customers)
                              .where(customers.c.retired_into.is_(None))).scalar()
    retired = connection.execute(sa.select(sa.func.count()).select_from(customers)
                                 .where(customers.c.retired_into.is_not(None))).scalar()
    linked = connection.execute(sa.select(sa.func.count()).select_from(xref)).scalar()
    hold = current_hold(connection)
    return {
        "records": count_records(connection),
        "linked_records": int(linked or 0),
        "customers": int(live or 0),
        "retired_ids": int(retired or 0),
        "conflicts": count_conflicts(connection),
        "last_run": read_state(connection, "last_run"),
        "last_run_at": _iso(read_state(connection, "last_run_at")),
        "full_run_holding_since": None if hold is None else _iso(hold.since),
    }


def answer(connection: sa.Connection, query: Mapping[str, Any]) -> dict[str, Any]:
    """The ``sync.customer.replied.v1`` payload for a ``sync.customer.requested.v1`` one."""
    try:
        ids = find(connection, query)
    except ValueError as error:
        return {"customers": [], "error": {"code": "rejected", "message": str(error)[:256]}}
    views = [view for view in (customer_view(connection, gid) for gid in ids) if view]
    if not views:
        return {"customers": [], "error": {"code": "not_found",
                                           "message": "no customer has this key"}}
    return {"customers": views}
