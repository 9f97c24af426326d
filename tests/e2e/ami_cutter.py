"""A TCP proxy between the PBX adapter and the AMI simulator that cuts the connection once.

It forwards both ways; the first time an ``Event: DialEnd`` block has passed towards the
adapter, it closes both sides of that connection (the adapter sees the PBX go away in
the middle of a call). Later connections are forwarded untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

__all__ = ["AmiCutter"]

MARK = b"Event: DialEnd"
END = b"\r\n\r\n"


class AmiCutter:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0
        self.cuts = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        up = self._spawn(self._pipe(client_reader, writer, watch=False))
        down = self._spawn(self._pipe(reader, client_writer, watch=self.cuts == 0))
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        for side in (writer, client_writer):
            side.close()
        up.cancel()
        down.cancel()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                    watch: bool) -> None:
        pending = b""
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                if watch and self.cuts == 0:
                    pending += data
                    at = pending.find(MARK)
                    end = pending.find(END, at) if at >= 0 else -1
                    if end >= 0:
                        writer.write(pending[: end + len(END)])  # the DialEnd, then nothing
                        await writer.drain()
                        self.cuts += 1
                        return
                    held = at if at >= 0 else len(pending)  # hold a DialEnd until complete
                    data, pending = pending[:held], pending[held:]
                writer.write(data)
                await writer.drain()
