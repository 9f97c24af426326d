"""Searching the journal: messages by id, conversation, type, business key, time and status.

Every result carries the message's path through the bus: each hop's status,
subscriber, attempt, latency and trace id, in the order they happened.
Results come newest first (by ``occurred_at``, then id) in pages; pass a
page's ``next_cursor`` as ``after_cursor`` for the next one.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa

from bus.journal.keys import KeyExtractor
from bus.journal.tables import EVENTS, KEYS, MESSAGES, as_utc
from bus.settings import JournalSettings

__all__ = ["JournalEntry", "JournalEvent", "JournalPage", "JournalQuery", "search"]

MAX_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class JournalEvent:
    """One hop: what happened to the message, where, and how long it took."""

    status: str
    subscriber: str | None
    attempt: int
    latency_ms: float | None
    at: datetime
    detail: str | None
    trace_id: str | None


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """A journaled message (payload masked) with its business keys and its hops."""

    id: str
    type: str
    source: str
    correlation_id: str
    causation_id: str | None
    key: str | None
    occurred_at: datetime
    first_seen_at: datetime
    size: int
    payload: Any
    keys: tuple[tuple[str, str], ...] = ()
    events: tuple[JournalEvent, ...] = ()

    @property
    def status(self) -> str | None:
        """The status of the latest hop."""
        return self.events[-1].status if self.events else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (times as ISO 8601 strings)."""
        return {
            "id": self.id, "type": self.type, "source": self.source,
            "correlation_id": self.correlation_id, "causation_id": self.causation_id,
            "key": self.key, "occurred_at": self.occurred_at.isoformat(),
            "first_seen_at": self.first_seen_at.isoformat(), "size": self.size,
            "payload": self.payload, "keys": [list(pair) for pair in self.keys],
            "status": self.status,
            "events": [
                {"status": e.status, "subscriber": e.subscriber, "attempt": e.attempt,
                 "latency_ms": e.latency_ms, "at": e.at.isoformat(), "detail": e.detail,
                 "trace_id": e.trace_id}
                for e in self.events
            ],
        }


