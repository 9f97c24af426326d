"""An asyncio client for the Asterisk Manager Interface (or anything speaking AMI).

::

    client = AmiClient(settings, on_events=handle, on_login=rebuild)
    await client.start()              # connects in the background; reconnects by itself
    reply = await client.send_action("Originate", {"Channel": "PJSIP/2003", ...})
    channels = await client.core_show_channels()
    await client.stop()

A session: banner line, ``Login`` (plain ``Secret`` or MD5 ``Challenge``) with ActionID
``login-1``, optional event ``Filter`` actions, then events flow to ``on_events`` in
batches (one per socket read) while a keep-alive ``Ping`` checks the link. When the
connection drops or stops answering, the client reconnects with exponential backoff
(tenacity) and logs in again; ``on_login(reconnected=True)`` then lets the owner rebuild
its state from the PBX. Replies are matched to actions by ActionID.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from typing import Any

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, wait_exponential

from adapters.pbx.ami.actions import (
    ActionFailed,
    ActionResult,
    AmiConnectionLost,
    AmiError,
    Connection,
)
from adapters.pbx.ami.protocol import AmiMessage, AmiParser, ParserStats
from adapters.pbx.settings import AmiSettings

__all__ = ["AmiAuthFailed", "AmiClient"]

log = logging.getLogger(__name__)

EventsHandler = Callable[[list[AmiMessage]], Awaitable[None]]
LoginHook = Callable[[bool], Coroutine[Any, Any, None]]
RECOVERABLE = (OSError, EOFError, TimeoutError, AmiError)
READ_SIZE = 64 * 1024
"""Everything the stream has buffered is taken at once: a reset (after the PBX closed)
makes the stream drop what was not read yet."""
BYTES_PER_TURN = 8 * 1024
"""Bytes parsed and handled (some 25 events) before the reader lets the event loop run
other callbacks. The loop is shared with routing's dialplan door and the screen pop: a
64 KiB read holds some 200 events, tens of milliseconds of work in one go without this."""


class AmiAuthFailed(AmiError):
    """The PBX refused the Login (wrong user, secret or permissions)."""


class _StableSessionEnded(Exception):
    """A session that had run for a while ended: reconnect at once, backoff reset."""


class AmiClient:
    def __init__(self, settings: AmiSettings, *, on_events: EventsHandler,
                 on_login: LoginHook | None = None, keep_events: Sequence[str] | None = None,
                 filters: Sequence[str] = ()) -> None:
        """``keep_events``: the event names ``on_events`` wants (None: all); the others are
        dropped before they are parsed. ``filters``: AMI ``Filter`` expressions sent after
        each login, after ``settings.event_filters``."""
        self.settings = settings
        self.keep_events = None if keep_events is None else tuple(keep_events)
        self.filters = (*settings.event_filters, *filters)
        self.stats = ParserStats()
        """The current session's parser figures (events read, events skipped unparsed...)."""
        self.banner: str | None = None
        self.sessions = 0
        self.connected = asyncio.Event()
        self.last_error: str | None = None
        self._on_events = on_events
        self._on_login = on_login
        self._conn: Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._background: set[asyncio.Task[Any]] = set()
        self._last_read = 0.0
        """When the reader last got bytes (monotonic): a link that delivers is alive."""

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="ami-client")

    async def wait_connected(self, timeout: float) -> None:
        await asyncio.wait_for(self.connected.wait(), timeout)

    async def stop(self) -> None:
        self._stopping = True
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self.send_action("Logoff", timeout=1.0)
        tasks = {t for t in (self._task, *self._background) if t is not None}
        while tasks:  # asyncio.wait_for in 3.11 may swallow a cancel: insist until done
            for task in tasks:
                task.cancel()
            _, tasks = await asyncio.wait(tasks, timeout=0.5)
        self._task = None

    # -- actions ---------------------------------------------------------------------

    async def send_action(self, name: str,
                          fields: Mapping[str, str | Iterable[str]] | None = None, *,
                          timeout: float | None = None) -> AmiMessage:
        """Send an action and return its reply; raises :class:`ActionFailed` on ``Error``."""
        return (await self._send(name, fields, timeout, is_list=False)).response

    async def send_list_action(self, name: str,
                               fields: Mapping[str, str | Iterable[str]] | None = None, *,
                               timeout: float | None = None) -> ActionResult:
        """An action answered by a list of events ending with ``EventList: Complete``."""
        return await self._send(name, fields, timeout, is_list=True)

    async def originate(self, channel: str, *, exten: str, context: str, priority: str = "1",
                        caller_id: str | None = None, timeout_ms: int = 30_000,
                        variables: Iterable[str] = (), run_async: bool = True,
                        timeout: float | None = None) -> AmiMessage:
        """Click-to-call: ring ``channel`` (the agent), then dial ``exten`` in ``context``.

        With ``run_async`` the reply only says the call is queued; the outcome arrives as an
        ``OriginateResponse`` event with the same ActionID.
        """
        fields: dict[str, str | Iterable[str]] = {
            "Channel": channel, "Exten": exten, "Context": context, "Priority": priority,
            "Timeout": str(timeout_ms), "Async": "true" if run_async else "false",
        }
        if caller_id:
            fields["CallerID"] = caller_id
        if variables:
            fields["Variable"] = list(variables)
        return await self.send_action("Originate", fields, timeout=timeout)

    async def core_show_channels(self) -> list[AmiMessage]:
        return (await self.send_list_action("CoreShowChannels")).items

    async def queue_status(self) -> list[AmiMessage]:
        return (await self.send_list_action("QueueStatus")).items

    async def extension_state_list(self) -> list[AmiMessage]:
        return (await self.send_list_action("ExtensionStateList")).items

    async def _send(self, name: str, fields: Mapping[str, str | Iterable[str]] | None,
                    timeout: float | None, *, is_list: bool) -> ActionResult:
        conn = self._conn
        if conn is None:
            raise AmiConnectionLost("not connected to the AMI")
        return await conn.send(name, fields, timeout=timeout or self.settings.action_timeout,
                               is_list=is_list)

    # -- the connection loop -----------------------------------------------------------

    async def _run(self) -> None:
        settings = self.settings
        while not self._stopping:
            retrying = AsyncRetrying(
                wait=wait_exponential(multiplier=settings.reconnect_initial,
                                      min=settings.reconnect_initial, max=settings.reconnect_max),
                retry=retry_if_exception_type(RECOVERABLE),
                stop=lambda _state: self._stopping,
                before_sleep=self._before_retry,
                reraise=True,
            )
            try:
                async for attempt in retrying:
                    with attempt:
                        await self._session()
            except _StableSessionEnded:
                continue
            except Exception:
                if self._stopping:
                    return
                log.exception("AMI client failed unexpectedly; restarting in %.0f s",
                              settings.reconnect_max)
                await asyncio.sleep(settings.reconnect_max)

    def _before_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        self.last_error = f"{type(error).__name__}: {error}"
        level = logging.ERROR if isinstance(error, AmiAuthFailed) else logging.WARNING
        log.log(level, "AMI %s:%s unavailable (%s); retry %d in %.1f s", self.settings.ami_host,
                self.settings.ami_port, self.last_error, state.attempt_number, delay)

    async def _session(self) -> None:
        settings = self.settings
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(settings.ami_host, settings.ami_port),
            settings.connect_timeout)
        conn = Connection(writer)
        tasks: list[asyncio.Task[None]] = []
        started: float | None = None
        try:
            line = await asyncio.wait_for(reader.readline(), settings.connect_timeout)
            if not line:
                raise AmiConnectionLost("closed before the banner")
            self.banner = line.decode("utf-8", "replace").strip()
            tasks.append(asyncio.create_task(self._read(reader, conn), name="ami-reader"))
            await self._login(conn)
            self._conn = conn
            self.sessions += 1
            self.last_error = None
            self.connected.set()
            started = time.monotonic()
            log.info("AMI session %d with %s (%s)", self.sessions, settings.ami_host, self.banner)
            tasks.append(asyncio.create_task(self._keepalive(conn), name="ami-keepalive"))
            if self.filters:
                self._spawn(self._add_filters(conn))
            if self._on_login is not None:
                self._spawn(self._on_login(self.sessions > 1))
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
            raise AmiConnectionLost("session ended")
        except RECOVERABLE as error:
            if (started is not None and not self._stopping
                    and time.monotonic() - started >= settings.stable_after):
                self.last_error = f"{type(error).__name__}: {error}"
                log.warning("AMI connection lost (%s); reconnecting", self.last_error)
                raise _StableSessionEnded from error
            raise
        finally:
            self.connected.clear()
            self._conn = None
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            conn.pending.fail_all(AmiConnectionLost("connection closed"))
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _login(self, conn: Connection) -> None:
        settings = self.settings
        secret = settings.ami_secret.get_secret_value()
        fields: dict[str, str | Iterable[str]] = {"Username": settings.ami_user}
        try:
            if settings.auth == "md5":
                challenge = await conn.send("Challenge", {"AuthType": "MD5"},
                                            timeout=settings.action_timeout)
                nonce = challenge.response.get("Challenge") or ""
                fields["AuthType"] = "MD5"
                fields["Key"] = hashlib.md5((nonce + secret).encode()).hexdigest()
            else:
                fields["Secret"] = secret
            fields["Events"] = settings.events
            await conn.send("Login", fields, timeout=settings.action_timeout)
        except ActionFailed as refused:
            raise AmiAuthFailed(f"login as {settings.ami_user!r} refused: {refused}") from None

    async def _read(self, reader: asyncio.StreamReader, conn: Connection) -> None:
        parser = AmiParser(expect_banner=False, max_value_chars=self.settings.max_value_chars,
                           keep_events=self.keep_events)
        self.stats = parser.stats
        try:
            while True:
                data = await reader.read(READ_SIZE)
                if not data:
                    raise AmiConnectionLost("the PBX closed the connection")
                self._last_read = time.monotonic()
                for offset in range(0, len(data), BYTES_PER_TURN):
                    if offset:
                        await asyncio.sleep(0)  # the others' turn: see BYTES_PER_TURN
                    await self._take(parser.feed(data[offset:offset + BYTES_PER_TURN]), conn)
                await asyncio.sleep(0)  # a read from a full buffer does not yield
        finally:
            conn.pending.fail_all(AmiConnectionLost("connection closed"))

    async def _take(self, messages: list[AmiMessage], conn: Connection) -> None:
        """Replies to their actions, events to the owner."""
        events = []
        for message in messages:
            if conn.pending.take(message):
                continue
            if message.kind == "event":
                events.append(message)
            else:
                log.debug("AMI %s for no pending action: %s", message.kind, message.action_id)
        if events:
            try:
                await self._on_events(events)
            except Exception:  # the owner's bug must not cost the connection
                log.exception("handling %d AMI events failed", len(events))

    async def _keepalive(self, conn: Connection) -> None:
        settings = self.settings
        while True:
            await asyncio.sleep(settings.ping_interval)
            try:
                await conn.send("Ping", None, timeout=settings.ping_timeout)
            except TimeoutError:
                if time.monotonic() - self._last_read < settings.ping_timeout:
                    # bytes keep coming: the link is alive, the Pong is queued behind the
                    # events this reader has not caught up with yet (a busy process)
                    log.warning("AMI Ping unanswered in %g s while events flow: the reader "
                                "is behind the PBX", settings.ping_timeout)
                    continue
                raise AmiConnectionLost(
                    f"no answer to Ping within {settings.ping_timeout:g} s") from None
            except ActionFailed:
                pass  # an answer all the same: the link is alive

    async def _add_filters(self, conn: Connection) -> None:
        for expression in self.filters:
            try:
                await conn.send("Filter", {"Operation": "Add", "Filter": expression},
                                timeout=self.settings.action_timeout)
            except (AmiError, TimeoutError) as error:
                log.warning("AMI event filter %r not added: %s", expression, error)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
