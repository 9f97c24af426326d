"""Click-to-call on the PBX side: ``pbx.originate.requested.v1`` -> AMI ``Originate``.

The agent's phone rings first; when the agent picks up, the PBX dials the
number (``Originate`` with ``Channel: PJSIP/<agent>`` and ``Exten: <number>`` in
the outbound context). The outcome is published as the event ``pbx.originate.replied.v1`` (same
correlation id as the request): ``accepted`` with the call id (the agent
channel's Uniqueid, which is the new call's Linkedid) once Asterisk's
``OriginateResponse`` says ``Success``, or ``failed`` with the reason (no AMI
session, the action refused, the agent did not answer or was busy, the request
too old to act on). The call's own events (``pbx.call.*``) then flow as usual.

A requester that asks with ``bus.request`` (the operator page) gets a direct reply
within ``REPLY_WITHIN`` seconds: the outcome if it is known by then, else
``accepted`` without a call id ("the agent's phone is ringing"); the event still
carries the final outcome when it comes.

A request is acted on once: its subscription is idempotent and never retried,
so a failure can never ring an agent twice; a request whose requester's deadline
has passed is dropped unanswered.

Settings ``ESB_PBX__ORIGINATE__*``: ``CONTEXT`` (dialplan context of the outbound
leg, default ``from-internal``), ``CHANNEL`` (``PJSIP/{extension}``),
``CALLER_ID``, ``RING_SECONDS`` (how long the agent's phone rings, 30),
``WAIT_SECONDS`` (how long to wait for the outcome before answering ``accepted``
without a call id, 40), ``REPLY_WITHIN`` (the direct reply's wait, 3),
``MAX_AGE`` (older requests are refused, 60).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from adapters.pbx.ami.actions import ActionFailed, AmiError
from adapters.pbx.ami.client import AmiClient
from adapters.pbx.ami.protocol import AmiMessage
from bus.adapters import AdapterSettings
from bus.context import Context
from bus.delivery.retry import RetryPolicy
from bus.envelope import Envelope
from bus.masking import mask_phone
from bus.router import Router, Subscription

__all__ = ["ORIGINATE_REPLIED", "ORIGINATE_REQUESTED", "OriginateSettings", "Originator",
           "originate_call", "router"]

log = logging.getLogger(__name__)

ORIGINATE_REQUESTED = "pbx.originate.requested.v1"
ORIGINATE_REPLIED = "pbx.originate.replied.v1"
REASONS = {"0": "the call could not be placed", "1": "the agent's phone hung up",
           "3": "the agent did not answer", "5": "the agent's phone is busy",
           "8": "the network is congested"}
"""Asterisk's ``OriginateResponse`` ``Reason`` (an AST_CONTROL code) -> why it failed."""
_NUMBER = re.compile(r"^\+?[0-9*#]{1,32}$")


class OriginateSettings(AdapterSettings):
    model_config = SettingsConfigDict(env_prefix="ESB_PBX__ORIGINATE__", extra="ignore")

    context: str = Field("from-internal", description="dialplan context of the outbound leg")
    channel: str = Field("PJSIP/{extension}", description="the agent's channel")
    caller_id: str | None = Field(None, description="CallerID shown on the agent's phone")
    ring_seconds: float = Field(30.0, gt=0, description="how long the agent's phone rings")
    wait_seconds: float = Field(40.0, gt=0, description="how long to wait for the outcome")
    max_age: float = Field(60.0, gt=0, description="older requests are refused, not dialled")
    reply_within: float = Field(3.0, gt=0, description="the direct reply waits this long")


