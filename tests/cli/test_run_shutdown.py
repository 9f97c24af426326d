"""``esb run`` stops on one SIGTERM even while a page holds an event stream open."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

from bus.cli.serve import SHUTDOWN_GRACE
from tests.esb_processes import Deployment, EsbProcess


def open_screen_pop_stream(api: str) -> socket.socket:
    """A raw connection reading ``/v1/screen-pop/stream`` as the operator page does."""
    address = urlsplit(api)
    connection = socket.create_connection((address.hostname, address.port), timeout=10)
    connection.sendall(b"GET /v1/screen-pop/stream?agent=2001 HTTP/1.1\r\n"
                       b"Host: esb\r\nAccept: text/event-stream\r\n\r\n")
    head = connection.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head
    return connection


def test_sigterm_stops_the_process_while_an_event_stream_is_open(
    deployment: Deployment,
) -> None:
    bus = EsbProcess(deployment, "run")
    bus.start()
    stream = open_screen_pop_stream(deployment.api)
    try:
        began = time.monotonic()
        exit_code = bus.stop(timeout=SHUTDOWN_GRACE + 20)
        took = time.monotonic() - began
        rest = read_to_end(stream)
    finally:
        stream.close()

    assert exit_code == 0, bus.output()  # a hang would be killed: -9
    assert took < SHUTDOWN_GRACE + 15, f"stopped in {took:.1f} s"
    assert rest.endswith(b"0\r\n\r\n"), rest[-200:]  # the stream ended, not cut off
    assert "graceful shutdown exceeded" not in bus.output()  # nothing had to be cancelled
    assert "Traceback" not in bus.output()


def read_to_end(connection: socket.socket) -> bytes:
    received = b""
    while chunk := connection.recv(65536):
        received += chunk
    return received
