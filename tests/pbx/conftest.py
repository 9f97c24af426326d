from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from adapters.pbx.events import AGENT_PRESENCE, CALL_ENDED
from adapters.pbx.settings import AmiSettings
from bus.envelope import Envelope
from bus.router import Router

FIXTURES = Path(os.environ.get(
    "ESB_AMI_FIXTURES", Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "ami"))


def scenario_names() -> list[str]:
    return sorted(p.name.removesuffix(".expected.json")
                  for p in FIXTURES.glob("*.expected.json"))


def scenarios() -> list[Any]:
    """One pytest param per recorded scenario; one skipped param when the fixtures are absent."""
    names = scenario_names()
    if not names:
        return [pytest.param("-", marks=pytest.mark.skip(
            reason=f"no AMI fixtures at {FIXTURES} (../shared absent; set ESB_AMI_FIXTURES)"))]
    return names


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (FIXTURES / f"{name}.expected.json").read_text(encoding="utf-8"))
    return data


def transcript(name: str) -> Path:
    [file] = expected(name)["files"]
    return FIXTURES / str(file)


def calls_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ended calls, in the expected files' order (by started_at)."""
    ended = [e["payload"] for e in events if e["type"] == CALL_ENDED]
    return sorted(ended, key=lambda call: str(call["started_at"]))


def as_in_fixture(calls: list[dict[str, Any]],
                  want: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each call with only the fields its expected call has: the fixtures predate fields
    added since (``customer_e164``), which are checked on their own."""
    return [{k: v for k, v in call.items() if k in expected_call}
            for call, expected_call in zip(calls, want, strict=True)]


def presence_of(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Presence changes per extension, in stream order, shaped like the expected files."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        if event["type"] == AGENT_PRESENCE:
            change = dict(event["payload"])
            out.setdefault(change.pop("extension"), []).append(change)
    return {k: out[k] for k in sorted(out)}


def ami_settings(port: int, **overrides: Any) -> AmiSettings:
    values: dict[str, Any] = {
        "enabled": True, "ami_host": "127.0.0.1", "ami_port": port, "ami_user": "esb",
        "ami_secret": "secret", "reconnect_initial": 0.05, "reconnect_max": 0.5,
        "action_timeout": 2.0, "ping_interval": 30.0, "sweep_interval": 0.1, **overrides}
    return AmiSettings(**values)


Collector = tuple[Router, list[Envelope]]


@pytest.fixture
def collector() -> Collector:
    """A subscriber that keeps every pbx.* envelope it receives."""
    router = Router()
    seen: list[Envelope] = []

    @router.subscriber("pbx-collector", "pbx.#")
    async def collect(envelope: Envelope) -> None:
        seen.append(envelope)

    return router, seen


def as_events(envelopes: list[Envelope]) -> list[dict[str, Any]]:
    return [{"type": e.type, "payload": dict(e.payload)} for e in envelopes]


Check = Callable[[], bool]
