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

It runs on **a thread and event loop of its own**: the bus's loop, busy with a burst of
AMI events at the very moment calls start, would otherwise hold every answer until the
burst is handled (p99 124 ms at 100 calls/s in ``bench/screen_pop.py``). A decision from
local state (the usual case) is made on this thread, which only reads routing's state;
the bookkeeping (journal, assignment, counters) is handed to the bus's loop. A decision
that needs the CRM first, or that met the state mid-change, is made on the bus's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import threading
import time
import uuid
from concurrent.futures import Future
from urllib.parse import parse_qs, urlsplit

from adapters.pbx.routing.decision import Decision, RouteRequest
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
        self._bus_loop: asyncio.AbstractEventLoop | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._bus_loop = asyncio.get_running_loop()
        listening: Future[int] = Future()
        self._thread = threading.Thread(target=self._run, args=(listening,),
                                        name="routing-dialplan", daemon=True)
        self._thread.start()
        self.port = await asyncio.wrap_future(listening)
        log.info("routing: dialplan requests on http://%s:%d/route", self.host, self.port)

    async def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            await asyncio.to_thread(self._thread.join, 10.0)
        self._loop = self._thread = None

    def _run(self, listening: Future[int]) -> None:
        """The door's thread: its own loop, serving until :meth:`stop`."""
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            server = loop.run_until_complete(
                asyncio.start_server(self._serve, self.host, self.port))
        except Exception as error:
            listening.set_exception(error)
            loop.close()
            return
        self._server = server
        listening.set_result(int(server.sockets[0].getsockname()[1]))
        try:
            loop.run_forever()
        finally:
            server.close()
            loop.run_until_complete(server.wait_closed())
            loop.close()
            self._server = None

    async def _decide(self, request: RouteRequest) -> Decision:
        bus_loop = self._bus_loop
        assert bus_loop is not None
        began = time.perf_counter()
        try:
            decision = self.routing.decide_locally(request)
        except RuntimeError:  # the state changed under the reading: ask where it changes
            decision = None
        if decision is None:
            return await asyncio.wrap_future(
                asyncio.run_coroutine_threadsafe(self.routing.route(request), bus_loop))
        bus_loop.call_soon_threadsafe(self.routing.settle, decision, request,
                                      time.perf_counter() - began)
        return decision

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
        decision = await self._decide(request)
        self.answered += 1
        if form == "json":
            return 200, "application/json", json.dumps(decision.to_json()).encode()
        text = decision.to_text(self.routing.settings.dial_template)
        return 200, "text/plain; charset=utf-8", text.encode()
