"""One customer call as the state machine accumulates it, and its canonical payloads.

Pure data: :mod:`adapters.pbx.calls` feeds it from AMI events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from adapters.pbx.events import CALL_ANSWERED, CALL_ENDED, CALL_RINGING, CALL_TRANSFERRED
from adapters.pbx.mapping import iso, seconds_between, to_e164

__all__ = ["Call", "Direction"]

Direction = Literal["inbound", "outbound", "internal"]
FAILED_STATUSES = frozenset({"CHANUNAVAIL", "CONGESTION"})


@dataclass(slots=True)
class Call:
    linkedid: str
    started_us: int
    direction: Direction | None = None
    """None while undecided: a call placed by an extension is internal until it dials a
    trunk (then outbound)."""
    caller_number: str | None = None
    called_number: str | None = None
    origin_extension: str | None = None
    customer: str | None = None
    """Uniqueid of the customer's channel (the trunk channel)."""
    queue: str | None = None
    in_queue: bool = False
    queue_abandoned: bool = False
    ring_targets: list[str] = field(default_factory=list)
    announced_targets: int = 0
    first_ring_us: int | None = None
    last_unanswered_us: int | None = None
    pending_dials: set[str] = field(default_factory=set)
    statuses: set[str] = field(default_factory=set)
    answered_us: int | None = None
    answered_by: str | None = None
    answer_approximate: bool = False
    """The answer happened while the AMI connection was down: ``answered_us`` is the
    reconnect time (the canonical call schema has no field for this; it is logged)."""
    caller_hung_up: bool = False
    hung_up_while_waiting: bool = False
    originate_failed: bool = False
    transferred_to: str | None = None
    transferred_us: int | None = None
    transfer_kind: Literal["blind", "attended"] | None = None
    hangup_cause: int | None = None
    channels: dict[str, str] = field(default_factory=dict)
    """Live channels: Uniqueid -> channel name."""
    gone: set[str] = field(default_factory=set)
    """Uniqueids already hung up (a late snapshot must not bring them back)."""
    bridges: dict[str, set[str]] = field(default_factory=dict)
    last_us: int = 0
    ended_us: int | None = None
    timed_out: bool = False
    _e164: tuple[str | None, str | None] | None = None
    """The customer's number and its E.164, remembered: every stage of the call carries it."""

    @property
    def reported(self) -> bool:
        """Customer calls are reported; calls between extensions are not (by default)."""
        return self.direction in ("inbound", "outbound")

    def add_ring_target(self, extension: str | None) -> bool:
        if extension is None or extension in self.ring_targets:
            return False
        self.ring_targets.append(extension)
        return True

    # -- derived values ------------------------------------------------------

    def customer_number(self) -> str | None:
        """The customer's number as the PBX saw it: the caller of an inbound call, the
        number dialled by an outbound one; None for calls between extensions."""
        if self.direction == "inbound":
            return self.caller_number
        return self.called_number if self.direction == "outbound" else None

    def customer_e164(self, region: str) -> str | None:
        """:meth:`customer_number` in E.164; None when withheld or no valid public number."""
        number = self.customer_number()
        if self._e164 is None or self._e164[0] != number:
            self._e164 = (number, to_e164(number, region))
        return self._e164[1]

    def ring_seconds(self) -> int:
        if self.first_ring_us is None:
            return 0
        end = self.answered_us or self.last_unanswered_us or self.ended_us
        return seconds_between(self.first_ring_us, end) if end is not None else 0

    def talk_seconds(self) -> int:
        if self.answered_us is None or self.ended_us is None:
            return 0
        return seconds_between(self.answered_us, self.ended_us)

    def disposition(self) -> str:
        if self.timed_out:
            return "failed"
        if self.answered_us is not None:
            return "answered"
        unanswered = self.statuses - {"ANSWER", ""}
        if self.direction == "outbound":
            if self.originate_failed or (unanswered and unanswered <= FAILED_STATUSES):
                return "failed"
            return "busy" if "BUSY" in unanswered else "missed"
        if self.queue_abandoned or self.hung_up_while_waiting:
            return "abandoned"
        if "BUSY" in unanswered:
            return "busy"
        if unanswered and unanswered <= FAILED_STATUSES:
            return "failed"
        if self.first_ring_us is None and self.caller_hung_up:
            return "abandoned"  # gave up before anyone could be rung (IVR, announcement)
        return "missed"

    # -- payloads (schemas/json/entities/call.json) ----------------------------

    def payload(self, type_: str, region: str = "RU") -> dict[str, Any]:
        """``region``: of national numbers, for ``customer_e164``."""
        builders = {CALL_RINGING: self.ringing_payload, CALL_ANSWERED: self.answered_payload,
                    CALL_TRANSFERRED: self.transferred_payload, CALL_ENDED: self.ended_payload}
        return {**builders[type_](), "customer_e164": self.customer_e164(region)}

    def _base(self) -> dict[str, Any]:
        return {
            "linkedid": self.linkedid,
            "direction": self.direction or "internal",
            "caller_number": self.caller_number,
            "called_number": self.called_number,
            "queue": self.queue,
            "ring_targets": list(self.ring_targets),
        }

    def ringing_payload(self) -> dict[str, Any]:
        return {**self._base(), "started_at": iso(self.started_us)}

    def answered_payload(self) -> dict[str, Any]:
        return {
            **self._base(),
            "answered_by_extension": self.answered_by,
            "started_at": iso(self.started_us),
            "answered_at": iso(self.answered_us),
            "ring_seconds": self.ring_seconds(),
        }

    def transferred_payload(self) -> dict[str, Any]:
        return {
            **self._base(),
            "answered_by_extension": self.answered_by,
            "started_at": iso(self.started_us),
            "answered_at": iso(self.answered_us),
            "transferred_to": self.transferred_to,
            "transferred_at": iso(self.transferred_us),
            "transfer_kind": self.transfer_kind,
        }

    def ended_payload(self) -> dict[str, Any]:
        return {
            **self._base(),
            "answered_by_extension": self.answered_by,
            "started_at": iso(self.started_us),
            "answered_at": iso(self.answered_us),
            "ended_at": iso(self.ended_us),
            "ring_seconds": self.ring_seconds(),
            "talk_seconds": self.talk_seconds(),
            "disposition": self.disposition(),
            "transferred_to": self.transferred_to,
            "hangup_cause": self.hangup_cause,
        }
