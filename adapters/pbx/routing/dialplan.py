"""The dialplan's own door to routing: one ``GET`` on a port of its own, nothing else.

Asterisk's ``CURL()`` (or AGI) asks at the start of every inbound call::

    GET /route?caller=+79123456789&called=74951234567&linkedid=1710224107.1001[&format=json]

and gets one line ``kind,dial,rule`` (``format=json``: the decision as JSON). It answers
what ``GET /v1/adapters/pbx/route`` answers, from the same :class:`RoutingService`, but
without the API's middleware, routing table and dependency solving: in the bus API one
decision costs about ten times the decision itself, and at 100 calls/s that is most of a
core. It speaks only this: HTTP/1.1, one request per connection (as ``CURL()`` does),
heads up to 8 KiB. On by ``ESB_PBX__ROUTING__DIALPLAN_PORT``; it serves no secrets and
changes nothing, so it listens on loopback or the PBX's network only
(``ESB_PBX__ROUTING__DIALPLAN_HOST``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import uuid
from urllib.parse import parse_qs, urlsplit

from adapters.pbx.routing.service import RoutingService

__all__ = ["DialplanDoor"]

log = logging.getLogger(__name__)

PATHS = frozenset({"/route", "/v1/adapters/pbx/route"})
MAX_HEAD = 8 * 1024
READ_TIMEOUT = 5.0
_LINKEDID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            422: "Unprocessable Entity"}


class DialplanDoor:
    """``await door.start()`` listens; ``await door.stop()`` closes."""

    def __init__(self, routing: RoutingService, host: str, port: int) -> None:
        self.routing = routing
        self.host = host
        self.port = port
        self.answered = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("routing: dialplan requests on http://%s:%d/route", self.host, self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT)
            status, content_type, body = await self.answer(head)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError,
                ConnectionError):
            status, content_type, body = 400, "text/plain", b"bad request"
        try:
            writer.write(b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                         b"Connection: close\r\n\r\n%s" % (
                             status, _REASONS[status].encode(), content_type.encode(),
                             len(body), body))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def answer(self, head: bytes) -> tuple[int, str, bytes]:
        """(status, content type, body) for one request head."""
        if len(head) > MAX_HEAD:
            return 400, "text/plain", b"request head too long"
        method, _, rest = head.partition(b" ")
        target = rest.partition(b" ")[0].decode("latin-1")
        if method != b"GET":
            return 405, "text/plain", b"GET only"
        url = urlsplit(target)
        if url.path not in PATHS:
            return 404, "text/plain", b"not found"
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        caller, called = query.get("caller"), query.get("called")
        linkedid, form = query.get("linkedid"), query.get("format", "text")
        if (any(len(v) > 64 for v in (caller or "", called or ""))
                or (linkedid is not None and not _LINKEDID.match(linkedid))
                or form not in ("text", "json")):
            return 422, "text/plain", b"caller, called: up to 64 characters; linkedid: an " \
                b"Asterisk Linkedid; format: text or json"
        request = self.routing.request_of(linkedid or f"http-{uuid.uuid4().hex}", caller,
                                          called)
        decision = await self.routing.route(request)
        self.answered += 1
        if form == "json":
            return 200, "application/json", json.dumps(decision.to_json()).encode()
        text = decision.to_text(self.routing.settings.dial_template)
        return 200, "text/plain; charset=utf-8", text.encode()
