"""The simulator's HTTP side: ``GET ?wsdl`` / ``encoding.xml``, ``POST`` SOAP, dropped
connections, and quiet logs. :class:`~adapters.billing.simulator.BillingSimulator`
does the answering."""

from __future__ import annotations

import socket
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from adapters.billing.simops import fault_envelope

if TYPE_CHECKING:
    from adapters.billing.simulator import BillingSimulator

__all__ = ["COOKIE", "handler_for"]

COOKIE = "sessnum"


def handler_for(simulator: BillingSimulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            simulator.connections += 1
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_GET(self) -> None:
            if self.path.endswith("encoding.xml"):
                body = (simulator.wsdl_path.parent / "encoding.xml").read_bytes()
            elif self.path.lower().endswith("?wsdl") or self.path.endswith(".wsdl"):
                body = simulator.wsdl_text()
            else:
                self._send(404, b"not found", "text/plain")
                return
            self._send(200, body, "text/xml; charset=utf-8")

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, reply, cookie = simulator.answer(body, self._cookie())
            except ConnectionAbortedError:
                self.close_connection = True
                self.connection.close()
                return
            except Exception as error:  # a malformed request gets a fault, not a dead server
                status, reply, cookie = 500, fault_envelope("Client", str(error)[:500]), None
            headers = {"Set-Cookie": f"{COOKIE}={cookie}; path=/"} if cookie else {}
            kind = "text/html" if reply.startswith(b"<html") else "text/xml; charset=utf-8"
            self._send(status, reply, kind, headers)

        def _cookie(self) -> str | None:
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    return value
            return None

        def _send(self, status: int, body: bytes, kind: str,
                  headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True  # the client gave up (a slow answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests and the demo read the bus, not an access log."""

    return Handler
