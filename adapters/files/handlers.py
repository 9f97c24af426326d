"""The outbound side: canonical messages written as files into the outbox folder.

The subscription's types come from settings (``ESB_FILES__OUTBOUND_TYPES``), so
its router is built per adapter (:func:`outbound_router`). Each message becomes
one file named after its type and id, written under a temporary name and
renamed (:func:`~adapters.files.client.write_atomically`): a redelivered
message finds its file and writes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import re
from pathlib import Path
from typing import Literal

from adapters.files.client import write_atomically
from adapters.files.mapping import flat_row
from bus.envelope import Envelope
from bus.router import Router
from bus.schema import envelope_to_xml

__all__ = ["OutboundWriter", "outbound_router", "write_outbound"]

log = logging.getLogger(__name__)


class OutboundWriter:
    def __init__(self, folder: Path, file_format: Literal["csv", "xml"]) -> None:
        self.folder = folder
        self.format = file_format

    def path_of(self, envelope: Envelope) -> Path:
        name = re.sub(r"[^0-9A-Za-z._-]", "_", f"{envelope.type}.{envelope.id}")
        return self.folder / f"{name}.{self.format}"

    def write(self, envelope: Envelope) -> bool:
        """Write the message's file unless it exists; whether it was written now."""
        target = self.path_of(envelope)
        if target.exists():
            return False
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(target, self.render(envelope))
        return True

    def render(self, envelope: Envelope) -> bytes:
        if self.format == "xml":
            return envelope_to_xml(envelope, pretty=True)
        row = {"message_id": envelope.id, "type": envelope.type,
               "occurred_at": envelope.occurred_at.isoformat(), **flat_row(envelope.payload)}
        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=list(row), lineterminator="\r\n")
        writer.writeheader()
        writer.writerow(row)
        return text.getvalue().encode("utf-8")


async def write_outbound(envelope: Envelope, writer: OutboundWriter) -> None:
    """Write a canonical message as a file into the outbox folder, once per message id."""
    if await asyncio.to_thread(writer.write, envelope):
        log.info("files: wrote %s", writer.path_of(envelope).name)


def outbound_router(types: list[str]) -> Router:
    router = Router(source="files")
    if types:
        router.subscriber("files.outbound", *types)(write_outbound)
    return router
