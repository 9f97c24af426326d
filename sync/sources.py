"""Read the generator's directory format into :class:`SourceRecord` values.

``crm_customers.csv``, ``billing_accounts.csv``, ``docflow_documents.csv`` (any may
be missing) and the rows of ``changes.jsonl``. Columns the engine does not match
on go to ``attributes`` for the golden record.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sync.model import Kind, SourceRecord

__all__ = [
    "Change",
    "billing_record",
    "crm_record",
    "docflow_record",
    "read_changes",
    "read_directory",
    "record_from_row",
]

CRM_FILE = "crm_customers.csv"
BILLING_FILE = "billing_accounts.csv"
DOCFLOW_FILE = "docflow_documents.csv"
CHANGES_FILE = "changes.jsonl"

_CRM_MATCHED = {"crm_id", "kind", "full_name", "birth_date", "inn", "passport", "phone", "phone2",
                "email", "city", "address", "updated_at"}  # fmt: skip
_BILLING_MATCHED = {"holder_name", "inn", "passport", "birth_date", "phone", "city", "address"}
_DOCFLOW_MATCHED = {"doc_id", "counterparty_name", "counterparty_inn"}


def _blank(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _kind(value: str | None) -> Kind:
    return value if value in ("person", "company") else ""  # type: ignore[return-value]


def _rest(row: Mapping[str, str], matched: set[str]) -> dict[str, str]:
    return {k: v for k, v in row.items() if k not in matched and v}


def crm_record(row: Mapping[str, str]) -> SourceRecord:
    return SourceRecord(
        system="crm", record_id=row["crm_id"], kind=_kind(row.get("kind")),
        name=row.get("full_name", ""), birth_date=_blank(row.get("birth_date")),
        inn=_blank(row.get("inn")), passport=_blank(row.get("passport")),
        phones=tuple(p for p in (row.get("phone"), row.get("phone2")) if p),
        email=_blank(row.get("email")), city=_blank(row.get("city")),
        address=_blank(row.get("address")), updated_at=_blank(row.get("updated_at")),
        attributes=_rest(row, _CRM_MATCHED),
    )  # fmt: skip


def billing_record(row: Mapping[str, str]) -> SourceRecord:
    return SourceRecord(
        system="billing", record_id=row["account_no"], name=row.get("holder_name", ""),
        birth_date=_blank(row.get("birth_date")), inn=_blank(row.get("inn")),
        passport=_blank(row.get("passport")),
        phones=(row["phone"],) if row.get("phone") else (), city=_blank(row.get("city")),
        address=_blank(row.get("address")), updated_at=_blank(row.get("opened_at")),
        attributes=_rest(row, _BILLING_MATCHED),
    )  # fmt: skip


def docflow_record(row: Mapping[str, str]) -> SourceRecord:
    return SourceRecord(
        system="docflow", record_id=row["doc_id"], name=row.get("counterparty_name", ""),
        inn=_blank(row.get("counterparty_inn")), updated_at=_blank(row.get("date")),
        attributes=_rest(row, _DOCFLOW_MATCHED),
    )  # fmt: skip


_READERS = {"crm": crm_record, "billing": billing_record, "docflow": docflow_record}


def record_from_row(system: str, row: Mapping[str, str]) -> SourceRecord:
    """A row of one system's export (or of a change) as a :class:`SourceRecord`."""
    return _READERS[system](row)


def _read_csv(path: Path, system: str) -> Iterator[SourceRecord]:
    if not path.exists():
        return
    reader = _READERS[system]
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            yield reader(row)


def read_directory(directory: Path | str, *, docflow: bool = True) -> Iterator[SourceRecord]:
    """Every record of a generator-format directory: CRM, billing, then docflow."""
    root = Path(directory)
    yield from _read_csv(root / CRM_FILE, "crm")
    yield from _read_csv(root / BILLING_FILE, "billing")
    if docflow:
        yield from _read_csv(root / DOCFLOW_FILE, "docflow")


@dataclass(frozen=True, slots=True)
class Change:
    """One row of ``changes.jsonl``: ``op`` is ``create``/``update``/``delete``."""

    seq: int
    at: str
    op: str
    record: SourceRecord
    customer_key: str | None = None


def _change(row: Mapping[str, Any]) -> Change:
    record = record_from_row(str(row["system"]), {k: str(v) for k, v in row["record"].items()})
    return Change(
        seq=int(row.get("seq", 0)), at=str(row.get("at", "")), op=str(row.get("op", "update")),
        record=record, customer_key=row.get("customer_key"),
    )  # fmt: skip


def read_changes(path: Path | str) -> Iterator[Change]:
    """The rows of a ``changes.jsonl`` file in order."""
    with Path(path).open(encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield _change(json.loads(line))
