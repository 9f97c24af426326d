"""AMI messages in, canonical PBX events out: the call state machine and presence together.

Pure: the live adapter and ``replay`` run the very same object, so a captured transcript
replays exactly as it ran.

After a reconnect (a ``FullyBooted`` once events have been seen: Asterisk sends one to
every new session), events are held until :meth:`Pipeline.reconcile` applies the snapshot,
then applied in order: what the PBX did after the snapshot cannot overtake it (a call whose
answer was lost but whose hangup arrives while the snapshot is being read would otherwise
end unanswered). Held events are released anyway if no snapshot comes within
``rebuild_wait`` seconds (of ``clock`` time).

The first session is held from its very first event (``hold_first_session``) until
:meth:`Pipeline.adopt` has taken in the calls already in progress: an event of such a
call applied before then would find no call and be lost - its ``Hangup`` with it, and
so its call record (issue #4). Held, those events are read for the calls they show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.calls import CallTracker
from adapters.pbx.events import PbxEvent
from adapters.pbx.mapping import DEFAULT_EXTENSION_PATTERN, ChannelRules
from adapters.pbx.presence import PresenceTracker

__all__ = ["AMI_FILTERS", "NEEDED_EVENTS", "Pipeline", "Snapshot"]

log = logging.getLogger(__name__)

NEEDED_EVENTS = (
    # the call state machine (CallTracker._on_*)
    "Newchannel", "DialBegin", "DialEnd", "AgentCalled", "AgentConnect", "BridgeEnter",
    "BridgeLeave", "QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
    "HangupRequest", "Hangup", "VarSet", "BlindTransfer", "AttendedTransfer",
    "OriginateResponse",
    # presence (PresenceTracker.handle)
    "DeviceStateChange", "ExtensionStatus", "QueueMemberAdded", "QueueMemberRemoved",
    "QueueMemberPause", "QueueMemberPaused",
    # a new session after a reconnect
    "FullyBooted",
)
"""The AMI events the pipeline (and click-to-call) read; the reader drops the rest unparsed.
A busy Asterisk sends several times more (``Newstate``, ``Newexten``, ``VarSet`` of every
dialplan variable, ``BridgeCreate``...): parsing them is most of the adapter's CPU."""

AMI_FILTERS = (
    "Event: (" + "|".join(e for e in NEEDED_EVENTS if e != "VarSet") + ")",
    "Variable: DIALSTATUS",
)
"""AMI ``Filter`` expressions (POSIX regular expressions, any one matching lets an event
through) asking the PBX itself to send only those events: ``VarSet`` only for
``DIALSTATUS``. A prefix match lets a few more through (``HangupHandlerPush``), which the
reader then drops."""

MAX_HELD = 100_000
"""Events held for a snapshot at most (bounded memory whatever the PBX sends)."""


def _wall_clock_us() -> int:
    return time.time_ns() // 1000


@dataclass(slots=True)
class Snapshot:
    """What the PBX reports of its current state (the answers to the rebuild actions)."""

    channels: Sequence[AmiMessage] | None = None
    """``CoreShowChannel`` items, or None when the PBX did not answer."""
    extension_states: Sequence[AmiMessage] = ()
    queue_members: Sequence[AmiMessage] = ()
    queues: Sequence[str] = field(default_factory=tuple)
    """Queues the ``QueueStatus`` answer covered (their ``QueueParams``)."""
    as_of_us: int | None = None
    """PBX time of the last event seen before the snapshot was asked for."""


