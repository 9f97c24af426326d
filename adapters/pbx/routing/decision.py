"""What routing answers: the targets of a call and the rule that chose them, with why."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from adapters.pbx.routing.directory import Assignment

__all__ = ["Decision", "RouteRequest"]


@dataclass(frozen=True, slots=True)
class RouteRequest:
    linkedid: str
    caller: str | None
    """The caller as the PBX saw it."""
    caller_e164: str | None
    """The caller in E.164, None when hidden, internal or not a phone number."""
    called: str | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    linkedid: str
    rule: str
    """One of the ``rule`` values of ``pbx.route.decided.v1``."""
    reason: str
    targets: tuple[str, ...] = ()
    """Extensions to ring at once (several for ring-all)."""
    queue: str | None = None
    voicemail: str | None = None
    manager_id: str | None = None
    customer_id: str | None = None
    region: str | None = None
    assignment: Assignment | None = None
    """A new auto-assignment to remember and announce to the CRM (a lead)."""

    @property
    def kind(self) -> str:
        if self.targets:
            return "extension"
        return "voicemail" if self.voicemail else "queue"

    def to_payload(self, decided_at: dt.datetime | None = None) -> dict[str, Any]:
        """The ``pbx.route.decided.v1`` payload."""
        at = decided_at or dt.datetime.now(dt.UTC)
        return {
            "linkedid": self.linkedid,
            "target_extension": self.targets[0] if self.targets else None,
            "target_queue": self.queue, "targets": list(self.targets),
            "voicemail": self.voicemail, "rule": self.rule, "manager_id": self.manager_id,
            "customer_id": self.customer_id, "region": self.region,
            "reason": self.reason[:256],
            "decided_at": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }

    def to_json(self) -> dict[str, Any]:
        """The HTTP answer: the payload plus what the dialplan dials."""
        return {**self.to_payload(), "kind": self.kind}

    def dial(self, template: str) -> str:
        """``PJSIP/2001&PJSIP/2002`` for extensions, else the queue or mailbox name."""
        if self.targets:
            return "&".join(template.format(extension=e) for e in self.targets)
        return self.voicemail or self.queue or ""

    def to_text(self, template: str) -> str:
        """One line for Asterisk ``CURL()``: ``kind,dial,rule`` (split with ``CUT``)."""
        return f"{self.kind},{self.dial(template)},{self.rule}"
