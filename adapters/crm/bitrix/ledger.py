"""Which calls the ``bitrix24`` profile has written, in the bus's SQL database.

Bitrix24's ``telephony.externalcall.register``/``finish`` are not idempotent across time
(a finished call registered again is a new call), so the profile remembers each call by
its interaction id (``call-<linkedid>``): the Bitrix24 ``CALL_ID`` once registered, then
the call activity's id once finished. A retry after a failure between the two reuses the
``CALL_ID``; a call already finished is not written again; the agent's notes go to the
activity recorded here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa

from bus.db import ensure_tables

__all__ = ["METADATA", "CallLedger", "LoggedCall"]

METADATA = sa.MetaData()
calls = sa.Table(
    "crm_bitrix_calls", METADATA,
    sa.Column("interaction_id", sa.String(128), primary_key=True),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("activity_id", sa.Integer, nullable=True),
    sa.Column("finished", sa.Boolean, nullable=False, default=False),
)


@dataclass(frozen=True, slots=True)
class LoggedCall:
    call_id: str
    activity_id: int | None
    finished: bool


class CallLedger:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        ensure_tables(METADATA, engine)

    async def get(self, interaction_id: str) -> LoggedCall | None:
        return await asyncio.to_thread(self._get, interaction_id)

    async def registered(self, interaction_id: str, call_id: str) -> None:
        await asyncio.to_thread(self._registered, interaction_id, call_id)

    async def finished(self, interaction_id: str, activity_id: int | None) -> None:
        await asyncio.to_thread(self._finished, interaction_id, activity_id)

    def _get(self, interaction_id: str) -> LoggedCall | None:
        with self.engine.connect() as connection:
            row = connection.execute(sa.select(calls.c.call_id, calls.c.activity_id,
                                               calls.c.finished)
                                     .where(calls.c.interaction_id == interaction_id)).first()
        return LoggedCall(row[0], row[1], bool(row[2])) if row is not None else None

    def _registered(self, interaction_id: str, call_id: str) -> None:
        with self.engine.begin() as connection:
            exists = connection.execute(sa.select(calls.c.call_id).where(
                calls.c.interaction_id == interaction_id)).first()
            if exists is None:
                connection.execute(calls.insert().values(
                    interaction_id=interaction_id, call_id=call_id, finished=False))

    def _finished(self, interaction_id: str, activity_id: int | None) -> None:
        with self.engine.begin() as connection:
            connection.execute(calls.update().where(calls.c.interaction_id == interaction_id)
                               .values(finished=True, activity_id=activity_id))
