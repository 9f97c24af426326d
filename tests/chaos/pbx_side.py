"""The telephony of a chaos run: the AMI simulator, the PBX worker, and their faults.

The AMI simulator (:mod:`tests.chaos.ami_process`) places real calls; a third
``esb run`` with the PBX adapter follows them over AMI and publishes
``pbx.call.*`` events, and the workers' CRM adapter logs each ended call. Two
faults belong here: the **AMI connection cut mid-call** (the simulator aborts
every socket; the adapter reconnects, asks ``CoreShowChannels`` and rebuilds its
calls in flight, so no call may be lost) and a **SIGKILL of the PBX worker**
(its calls in flight die with it: a call that overlapped the outage may be
missing, but never logged twice).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.esb_processes import ROOT, EsbProcess, free_port

__all__ = ["AmiCalls", "PbxSide"]

OUTAGE_MARGIN = 2.0
"""Seconds either side of a PBX worker outage during which a call is excused."""
HELD_AFTER_BROKER = 35.0
"""While RabbitMQ is down the PBX adapter holds its events in memory and retries with a
backoff of up to 30 s: a PBX worker killed this soon after a broker outage may take
events of calls that ended since the outage began with it."""
AMI_USER, AMI_SECRET = "esb", "chaos-ami"


@dataclass(frozen=True)
class AmiCalls:
    """The calls the AMI simulator played, split by what the CRM must show for them."""

    started: frozenset[str]
    """Every call the simulator placed (linkedid)."""
    ended: frozenset[str]
    """Every call that ended."""
    must_be_logged: frozenset[str]
    """Ended calls the PBX adapter could see and had time to publish: no PBX worker death
    overlapped them, nor killed the worker while it still held their events after a
    broker outage, and they did not begin and end while the adapter read nothing from
    AMI (a cut, or a broker outage, until its next login). A call in progress at a cut
    is never excused: the adapter rebuilds it from ``CoreShowChannels``."""
    cut_mid_call: int
    """Calls in progress at one of the AMI cuts."""


@dataclass
class Ledger:
    """The AMI simulator's ledger: when each call started and ended (wall clock), which
    calls are internal (the CRM logs none of those), when the connection was cut."""

    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)
    internal: set[str] = field(default_factory=set)
    cuts: list[float] = field(default_factory=list)
    logins: list[float] = field(default_factory=list)

    @classmethod
    def read(cls, path: Path) -> Ledger:
        ledger = cls()
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        for line in lines:
            entry = json.loads(line)
            if entry["event"] == "started":
                ledger.started[entry["linkedid"]] = entry["at"]
                if entry["direction"] == "internal":
                    ledger.internal.add(entry["linkedid"])
            elif entry["event"] == "ended":
                ledger.ended[entry["linkedid"]] = entry["at"]
            elif entry["event"] == "login":
                ledger.logins.append(entry["at"])
            else:
                ledger.cuts.append(entry["at"])
        return ledger


class PbxSide:
    def __init__(self, directory: Path, rate: float, seed: int,
                 start_esb: Callable[..., EsbProcess]) -> None:
        self.directory = directory
        self.rate = rate
        self.seed = seed
        self._start_esb = start_esb
        self.ami_port = free_port()
        self.ledger = directory / "ami-ledger.jsonl"
        self.ami: subprocess.Popen[bytes] | None = None
        self.worker: EsbProcess | None = None
        self._restart: threading.Thread | None = None
        self.outages: list[tuple[float, float]] = []
        """``(killed, back)`` wall-clock times of each PBX worker outage."""
        self.broker_outages: list[tuple[float, float]] = []
        """``(stopped, started)`` wall-clock times of each RabbitMQ restart."""

    def start_simulator(self) -> None:
        with (self.directory / "ami.log").open("wb") as log:
            self.ami = subprocess.Popen(
                [sys.executable, "-m", "tests.chaos.ami_process", "--port", str(self.ami_port),
                 "--rate", str(self.rate), "--seed", str(self.seed), "--secret", AMI_SECRET,
                 "--ledger", str(self.ledger)],
                cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)

    def start_worker(self) -> None:
        self.worker = self._start_esb(
            "pbx", ESB_PBX__ENABLED="true", ESB_PBX__AMI_PORT=str(self.ami_port),
            ESB_PBX__AMI_USER=AMI_USER, ESB_PBX__AMI_SECRET=AMI_SECRET,
            ESB_PBX__RECONNECT_MAX="2", ESB_PBX__STABLE_AFTER="5")

    def kill_worker(self) -> str:
        """SIGKILL the PBX worker; it starts again at once, in the background (a kill
        first waits for the last restart). What was killed."""
        self.wait_for_restart()
        assert self.worker is not None and self.worker.process is not None
        killed_at = time.time()
        pid = self.worker.process.pid
        os.kill(pid, signal.SIGKILL)
        self.worker.process.wait(10)
        self.worker.stop()  # closes its log
        self._restart = threading.Thread(target=self._start_again, args=(killed_at,),
                                         name="restart-pbx")
        self._restart.start()
        return f"pbx pid {pid}"

    def _start_again(self, killed_at: float) -> None:
        self.start_worker()  # answers /health once its AMI client has started
        self.outages.append((killed_at, time.time()))

    def wait_for_restart(self) -> None:
        if self._restart is not None:
            self._restart.join()

    def cut_ami(self) -> str:
        """Abort every AMI connection of the simulator, mid-call (once the PBX worker is
        up: a cut with nobody connected would prove nothing)."""
        self.wait_for_restart()
        assert self.ami is not None and self.ami.poll() is None, "the AMI simulator exited"
        os.kill(self.ami.pid, signal.SIGUSR1)
        return f"AMI sockets aborted, {self.in_progress(time.time())} calls in progress"

    def settle(self, timeout: float = 60.0) -> None:
        """Until the PBX worker has logged in again after the last cut or broker outage,
        and a few seconds more: it rebuilds its calls at that login, so no call is lost
        only because the simulator stopped first."""
        self.wait_for_restart()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ledger = Ledger.read(self.ledger)
            disrupted = max([*ledger.cuts, *(s for s, _ in self.broker_outages)], default=0.0)
            if any(at > disrupted for at in ledger.logins):
                break
            time.sleep(0.5)
        time.sleep(5.0)

    def stop_calls(self) -> None:
        """No new call from now on (SIGTERM): the calls in progress end, unseen."""
        if self.ami is not None and self.ami.poll() is None:
            self.ami.terminate()
            self.ami.wait(10)

    def stop(self) -> None:
        self.wait_for_restart()
        self.stop_calls()
        if self.worker is not None and self.worker.process is not None:
            self.worker.stop()

    def in_progress(self, at: float) -> int:
        ledger = Ledger.read(self.ledger)
        return sum(1 for linkedid, began in ledger.started.items()
                   if began <= at and ledger.ended.get(linkedid, float("inf")) >= at)

    def describe(self, linkedid: str) -> str:
        """One call's ledger lines, times relative to the first call's start."""
        lines = [json.loads(line) for line in self.ledger.read_text(encoding="utf-8")
                 .splitlines()]
        zero = min((e["at"] for e in lines), default=0.0)
        mine = [f"{e['event']} at {e['at'] - zero:.1f}s "
                f"({e.get('scenario') or e.get('disposition') or ''})"
                for e in lines if e.get("linkedid") == linkedid]
        cuts = [f"{e['at'] - zero:.1f}s" for e in lines if e["event"] == "cut"]
        outages = [f"{k - zero:.1f}-{b - zero:.1f}s" for k, b in self.outages]
        return f"{linkedid}: {', '.join(mine) or 'not in the ledger'} (cuts {cuts}, " \
               f"PBX worker outages {outages})"

    def _held_since(self, killed: float) -> float:
        """From when a PBX worker killed at ``killed`` may have held unpublished events."""
        since = killed - OUTAGE_MARGIN
        for stopped, started in self.broker_outages:
            if stopped < killed and killed - started < HELD_AFTER_BROKER:
                since = min(since, stopped - OUTAGE_MARGIN)
        return since

    def _unread(self, ledger: Ledger) -> list[tuple[float, float]]:
        """When the adapter read nothing from AMI: from a cut, or from a broker outage (the
        AMI reader waits for the publisher; its Ping then times out), to the next login.
        A call that began and ended within is invisible to AMI: no event, no channel left
        for ``CoreShowChannels`` (a real PBX's CDR would have it)."""
        gaps: list[tuple[float, float]] = []
        for began, latest in [*((cut, float("inf")) for cut in ledger.cuts),
                              *((stopped, started + HELD_AFTER_BROKER)
                                for stopped, started in self.broker_outages)]:
            login = min((at for at in ledger.logins if at > began), default=None)
            if login is not None and login <= latest:
                gaps.append((began - OUTAGE_MARGIN, login + OUTAGE_MARGIN))
        return gaps

    def calls(self) -> AmiCalls:
        ledger = Ledger.read(self.ledger)
        started, ended = ledger.started, ledger.ended
        deaths = [(self._held_since(killed), back + OUTAGE_MARGIN)
                  for killed, back in self.outages]
        unread = self._unread(ledger)

        def excused(linkedid: str) -> bool:
            began, over = started[linkedid], ended[linkedid]
            return (any(began <= until and over >= since for since, until in deaths)
                    or any(since <= began and over <= until for since, until in unread))

        done = frozenset(linkedid for linkedid in ended
                         if linkedid in started and linkedid not in ledger.internal)
        return AmiCalls(
            started=frozenset(started), ended=done,
            must_be_logged=frozenset(c for c in done if not excused(c)),
            cut_mid_call=sum(1 for c in done for cut in ledger.cuts
                             if started[c] <= cut <= ended[c]))
