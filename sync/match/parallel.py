"""Normalization spread over worker processes for large loads.

Normalizing is most of a full run's work and each record is independent, so
a batch is split: a worker process normalizes one part while this process
does the other. Records cross as plain tuples (cheap to pickle); workers are
started with ``spawn``, so they never inherit the host's threads or sockets.
Small loads, and ``MatchSettings.workers == 1``, stay in-process.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import fields
from typing import Any

from sync.model import SourceRecord
from sync.normalize.record import NormalizedRecord, normalize_record

__all__ = ["Normalizer"]

_FIELDS = tuple(f.name for f in fields(NormalizedRecord))
_Row = tuple[Any, ...]


def _to_row(r: SourceRecord) -> _Row:
    account = r.attributes.get("account_no")
    return (r.system, r.record_id, r.kind, r.name, r.birth_date, r.inn, r.passport, r.phones,
            r.email, r.city, r.address, account)  # fmt: skip


def _normalize_rows(rows: list[_Row]) -> list[_Row]:
    out: list[_Row] = []
    for (
        system,
        record_id,
        kind,
        name,
        birth,
        inn,
        passport,
        phones,
        email,
        city,
        address,
        acc,
    ) in rows:
        record = SourceRecord(
            system, record_id, kind, name, birth, inn, passport, phones, email, city, address,
            attributes={"account_no": acc} if acc else {},
        )  # fmt: skip
        n = normalize_record(record)
        out.append(tuple(getattr(n, f) for f in _FIELDS))
    return out


class Normalizer:
    """``normalize(batch)`` → normalized records in order, in parallel once started."""

    def __init__(self, workers: int) -> None:
        self._workers = max(1, workers)
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None and self._workers > 1:
            context = multiprocessing.get_context("spawn")
            self._pool = ProcessPoolExecutor(self._workers - 1, mp_context=context)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def normalize(self, batch: Sequence[SourceRecord]) -> list[NormalizedRecord]:
        if self._pool is None or len(batch) < 1000:
            return [normalize_record(r) for r in batch]
        # this process also unpickles the workers' answers: it takes a smaller share
        share = len(batch) * 2 // (3 * self._workers + 2)
        step = (len(batch) - share) // (self._workers - 1) + 1
        futures: list[Future[list[_Row]]] = [
            self._pool.submit(_normalize_rows, [_to_row(r) for r in batch[i : i + step]])
            for i in range(share, len(batch), step)
        ]
        mine = [normalize_record(r) for r in batch[:share]]
        for future in futures:
            mine.extend(NormalizedRecord(*row) for row in future.result())
        return mine
