"""The conflict queue, people's decisions and the audit trail, in SQL."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from sync.conflicts import Conflict
from sync.model import Decisions, RecordKey
from sync.store.tables import audit, conflicts, decisions

__all__ = [
    "StoredConflict",
    "add_decisions",
    "close_conflict",
    "close_obsolete",
    "get_conflict",
    "list_conflicts",
    "load_decisions",
    "raise_conflicts",
    "record_audit",
]


@dataclass(frozen=True, slots=True)
class StoredConflict:
    id: int
    conflict: Conflict
    state: str
    decision: str | None
    decided_by: str | None
    decided_at: float | None
    note: str | None
    created_at: float

    @property
    def conflict_id(self) -> str:
        return f"C{self.id:07d}"

    def to_json(self) -> dict[str, Any]:
        c = self.conflict
        return {
            "conflict_id": self.conflict_id, "kind": c.kind, "golden_id": c.global_id,
            "records": [{"system": s, "id": r} for s, r in c.records],
            "explanation": c.explanation, "score": c.score, "evidence": dict(c.weights),
            "groups": [[{"system": s, "id": r} for s, r in g] for g in c.groups],
            "state": self.state, "decision": self.decision, "decided_by": self.decided_by,
            "decided_at": self.decided_at, "note": self.note, "created_at": self.created_at,
        }


def parse_conflict_id(text: str) -> int:
    digits = text[1:] if text[:1] in ("C", "c") else text
    if not digits.isdigit():
        raise ValueError(f"not a conflict id: {text!r}")
    return int(digits)


def _keys(items: Iterable[Sequence[str]]) -> tuple[RecordKey, ...]:
    return tuple((str(s), str(r)) for s, r in items)


def _from_row(row: sa.Row[Any]) -> StoredConflict:
    evidence = row.evidence or {}
    conflict = Conflict(
        kind=row.kind, records=_keys(row.records), explanation=row.explanation,
        global_id=row.global_id, score=row.score, weights=evidence.get("weights") or {},
        groups=tuple(_keys(g) for g in evidence.get("groups") or ()))
    return StoredConflict(row.id, conflict, row.state, row.decision, row.decided_by,
                          row.decided_at, row.note, row.created_at)


def raise_conflicts(connection: sa.Connection, found: Sequence[Conflict]) -> list[StoredConflict]:
    """Queue the conflicts not seen before (by fingerprint); returns the new ones."""
    unique = {c.fingerprint: c for c in found}
    known: set[str] = set()
    prints = sorted(unique)
    for start in range(0, len(prints), 500):
        known.update(connection.execute(
            sa.select(conflicts.c.fingerprint)
            .where(conflicts.c.fingerprint.in_(prints[start:start + 500]))).scalars())
    fresh = [unique[p] for p in prints if p not in known]
    if not fresh:
        return []
    now = time.time()
    connection.execute(conflicts.insert(), [
        {"fingerprint": c.fingerprint, "kind": c.kind, "global_id": c.global_id,
         "records": [list(k) for k in c.records], "explanation": c.explanation,
         "score": c.score, "state": "open", "created_at": now,
         "evidence": {"weights": dict(c.weights), "groups": [[list(k) for k in g]
                                                             for g in c.groups]}}
        for c in fresh])
    rows: list[sa.Row[Any]] = []
    fresh_prints = [c.fingerprint for c in fresh]
    for start in range(0, len(fresh_prints), 500):
        rows.extend(connection.execute(
            sa.select(conflicts).where(
                conflicts.c.fingerprint.in_(fresh_prints[start:start + 500]))).all())
    return sorted((_from_row(row) for row in rows), key=lambda c: c.id)


def list_conflicts(connection: sa.Connection, *, state: str | None = "open",
                   kind: str | None = None, global_id: str | None = None,
                   limit: int = 100, offset: int = 0) -> list[StoredConflict]:
    query = sa.select(conflicts).order_by(conflicts.c.id).limit(limit).offset(offset)
    if state:
        query = query.where(conflicts.c.state == state)
    if kind:
        query = query.where(conflicts.c.kind == kind)
    if global_id:
        query = query.where(conflicts.c.global_id == global_id)
    return [_from_row(row) for row in connection.execute(query)]


def count_conflicts(connection: sa.Connection) -> dict[str, int]:
    rows = connection.execute(sa.select(conflicts.c.kind, conflicts.c.state, sa.func.count())
                              .group_by(conflicts.c.kind, conflicts.c.state))
    return {f"{kind}.{state}": int(n) for kind, state, n in rows}


def get_conflict(connection: sa.Connection, conflict_id: int) -> StoredConflict | None:
    row = connection.execute(sa.select(conflicts).where(conflicts.c.id == conflict_id)).first()
    return _from_row(row) if row is not None else None


def close_conflict(connection: sa.Connection, conflict_id: int, *, decision: str, actor: str,
                   note: str | None = None, state: str = "resolved") -> None:
    connection.execute(conflicts.update().where(conflicts.c.id == conflict_id).values(
        state=state, decision=decision, decided_by=actor, decided_at=time.time(), note=note))


def close_obsolete(connection: sa.Connection, current: Iterable[str], *, actor: str,
                   scope: Iterable[str], review: bool) -> int:
    """Close open conflicts of the customers in ``scope`` (and review pairs, if ``review``)
    that reconciliation no longer finds; returns how many."""
    keep = set(current)
    ids = set(scope)
    query = sa.select(conflicts.c.id, conflicts.c.fingerprint, conflicts.c.kind,
                      conflicts.c.global_id).where(conflicts.c.state == "open")
    wanted = sorted(ids)
    queries = [query] if review else [  # only the scope's customers: read them by index
        query.where(conflicts.c.global_id.in_(wanted[start:start + 500]))
        for start in range(0, len(wanted), 500)]
    stale = [row.id for select in queries for row in connection.execute(select)
             if row.fingerprint not in keep
             and (row.global_id in ids or (review and row.kind == "review_pair"))]
    for start in range(0, len(stale), 500):
        connection.execute(conflicts.update().where(conflicts.c.id.in_(stale[start:start + 500]))
                           .values(state="obsolete", decided_by=actor, decided_at=time.time(),
                                   note="no longer found by reconciliation"))
    return len(stale)


def add_decisions(connection: sa.Connection, kind: str,
                  pairs: Sequence[tuple[RecordKey, RecordKey]], *, actor: str,
                  reason: str | None = None, conflict_id: int | None = None) -> None:
    if not pairs:
        return
    now = time.time()
    connection.execute(decisions.insert(), [
        {"kind": kind, "left_system": a[0], "left_id": a[1], "right_system": b[0],
         "right_id": b[1], "conflict_id": conflict_id, "actor": actor, "reason": reason,
         "at": now}
        for a, b in pairs])


def load_decisions(connection: sa.Connection) -> Decisions:
    """Every decision, the latest word on a pair winning (a merge after a split undoes it)."""
    latest: dict[tuple[RecordKey, RecordKey], str] = {}
    rows = connection.execute(sa.select(decisions).order_by(decisions.c.id))
    for row in rows:
        pair = tuple(sorted([(row.left_system, row.left_id), (row.right_system, row.right_id)]))
        latest[(pair[0], pair[1])] = row.kind
    return Decisions(
        must_link=frozenset(p for p, kind in latest.items() if kind == "must_link"),
        cannot_link=frozenset(p for p, kind in latest.items() if kind == "cannot_link"))


def record_audit(connection: sa.Connection, *, actor: str, action: str, target: str,
                 detail: dict[str, Any]) -> None:
    connection.execute(audit.insert().values(at=time.time(), actor=actor, action=action,
                                             target=target[:256], detail=detail))


def read_audit(connection: sa.Connection, *, limit: int = 100) -> list[dict[str, Any]]:
    rows = connection.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit))
    return [dict(row._mapping) for row in rows]
