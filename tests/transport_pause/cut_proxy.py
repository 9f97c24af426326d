"""A TCP proxy on loopback whose open connections the test can cut (a broker going away
for a moment: the client reconnects through it to the same server)."""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["CutProxy"]


class CutProxy:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def cut(self) -> None:
        """Close both sides of every connection open now."""
        for writer in list(self._writers):
            writer.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.cut()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers.update((writer, client_writer))
        pipes = {self._spawn(_pipe(client_reader, writer)),
                 self._spawn(_pipe(reader, client_writer))}
        await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        for side in (writer, client_writer):
            side.close()
            self._writers.discard(side)
        for pipe in pipes:
            pipe.cancel()

    def _spawn(self, work: asyncio.Future[None] | object) -> asyncio.Task[None]:
        assert asyncio.iscoroutine(work)
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
