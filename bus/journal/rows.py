"""Turning buffered journal records into table rows, on the writer thread.

This is where payloads are masked and business keys extracted: off the hot
path, once per message per batch.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from bus.envelope import Envelope, encode
from bus.journal.keys import KeyExtractor
from bus.journal.tables import as_utc
from bus.masking import mask_payload, mask_text
from bus.settings import JournalSettings

__all__ = ["DETAIL_LIMIT", "Batch", "EventRecord", "MessageRecord", "RowBuilder"]

log = logging.getLogger(__name__)

DETAIL_LIMIT = 4000

MessageRecord = tuple[Envelope, str | None, float]
"""``(envelope, trace_id, at)``; ``at < 0``: write the message row only, no ``published`` hop."""
EventRecord = tuple[str, str, str | None, int, float | None, str | None, str | None, float]
"""``(message_id, status, subscriber, attempt, latency_ms, detail, trace_id, at)``."""


@dataclass(slots=True)
class Batch:
    messages: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys: dict[tuple[str, str, str], dict[str, str]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    failed: int = 0

    @property
    def records(self) -> int:
        """Messages plus hops: what counts as written."""
        return len(self.messages) + len(self.events)


class RowBuilder:
    def __init__(self, settings: JournalSettings, keys: KeyExtractor) -> None:
        self.settings = settings
        self.keys = keys

    def build(self, records: list[Any]) -> Batch:
        """Rows for a batch; a record that cannot be turned into rows is counted in ``failed``."""
        batch = Batch()
        for record in records:
            try:
                if isinstance(record[0], Envelope):
                    self._published(record, batch)
                else:
                    batch.events.append(self._event(record))
            except Exception:
                log.exception("a journal record could not be prepared; it is dropped")
                batch.failed += 1
        return batch

    def _published(self, record: MessageRecord, batch: Batch) -> None:
        envelope, trace_id, at = record
        seen = datetime.fromtimestamp(at if at >= 0 else time.time(), UTC)
        if envelope.id not in batch.messages:
            batch.messages[envelope.id] = self._message(envelope, seen)
            for name, value in self.keys.extract(envelope.payload):
                batch.keys[(name, value, envelope.id)] = {
                    "name": name, "value": value, "message_id": envelope.id}
        if at >= 0:
            batch.events.append({
                "message_id": envelope.id, "status": "published", "subscriber": None,
                "attempt": 1, "latency_ms": None, "at": seen, "detail": None,
                "trace_id": trace_id,
            })

    def _message(self, envelope: Envelope, seen: datetime) -> dict[str, Any]:
        settings = self.settings
        payload: Any = None
        if settings.store_payload:
            masked = mask_payload(envelope.payload, settings.masked_fields,
                                  mask_phones=settings.mask_phones)
            payload = orjson.loads(
                orjson.dumps(masked, default=str, option=orjson.OPT_NON_STR_KEYS)
            )
        try:
            size = len(encode(envelope))
        except TypeError:
            size = len(orjson.dumps(envelope.to_dict(), default=str))
        return {
            "id": envelope.id,
            "type": envelope.type,
            "source": envelope.source,
            "correlation_id": envelope.correlation_id,
            "causation_id": envelope.causation_id,
            "key": envelope.key,
            "occurred_at": as_utc(envelope.occurred_at),
            "first_seen_at": seen,
            "size": size,
            "payload": payload,
        }

    def _event(self, record: EventRecord) -> dict[str, Any]:
        message_id, status, subscriber, attempt, latency_ms, detail, trace_id, at = record
        if detail is not None:
            detail = mask_text(detail, mask_phones=self.settings.mask_phones)[:DETAIL_LIMIT]
        return {
            "message_id": message_id, "status": status, "subscriber": subscriber,
            "attempt": attempt, "latency_ms": latency_ms,
            "at": datetime.fromtimestamp(at, UTC), "detail": detail, "trace_id": trace_id,
        }
