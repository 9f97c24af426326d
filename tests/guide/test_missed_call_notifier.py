"""The guide's adapter, proven against a real HTTP SMS gateway on loopback."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from bus.testing import AdapterHarness
from tests.conftest import eventually
from tests.guide.missed_call_notifier import NotifierAdapter

pytestmark = pytest.mark.asyncio


class SmsGateway(ThreadingHTTPServer):
    """Keeps the messages it accepts, once per Idempotency-Key; can fail on purpose."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: dict[str, dict[str, Any]] = {}
        self.failures_left = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: SmsGateway

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.server.failures_left:
            self.server.failures_left -= 1
            self.send_response(503)
        else:
            self.server.messages.setdefault(self.headers["Idempotency-Key"], body)
            self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmsGateway]:
    server = SmsGateway()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("ESB_NOTIFIER__URL", server.url)
    monkeypatch.setenv("ESB_NOTIFIER__SENDER", "Support")
    yield server
    server.shutdown()
    server.server_close()


def ended_call(linkedid: str, disposition: str, caller: str | None) -> dict[str, Any]:
    return {
        "linkedid": linkedid, "direction": "inbound", "caller_number": caller,
        "called_number": "73912001122", "queue": "sales", "ring_targets": ["2001", "2002"],
        "answered_by_extension": None, "started_at": "2024-03-12T06:15:07Z",
        "answered_at": None, "ended_at": "2024-03-12T06:15:24Z", "ring_seconds": 17,
        "talk_seconds": 0, "disposition": disposition, "transferred_to": None,
        "hangup_cause": 16,
    }


async def test_a_missed_call_reaches_the_agent_once_even_through_a_gateway_outage(
    gateway: SmsGateway, tmp_path: Path,
) -> None:
    gateway.failures_left = 2
    async with AdapterHarness(NotifierAdapter, tmp_path) as harness:
        missed = ended_call("1.1", "missed", "+79123456789")
        await harness.publish("pbx.call.ended.v1", missed)
        await harness.publish("pbx.call.ended.v1", missed)  # the PBX adapter re-sent it
        await harness.publish("pbx.call.ended.v1", ended_call("1.2", "answered", "+79123456789"))
        await harness.publish("pbx.call.ended.v1", ended_call("1.3", "abandoned", None))
        await eventually(lambda: "1.1" in gateway.messages and gateway.failures_left == 0)
        await asyncio.sleep(0.5)
        assert harness.bus.dead_letters.count() == 0
    assert gateway.messages == {"1.1": {
        "from": "Support", "to": "2001", "text": "Missed call from +79123456789 at 06:15 UTC"}}
