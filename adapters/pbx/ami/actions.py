"""Actions in flight on one AMI connection: ActionIDs, futures for replies and lists.

A plain action resolves with its ``Response`` block. A list action (``CoreShowChannels``,
``QueueStatus``, ``ExtensionStateList``) resolves once the event carrying
``EventList: Complete`` arrives, with every event in between that carries its ActionID.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from adapters.pbx.ami.protocol import AmiMessage, encode_action

__all__ = [
    "ActionFailed",
    "ActionResult",
    "AmiConnectionLost",
    "AmiError",
    "Connection",
    "PendingActions",
]


class AmiError(Exception):
    """Base of the AMI client's errors."""


class AmiConnectionLost(AmiError):
    """The connection closed or stopped answering; the client reconnects."""


class ActionFailed(AmiError):
    """The PBX answered ``Response: Error``."""

    def __init__(self, action: str, response: AmiMessage) -> None:
        super().__init__(f"{action}: {response.get('Message') or response.name}")
        self.response = response


@dataclass(slots=True)
class ActionResult:
    response: AmiMessage
    items: list[AmiMessage] = field(default_factory=list)
    """The list's events (without the final ``...Complete`` one)."""
    complete: AmiMessage | None = None


@dataclass(slots=True)
class _Pending:
    name: str
    future: asyncio.Future[ActionResult]
    is_list: bool
    response: AmiMessage | None = None
    items: list[AmiMessage] = field(default_factory=list)


class PendingActions:
    def __init__(self) -> None:
        self._counters: dict[str, int] = {}
        self._pending: dict[str, _Pending] = {}

    def new_id(self, action: str) -> str:
        """``login-1``, ``ping-1``, ``ping-2``, ``originate-1``: readable and per connection."""
        key = action.lower()
        self._counters[key] = self._counters.get(key, 0) + 1
        return f"{key}-{self._counters[key]}"

    def expect(self, action: str, action_id: str, *, is_list: bool = False
               ) -> asyncio.Future[ActionResult]:
        future: asyncio.Future[ActionResult] = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(action, future, is_list)
        return future

    def forget(self, action_id: str) -> None:
        self._pending.pop(action_id, None)

    def take(self, message: AmiMessage) -> bool:
        """Route a reply or a list item to its action; False if it belongs to none."""
        action_id = message.action_id
        pending = self._pending.get(action_id or "")
        if pending is None or action_id is None:
            return False
        if message.kind == "response":
            pending.response = message
            failed = message.name.lower() == "error"
            if not pending.is_list or failed:
                self._finish(action_id, pending, None)
            return True
        if message.kind == "event" and pending.is_list:
            if (message.get("EventList") or "").lower() == "complete":
                self._finish(action_id, pending, message)
            else:
                pending.items.append(message)
            return True
        return False  # e.g. OriginateResponse: a live event that carries the ActionID

    def fail_all(self, error: BaseException) -> None:
        for pending in self._pending.values():
            if not pending.future.done():
                pending.future.set_exception(error)
        self._pending.clear()

    def _finish(self, action_id: str, pending: _Pending, complete: AmiMessage | None) -> None:
        del self._pending[action_id]
        if pending.future.done():
            return
        response = pending.response or complete
        assert response is not None  # a reply or a list's end: one of them finished it
        if response.kind == "response" and response.name.lower() == "error":
            pending.future.set_exception(ActionFailed(pending.name, response))
        else:
            pending.future.set_result(ActionResult(response, pending.items, complete))


class Connection:
    """One TCP connection: its writer and the actions waiting for replies on it."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.pending = PendingActions()

    async def send(self, name: str, fields: Mapping[str, str | Iterable[str]] | None, *,
                   timeout: float, is_list: bool = False) -> ActionResult:
        action_id = self.pending.new_id(name)
        future = self.pending.expect(name, action_id, is_list=is_list)
        try:
            if self.writer.is_closing():  # uvloop raises on a write to a closed transport
                raise AmiConnectionLost(f"{name} not sent: the connection is closed")
            try:
                self.writer.write(encode_action(name, action_id, fields))
                await self.writer.drain()
            except OSError as error:  # reset, broken pipe: the session is over
                raise AmiConnectionLost(f"{name} not sent: {error}") from error
            return await asyncio.wait_for(future, timeout)
        finally:
            self.pending.forget(action_id)
