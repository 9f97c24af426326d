"""Turning buffered journal records into table rows, on the writer thread.

This is where payloads are masked and business keys extracted: off the hot
path, once per message per batch. Rows are plain tuples in the column order
of :data:`~bus.journal.tables.MESSAGE_COLUMNS`, ``EVENT_COLUMNS`` and
``KEY_COLUMNS``, ready for the driver: times as float Unix seconds, the
payload as JSON text. A recorded hop already is its event row.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from bus.envelope import Envelope
from bus.journal.keys import KeyExtractor
from bus.masking import PayloadMask, mask_text
from bus.settings import JournalSettings

__all__ = ["DETAIL_LIMIT", "Batch", "EventRecord", "MessageRecord", "Row", "RowBuilder"]

log = logging.getLogger(__name__)

DETAIL_LIMIT = 4000
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS

MessageRecord = tuple[Envelope, str | None, float]
"""``(envelope, trace_id, at)``; ``at < 0``: write the message row only, no ``published`` hop."""
EventRecord = tuple[str, str, str | None, int, float | None, float, str | None, str | None]
"""``(message_id, status, subscriber, attempt, latency_ms, at, detail, trace_id)``: the row."""
Row = tuple[Any, ...]


@dataclass(slots=True)
class Batch:
    messages: dict[str, Row] = field(default_factory=dict)
    """Message rows by id: a message seen twice in a batch is written once."""
    keys: dict[tuple[str, str, str], None] = field(default_factory=dict)
    """Key rows ``(name, value, message_id)``, without duplicates."""
    events: list[Row] = field(default_factory=list)
    failed: int = 0

    @property
    def records(self) -> int:
        """Messages plus hops: what counts as written."""
        return len(self.messages) + len(self.events)

    def tables(self) -> tuple[list[Row], list[Row], list[Row]]:
        """Message, key and event rows."""
        return list(self.messages.values()), list(self.keys), self.events


class RowBuilder:
    def __init__(self, settings: JournalSettings, keys: KeyExtractor) -> None:
        self.settings = settings
        self.keys = keys
        self._mask = PayloadMask(settings.masked_fields, mask_phones=settings.mask_phones)
        self._versions: dict[str, int] = {}

    def build(self, records: list[Any]) -> Batch:
        """Rows for a batch; a record that cannot be turned into rows is counted in ``failed``."""
        batch = Batch()
        messages, keys, events = batch.messages, batch.keys, batch.events
        mask_phones = self.settings.mask_phones
        for record in records:
            try:
                if len(record) == 8:  # a hop
                    if record[6] is not None:
                        detail = mask_text(record[6], mask_phones=mask_phones)[:DETAIL_LIMIT]
                        record = (*record[:6], detail, record[7])
                    events.append(record)
                    continue
                envelope, trace_id, at = record
                message_id = envelope.id
                if message_id not in messages:
                    messages[message_id] = self._message(envelope, at if at >= 0 else time.time())
                    for name, value in self.keys.extract(envelope.payload):
                        keys[(name, value, message_id)] = None
                if at >= 0:
                    events.append((message_id, "published", None, 1, None, at, None, trace_id))
            except Exception:
                log.exception("a journal record could not be prepared; it is dropped")
                batch.failed += 1
        return batch

    def _message(self, envelope: Envelope, seen: float) -> Row:
        payload = envelope.payload
        try:
            wire = orjson.dumps(payload)  # as :func:`bus.envelope.encode` puts it on the wire
        except TypeError:
            wire = orjson.dumps(payload, default=str, option=_JSON_OPTIONS)
        stored: str | None = None
        if self.settings.store_payload:
            if self._mask.needed(payload):
                masked = self._mask(payload)
                stored = orjson.dumps(masked, default=str, option=_JSON_OPTIONS).decode()
            else:
                stored = wire.decode()
        return (
            envelope.id, envelope.type, envelope.source, envelope.correlation_id,
            envelope.causation_id, envelope.key, envelope.occurred_at.timestamp(), seen,
            self._size(envelope, wire), stored,
        )

    def _size(self, envelope: Envelope, wire_payload: bytes) -> int:
        """``len(encode(envelope))``: its bytes on the wire, reusing the payload's JSON."""
        version = self._versions.get(envelope.type)
        if version is None:
            version = envelope.schema_version
            if len(self._versions) < 10_000:
                self._versions[envelope.type] = version
        headers = envelope.headers
        rest = orjson.dumps({  # Envelope.to_dict(), the payload last, as null
            "id": envelope.id, "type": envelope.type, "source": envelope.source,
            "occurred_at": envelope.occurred_at, "correlation_id": envelope.correlation_id,
            "causation_id": envelope.causation_id, "schema_version": version,
            "key": envelope.key, "headers": headers if type(headers) is dict else dict(headers),
            "payload": None,
        }, default=str)
        return len(rest) - len(b"null") + len(wire_payload)
