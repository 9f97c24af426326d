"""A loopback HTTP server that answers every POST with the same hostile body and records
every request it gets - so a test sees whether a parser went back for an external DTD."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class HostileServer:
    def __init__(self, body: bytes = b"", content_type: str = "text/xml; charset=utf-8") -> None:
        self.body = body
        self.content_type = content_type
        self.requests: list[tuple[str, str]] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(("GET", self.path))
                self._answer(b"<!ENTITY leak 'fetched'>")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                owner.requests.append(("POST", self.path))
                self._answer(owner.body.replace(b"{url}", owner.url.encode()))

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", owner.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def fetched(self) -> list[str]:
        """Paths read with GET: a parser fetching an external DTD or entity."""
        return [path for method, path in self.requests if method == "GET"]

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                 ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
