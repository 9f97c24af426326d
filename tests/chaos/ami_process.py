"""The AMI simulator as its own process, with the cut the chaos run makes and a ledger.

``python -m tests.chaos.ami_process --port N --rate R --ledger FILE`` serves the real
:class:`~adapters.pbx.simulator.server.AmiSimulator` (calls at ``R`` per second,
compressed 20 times, so each lasts a few seconds). ``SIGUSR1`` cuts every AMI
connection at once, mid-call (the socket is aborted, as a network failure would; the
calls go on in the PBX). Every call is written to the ledger, one JSON line each, when
it starts and when it ends, with the wall-clock time (``time.time()``), and so is each
cut and each successful login: the truth the chaos run compares the CRM with.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import time
from pathlib import Path
from typing import IO

from adapters.pbx.ami.protocol import AmiMessage
from adapters.pbx.simulator.server import AmiSimulator, SimulatorConfig
from adapters.pbx.simulator.session import Session

__all__ = ["SPEED", "main"]

SPEED = 20.0
"""Time compression of the simulated calls: a 95 s call lasts under 5 s."""
POLL = 0.1


class LedgeredSimulator(AmiSimulator):
    """Writes each call's start and end, each cut and each login to the ledger; cuts
    every session on demand."""

    def __init__(self, config: SimulatorConfig, ledger: IO[str]) -> None:
        super().__init__(config)
        self.ledger = ledger
        self.cuts = 0

    def cut(self) -> None:
        """Abort every AMI connection (no Logoff, no FIN handshake to wait for)."""
        self.cuts += 1
        for session in list(self._sessions):
            session.writer.transport.abort()
        self._write({"event": "cut", "at": time.time(), "number": self.cuts})

    def _answer(self, session: Session, action: AmiMessage) -> str:
        reply = super()._answer(session, action)
        if action.name.lower() == "login" and session.logged_in:
            self._write({"event": "login", "at": time.time()})
        return reply

    async def record(self) -> None:
        """Poll the simulator's ground truth and write what is new, every ``POLL`` s (its
        history is long enough never to forget a call of the run)."""
        started = finished = 0
        while True:
            now = time.time()
            for call in itertools.islice(self.generated, started, None):
                self._write({"event": "started", "linkedid": call.linkedid, "at": now,
                             "scenario": call.scenario, "direction": call.direction})
            started = len(self.generated)
            for call in itertools.islice(self.finished, finished, None):
                self._write({"event": "ended", "linkedid": call.linkedid, "at": now,
                             "disposition": call.disposition})
            finished = len(self.finished)
            await asyncio.sleep(POLL)

    def _write(self, line: dict[str, object]) -> None:
        self.ledger.write(json.dumps(line) + "\n")
        self.ledger.flush()


async def _serve(config: SimulatorConfig, ledger_path: Path) -> None:
    with ledger_path.open("a", encoding="utf-8") as ledger:
        simulator = LedgeredSimulator(config, ledger)
        async with simulator:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, simulator.cut)
            await simulator.record()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The AMI simulator for the chaos suite")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True, help="new calls per second")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--secret", required=True, help="the AMI password of user 'esb'")
    parser.add_argument("--ledger", type=Path, required=True)
    options = parser.parse_args(argv)
    config = SimulatorConfig(port=options.port, secret=options.secret, rate=options.rate,
                             speed=SPEED,
                             seed=options.seed, history=1_000_000)
    asyncio.run(_serve(config, options.ledger))


if __name__ == "__main__":
    main()
