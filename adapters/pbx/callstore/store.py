"""The call store: ended calls in SQL, fed by ``pbx.call.ended.v1``, read by phone or agent.

Recording is idempotent by the call id (Linkedid): a redelivered or re-published
ended event leaves the first record as it was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from adapters.pbx.callstore.rows import call_rows
from adapters.pbx.callstore.tables import (
    CALLSTORE_METADATA,
    call_participants,
    call_records,
    calls,
)
from adapters.pbx.settings import AmiSettings
from bus.db import create_engine, ensure_tables, insert_or_ignore

__all__ = ["DEFAULT_LIMIT", "CallStore"]

DEFAULT_LIMIT = 20


class CallStore:
    """Ended calls on ``engine`` (the bus's database unless configured otherwise)."""

    def __init__(self, engine: sa.Engine, *, timezone: str = "UTC", region: str = "RU") -> None:
        self.engine = engine
        self.zone = ZoneInfo(timezone)
        self.region = region
        ensure_tables(CALLSTORE_METADATA, engine)

    @classmethod
    def at(cls, url: str, *, timezone: str = "UTC", region: str = "RU") -> CallStore:
        return cls(create_engine(url), timezone=timezone, region=region)

    @classmethod
    def for_settings(cls, settings: AmiSettings, bus_engine: sa.Engine) -> CallStore:
        """The store the PBX settings ask for: its own URL, or the bus's database."""
        engine = (create_engine(settings.calls_database_url) if settings.calls_database_url
                  else bus_engine)
        return cls(engine, timezone=settings.calls_timezone, region=settings.region)

    def record(self, call: Mapping[str, Any], message_id: str) -> bool:
        """Store one ended call; False when a call with its Linkedid is already stored."""
        row, participants = call_rows(call, message_id, self.zone, self.region)
        with self.engine.begin() as db:
            known = db.execute(sa.select(calls.c.linkedid)
                               .where(calls.c.linkedid == row["linkedid"])).first()
            if known is not None:
                return False
            insert_or_ignore(db, calls, [row])
            insert_or_ignore(db, call_records, [{"linkedid": row["linkedid"],
                                                 "record": dict(call)}])
            insert_or_ignore(db, call_participants, participants)
        return True

    def count(self) -> int:
        with self.engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(calls)).scalar_one())

    def recent(self, *, phone: str | None = None, extension: str | None = None,
               limit: int = DEFAULT_LIMIT) -> list[dict[str, Any]]:
        """Calls of a customer's number (caller or called) or of an agent, newest first."""
        if (phone is None) == (extension is None):
            raise ValueError("give exactly one of phone and extension")
        if phone is not None:  # each side on its own index, then the newest of both
            sides = [sa.select(calls.c.linkedid, calls.c.started_us).where(column == phone)
                     .order_by(calls.c.started_us.desc(), calls.c.linkedid.desc()).limit(limit)
                     .subquery()
                     for column in (calls.c.caller_e164, calls.c.called_e164)]
            newest: sa.Subquery = sa.union(*(sa.select(side.c.linkedid, side.c.started_us)
                                             for side in sides)).subquery()
        else:
            newest = (sa.select(call_participants.c.linkedid, call_participants.c.started_us)
                      .where(call_participants.c.extension == extension)
                      .order_by(call_participants.c.started_us.desc(),
                                call_participants.c.linkedid.desc())
                      .limit(limit).subquery())
        found = (sa.select(newest.c.linkedid, newest.c.started_us)
                 .order_by(newest.c.started_us.desc(), newest.c.linkedid.desc())
                 .limit(limit).subquery())
        query = (sa.select(call_records.c.record)
                 .join(found, found.c.linkedid == call_records.c.linkedid)
                 .order_by(found.c.started_us.desc(), found.c.linkedid.desc()))
        with self.engine.connect() as db:
            return [dict(record) for record in db.execute(query).scalars()]
