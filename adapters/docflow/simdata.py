"""The docflow simulator's repository: documents with CMIS properties and small PDF files.

Each document is a ``esb:document`` (a ``cmis:document`` subtype) whose
properties are kept as the browser binding's *succinct* JSON shows them
(``DateTime`` as milliseconds since the epoch). The rows follow the data
generator's ``docflow_documents.csv`` (``doc_id, doc_type, number, date,
account_no, counterparty_name, counterparty_inn, file_name``); the content of
each is a one-page PDF made here. One lock guards the store, shared by the
simulator's threads.
"""

# ruff: noqa: RUF001 - Russian names, on purpose

from __future__ import annotations

import csv
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

__all__ = ["DOCUMENT_TYPE", "DocflowData", "Properties", "StoredDocument", "make_pdf"]

Properties = dict[str, Any]

DOCUMENT_TYPE = "esb:document"

_SEED: list[dict[str, str]] = [
    {"doc_id": "DOC-00000001", "doc_type": "contract", "number": "CO-0000001",
     "date": "2019-02-01", "account_no": "100245", "counterparty_name": "Иванова Мария Сергеевна",
     "counterparty_inn": "246512345678", "customer_id": "C-1001", "status": "signed"},
    {"doc_id": "DOC-00000002", "doc_type": "act", "number": "AC-0000002",
     "date": "2024-01-31", "account_no": "100245", "counterparty_name": "Иванова М. С.",
     "counterparty_inn": "246512345678", "customer_id": "C-1001"},
    {"doc_id": "DOC-00000003", "doc_type": "contract", "number": "CO-0000003",
     "date": "2020-05-15", "account_no": "200100", "counterparty_name": "ООО «Ромашка»",
     "counterparty_inn": "2465012345", "customer_id": "C-1002", "status": "signed"},
    {"doc_id": "DOC-00000004", "doc_type": "invoice", "number": "IN-0000004",
     "date": "2024-02-29", "account_no": "200100", "counterparty_name": "ООО Ромашка",
     "counterparty_inn": "2465012345", "customer_id": "C-1002"},
    {"doc_id": "DOC-00000005", "doc_type": "addendum", "number": "AD-0000005",
     "date": "2023-07-01", "account_no": "", "counterparty_name": "ООО «Ромашка»",
     "counterparty_inn": "2465012345", "customer_id": ""},
    {"doc_id": "DOC-00000006", "doc_type": "payment_order", "number": "PA-0000006",
     "date": "2024-03-05", "account_no": "300777", "counterparty_name": "Королёв Андрей",
     "counterparty_inn": "", "customer_id": "C-1003"},
]


@dataclass
class StoredDocument:
    properties: Properties
    content: bytes


@dataclass
class DocflowData:
    repository_id: str = "esb-docs"
    documents: dict[str, StoredDocument] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    created: list[str] = field(default_factory=list)
    """Ids of documents created through ``createDocument``, in order (repeats would show)."""
    _clock: int = 0

    # -- building -------------------------------------------------------------

    @classmethod
    def seed(cls) -> DocflowData:
        """Six documents of three customers (the CRM simulator's C-1001..C-1003)."""
        data = cls()
        for row in _SEED:
            data.add_row(row)
        return data

    @classmethod
    def from_directory(cls, directory: str | Path) -> DocflowData:
        """The documents of a data generator output (``docflow_documents.csv``)."""
        data = cls()
        path = Path(directory) / "docflow_documents.csv"
        with path.open(encoding="utf-8", newline="") as rows:
            for row in csv.DictReader(rows):
                data.add_row(row)
        return data

    def add_row(self, row: dict[str, str]) -> Properties:
        """Store one generator-shaped row as a document with a PDF made for it."""
        number = row["number"]
        properties: Properties = {
            "cmis:objectId": row["doc_id"],
            "cmis:name": row.get("file_name") or f"{row['doc_id']}.pdf",
            "esb:docType": row["doc_type"],
            "esb:number": number,
            "esb:docDate": _millis(date.fromisoformat(row["date"])),
            "esb:status": row.get("status") or "registered",
            "esb:accountNo": row.get("account_no") or None,
            "esb:inn": row.get("counterparty_inn") or None,
            "esb:customerId": row.get("customer_id") or None,
            "esb:counterpartyName": row.get("counterparty_name") or None,
            "esb:externalId": None,
            "esb:title": None,
        }
        content = make_pdf(f"{row['doc_type']} {number} of {row['date']}")
        return self.add(properties, content, mime_type="application/pdf")

    def add(self, properties: Properties, content: bytes, *, mime_type: str) -> Properties:
        """Store a new document; system properties (dates, stream, type) are set here."""
        with self.lock:
            now = self._tick()
            object_id = str(properties.get("cmis:objectId")
                            or f"DOC-N{len(self.documents) + 1:07d}")
            stored: Properties = {
                **properties,
                "cmis:objectId": object_id,
                "cmis:objectTypeId": DOCUMENT_TYPE,
                "cmis:baseTypeId": "cmis:document",
                "cmis:createdBy": "esb",
                "cmis:creationDate": now,
                "cmis:lastModificationDate": now,
                "cmis:contentStreamLength": len(content),
                "cmis:contentStreamMimeType": mime_type,
                "cmis:contentStreamFileName": properties.get("cmis:name"),
            }
            self.documents[object_id] = StoredDocument(stored, content)
            return dict(stored)

    # -- changes (what the feed polls) ----------------------------------------

    def update(self, object_id: str, **properties: Any) -> Properties:
        """Change a document's properties (``esb:status="cancelled"``, ...) now."""
        with self.lock:
            stored = self.documents[object_id].properties
            stored.update({f"esb:{name}": value for name, value in properties.items()})
            stored["cmis:lastModificationDate"] = self._tick()
            return dict(stored)

    def properties(self, object_id: str) -> Properties | None:
        with self.lock:
            found = self.documents.get(object_id)
            return dict(found.properties) if found else None

    def all_properties(self) -> list[Properties]:
        with self.lock:
            return [dict(stored.properties) for stored in self.documents.values()]

    def _tick(self) -> int:
        """Now in milliseconds, strictly after the previous change (a clear feed order)."""
        self._clock = max(int(time.time() * 1000), self._clock + 1)
        return self._clock


def _millis(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)


def make_pdf(text: str) -> bytes:
    """A valid one-page PDF 1.4 showing ``text`` (ASCII; other characters become ``?``)."""
    line = text.encode("ascii", "replace").replace(b"\\", b"\\\\").replace(
        b"(", b"\\(").replace(b")", b"\\)")
    stream = b"BT /F1 14 Tf 72 760 Td (" + line + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream
        + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += (f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n").encode()
    return bytes(out)
