"""Faults the chaos run injects, each recorded with when it happened.

RabbitMQ is restarted the way an operator would (``rabbitmqctl stop_app`` /
``start_app``); :func:`ensure_broker_up` is what every run calls in ``finally``
so a failed run never leaves the broker down for the rest of the suite.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass, field

import pika

__all__ = ["Fault", "FaultLog", "broker_answers", "ensure_broker_up", "queue_depths",
           "restart_broker", "settled"]

RABBITMQ = pika.ConnectionParameters("127.0.0.1", 5672, credentials=pika.PlainCredentials(
    "guest", "guest"), connection_attempts=1, socket_timeout=2.0, blocked_connection_timeout=2.0)


@dataclass(frozen=True)
class Fault:
    at: float
    """Seconds since the run started."""
    kind: str
    detail: str
    seconds: float
    """How long the fault lasted (0 for an instant one such as SIGKILL)."""


@dataclass
class FaultLog:
    started: float = field(default_factory=time.monotonic)
    faults: list[Fault] = field(default_factory=list)

    def record(self, kind: str, detail: str, began: float) -> Fault:
        fault = Fault(round(began - self.started, 2), kind, detail,
                      round(time.monotonic() - began, 2))
        self.faults.append(fault)
        return fault

    def count(self, kind: str) -> int:
        return sum(fault.kind == kind for fault in self.faults)

    def table(self) -> str:
        return "\n".join(f"{f.at:8.2f}s  {f.kind:<16} {f.seconds:6.2f}s  {f.detail}"
                         for f in self.faults)


def rabbitmqctl(*args: str, timeout: float = 60.0) -> str:
    done = subprocess.run(["rabbitmqctl", *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if done.returncode != 0:
        raise AssertionError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


def broker_answers() -> bool:
    """RabbitMQ answers the AMQP 0-9-1 protocol header with ``Connection.Start`` (a method
    frame: type 1 on channel 0), so the application runs, not just the Erlang node.

    A raw socket, not pika: a pika connection that fails to open warns when collected."""
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=2.0) as probe:
            probe.sendall(b"AMQP\x00\x00\x09\x01")
            return probe.recv(3) == b"\x01\x00\x00"
    except OSError:
        return False


def restart_broker(down_for: float) -> None:
    """Stop the RabbitMQ application, keep it down ``down_for`` seconds, start it again."""
    rabbitmqctl("stop_app")
    time.sleep(down_for)
    ensure_broker_up()


def ensure_broker_up(timeout: float = 90.0) -> None:
    """Start the RabbitMQ application if it is stopped and wait until it takes connections."""
    if broker_answers():
        return
    rabbitmqctl("start_app", timeout=timeout)
    deadline = time.monotonic() + timeout
    while not broker_answers():
        if time.monotonic() > deadline:
            raise AssertionError(f"RabbitMQ does not take connections {timeout} s after start")
        time.sleep(0.5)


def settled(prefix: str) -> dict[str, tuple[int, int]] | None:
    """The depths of the queues named ``prefix.*`` once none holds a message, else None."""
    depths = queue_depths(prefix)
    return depths if depths and not any(total for total, _ in depths.values()) else None


def queue_depths(prefix: str) -> dict[str, tuple[int, int]]:
    """``{queue: (messages, unacked messages)}`` of the queues named ``prefix.*``."""
    listing = rabbitmqctl("list_queues", "name", "messages", "messages_unacknowledged",
                          "--no-table-headers", "--quiet")
    depths: dict[str, tuple[int, int]] = {}
    for line in listing.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[0].startswith(f"{prefix}."):
            depths[parts[0]] = (int(parts[1]), int(parts[2]))
    return depths
