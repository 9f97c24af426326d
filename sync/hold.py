"""A full run's hold on the incremental consumer.

A full run matches for minutes, then writes only if nobody else committed to the
store meanwhile (:class:`~sync.fullrun.StoreChanged`). Under ``esb run`` the
incremental consumer keeps committing changes as they arrive, so a run on a live
store would match again and again. While a run holds the store, every
synchronizer process pauses its ``sync.changes`` subscription (the changes wait in
their queue, none is lost or dead-lettered) and resumes it when the hold ends.

The hold is a row of ``sync_state`` that the run renews while it works
(:class:`RunHold`) and deletes when it ends. A run that dies leaves a row that
stops counting when it expires, or at once when its process is gone from this
host. On SQLite the renewal waits out the write stage's transaction; the hold is
long enough (``SyncSettings.run_hold_seconds``) to outlast it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from sync.store.state import read_state, write_state
from sync.store.tables import state

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["CHANGES", "HOLD_STATE", "Hold", "HoldWatch", "RunHold", "current_hold"]

log = logging.getLogger(__name__)

HOLD_STATE = "full_run_hold"
"""The ``sync_state`` row a run's hold lives in."""

CHANGES = "sync.changes"
"""The incremental consumer's subscription (:mod:`sync.handlers`)."""


@dataclass(frozen=True)
class Hold:
    """Who holds the store for a full run, and until when unless renewed."""

    host: str
    pid: int
    since: float
    until: float

    @classmethod
    def of(cls, value: Any) -> Hold | None:
        try:
            return cls(str(value["host"]), int(value["pid"]), float(value["since"]),
                       float(value["until"]))
        except (TypeError, KeyError, ValueError):
            return None  # no hold, or a row this version does not understand

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "pid": self.pid, "since": self.since, "until": self.until}

    def counts(self, now: float) -> bool:
        """Whether the hold still stands: not expired, and its run alive where we can see."""
        if now >= self.until:
            return False
        if self.host != socket.gethostname():
            return True
        try:
            os.kill(self.pid, 0)  # PermissionError: another user's process, alive
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True


def current_hold(connection: sa.Connection, now: float | None = None) -> Hold | None:
    """The hold that stands now, if any."""
    hold = Hold.of(read_state(connection, HOLD_STATE))
    if hold is None or not hold.counts(time.time() if now is None else now):
        return None
    return hold


class RunHold:
    """Hold the store for the duration of a ``with`` block, renewing it in a thread."""

    def __init__(self, engine: sa.Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self.hold = Hold(socket.gethostname(), os.getpid(), time.time(), 0.0)
        self._ended = threading.Event()
        self._renewer = threading.Thread(target=self._renew, name="sync-run-hold", daemon=True)

    def __enter__(self) -> RunHold:
        self._write()
        self._renewer.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._ended.set()
        self._renewer.join()
        try:
            with self.engine.begin() as connection:
                held = Hold.of(read_state(connection, HOLD_STATE))
                if held is not None and held.since == self.hold.since and self._ours(held):
                    connection.execute(state.delete().where(state.c.name == HOLD_STATE))
        except sa.exc.DBAPIError as failed:  # it expires on its own
            log.warning("the full run's hold was not released: %s", failed)

    def _ours(self, held: Hold) -> bool:
        return (held.host, held.pid) == (self.hold.host, self.hold.pid)

    def _write(self) -> None:
        until = time.time() + self.seconds
        with self.engine.begin() as connection:
            write_state(connection, HOLD_STATE, {**self.hold.to_json(), "until": until})

    def _renew(self) -> None:
        while not self._ended.wait(max(self.seconds / 6, 0.05)):
            try:
                self._write()
            except sa.exc.DBAPIError as busy:  # SQLite: the write stage holds the database
                log.debug("the full run's hold was not renewed this time: %s", busy)


class HoldWatch:
    """Pause ``sync.changes`` on this bus while a full run holds the store, resume after.

    Only a pause it made is undone: a subscription an operator paused stays paused.
    """

    def __init__(self, engine: sa.Engine, bus: Bus, every: float) -> None:
        self.engine, self.bus, self.every = engine, bus, every
        self.holding_back = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._watch(), name="sync-hold-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.holding_back:
            await self._release()

    async def look(self) -> None:
        """One look at the store: pause or resume as the hold says."""
        hold = await asyncio.to_thread(self._read)
        if hold is not None and not self.holding_back and CHANGES not in self.bus.paused:
            log.info("a full run (pid %d on %s) holds the store: changes wait in their queue",
                     hold.pid, hold.host)
            self.holding_back = True
            await self.bus.pause(CHANGES, grace=0.0)  # the change being applied finishes
        elif hold is None and self.holding_back:
            await self._release()

    async def _release(self) -> None:
        self.holding_back = False
        await self.bus.resume(CHANGES)
        log.info("the full run's hold ended: changes flow again")

    def _read(self) -> Hold | None:
        with self.engine.connect() as connection:
            return current_hold(connection)

    async def _watch(self) -> None:
        while True:
            try:
                await self.look()
            except sa.exc.DBAPIError as failed:  # the database is away: look again later
                log.warning("could not read the full run's hold: %s", failed)
            await asyncio.sleep(self.every)