class Originator:
    """Sends ``Originate`` and matches Asterisk's ``OriginateResponse`` events to it.

    :meth:`observe` must see every AMI event batch (the PBX adapter feeds it).
    """

    def __init__(self, client: AmiClient, settings: OriginateSettings | None = None,
                 extension_pattern: str = r"[0-9]{3,6}") -> None:
        self.client = client
        self.settings = settings or OriginateSettings()
        self._extension = re.compile(f"^(?:{extension_pattern})$")
        self._waiting: dict[str, asyncio.Future[AmiMessage]] = {}
        self._early: OrderedDict[str, AmiMessage] = OrderedDict()
        self._background: set[asyncio.Task[Any]] = set()

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a background task (a late outcome being published) until it is done."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def observe(self, messages: Iterable[AmiMessage]) -> None:
        """Hand ``OriginateResponse`` events to the originations waiting for them."""
        for message in messages:
            if message.kind != "event" or message.name != "OriginateResponse":
                continue
            action_id = message.action_id or ""
            waiting = self._waiting.pop(action_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(message)
            else:  # it may come before the action's reply has been handed back
                self._early[action_id] = message
                while len(self._early) > 256:
                    self._early.popitem(last=False)

    async def originate(self, request: dict[str, Any], *, age: float = 0.0
                        ) -> tuple[dict[str, Any], asyncio.Task[dict[str, Any]] | None]:
        """Ring the agent, then the number: the ``pbx.originate.replied.v1`` payload known
        within ``reply_within`` seconds and, while the outcome is still pending, the task
        that gives the final one."""
        agent, number = str(request["agent_extension"]), str(request["number"])
        reply: dict[str, Any] = {"status": "failed", "reason": None, "call_id": None,
                                 "agent_extension": agent, "number": number,
                                 "requested_by": request.get("requested_by"),
                                 "crm_entity": request.get("crm_entity")}
        if age > self.settings.max_age:
            return {**reply, "reason": f"the request is {age:.0f} s old: not dialled"}, None
        if not self._extension.match(agent) or not _NUMBER.match(number):
            return {**reply, "reason": "not an agent extension and a number to dial"}, None
        try:
            response = await self.client.originate(
                self.settings.channel.format(extension=agent), exten=number,
                context=self.settings.context, caller_id=self.settings.caller_id,
                timeout_ms=int(self.settings.ring_seconds * 1000))
        except ActionFailed as error:
            return {**reply, "reason": f"the PBX refused: {error}"[:256]}, None
        except (AmiError, TimeoutError, OSError) as error:
            return {**reply,
                    "reason": f"the PBX is not reachable: {error or 'timeout'}"[:256]}, None
        final = asyncio.create_task(self._final(reply, response.action_id or "", number))
        await asyncio.wait({final}, timeout=self.settings.reply_within)
        if final.done():
            return final.result(), None
        return {**reply, "status": "accepted", "reason": "the agent's phone is ringing"}, final

    async def _final(self, reply: dict[str, Any], action_id: str, number: str
                     ) -> dict[str, Any]:
        outcome = await self._outcome(action_id, number)
        if outcome is None:
            return {**reply, "status": "accepted",
                    "reason": "queued by the PBX; no outcome reported in time"}
        if (outcome.get("Response") or "").lower() != "success":
            why = REASONS.get(outcome.get("Reason") or "", "the call could not be placed")
            return {**reply, "reason": why}
        return {**reply, "status": "accepted", "call_id": outcome.get("Uniqueid") or None}

    async def _outcome(self, action_id: str, number: str) -> AmiMessage | None:
        early = self._early.pop(action_id, None)
        if early is not None and early.get("Exten") in (None, number):
            return early
        future: asyncio.Future[AmiMessage] = asyncio.get_running_loop().create_future()
        self._waiting[action_id] = future
        try:
            return await asyncio.wait_for(future, self.settings.wait_seconds)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(action_id, None)


async def originate_call(envelope: Envelope, context: Context, originator: Originator
                         ) -> dict[str, Any]:
    """Click-to-call: ring the agent, then the number; publish the outcome, reply with
    what is known."""
    age = time.time() - envelope.occurred_at.timestamp()
    reply, pending = await originator.originate(dict(envelope.payload), age=age)
    if pending is None:
        await _publish(context, reply)
    else:
        originator.keep(asyncio.create_task(_publish_when_done(context, pending)))
    return reply


async def _publish(context: Context, reply: dict[str, Any]) -> None:
    log.info("click-to-call %s -> %s: %s %s", reply["agent_extension"],
             mask_phone(reply["number"]), reply["status"], reply["reason"] or reply["call_id"])
    await context.publish(ORIGINATE_REPLIED, reply, key=reply["agent_extension"])


async def _publish_when_done(context: Context, pending: asyncio.Task[dict[str, Any]]) -> None:
    try:
        await _publish(context, await pending)
    except Exception:
        log.exception("click-to-call %s: the outcome could not be published",
                      context.envelope.id)


router = Router(source="pbx")
router.subscriptions.append(Subscription(
    # a responder (direct reply to bus.request) that is also idempotent: a redelivered
    # request must never ring the agent again, which Router.responder does not promise
    name="pbx.originate", patterns=(ORIGINATE_REQUESTED,), handler=originate_call,
    retry=RetryPolicy(max_attempts=1, delays=()), idempotent=True, concurrency=8,
    reply_type=ORIGINATE_REPLIED,
    description="Click-to-call: ring the agent, then the number; reply with the outcome."))
