"""Record keys in the shape an index can serve.

A row-value ``(system, record_id) IN (...)`` is a full table scan on SQLite (3.40:
``SCAN sync_xref``), so a look-up of a few records cost a walk over the directory.
``system = ? AND record_id IN (...)`` reads the primary key's index on SQLite and
PostgreSQL alike; :func:`by_system` gives the keys in that shape, a chunk at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator

from sync.model import RecordKey

__all__ = ["by_system"]


def by_system(keys: Iterable[RecordKey], chunk: int) -> Iterator[tuple[str, list[str]]]:
    """``(system, record ids)`` for ``keys``, at most ``chunk`` ids at a time, sorted."""
    ids: dict[str, set[str]] = defaultdict(set)
    for system, record_id in keys:
        ids[system].add(record_id)
    for system in sorted(ids):
        wanted = sorted(ids[system])
        for start in range(0, len(wanted), chunk):
            yield system, wanted[start : start + chunk]
