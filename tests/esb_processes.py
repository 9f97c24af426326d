"""The real ``esb`` program in a subprocess, on a throwaway broker and database.

The CLI and API tests drive the installed ``esb`` script, not the click group
or the FastAPI app in-process: what they prove is what an operator gets. The
broker is the durable embedded one (``sqla+sqlite``), so the test process,
every ``esb`` command and the running bus share it.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx
import orjson
from prometheus_client.parser import text_string_to_metric_families

from bus import db
from bus.app import Bus
from bus.delivery.dead_letters import DeadLetterStore
from bus.envelope import Envelope
from bus.journal import JournalQuery
from bus.settings import Settings

__all__ = [
    "ESB",
    "EXAMPLES",
    "ROOT",
    "BusState",
    "Deployment",
    "EsbProcess",
    "call_ended",
    "esb",
    "eventually",
    "json_lines",
    "metric",
    "publish",
]

T = TypeVar("T")

ESB = Path(sys.executable).parent / "esb"
"""The console script installed next to the interpreter running the tests."""

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "schemas" / "examples"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Deployment:
    """Where one bus keeps its broker and its state, and where its API listens."""

    directory: Path
    port: int

    @classmethod
    def in_directory(cls, directory: Path) -> Deployment:
        return cls(directory, free_port())

    @property
    def broker_url(self) -> str:
        return f"sqla+sqlite:///{self.directory / 'broker.db'}?poll_interval=0.02"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.directory / 'esb.db'}"

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of an ``esb`` process: ours, with no stray ``ESB_*`` settings."""
        env = {name: value for name, value in os.environ.items() if not name.startswith("ESB_")}
        env.update(ESB_BROKER_URL=self.broker_url, ESB_DATABASE_URL=self.database_url,
                   ESB_API__PORT=str(self.port))
        if "ESB_TEST_LOOP" in os.environ:  # tests/conftest.py: the esb processes' loop too
            env["ESB_EVENT_LOOP"] = os.environ["ESB_TEST_LOOP"]
        env.update(extra)
        return env

    def settings(self, **overrides: Any) -> Settings:
        return Settings(broker_url=self.broker_url, database_url=self.database_url, **overrides)


class BusState:
    """What a bus keeps in its database, read from this process to wait for it cheaply."""

    def __init__(self, deployment: Deployment) -> None:
        self.engine = db.create_engine(deployment.database_url)
        db.create_tables(self.engine)
        self.dead_letters = DeadLetterStore(self.engine)
        self.journal = JournalQuery(self.engine)

    def dead_letter_of(self, message_id: str) -> dict[str, Any] | None:
        found = [r for r in self.dead_letters.list(status=None) if r.message_id == message_id]
        return found[0].to_json(with_body=True) if found else None

    def hops(self, message_id: str, subscriber: str | None = None) -> list[str]:
        """The statuses of a message's hops; with ``subscriber``, only the hops that
        subscriber saw (and the publication), as other subscribers handle it too."""
        entry = self.journal.get(message_id)
        if entry is None:
            return []
        return [event.status for event in entry.events
                if subscriber is None or event.subscriber in (None, subscriber)]

    def wait_for_hop(self, message_id: str, status: str, timeout: float = 15.0,
                     subscriber: str | None = None) -> list[str]:
        """Wait until the journal shows a hop of ``status``; the message's hops by then."""
        deadline = time.monotonic() + timeout
        while status not in (hops := self.hops(message_id, subscriber)):
            assert time.monotonic() < deadline, f"no {status} hop of {message_id}: {hops}"
            time.sleep(0.05)
        return hops

    def close(self) -> None:
        self.engine.dispose()


def esb(*args: str, env: Mapping[str, str], cwd: Path | None = None,
        timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run one ``esb`` command to completion."""
    return subprocess.run(
        [str(ESB), *args], env=dict(env), cwd=cwd, capture_output=True, text=True,
        timeout=timeout, check=False,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Every line of a ``--json`` listing, each of which must be one JSON object."""
    rows = [orjson.loads(line) for line in stdout.splitlines()]
    assert all(isinstance(row, dict) for row in rows), stdout
    return rows


def metric(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition, if it is there."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return None


class EsbProcess:
    """``esb run`` or ``esb demo`` serving its API until stopped with SIGTERM.

    Its output goes to a file (a full pipe nobody reads would stall the bus);
    :meth:`output` returns it for assertions and failure messages.
    """

    def __init__(self, deployment: Deployment, command: str = "run",
                 env: Mapping[str, str] | None = None) -> None:
        self.deployment = deployment
        self.command = command
        self.env = dict(env) if env is not None else deployment.env()
        self.log_path = deployment.directory / f"esb-{command}.log"
        self._log: IO[str] | None = None
        self.process: subprocess.Popen[str] | None = None

    def start(self, timeout: float = 30.0) -> None:
        self._log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [str(ESB), self.command], env=self.env, cwd=self.deployment.directory,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.process.poll() is not None:
                self._close_log()
                raise AssertionError(f"esb {self.command} exited with {self.process.returncode}"
                                     f" before serving:\n{self.output()}")
            if time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"esb {self.command} did not answer /health in {timeout} s:"
                                     f"\n{self.output()}")
            time.sleep(0.05)

    def _answers(self) -> bool:
        try:
            return httpx.get(f"{self.deployment.api}/health", timeout=1.0).status_code == 200
        except httpx.TransportError:
            return False

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM, then wait; the exit code (a process that hangs is killed: -9)."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()
        return self.process.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def call_ended(caller_number: str | None, **payload: Any) -> Envelope:
    """A ``pbx.call.ended.v1`` like the catalog's example, for a new call from ``caller_number``."""
    example = orjson.loads((EXAMPLES / "pbx.call.ended.v1.json").read_bytes())
    linkedid = f"{time.time():.6f}"
    body = {**example["payload"], "linkedid": linkedid, "caller_number": caller_number, **payload}
    return Envelope(type="pbx.call.ended.v1", payload=body, source="test-pbx", key=linkedid)


def publish(deployment: Deployment, *envelopes: Envelope) -> None:
    """Publish into the running bus's broker from this process, as another service would."""

    async def send() -> None:
        bus = Bus(deployment.settings(instance=f"test-publisher-{os.getpid()}"),
                  source="test-pbx")
        await bus.start(consume=False)
        try:
            await bus.publish_many(list(envelopes))
        finally:
            await bus.stop()
            bus.close()

    asyncio.run(send())


def eventually(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05) -> T:
    """The first truthy result of ``probe``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s; last: {result!r}")
        time.sleep(interval)
