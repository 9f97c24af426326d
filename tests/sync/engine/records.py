"""Small builders of source records for the engine's tests."""

from __future__ import annotations

from sync.model import Reconciliation, RecordKey, SourceRecord


def crm(record_id: str, name: str, **fields: object) -> SourceRecord:
    return SourceRecord(system="crm", record_id=record_id, name=name, **fields)  # type: ignore[arg-type]


def billing(record_id: str, name: str, **fields: object) -> SourceRecord:
    return SourceRecord(system="billing", record_id=record_id, name=name, **fields)  # type: ignore[arg-type]


def together(
    result: Reconciliation, a: SourceRecord | RecordKey, b: SourceRecord | RecordKey
) -> bool:
    ka = a.key if isinstance(a, SourceRecord) else a
    kb = b.key if isinstance(b, SourceRecord) else b
    return result.clusters[ka] == result.clusters[kb]