class Pipeline:
    def __init__(self, *, extension_pattern: str = DEFAULT_EXTENSION_PATTERN,
                 call_timeout: float = 4 * 3600.0, report_internal: bool = False,
                 rebuild_wait: float = 30.0, clock: Callable[[], int] = _wall_clock_us,
                 hold_first_session: bool = False, region: str = "RU") -> None:
        """``hold_first_session``: hold events from the first one on until :meth:`adopt`
        (the live adapter, which adopts at its first login; not a replay). ``region``: of
        national numbers, for the call events' ``customer_e164``."""
        rules = ChannelRules(extension_pattern)
        self.calls = CallTracker(rules, call_timeout=call_timeout,
                                 report_internal=report_internal, region=region)
        self.presence = PresenceTracker(rules)
        self._clock = clock
        self.last_event_us: int | None = None
        """PBX time of the latest event seen (events without ``Timestamp`` use the clock)."""
        self._rebuild_wait_us = int(rebuild_wait * 1_000_000)
        self._held: list[AmiMessage] | None = None
        """Events waiting for the snapshot after a reconnect (None: not waiting)."""
        self._held_since_us = 0
        """When holding began (``clock`` time: how long the snapshot takes, not PBX time)."""
        self._first_snapshot_due = hold_first_session
        self._newest_held_us: int | None = None

    @property
    def waiting_for_snapshot(self) -> bool:
        return self._held is not None

    @property
    def newest_event_us(self) -> int | None:
        """PBX time of the newest event seen, applied or held."""
        held, applied = self._newest_held_us, self.last_event_us
        if held is None or applied is None:
            return applied if held is None else held
        return max(held, applied)

    def handle(self, message: AmiMessage) -> list[PbxEvent]:
        if message.kind != "event":
            return []
        if self._held is None and self._first_snapshot_due:
            self.hold()
        if self._held is not None:
            return self._hold(message)
        if message.name == "FullyBooted" and self.last_event_us is not None:
            self._held, self._held_since_us = [], self._clock()
            return []
        return self._apply(message)

    def _hold(self, message: AmiMessage) -> list[PbxEvent]:
        assert self._held is not None
        self._held.append(message)
        at_us = message.timestamp_us
        if at_us is not None and (self._newest_held_us is None or at_us > self._newest_held_us):
            self._newest_held_us = at_us
        waited_us = self._clock() - self._held_since_us
        if waited_us > self._rebuild_wait_us or len(self._held) >= MAX_HELD:
            log.warning("no snapshot %.0f s after the login: %d held event(s) applied",
                        waited_us / 1e6, len(self._held))
            self._first_snapshot_due = False
            return self._release()
        return []

    def _release(self) -> list[PbxEvent]:
        held, self._held = self._held or [], None
        out: list[PbxEvent] = []
        for message in held:
            out += self._apply(message)
        return out

    def _apply(self, message: AmiMessage) -> list[PbxEvent]:
        at_us = message.timestamp_us
        if at_us is None:
            at_us = self._clock()
        if self.last_event_us is None or at_us > self.last_event_us:
            self.last_event_us = at_us
        return self.calls.handle(message, at_us) + self.presence.handle(message, at_us)

    def feed(self, messages: Iterable[AmiMessage]) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        for message in messages:
            out += self.handle(message)
        return out

    def expire(self, now_us: int) -> list[PbxEvent]:
        return self.calls.expire(now_us)

    def hold(self) -> None:
        """Hold events from now until :meth:`reconcile` (the first session: its snapshot
        is asked for at login, not announced by a ``FullyBooted`` after events)."""
        if self._held is None:
            self._held, self._held_since_us = [], self._clock()

    def reconcile(self, snapshot: Snapshot, now_us: int) -> list[PbxEvent]:
        out: list[PbxEvent] = []
        if snapshot.channels is not None:
            out += self.calls.reconcile(snapshot.channels, now_us, snapshot.as_of_us,
                                        self._held or ())
        out += self.presence.reconcile_extensions(snapshot.extension_states, now_us)
        out += self.presence.reconcile_queues(snapshot.queue_members, snapshot.queues, now_us)
        return out + self._release()

    def adopt(self, snapshot: Snapshot, now_us: int) -> list[PbxEvent]:
        """At the first login: take in the calls already in progress that the events so
        far did not show (from the snapshot and the held events), touch nothing else, then
        apply the held events."""
        self._first_snapshot_due = False
        out = self.calls.adopt(snapshot.channels, now_us, self._held or ())
        return out + self._release()
