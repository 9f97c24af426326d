"""Legacy exchange through a watched folder: the adapter the ``files`` entry point names.

Inbound, :class:`~adapters.files.inbox.InboxWatcher` turns complete CSV/XML
files into canonical messages, each file published whole and once by content
hash. Outbound, :func:`~adapters.files.handlers.write_outbound` writes the
configured canonical types as files. :meth:`FilesAdapter.check` is
``esb adapters check files``: the folders are readable and writable.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from adapters.files.client import Folders
from adapters.files.handlers import OutboundWriter, outbound_router
from adapters.files.inbox import InboxWatcher
from adapters.files.settings import FilesSettings
from bus.adapters import Adapter, AdapterManifest, AdapterSettings, Health
from bus.adapters.lifecycle import BackgroundWork, settings_of
from bus.router import Router

if TYPE_CHECKING:
    from bus.app import Bus

__all__ = ["FilesAdapter"]

log = logging.getLogger(__name__)


class FilesAdapter(Adapter):
    manifest = AdapterManifest(
        name="files", version="0.1.0",
        description="Legacy exchange through a watched folder: CSV/XML files in, "
                    "canonical messages out (once per file content), and messages as files",
        consumes=(), publishes=("billing.account.changed.v1",),
        settings=FilesSettings,
    )
    router = Router(source="files")
    """Empty: the outbound subscription's types come from settings (see ``__init__``)."""

    def __init__(self, settings: AdapterSettings, bus: Bus) -> None:
        super().__init__(settings, bus)
        self.config = settings = settings_of(self, settings, FilesSettings)
        self.folders = Folders(settings)
        self.watcher = InboxWatcher(bus, settings, self.folders, source="files")
        self.writer = OutboundWriter(Path(settings.outbox or "."), settings.outbound_format)
        bus.include(outbound_router(settings.outbound_types))
        self.work = BackgroundWork()

    def provide(self) -> dict[type, object]:
        return {OutboundWriter: self.writer, FilesSettings: self.config}

    async def start(self) -> None:
        await asyncio.to_thread(self.folders.prepare)
        await asyncio.to_thread(self.watcher.ledger.create_tables)
        self.work.spawn_loop(self.watcher.run, "files-inbox")

    async def stop(self) -> None:
        await self.work.stop()  # a poll in its thread finishes rather than being abandoned

    async def health(self) -> Health:
        checks = {"inbox": self.config.inbox, "outbox": self.config.outbox or None,
                  "last_poll": self.watcher.last_poll,
                  "recent": [o.status for o in self.watcher.outcomes[-10:]]}
        if self.watcher.last_error:
            return Health(ok=False, detail=self.watcher.last_error, checks=checks)
        return Health(ok=True, detail=f"watching {self.config.inbox}", checks=checks)

    async def check(self) -> str:
        return await asyncio.to_thread(self.folders.check)
