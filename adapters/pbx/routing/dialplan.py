"""The dialplan's own door to routing: one ``GET`` on a port of its own, nothing else.

Asterisk's ``CURL()`` (or AGI) asks at the start of every inbound call::

    GET /route?caller=+79123456789&called=74951234567&linkedid=1710224107.1001[&format=json]

and gets one line ``kind,dial,rule`` (``format=json``: the decision as JSON). It answers
what ``GET /v1/adapters/pbx/route`` answers, from the same :class:`RoutingService`, but
without the API's middleware, routing table and dependency solving. It speaks only this:
HTTP/1.1, one request per connection (as ``CURL()`` does), heads up to 8 KiB. On by
``ESB_PBX__ROUTING__DIALPLAN_PORT``; it serves no secrets and changes nothing, so it
listens on loopback or the PBX's network only (``ESB_PBX__ROUTING__DIALPLAN_HOST``).

The door shares the bus process's event loop, which is busy with the AMI stream, so an
answer is as late as the number of loop passes it needs times the length of a pass. It
therefore works on the sockets itself (:meth:`asyncio.AbstractEventLoop.add_reader`)
rather than through asyncio streams, whose accept, ``connection_made``, reader
registration and task wake-up are four passes: when the listening socket is readable it
accepts, reads the request that is normally there already, decides from local state
(:meth:`RoutingService.route_now`) and sends the answer, all in that one callback. Only a
request not yet complete waits for its socket, and only a caller the CRM must be asked
about waits in a task (:meth:`RoutingService.route`, with its deadline).
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import re
import socket
import uuid
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from adapters.pbx.routing.decision import Decision, RouteRequest
from adapters.pbx.routing.service import RoutingService

__all__ = ["DialplanDoor", "Reply"]

log = logging.getLogger(__name__)

PATHS = frozenset({"/route", "/v1/adapters/pbx/route"})
MAX_HEAD = 8 * 1024
READ_TIMEOUT = 5.0
LINGER = 2.0
"""Seconds a connection stays open after the answer, reading what the client still
sends, so that closing does not reset it before it has read the answer."""
ACCEPTS_PER_WAKE = 64
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_LINKEDID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            422: "Unprocessable Entity", 500: "Internal Server Error"}


class Reply(NamedTuple):
    status: int
    content_type: str
    body: bytes

    def encode(self) -> bytes:
        return (b"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                b"Connection: close\r\n\r\n%s" % (
                    self.status, _REASONS[self.status].encode(), self.content_type.encode(),
                    len(self.body), self.body))


class _Question(NamedTuple):
    request: RouteRequest
    form: str


BAD_REQUEST = Reply(400, "text/plain", b"bad request")
FAILED = Reply(500, "text/plain", b"no decision: see the bus log")


class DialplanDoor:
    """``await door.start()`` listens; ``await door.stop()`` closes."""

    def __init__(self, routing: RoutingService, host: str, port: int) -> None:
        self.routing = routing
        self.host = host
        self.port = port
        self.answered = 0
        self._listener: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._exchanges: set[_Exchange] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        family, _, _, _, address = (await loop.getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))[0]
        listener = socket.create_server(address[:2], family=family, backlog=1024)
        listener.setblocking(False)
        self.port = int(listener.getsockname()[1])
        self._loop, self._listener = loop, listener
        loop.add_reader(listener.fileno(), self._accept)
        log.info("routing: dialplan requests on http://%s:%d/route", self.host, self.port)

    async def stop(self) -> None:
        if self._listener is not None and self._loop is not None:
            self._loop.remove_reader(self._listener.fileno())
            self._listener.close()
            self._listener = None
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
        for exchange in list(self._exchanges):
            exchange.close()

    # -- the socket side ---------------------------------------------------------------

    def _accept(self) -> None:
        listener, loop = self._listener, self._loop
        assert listener is not None and loop is not None
        for _ in range(ACCEPTS_PER_WAKE):
            try:
                sock, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as error:
                if error.errno not in _OUT_OF_RESOURCES:
                    log.warning("routing: dialplan port: accept failed: %s", error)
                    return
                log.error("routing: dialplan port out of resources (%s): pausing 1 s", error)
                loop.remove_reader(listener.fileno())
                loop.call_later(1.0, self._resume_accepting)
                return
            _Exchange(self, sock, loop).begin()

    def _resume_accepting(self) -> None:
        if self._listener is not None and self._loop is not None:
            self._loop.add_reader(self._listener.fileno(), self._accept)

    def _respond(self, exchange: _Exchange, head: bytes) -> None:
        """Answer now if local state is enough, else from a task that may ask the CRM."""
        question = self.question(head)
        if isinstance(question, Reply):
            exchange.reply(question)
            return
        try:
            decision = self.routing.route_now(question.request)
        except Exception:  # a bug of ours: the dialplan falls back to its default
            log.exception("routing: no decision for %s", question.request.linkedid)
            exchange.reply(FAILED)
            return
        if decision is not None:
            exchange.reply(self._reply(decision, question.form))
            return
        task = asyncio.create_task(self._respond_later(exchange, question))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _respond_later(self, exchange: _Exchange, question: _Question) -> None:
        try:
            decision = await self.routing.route(question.request)
        except Exception:
            log.exception("routing: no decision for %s", question.request.linkedid)
            exchange.reply(FAILED)
            return
        exchange.reply(self._reply(decision, question.form))

    # -- the HTTP side -----------------------------------------------------------------

    def question(self, head: bytes) -> _Question | Reply:
        """The routing question in a request head, or the error reply to it."""
        if len(head) > MAX_HEAD:
            return Reply(400, "text/plain", b"request head too long")
        method, _, rest = head.partition(b" ")
        target = rest.partition(b" ")[0].decode("latin-1")
        if method != b"GET":
            return Reply(405, "text/plain", b"GET only")
        url = urlsplit(target)
        if url.path not in PATHS:
            return Reply(404, "text/plain", b"not found")
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        caller, called = query.get("caller"), query.get("called")
        linkedid, form = query.get("linkedid"), query.get("format", "text")
        if (any(len(v) > 64 for v in (caller or "", called or ""))
                or (linkedid is not None and not _LINKEDID.match(linkedid))
                or form not in ("text", "json")):
            return Reply(422, "text/plain", b"caller, called: up to 64 characters; linkedid: "
                         b"an Asterisk Linkedid; format: text or json")
        request = self.routing.request_of(linkedid or f"http-{uuid.uuid4().hex}", caller,
                                          called)
        return _Question(request, form)

    async def answer(self, head: bytes) -> Reply:
        """The reply to one request head, as the door sends it (the CRM asked if need be)."""
        question = self.question(head)
        if isinstance(question, Reply):
            return question
        decision = self.routing.route_now(question.request)
        if decision is None:
            decision = await self.routing.route(question.request)
        return self._reply(decision, question.form)

    def _reply(self, decision: Decision, form: str) -> Reply:
        self.answered += 1
        if form == "json":
            return Reply(200, "application/json", json.dumps(decision.to_json()).encode())
        text = decision.to_text(self.routing.settings.dial_template)
        return Reply(200, "text/plain; charset=utf-8", text.encode())


class _Exchange:
    """One connection: read the head, send the reply, linger until the client closes."""

    __slots__ = ("door", "head", "loop", "replied", "sock", "timer", "watching")

    def __init__(self, door: DialplanDoor, sock: socket.socket,
                 loop: asyncio.AbstractEventLoop) -> None:
        self.door, self.sock, self.loop = door, sock, loop
        self.head = bytearray()
        self.replied = self.watching = False
        self.timer: asyncio.TimerHandle | None = None

    def begin(self) -> None:
        try:
            self.sock.setblocking(False)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:  # reset between accept and now
            self.sock.close()
            return
        self.door._exchanges.add(self)
        self.timer = self.loop.call_later(READ_TIMEOUT, self.close)
        self._readable()  # the request is normally in already: answered in this pass

    def _readable(self) -> None:
        try:
            chunk = self.sock.recv(MAX_HEAD + 1)
        except (BlockingIOError, InterruptedError):
            self._watch()
            return
        except OSError:
            self.close()
            return
        if self.replied:  # lingering: what the client still sends is dropped
            if not chunk:
                self.close()
            return
        if not chunk:
            self.reply(BAD_REQUEST)
            return
        self.head += chunk
        end = self.head.find(b"\r\n\r\n")
        if end >= 0:
            self.door._respond(self, bytes(self.head[:end + 4]))
        elif len(self.head) > MAX_HEAD:
            self.reply(Reply(400, "text/plain", b"request head too long"))
        else:
            self._watch()

    def _watch(self) -> None:
        if not self.watching and self.sock.fileno() >= 0:
            self.loop.add_reader(self.sock.fileno(), self._readable)
            self.watching = True

    def reply(self, reply: Reply) -> None:
        if self.replied or self.sock.fileno() < 0:
            return
        self.replied = True
        data = reply.encode()
        try:
            sent = self.sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self.close()
            return
        if sent < len(data):  # a small answer on a new connection: practically never
            task = asyncio.create_task(self._send_rest(data[sent:]))
            self.door._tasks.add(task)
            task.add_done_callback(self.door._tasks.discard)
            return
        self._linger()

    async def _send_rest(self, rest: bytes) -> None:
        try:
            await self.loop.sock_sendall(self.sock, rest)
        except OSError:
            self.close()
            return
        self._linger()

    def _linger(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self.close()
            return
        if self.timer is not None:
            self.timer.cancel()
        self.timer = self.loop.call_later(LINGER, self.close)
        self._watch()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.watching:
            self.loop.remove_reader(self.sock.fileno())
            self.watching = False
        self.sock.close()
        self.door._exchanges.discard(self)
