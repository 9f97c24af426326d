"""The CRM and billing simulators of a chaos run, each its own process on loopback.

The CRM is :mod:`tests.chaos.crm_process` (the real simulator plus the switches the
run flips and the ledger of interaction creations); the billing is
``python -m adapters.billing.simulator``, killed and started again on the same
port for the billing outage.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import IO, Any

import httpx

from tests.esb_processes import ROOT, free_port

__all__ = ["CRM_TOKEN", "Simulators"]

CRM_TOKEN = "crm-token"
STARTUP = 60.0
"""Seconds a simulator has to answer (two loaded cores start Python slowly)."""


class Simulators:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.crm_port = free_port()
        self.crm: subprocess.Popen[str] | None = None
        self._crm_log: IO[str] | None = None
        self.billing_port = free_port()
        self.billing: subprocess.Popen[str] | None = None

    @property
    def crm_url(self) -> str:
        return f"http://127.0.0.1:{self.crm_port}"

    @property
    def billing_url(self) -> str:
        return f"http://127.0.0.1:{self.billing_port}"

    def start(self) -> None:
        self._crm_log = (self.directory / "crm.log").open("w")
        self.crm = subprocess.Popen(
            [sys.executable, "-m", "tests.chaos.crm_process", "--port", str(self.crm_port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self._crm_log,
            stderr=subprocess.STDOUT, text=True)
        self.start_billing()
        deadline = time.monotonic() + STARTUP
        while True:
            with suppress(httpx.TransportError):
                if self.crm_get("/chaos/ledger").status_code == 200:
                    return
            assert self.crm.poll() is None, "the CRM simulator exited"
            assert time.monotonic() < deadline, f"the CRM simulator did not answer in {STARTUP} s"
            time.sleep(0.1)

    def start_billing(self) -> None:
        log = (self.directory / "billing.log").open("a")
        self.billing = subprocess.Popen(
            [sys.executable, "-m", "adapters.billing.simulator",
             "--port", str(self.billing_port)],
            cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)
        log.close()  # the child has its own copy
        deadline = time.monotonic() + STARTUP
        while True:
            with suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.billing_port), timeout=1.0):
                return
            assert self.billing.poll() is None, "the billing simulator exited"
            assert time.monotonic() < deadline, \
                f"the billing simulator did not listen in {STARTUP} s"
            time.sleep(0.1)

    def kill_billing(self) -> None:
        assert self.billing is not None
        self.billing.kill()
        self.billing.wait(10)

    def crm_get(self, path: str) -> httpx.Response:
        return httpx.get(self.crm_url + path, timeout=10.0,
                         headers={"Authorization": f"Bearer {CRM_TOKEN}"})

    def crm_post(self, path: str) -> httpx.Response:
        return httpx.post(self.crm_url + path, timeout=10.0,
                          headers={"Authorization": f"Bearer {CRM_TOKEN}"})

    def crm_ledger(self) -> dict[str, Any]:
        """``{"created": {interaction id: creations}, "interactions": stored}``."""
        ledger: dict[str, Any] = self.crm_get("/chaos/ledger").json()
        return ledger

    def stop(self) -> None:
        if self.crm is not None and self.crm.poll() is None:
            self.crm.terminate()
            self.crm.wait(10)
        if self.billing is not None and self.billing.poll() is None:
            self.billing.kill()
            self.billing.wait(10)
        if self._crm_log is not None:
            self._crm_log.close()
