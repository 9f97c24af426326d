"""A TCP server on loopback that speaks enough AMI to replay recorded transcripts.

Each connection follows a :class:`Session`: the banner, then (after the client's Login
block) the transcript bytes; it answers Challenge/Login (MD5 checked when a secret is
set), Ping, Logoff and the list actions the adapter sends after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from types import TracebackType

from adapters.pbx.ami.protocol import AmiMessage, AmiParser

CRLF = b"\r\n"


@dataclass
class Session:
    after_login: bytes = b""
    """Sent once the Login is accepted; a transcript's own Login reply, if it has one."""
    close: bool = False
    """Drop the connection once everything is sent."""
    hold_until: str | None = None
    """Send ``rest`` only after this action arrives (and has been answered)."""
    rest: bytes = b""
    channels: list[list[tuple[str, str]]] = field(default_factory=list)
    """The CoreShowChannel items this PBX reports."""
    answer_pings: bool = True
    before_answer: dict[str, bytes] = field(default_factory=dict)
    """Bytes sent just before the answer to the named action (events the PBX emitted
    while that action was on its way: what the answer then already reflects)."""


def block(*headers: tuple[str, str]) -> bytes:
    return b"".join(f"{k}: {v}".encode() + CRLF for k, v in headers) + CRLF


def split_transcript(data: bytes) -> tuple[bytes, bytes]:
    """(banner line, everything after it)."""
    end = data.index(b"\n") + 1
    return data[:end], data[end:]


def blocks(data: bytes) -> list[bytes]:
    """The transcript's blocks, each with its terminating empty line."""
    parts = data.split(CRLF + CRLF)
    return [part + CRLF + CRLF for part in parts if part.strip()]


class FakeAmi:
    def __init__(self, sessions: list[Session], *,
                 banner: bytes = b"Asterisk Call Manager/7.0.3\r\n",
                 user: str = "esb", secret: str | None = None) -> None:
        self.sessions = sessions
        self.banner = banner
        self.user = user
        self.secret = secret
        self.actions: list[tuple[int, AmiMessage]] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> FakeAmi:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: type[BaseException] | BaseException | TracebackType | None
                        ) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    def actions_named(self, name: str) -> list[tuple[int, AmiMessage]]:
        return [(c, a) for c, a in self.actions if a.name.lower() == name.lower()]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        index = self.connections
        self.connections += 1
        session = self.sessions[index] if index < len(self.sessions) else Session()
        self._writers.add(writer)
        parser = AmiParser(expect_banner=False)
        writer.write(self.banner)
        nonce = "20240312"
        try:
            while not writer.is_closing():
                data = await reader.read(65536)
                if not data:
                    break
                for action in parser.feed(data):
                    self.actions.append((index, action))
                    if not await self._answer(action, session, writer, nonce):
                        return
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, action: AmiMessage, session: Session,
                      writer: asyncio.StreamWriter, nonce: str) -> bool:
        """Reply to one action; False when the connection is to be dropped."""
        name, action_id = action.name.lower(), ("ActionID", action.action_id or "")
        for before, data in session.before_answer.items():
            if before.lower() == name:
                writer.write(data)
        if name == "challenge":
            writer.write(block(("Response", "Success"), action_id, ("Challenge", nonce)))
        elif name == "login":
            if not self._authorized(action, nonce):
                writer.write(block(("Response", "Error"), action_id,
                                   ("Message", "Authentication failed")))
                return True
            writer.write(session.after_login or block(
                ("Response", "Success"), action_id, ("Message", "Authentication accepted")))
        elif name == "ping":
            if session.answer_pings:
                writer.write(block(("Response", "Success"), action_id, ("Ping", "Pong")))
        elif name == "logoff":
            writer.write(block(("Response", "Goodbye"), action_id))
            await writer.drain()
            return False
        elif name in ("coreshowchannels", "queuestatus", "extensionstatelist"):
            items = session.channels if name == "coreshowchannels" else []
            item_event = {"coreshowchannels": "CoreShowChannel", "queuestatus": "QueueMember",
                          "extensionstatelist": "ExtensionStatus"}[name]
            out = block(("Response", "Success"), action_id, ("EventList", "start"))
            for item in items:
                out += block(("Event", item_event), action_id, *item)
            out += block(("Event", item_event + "sComplete" if name == "coreshowchannels"
                          else "ListComplete"), action_id, ("EventList", "Complete"),
                         ("ListItems", str(len(items))))
            writer.write(out)
        else:
            writer.write(block(("Response", "Success"), action_id))
        if name == "login" and session.close and session.hold_until is None:
            await writer.drain()
            return False
        if session.hold_until and name == session.hold_until.lower():
            writer.write(session.rest)
            if session.close:
                await writer.drain()
                return False
        return True

    def _authorized(self, login: AmiMessage, nonce: str) -> bool:
        if login.get("Username") != self.user:
            return False
        if self.secret is None:
            return True
        if (login.get("AuthType") or "").lower() == "md5":
            return login.get("Key") == hashlib.md5((nonce + self.secret).encode()).hexdigest()
        return login.get("Secret") == self.secret
