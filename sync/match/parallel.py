"""Normalization spread over worker processes for large loads, pipelined.

Normalizing is most of a full run's work and each record is independent. Once a
load is large enough, every batch goes to a pool of ``workers`` processes and up
to ``2 * workers`` batches are in flight: while the workers normalize the next
batches, this process reads the input and indexes the batches already back, so
both cores stay busy. What crosses is said by a :class:`Wire`: records as plain
tuples (cheap to pickle), or a store's rows as the driver read them (JSON text),
so that decoding them is the workers' work too, not this process's; workers
are started with ``spawn``, so they never inherit the host's threads or sockets.
Small loads, and ``MatchSettings.workers == 1``, stay in-process. Answers come
back in input order, so the result is the one an in-process run gives.

A record from a worker comes without its ``display_name`` (matching never reads
it). Each record also comes back with its blocking keys (:func:`block_keys`, whose
hash is the same in every process): a flat array of keys and each record's
count, which the full run indexes and later reads again instead of computing
them twice.
"""

from __future__ import annotations

import multiprocessing
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from sync.match.blocking import block_keys
from sync.model import SourceRecord
from sync.normalize.record import NormalizedRecord, normalize_record

__all__ = ["RECORDS", "Normalized", "Normalizer", "Wire"]

_FIELDS = tuple(f.name for f in fields(NormalizedRecord))
_DISPLAY = _FIELDS.index("display_name")
#: fields whose values repeat across records (names, dates, cities): one string each
_SHARED = tuple(
    _FIELDS.index(f)
    for f in ("kind", "surname", "surname_root", "first", "patronymic", "gender", "legal_form",
              "birth_date", "city")
)  # fmt: skip
_Row = tuple[Any, ...]
_Answer = tuple[list[_Row], bytes, bytes]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Wire(Generic[T]):
    """How an input item reaches a worker: ``pack`` here (None: as it is), ``unpack``
    there into the record. ``unpack`` must be a module-level function (pickled by name)."""

    unpack: Callable[[Any], SourceRecord]
    pack: Callable[[T], Any] | None = None

    def record(self, item: T) -> SourceRecord:
        """``item`` as a record in this process (a batch too small for the workers)."""
        return self.unpack(item if self.pack is None else self.pack(item))


class Normalized:
    """One batch: its records' normalized forms and their blocking keys."""

    __slots__ = ("counts", "keys", "normalized")

    def __init__(self, normalized: list[NormalizedRecord], counts: array[int],
                 keys: array[int]) -> None:  # fmt: skip
        self.normalized, self.counts, self.keys = normalized, counts, keys


def _keys_of(normalized: Iterable[NormalizedRecord]) -> tuple[array[int], array[int]]:
    counts, keys = array("q"), array("Q")
    for n in normalized:
        own = block_keys(n)
        counts.append(len(own))
        keys.extend(own)
    return counts, keys


def _in_process(batch: Sequence[T], wire: Wire[T]) -> Normalized:
    normalized = [normalize_record(wire.record(item)) for item in batch]
    return Normalized(normalized, *_keys_of(normalized))


def _to_row(r: SourceRecord) -> _Row:
    account = r.attributes.get("account_no")
    return (r.system, r.record_id, r.kind, r.name, r.birth_date, r.inn, r.passport, r.phones,
            r.email, r.city, r.address, account)  # fmt: skip


def _from_row(row: _Row) -> SourceRecord:
    """:func:`_to_row` read back: what matching reads of the record."""
    system, record_id, kind, name, birth, inn, passport, phones, email, city, address, acc = row
    return SourceRecord(
        system, record_id, kind, name, birth, inn, passport, phones, email, city, address,
        attributes={"account_no": acc} if acc else {},
    )  # fmt: skip


RECORDS: Wire[SourceRecord] = Wire(_from_row, _to_row)
"""Records cross as tuples of the fields matching reads."""


def _normalize_rows(items: list[Any], unpack: Callable[[Any], SourceRecord]
                    ) -> tuple[list[_Row], bytes, bytes]:  # fmt: skip
    """Worker side: normalized rows, each one's key count and the keys (as bytes)."""
    out: list[_Row] = []
    counts, keys = array("q"), array("Q")
    for item in items:
        n = normalize_record(unpack(item))
        row = [getattr(n, f) for f in _FIELDS]
        row[_DISPLAY] = ""  # matching never reads it: not worth its memory at scale
        out.append(tuple(row))
        own = block_keys(n)
        counts.append(len(own))
        keys.extend(own)
    return out, counts.tobytes(), keys.tobytes()


class Normalizer:
    """``stream(batches)`` → each batch with its normalized records, in order."""

    def __init__(self, workers: int, parallel_from: int = 0) -> None:
        self._workers = max(1, workers)
        self._parallel_from = parallel_from
        self._pool: ProcessPoolExecutor | None = None
        self._strings: dict[str, str] = {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> Normalizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self._workers, mp_context=context)
        return self._pool

    def stream(self, batches: Iterable[Sequence[T]], wire: Wire[T],
               expected: int = 0) -> Iterator[Normalized]:  # fmt: skip
        """Normalize ``batches`` (in this process until ``parallel_from`` records are
        seen, then in the pool with a bounded number of batches in flight). A caller
        that knows ``expected`` records are coming, ``parallel_from`` or more, has the
        pool start with the first batch: this process then never normalizes the first
        ``parallel_from`` records itself while the workers are not even started."""
        pending: deque[Future[_Answer]] = deque()
        seen = self._parallel_from if expected >= self._parallel_from else 0
        pack = wire.pack
        for batch in batches:
            if self._workers == 1 or seen < self._parallel_from or len(batch) < 1000:
                while pending:  # keep the order: what is in flight comes first
                    yield self._collect(pending.popleft())
                seen += len(batch)
                yield _in_process(batch, wire)
                continue
            seen += len(batch)
            pool = self._start()
            items = list(batch) if pack is None else [pack(item) for item in batch]
            pending.append(pool.submit(_normalize_rows, items, wire.unpack))
            while len(pending) > 2 * self._workers or (pending and pending[0].done()):
                yield self._collect(pending.popleft())
        while pending:
            yield self._collect(pending.popleft())

    def _collect(self, future: Future[_Answer]) -> Normalized:
        """A worker's answer as records; repeated values become one shared string (each
        batch is unpickled apart, so without this every record would hold its own)."""
        rows, count_bytes, key_bytes = future.result()
        share = self._strings.setdefault
        normalized: list[NormalizedRecord] = []
        for row in rows:
            values = list(row)
            for i in _SHARED:
                if (value := values[i]) is not None:
                    values[i] = share(value, value)
            normalized.append(NormalizedRecord(*values))
        counts, keys = array("q"), array("Q")
        counts.frombytes(count_bytes)
        keys.frombytes(key_bytes)
        return Normalized(normalized, counts, keys)
