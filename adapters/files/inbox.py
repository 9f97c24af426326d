"""The inbound side: each complete file becomes canonical messages, all or nothing.

:meth:`InboxWatcher.ingest` reads a file with its profile, maps and validates
every row, and then either

* stages every message of the file through the transactional outbox together
  with the file's content hash (:class:`~adapters.files.ledger.IngestLedger`)
  and moves the file to ``processed/`` — a file whose hash is already recorded
  publishes nothing and is just moved; or
* publishes nothing and moves the file to ``rejected/`` with
  ``<name>.report.txt`` listing every bad row and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from adapters.files import mapping
from adapters.files.client import Dropped, Folders
from adapters.files.ledger import IngestLedger
from adapters.files.reader import read_rows
from adapters.files.settings import FilesSettings
from bus.envelope import Envelope
from bus.errors import EsbError, SchemaViolation
from bus.masking import mask_text

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["InboxWatcher", "Outcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    file: str
    status: str
    """``published``, ``duplicate`` or ``rejected``."""
    messages: int = 0
    problems: tuple[str, ...] = ()


class InboxWatcher:
    def __init__(self, bus: Bus, settings: FilesSettings, folders: Folders,
                 *, source: str = "files") -> None:
        self.bus = bus
        self.settings = settings
        self.folders = folders
        self.source = source
        self.ledger = IngestLedger(bus.engine)
        self.outcomes: list[Outcome] = []
        self.last_error: str | None = None
        self.last_poll: float | None = None

    async def run(self, stopping: asyncio.Event) -> None:
        """Scan every ``poll_interval`` seconds until ``stopping`` is set (a scan is finished)."""
        while not stopping.is_set():
            try:
                done = await asyncio.to_thread(self.scan)
                self.last_error = None
                if any(outcome.status == "published" for outcome in done):
                    self.bus.outbox_relay_poke()
            except Exception as error:  # the loop outlives a bad disk moment
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("files: scan failed: %s", self.last_error)
            self.last_poll = time.time()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self.settings.poll_interval)

    def scan(self) -> list[Outcome]:
        """Ingest every complete file waiting now (runs in a worker thread)."""
        done: list[Outcome] = []
        for dropped in self.folders.stable_files():
            try:
                done.append(self.ingest(dropped))
            except FileNotFoundError:  # taken meanwhile (by hand, or another bus process)
                log.info("files: %s went away before it was read", dropped.path.name)
        self.outcomes = (self.outcomes + done)[-100:]
        return done

    def ingest(self, dropped: Dropped) -> Outcome:
        data = dropped.path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        name = dropped.path.name
        if self.ledger.known(digest):
            self.folders.move(dropped.path, self.settings.processed_path, digest[:12])
            log.info("files: %s was published before (same content); moved", name)
            return Outcome(name, "duplicate")
        envelopes, problems = self._messages(data, dropped)
        if problems:
            self.folders.reject(dropped.path, digest[:12], _report(name, dropped.profile,
                                                                   problems))
            log.warning("files: %s rejected (%d problem(s)); nothing published", name,
                        len(problems))
            return Outcome(name, "rejected", problems=tuple(problems))
        fresh = self.ledger.stage(digest, name, dropped.profile, envelopes)
        self.folders.move(dropped.path, self.settings.processed_path, digest[:12])
        if not fresh:
            return Outcome(name, "duplicate")
        log.info("files: %s published as %d message(s)", name, len(envelopes))
        return Outcome(name, "published", messages=len(envelopes))

    def _messages(self, data: bytes, dropped: Dropped) -> tuple[list[Envelope], list[str]]:
        profile = self.settings.profiles[dropped.profile]
        if len(data) > self.settings.max_file_bytes:
            return [], [f"file: {len(data)} bytes, over the limit of "
                        f"{self.settings.max_file_bytes}"]
        try:
            rows = read_rows(data, dropped.path.suffix.lower(), profile,
                             max_bytes=self.settings.max_file_bytes)
        except EsbError as error:
            return [], [f"file: {mask_text(str(error))}"]
        envelopes: list[Envelope] = []
        problems: list[str] = []
        where = "line" if dropped.path.suffix.lower() == ".csv" else "element at line"
        for row in rows:
            if row.problem is not None:
                problems.append(f"{where} {row.line}: {row.problem}")
                continue
            try:
                payload = mapping.row_payload(row.values, profile)
                key = mapping.get_path(payload, profile.key) if profile.key else None
                envelope = Envelope(type=profile.type, payload=payload, source=self.source,
                                    key=None if key is None else str(key))
                self.bus.validate(envelope)
            except mapping.BadRow as bad:
                problems.extend(f"{where} {row.line}: {reason}" for reason in bad.reasons)
                continue
            except SchemaViolation as violation:
                problems.append(f"{where} {row.line}: {mask_text(str(violation))}")
                continue
            envelopes.append(envelope)
        return envelopes, problems


def _report(name: str, profile: str, problems: list[str]) -> str:
    lines = [f"{name} was rejected (profile {profile}): nothing from it was published.",
             "Fix the rows below and drop the whole file again.", ""]
    return "\n".join([*lines, *problems, ""])
