"""Zadarma notifications -> canonical PBX call events: a pure state machine, no I/O.

One call per ``pbx_call_id`` (the canonical ``linkedid``):

* ``NOTIFY_START`` (a call reached the PBX): the call starts; nothing is published yet;
* ``NOTIFY_INTERNAL`` (an extension is rung): ``pbx.call.ringing.v1`` with the ring targets
  so far, each time a new extension rings (ring-all rings several);
* ``NOTIFY_ANSWER``: ``pbx.call.answered.v1`` once, by the answering extension;
* ``NOTIFY_END`` / ``NOTIFY_OUT_END``: ``pbx.call.ended.v1`` once, with Zadarma's
  disposition, talk time (``duration``) and Q.850 status;
* ``NOTIFY_OUT_START`` (an extension dials out): an outbound call starts.

Zadarma gives the start time (``call_start``, in the account's time zone) but no time
for the other notifications: those are stamped with the time they arrive.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING, PbxEvent
from adapters.pbx.mapping import caller_number, dialed_number, iso, seconds_between, to_e164

__all__ = ["EVENTS", "CloudCall", "InvalidNotification", "apply", "notification_key"]

EVENTS = frozenset({"NOTIFY_START", "NOTIFY_INTERNAL", "NOTIFY_ANSWER", "NOTIFY_END",
                    "NOTIFY_OUT_START", "NOTIFY_OUT_END"})
_CALL_ID = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._:@/+=\-]{0,127}$")
_EXTENSION = re.compile(r"^[0-9]{2,10}$")
_DISPOSITIONS = {"answered": "answered", "busy": "busy", "cancel": "abandoned",
                 "no answer": "missed"}
"""Zadarma's dispositions; anything else ('failed', 'no money', 'unallocated number',
'line limit', ...) is ``failed``."""


class InvalidNotification(ValueError):
    """Not a call notification we can map (missing or malformed fields)."""


@dataclass(slots=True)
class CloudCall:
    """One call as its notifications accumulate it (stored as JSON between webhooks)."""

    linkedid: str
    direction: Literal["inbound", "outbound"]
    started_us: int
    caller_number: str | None = None
    called_number: str | None = None
    customer_e164: str | None = None
    """The customer's number (inbound: the caller; outbound: the dialled one) in E.164."""
    ring_targets: list[str] = field(default_factory=list)
    first_ring_us: int | None = None
    answered_by: str | None = None
    answered_us: int | None = None
    ended_us: int | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CloudCall:
        return cls(**data)

    def _base(self) -> dict[str, Any]:
        return {"linkedid": self.linkedid, "direction": self.direction,
                "caller_number": self.caller_number, "customer_e164": self.customer_e164,
                "called_number": self.called_number, "queue": None,
                "ring_targets": list(self.ring_targets), "started_at": iso(self.started_us)}

    def _event(self, type_: str, at_us: int, payload: dict[str, Any]) -> PbxEvent:
        return PbxEvent(type=type_, key=self.linkedid, at_us=at_us, payload=payload)


def notification_key(form: dict[str, str]) -> str:
    """What makes a notification the same one when Zadarma sends it again."""
    return f"{form.get('event', '')}:{form.get('internal', '')}"


def _field(form: dict[str, str], name: str) -> str:
    value = (form.get(name) or "").strip()
    if not value:
        raise InvalidNotification(f"{form.get('event')}: {name} is missing")
    return value


def _extension(value: str | None) -> str | None:
    value = (value or "").strip()
    return value if _EXTENSION.match(value) else None


def call_id(form: dict[str, str]) -> str:
    value = _field(form, "pbx_call_id")
    if not _CALL_ID.match(value):
        raise InvalidNotification("pbx_call_id is not an identifier")
    return value


