"""The view over a real TCP connection, served as ``esb run`` serves the API.

uvicorn writes a response's head and its body in two writes. With Nagle's algorithm on
the server's connection, the body waits until the client acknowledges the head, and a
client delays that ACK (40 ms on Linux): the view over HTTP was ~43 ms slower at p50 than
the same scatter-gather without HTTP (bench/unified_view.py, whose listener had Nagle on).
"""

from __future__ import annotations

import asyncio
import re
import socket
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from bus.cli.serve import api_config
from tests.window.backends import PHONE
from tests.window.conftest import WindowFactory

DELAYED_ACK = 0.040
"""The least time Linux holds back an ACK, hence a body that Nagle keeps behind it."""


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[uvicorn.Server]:
    """The app served by :func:`api_config` on 127.0.0.1, a free port, in this event loop."""
    server = uvicorn.Server(api_config(app, "127.0.0.1", 0))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.01)
    try:
        yield server
    finally:
        server.should_exit = True
        await serving


async def test_the_view_body_is_not_held_behind_its_head(start_window: WindowFactory) -> None:
    window = await start_window()
    async with served(window.app) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        body_after_head: list[float] = []
        for _ in range(10):  # one keep-alive connection, as a browser's
            writer.write(f"GET /v1/customers/lookup?phone=%2B{PHONE[1:]}&fresh=true HTTP/1.1"
                         "\r\nhost: 127.0.0.1\r\n\r\n".encode())
            head = await reader.readuntil(b"\r\n\r\n")
            head_read = time.perf_counter()
            length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
            assert head.startswith(b"HTTP/1.1 200 ") and length is not None, head
            body = await reader.readexactly(int(length[1]))
            body_after_head.append(time.perf_counter() - head_read)
            assert b'"complete":true' in body
        nagle_off = [connection.transport.get_extra_info("socket").getsockopt(
            socket.IPPROTO_TCP, socket.TCP_NODELAY)
            for connection in server.server_state.connections]
        writer.close()
        await writer.wait_closed()

    assert nagle_off and all(nagle_off), nagle_off
    assert statistics.median(body_after_head) < DELAYED_ACK / 2, body_after_head
