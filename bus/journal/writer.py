"""The journal writer: records go to a buffer; a background thread writes them in batches.

Recording never blocks the bus and never touches the database on the
caller's thread: a record is one ``deque.append``. The thread wakes every
``flush_interval`` (or as soon as ``batch_size`` records wait), masks
payloads, extracts business keys and writes each batch in one transaction
of a few statements, straight to the driver (:mod:`bus.journal.store`:
multi-row ``INSERT`` on SQLite, ``COPY`` on PostgreSQL). A message seen
twice keeps its first row (``ON CONFLICT DO NOTHING`` on both).

When the buffer holds ``max_buffer`` records, new ones are dropped and
counted (``Journal.dropped`` and the ``esb_journal_records_dropped_total``
metric), with one warning per episode. When the database is unreachable the
batch is retried with backoff; a batch the database refuses (a value too
long, say) is written row by row and the refused rows are dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bus.envelope import Envelope
from bus.journal.keys import KeyExtractor
from bus.journal.rows import EventRecord, MessageRecord, Row, RowBuilder
from bus.journal.store import JournalStore
from bus.journal.tables import KEYS, STATUSES, Status
from bus.masking import mask_text
from bus.settings import JournalSettings

if TYPE_CHECKING:
    from bus.journal.query import JournalQuery
    from bus.telemetry.metrics import Metrics

__all__ = ["Journal"]

log = logging.getLogger(__name__)


class _Barrier:
    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class Journal:
    """The message journal of one bus process. Start it, record, ``close()`` at shutdown."""

    def __init__(
        self,
        engine: sa.Engine,
        settings: JournalSettings | None = None,
        *,
        metrics: Metrics | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings or JournalSettings()
        self.metrics = metrics
        self._store = JournalStore(engine)
        self.keys = KeyExtractor(
            self.settings.lookup_fields,
            hashed=self.settings.hashed_lookups,
            secret=self.settings.hash_secret.get_secret_value(),
        )
        self._rows = RowBuilder(self.settings, self.keys)
        self.written = 0
        self.dropped = 0
        self._buffer: deque[Any] = deque()
        self._capacity = self.settings.max_buffer
        self._batch_size = self.settings.batch_size
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._closing = False
        self._drop_warned = False
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> Journal:
        """Start the writer thread (idempotent); records made before wait in the buffer."""
        if self._thread is None and self.settings.enabled:
            self._closing = False
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="esb-journal", daemon=True)
            self._thread.start()
        return self

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until everything recorded before this call is written (or dropped)."""
        if self._thread is None or not self._thread.is_alive():
            return not self._buffer
        barrier = _Barrier()
        self._buffer.append(barrier)
        self._wake.set()
        return barrier.done.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Write what is buffered and stop the thread."""
        thread = self._thread
        if thread is None:
            return
        self._closing = True
        self._stopping.set()
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the journal writer did not finish within %.1f s", timeout)
        self._thread = None

    def __enter__(self) -> Journal:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def query(self) -> JournalQuery:
        from bus.journal.query import JournalQuery

        return JournalQuery(self.engine, self.settings)

    # recording: the hot path

    def record_published(
        self, envelope: Envelope, trace_id: str | None = None, at: float | None = None
    ) -> None:
        """The message row (payload masked, keys extracted later) and a ``published`` event.

        ``at`` is when the publish began (default now): a consumer in another
        process may record its hop before the broker's confirm returns here.
        """
        self._put((envelope, trace_id or None, time.time() if at is None else at))

    def record(
        self,
        message_id: str,
        status: Status,
        subscriber: str | None = None,
        attempt: int = 1,
        latency_ms: float | None = None,
        detail: str | None = None,
        trace_id: str | None = None,
        *,
        envelope: Envelope | None = None,
    ) -> None:
        """One hop of a message. With ``envelope``, its message row is written too if missing."""
        if status not in STATUSES:
            raise ValueError(f"unknown journal status {status!r}")
        if envelope is not None:
            self._put((envelope, None, -1.0))
        self._put((message_id, status, subscriber, attempt, latency_ms, time.time(), detail,
                   trace_id or None))

    def _put(self, item: MessageRecord | EventRecord) -> None:
        if not self.settings.enabled:
            return
        buffer = self._buffer
        if len(buffer) >= self._capacity:
            self._drop(1, "the journal buffer is full")
            return
        buffer.append(item)
        if len(buffer) >= self._batch_size and not self._wake.is_set():
            self._wake.set()

    def _drop(self, count: int, reason: str) -> None:
        self.dropped += count
        if self.metrics is not None:
            self.metrics.journal_dropped(count)
        if not self._drop_warned:
            self._drop_warned = True
            log.warning("%s: journal records are being dropped (the bus goes on)", reason)

    # the writer thread

    def _run(self) -> None:
        self._create_tables()
        interval = self.settings.flush_interval
        while True:
            closing = self._closing
            if not closing:
                self._wake.wait(interval)
                self._wake.clear()
            try:
                self._drain()
            except Exception:  # a bug must not silently stop the journal
                log.exception("the journal writer failed; it goes on with the next batch")
            if closing:
                return

    def _create_tables(self) -> None:
        delay = 0.1
        while True:
            try:
                self._store.create_tables()
                return
            except SQLAlchemyError as error:
                if self._closing:
                    return
                log.warning("journal tables cannot be checked yet (%s); retrying in %.1f s",
                            _reason(error), delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)

    def _drain(self) -> None:
        buffer = self._buffer
        while buffer:
            items: list[Any] = []
            barriers: list[_Barrier] = []
            while buffer and len(items) < self._batch_size:
                item = buffer.popleft()
                if isinstance(item, _Barrier):
                    barriers.append(item)
                    break
                items.append(item)
            if items:
                self._write(items)
            for barrier in barriers:
                barrier.done.set()
        if self._drop_warned and len(buffer) < self._capacity // 2:
            self._drop_warned = False
            log.warning("the journal has caught up; %d records were dropped so far", self.dropped)

    def _write(self, items: list[Any]) -> None:
        batch = self._rows.build(items)
        if batch.failed:
            self._drop(batch.failed, "a journal record could not be prepared")
        rows = batch.tables()
        count = len(items) - batch.failed
        delay = 0.1
        while True:
            try:
                self._store.write(*rows)
                self._count_written(count)
                return
            except DBAPIError as error:
                if not error.connection_invalidated and not _unavailable(error):
                    break
                if self._closing:
                    self._drop(count + self._abandon(), "the journal database is unreachable")
                    return
                log.warning("journal database unavailable (%s); retrying in %.1f s",
                            _reason(error), delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 5.0)
            except SQLAlchemyError:
                break
        refused = self._execute_one_by_one(*rows)
        self._count_written(count - refused)

    def _abandon(self) -> int:
        """Empty the buffer without writing (shutdown with the database away); count the records."""
        abandoned = 0
        while self._buffer:
            item = self._buffer.popleft()
            if isinstance(item, _Barrier):
                item.done.set()
            else:
                abandoned += 1
        return abandoned

    def _count_written(self, count: int) -> None:
        self.written += count
        if self.metrics is not None:
            self.metrics.journal_written(count)

    def _execute_one_by_one(self, messages: list[Row], keys: list[Row],
                            events: list[Row]) -> int:
        """Write row by row; returns how many message and hop rows were refused (dropped)."""
        failures = self._store.write_one_by_one(messages, keys, events)
        if failures:
            table, error = failures[0]
            log.error("journal record refused by %s: %s", table.name, _reason(error))
        refused = sum(1 for table, _ in failures if table is not KEYS)
        if refused:
            self._drop(refused, "the journal database refused a record")
        return refused

def _reason(error: BaseException) -> str:
    """The database's own message, without SQL parameters (they hold unmasked keys)."""
    cause = getattr(error, "orig", None) or error
    first_line = (str(cause).splitlines() or [""])[0]
    return mask_text(f"{type(cause).__name__}: {first_line}")[:300]


def _unavailable(error: DBAPIError) -> bool:
    """The database is away or busy (retry), rather than refusing this data (don't)."""
    from sqlalchemy.exc import InterfaceError, OperationalError

    if isinstance(error, InterfaceError):
        return True
    if isinstance(error, OperationalError):
        text = str(error.orig).lower()
        return not any(word in text for word in ("no such table", "no such column", "syntax"))
    return False
