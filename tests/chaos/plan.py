"""What a chaos run does: how much traffic, which faults, and the calls it publishes."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from typing import Any

from bus.envelope import Envelope

__all__ = ["ChaosPlan", "Traffic", "call_ended"]


@dataclass(frozen=True)
class ChaosPlan:
    messages: int
    calls: int
    kills: int
    broker_restarts: int
    broker_down: float
    crm_slow: float
    """Seconds the CRM answers late (2 s per answer)."""
    billing_down: float
    """Seconds the billing simulator is dead (SIGKILL, then started again)."""
    traffic_seconds: float
    seed: int
    ami_rate: float = 0.0
    """Calls per second the AMI simulator places (0: no AMI simulator, no PBX worker)."""
    pbx_kills: int = 0
    """How many of the ``kills`` hit the PBX worker instead of a bus worker."""
    ami_cuts: int = 0
    """Times the AMI connection is cut mid-call."""
    sync_customers: int = 0
    """Customers of the generated directory whose CRM and billing changes the
    synchronizer gets (0: no synchronizer traffic)."""
    views_per_second: float = 0.0
    """Unified-view requests (the window's scatter-gather) while the faults happen."""

    @classmethod
    def short(cls, seed: int) -> ChaosPlan:
        return cls(messages=2500, calls=250, kills=2, broker_restarts=1, broker_down=3.0,
                   crm_slow=6.0, billing_down=6.0, traffic_seconds=25.0, seed=seed,
                   ami_rate=2.0, pbx_kills=1, ami_cuts=1, sync_customers=60,
                   views_per_second=1.0)

    @classmethod
    def full(cls, seed: int) -> ChaosPlan:
        return cls(messages=100_000, calls=5000, kills=10, broker_restarts=2, broker_down=10.0,
                   crm_slow=60.0, billing_down=60.0, traffic_seconds=600.0, seed=seed,
                   ami_rate=4.0, pbx_kills=3, ami_cuts=3, sync_customers=1000,
                   views_per_second=2.0)

    def scaled(self, messages: int) -> ChaosPlan:
        """The same faults over a traffic of ``messages`` work messages, at the full run's
        pace (``CHAOS_MESSAGES``: a medium run that checks the full one works)."""
        ratio = messages / self.messages
        return replace(self, messages=messages, calls=max(int(self.calls * ratio), 10),
                       sync_customers=max(int(self.sync_customers * ratio), 30),
                       traffic_seconds=max(self.traffic_seconds * ratio, 60.0),
                       crm_slow=min(self.crm_slow, 60.0 * ratio + 5),
                       billing_down=min(self.billing_down, 60.0 * ratio + 5))


@dataclass(frozen=True)
class Traffic:
    """What was published: the work (ids), the poison among it, and the calls (linkedids)."""

    work: frozenset[str]
    poison: frozenset[str]
    calls: frozenset[str]
    published_twice: int
    """Batches sent again after a broker error (their consumers must skip the copies)."""


def call_ended(number: int, rng: random.Random) -> Envelope:
    """An ended inbound call, unique by its linkedid, from a random mobile number."""
    linkedid = f"1710224107.{number}"
    answered = rng.random() < 0.8
    payload: dict[str, Any] = {
        "linkedid": linkedid, "direction": "inbound",
        "caller_number": f"+7912{rng.randrange(10**7):07d}", "called_number": "73912001122",
        "queue": "support", "ring_targets": ["2001", "2002"],
        "answered_by_extension": "2002" if answered else None,
        "started_at": "2024-03-12T06:15:07.000715Z",
        "answered_at": "2024-03-12T06:15:26.491611Z" if answered else None,
        "ended_at": "2024-03-12T06:17:01.499504Z",
        "ring_seconds": 8, "talk_seconds": 95 if answered else 0,
        "disposition": "answered" if answered else "missed",
        "transferred_to": None, "hangup_cause": 16,
    }
    return Envelope(type="pbx.call.ended.v1", payload=payload, source="chaos-pbx",
                    key=linkedid)