def _started_us(form: dict[str, str], zone: ZoneInfo) -> int:
    try:
        moment = datetime.strptime(_field(form, "call_start"), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        raise InvalidNotification("call_start is not 'YYYY-MM-DD HH:MM:SS'") from None
    if not 1970 <= moment.year < 9999:  # year 1 east of UTC overflows; before 1970 no call
        raise InvalidNotification("call_start is not a plausible time")
    return int(moment.replace(tzinfo=zone).timestamp() * 1_000_000)


def new_call(form: dict[str, str], zone: ZoneInfo, region: str = "RU") -> CloudCall:
    """The call a notification describes, as far as that notification alone tells;
    ``region``: of national numbers, for ``customer_e164``."""
    started_us = _started_us(form, zone)
    if form.get("event", "").startswith("NOTIFY_OUT_"):
        agent = _extension(form.get("internal"))
        dialled = dialed_number(form.get("destination"))
        return CloudCall(linkedid=call_id(form), direction="outbound", started_us=started_us,
                         caller_number=dialed_number(form.get("internal")),
                         called_number=dialled, customer_e164=to_e164(dialled, region),
                         ring_targets=[agent] if agent else [], first_ring_us=started_us)
    caller = caller_number(form.get("caller_id"))
    return CloudCall(linkedid=call_id(form), direction="inbound", started_us=started_us,
                     caller_number=caller, customer_e164=to_e164(caller, region),
                     called_number=dialed_number(form.get("called_did")))


def apply(call: CloudCall, form: dict[str, str], now_us: int) -> list[PbxEvent]:
    """Advance ``call`` by one notification; the canonical events it causes."""
    if call.ended_us is not None:
        return []
    event = form.get("event", "")
    if event == "NOTIFY_INTERNAL":
        return _ring(call, _extension(form.get("internal")), now_us)
    if event == "NOTIFY_ANSWER":
        return _answer(call, _extension(form.get("internal")), now_us)
    if event in ("NOTIFY_END", "NOTIFY_OUT_END"):
        return _end(call, form, now_us)
    return []


def _ring(call: CloudCall, extension: str | None, now_us: int) -> list[PbxEvent]:
    if extension is None or extension in call.ring_targets or call.answered_us is not None:
        return []
    call.ring_targets.append(extension)
    if call.first_ring_us is None:
        call.first_ring_us = now_us
    return [call._event(CALL_RINGING, now_us, call._base())]


def _answer(call: CloudCall, extension: str | None, now_us: int) -> list[PbxEvent]:
    if call.answered_us is not None:
        return []
    if extension is not None and extension not in call.ring_targets:
        call.ring_targets.append(extension)
    call.answered_by = extension
    call.answered_us = now_us
    rang_from = call.first_ring_us if call.first_ring_us is not None else call.started_us
    return [call._event(CALL_ANSWERED, now_us, {
        **call._base(), "answered_by_extension": extension, "answered_at": iso(now_us),
        "ring_seconds": seconds_between(rang_from, now_us)})]


def _end(call: CloudCall, form: dict[str, str], now_us: int) -> list[PbxEvent]:
    disposition = _DISPOSITIONS.get((form.get("disposition") or "").strip().lower(), "failed")
    if call.answered_us is not None:
        disposition = "answered"  # NOTIFY_ANSWER came: someone took the call
    talk = min(_whole(form.get("duration")), _LONGEST_TALK_S) if disposition == "answered" else 0
    call.ended_us = max(now_us, call.started_us)
    if disposition == "answered" and call.answered_us is None:
        call.answered_us = max(call.started_us, call.ended_us - talk * 1_000_000)
        call.answered_by = _extension(form.get("internal"))
    if call.answered_by is not None and call.answered_by not in call.ring_targets:
        call.ring_targets.append(call.answered_by)
    rang_from = call.first_ring_us if call.first_ring_us is not None else call.ended_us
    rang_until = call.answered_us if call.answered_us is not None else call.ended_us
    status = _whole(form.get("status_code"))
    return [call._event(CALL_ENDED, call.ended_us, {
        **call._base(), "answered_by_extension": call.answered_by,
        "answered_at": iso(call.answered_us), "ended_at": iso(call.ended_us),
        "ring_seconds": seconds_between(rang_from, rang_until), "talk_seconds": talk,
        "disposition": disposition, "transferred_to": None,
        "hangup_cause": status if 0 < status <= 127 else None})]


_LONGEST_TALK_S = 86_400
"""A ``duration`` above a day is junk, not a call: capped (it lands in integer columns)."""


def _whole(value: str | None) -> int:
    """A non-negative whole number from a form field; junk, ``inf`` and ``nan`` are 0."""
    try:
        return max(0, int(float((value or "0").strip())))
    except (ValueError, OverflowError):  # int(float("inf")) overflows, int(nan) is a ValueError
        return 0
