"""The conflict queue, people's decisions and the audit trail, in SQL."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import sqlalchemy as sa

from sync.conflicts import Conflict
from sync.model import Decisions, RecordKey
from sync.store.bulk import insert_rows
from sync.store.keys import by_system
from sync.store.tables import audit, conflict_records, conflicts, decisions, json_text

__all__ = [
    "StoredConflict",
    "add_decisions",
    "close_conflict",
    "close_obsolete",
    "get_conflict",
    "index_review_conflicts",
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


_CONFLICT_COLUMNS = ("fingerprint", "kind", "global_id", "records", "explanation", "score",
                     "state", "created_at", "evidence")


def raise_conflicts(connection: sa.Connection, found: Sequence[Conflict]) -> list[StoredConflict]:
    """Queue the conflicts not seen before (by fingerprint), and open again those that
    reconciliation closed as obsolete (a person's decision stays); returns them, in the
    order of their ids. A first run raises a conflict per hundred records or so: rows go
    in as tuples (JSON as text) and only their ids are read back."""
    unique = {c.fingerprint: c for c in found}
    prints = sorted(unique)
    stored: dict[str, tuple[int, str, float]] = {}
    many = len(prints) > 500  # a full run: ids read back by range, an empty queue not asked
    top = connection.execute(sa.select(sa.func.max(conflicts.c.id))).scalar() if many else 0
    for start in range(0, len(prints), 500):
        if top is None:
            break  # an empty queue knows none of them
        stored.update((p, (n, state, at)) for n, p, state, at in connection.execute(
            sa.select(conflicts.c.id, conflicts.c.fingerprint, conflicts.c.state,
                      conflicts.c.created_at)
            .where(conflicts.c.fingerprint.in_(prints[start:start + 500]))))
    reopened = _reopen(connection, [(stored[p][0], unique[p], stored[p][2]) for p in prints
                                    if p in stored and stored[p][1] == "obsolete"])
    _index_review_pairs(connection, reopened, again=True)
    fresh = [p for p in prints if p not in stored]
    inserted = _insert(connection, fresh, unique, int(top or 0) if many else None) if fresh else []
    _index_review_pairs(connection, inserted, again=False)
    return sorted(reopened + inserted, key=lambda c: c.id)


def _insert(connection: sa.Connection, fresh: Sequence[str], unique: dict[str, Conflict],
            after: int | None) -> list[StoredConflict]:
    """Insert the ``fresh`` conflicts; their ids are read back by fingerprint, or as all
    above ``after`` (the highest id before, when given: a full run raises thousands)."""
    now = time.time()
    insert_rows(connection, conflicts, _CONFLICT_COLUMNS, (
        (p, c.kind, c.global_id, _json([list(k) for k in c.records]), c.explanation, c.score,
         "open", now, _json(_evidence(c)))
        for p in fresh for c in (unique[p],)))
    query = sa.select(conflicts.c.id, conflicts.c.fingerprint)
    ids = {p: n for n, p in connection.execute(
        query.where(conflicts.c.id > after) if after is not None
        else query.where(conflicts.c.fingerprint.in_(fresh))) if p in unique}  # fmt: skip
    return [StoredConflict(ids[p], unique[p], "open", None, None, None, None, now) for p in fresh]


def _reopen(connection: sa.Connection, found: Sequence[tuple[int, Conflict, float]]
            ) -> list[StoredConflict]:
    """Open again conflicts closed as obsolete, with what reconciliation says of them now."""
    if not found:
        return []
    connection.execute(
        conflicts.update().where(conflicts.c.id == sa.bindparam("number")).values(
            state="open", decision=None, decided_by=None, decided_at=None, note=None,
            global_id=sa.bindparam("owner"), explanation=sa.bindparam("text"),
            score=sa.bindparam("value"), evidence=sa.bindparam("proof")),
        [{"number": n, "owner": c.global_id, "text": c.explanation, "value": c.score,
          "proof": _evidence(c)} for n, c, _at in found])
    return [StoredConflict(n, c, "open", None, None, None, None, at) for n, c, at in found]


def _evidence(conflict: Conflict) -> dict[str, Any]:
    return {"weights": dict(conflict.weights),
            "groups": [[list(k) for k in g] for g in conflict.groups]}


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


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


_NOT_FOUND = "no longer found by reconciliation"


def close_obsolete(connection: sa.Connection, current: Iterable[str], *, actor: str,
                   scope: Iterable[str], review: bool,
                   review_of: Collection[RecordKey] | None = None,
                   owner: Mapping[RecordKey, str] | None = None,
                   gone: Collection[RecordKey] = ()) -> int:
    """Close the open conflicts reconciliation no longer finds; returns how many.

    Those of the customers in ``scope``; every review pair, if ``review`` (a full run
    sees them all); the review pairs of the records in ``review_of`` (a change: every
    review pair touching them was found again or is gone), each closure then recorded in
    the audit trail too. A review pair's note says why it left the band: its records are
    linked now (``owner``: the records' customers), one was deleted (``gone``), or the
    evidence keeps them apart.
    """
    keep = set(current)
    ids = set(scope)
    query = sa.select(conflicts.c.id, conflicts.c.fingerprint, conflicts.c.kind,
                      conflicts.c.global_id, _RECORDS_TEXT, conflicts.c.state)
    wanted = sorted(ids)
    # a scope's conflicts are read by customer or by record, their state checked here: a
    # state filter in SQL would have SQLite walk every open conflict of the store instead
    queries = [query.where(conflicts.c.state == "open")] if review else [
        query.where(conflicts.c.global_id.in_(wanted[start:start + 500]))
        for start in range(0, len(wanted), 500)]
    if review_of and not review:  # the records' review pairs, by the records' index
        queries.append(
            query.join(conflict_records, conflict_records.c.conflict_id == conflicts.c.id)
            .where(sa.or_(*(sa.and_(conflict_records.c.system == system,
                                    conflict_records.c.record_id.in_(chunk))
                            for system, chunk in by_system(review_of, 500)))))
    stale: dict[int, tuple[str, str]] = {}
    for select in queries:
        for n, fingerprint, kind, global_id, records, state in connection.execute(select):
            if state != "open" or fingerprint in keep or n in stale:
                continue
            if kind == "review_pair" and (review or review_of):
                stale[n] = (kind, _review_note(_keys(_loaded(records)), owner or {}, gone))
            elif global_id in ids:
                stale[n] = (kind, _NOT_FOUND)
    now = time.time()
    by_note: dict[str, list[int]] = {}
    for n, (_kind, note) in stale.items():
        by_note.setdefault(note, []).append(n)
    for note, numbers in by_note.items():
        for start in range(0, len(numbers), 500):
            connection.execute(
                conflicts.update().where(conflicts.c.id.in_(numbers[start:start + 500]))
                .values(state="obsolete", decided_by=actor, decided_at=now, note=note))
    if review_of and not review:
        for n, (kind, note) in sorted(stale.items()):
            record_audit(connection, actor=actor, action="conflict:closed",
                         target=f"C{n:07d}", detail={"kind": kind, "reason": note})
    return len(stale)


def _review_note(records: Sequence[RecordKey], owner: Mapping[RecordKey, str],
                 gone: Collection[RecordKey]) -> str:
    """Why a review pair is no longer in the review band."""
    if any(key in gone for key in records):
        return "no longer in the review band: a record of the pair was deleted"
    owners = {owner.get(key) for key in records}
    if len(owners) == 1 and None not in owners:
        return "no longer in the review band: its records are linked now"
    return "no longer in the review band: the evidence keeps its records apart now"


_RECORDS_TEXT = json_text(conflicts.c.records)
"""A conflict's records as the driver gives them (decoded only for the ones closed)."""


def _loaded(value: str | bytes | Any) -> Any:
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _index_review_pairs(connection: sa.Connection, stored: Sequence[StoredConflict], *,
                        again: bool) -> None:
    """Index the review-pair conflicts among ``stored`` by their records (``again``:
    opened again, perhaps indexed already)."""
    raised = [c for c in stored if c.conflict.kind == "review_pair"]
    if not raised:
        return
    numbers = [c.id for c in raised] if again else []
    for start in range(0, len(numbers), 500):
        connection.execute(conflict_records.delete().where(
            conflict_records.c.conflict_id.in_(numbers[start:start + 500])))
    insert_rows(connection, conflict_records, ("conflict_id", "system", "record_id"),
                ((c.id, system, record_id) for c in raised
                 for system, record_id in c.conflict.records))


def index_review_conflicts(connection: sa.Connection) -> int:
    """Index the open review-pair conflicts a store kept before review pairs were indexed
    by their records (a full run does it; a change then finds them); returns how many."""
    indexed = sa.select(conflict_records.c.conflict_id).where(
        conflict_records.c.conflict_id == conflicts.c.id)
    rows = connection.execute(
        sa.select(conflicts.c.id, _RECORDS_TEXT)
        .where(conflicts.c.kind == "review_pair", conflicts.c.state == "open",
               ~indexed.exists())).all()
    insert_rows(connection, conflict_records, ("conflict_id", "system", "record_id"),
                ((n, system, record_id) for n, records in rows
                 for system, record_id in _keys(_loaded(records))))
    return len(rows)


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