@dataclass(frozen=True, slots=True)
class JournalPage:
    entries: list[JournalEntry] = field(default_factory=list)
    next_cursor: str | None = None
    """Pass as ``after_cursor`` to get the next (older) page; ``None`` on the last page."""

    def __iter__(self) -> Iterator[JournalEntry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


def _encode_cursor(entry: JournalEntry) -> str:
    raw = orjson.dumps([entry.occurred_at.isoformat(), entry.id])
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        moment, message_id = orjson.loads(raw)
        return as_utc(datetime.fromisoformat(moment)), str(message_id)
    except (ValueError, TypeError) as bad:
        raise ValueError(f"not a journal cursor: {cursor!r}") from bad


class JournalQuery:
    """Read side of the journal; safe to use from any thread or process."""

    def __init__(self, engine: sa.Engine, settings: JournalSettings | None = None) -> None:
        self.engine = engine
        settings = settings or JournalSettings()
        self.keys = KeyExtractor(
            settings.lookup_fields,
            hashed=settings.hashed_lookups,
            secret=settings.hash_secret.get_secret_value(),
        )

    def get(self, message_id: str) -> JournalEntry | None:
        page = self.search(message_id=message_id, limit=1)
        return page.entries[0] if page.entries else None

    def search(
        self,
        *,
        message_id: str | None = None,
        correlation_id: str | None = None,
        type: str | None = None,
        type_prefix: str | None = None,
        key: str | tuple[str, str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        status: str | None = None,
        limit: int = 50,
        after_cursor: str | None = None,
    ) -> JournalPage:
        """Messages matching every given filter, newest first.

        ``key`` is ``(name, value)`` — ``("phone", "8 916 123-45-67")``,
        ``("inn", "7701234567")`` (hashed as stored) — or a bare value looked
        up under any key name. ``since`` is inclusive, ``until`` exclusive
        (both on ``occurred_at``). ``status``: messages with at least one
        hop of that status.
        """
        limit = max(1, min(limit, MAX_LIMIT))
        m = MESSAGES.c
        conditions: list[sa.ColumnElement[bool]] = []
        if message_id is not None:
            conditions.append(m.id == message_id)
        if correlation_id is not None:
            conditions.append(m.correlation_id == correlation_id)
        if type is not None:
            conditions.append(m.type == type)
        if type_prefix:
            conditions.append(m.type.startswith(type_prefix, autoescape=True))
        if since is not None:
            conditions.append(m.occurred_at >= as_utc(since))
        if until is not None:
            conditions.append(m.occurred_at < as_utc(until))
        if key is not None:
            conditions.append(self._key_condition(key))
        if status is not None:
            conditions.append(
                sa.exists().where(EVENTS.c.message_id == m.id, EVENTS.c.status == status)
            )
        if after_cursor:
            moment, last_id = _decode_cursor(after_cursor)
            conditions.append(
                sa.or_(m.occurred_at < moment, sa.and_(m.occurred_at == moment, m.id < last_id))
            )
        statement = (
            sa.select(MESSAGES)
            .where(*conditions)
            .order_by(m.occurred_at.desc(), m.id.desc())
            .limit(limit + 1)
        )
        with self.engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
            more = len(rows) > limit
            rows = rows[:limit]
            ids = [row["id"] for row in rows]
            events = self._events(connection, ids)
            keys = self._keys(connection, ids)
        entries = [
            JournalEntry(
                id=row["id"], type=row["type"], source=row["source"],
                correlation_id=row["correlation_id"], causation_id=row["causation_id"],
                key=row["key"], occurred_at=as_utc(row["occurred_at"]),
                first_seen_at=as_utc(row["first_seen_at"]), size=row["size"],
                payload=row["payload"], keys=tuple(keys.get(row["id"], ())),
                events=tuple(events.get(row["id"], ())),
            )
            for row in rows
        ]
        cursor = _encode_cursor(entries[-1]) if more and entries else None
        return JournalPage(entries, cursor)

    def _key_condition(self, key: str | tuple[str, str]) -> sa.ColumnElement[bool]:
        k = KEYS.c
        if isinstance(key, tuple):
            name, value = key
            stored = self.keys.stored_value(name, value) or ""
            match = sa.and_(k.name == self.keys.stored_name(name), k.value == stored)
        else:
            match = k.value.in_(sorted(self.keys.candidates(key)))
        return sa.exists().where(k.message_id == MESSAGES.c.id, match)

    @staticmethod
    def _events(
        connection: sa.Connection, ids: Sequence[str]
    ) -> dict[str, list[JournalEvent]]:
        found: dict[str, list[JournalEvent]] = {}
        if not ids:
            return found
        e = EVENTS.c
        statement = sa.select(EVENTS).where(e.message_id.in_(ids)).order_by(e.at, e.id)
        for row in connection.execute(statement).mappings():
            found.setdefault(row["message_id"], []).append(
                JournalEvent(
                    status=row["status"], subscriber=row["subscriber"], attempt=row["attempt"],
                    latency_ms=row["latency_ms"], at=as_utc(row["at"]), detail=row["detail"],
                    trace_id=row["trace_id"],
                )
            )
        return found

    @staticmethod
    def _keys(connection: sa.Connection, ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        found: dict[str, list[tuple[str, str]]] = {}
        if not ids:
            return found
        k = KEYS.c
        statement = (
            sa.select(k.message_id, k.name, k.value)
            .where(k.message_id.in_(ids))
            .order_by(k.name, k.value)
        )
        for message_id, name, value in connection.execute(statement):
            found.setdefault(message_id, []).append((name, value))
        return found


def search(
    engine: sa.Engine, settings: JournalSettings | None = None, **filters: Any
) -> JournalPage:
    """:meth:`JournalQuery.search` in one call."""
    return JournalQuery(engine, settings).search(**filters)
