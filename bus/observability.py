"""Where the bus reports what happens to messages: journal, metrics, traces."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

import sqlalchemy as sa

from bus.envelope import Envelope
from bus.settings import Settings

__all__ = ["Observability"]


class _Telemetry:
    """Placeholder until bus.telemetry lands: propagates nothing."""

    def inject(self, headers: MutableMapping[str, Any]) -> None:
        return None

    @contextlib.contextmanager
    def publish_span(self, envelope: Envelope, destination: str) -> Iterator[str]:
        yield ""

    @contextlib.contextmanager
    def consume_span(self, envelope: Envelope, queue: str,
                     headers: Mapping[str, Any]) -> Iterator[str]:
        yield ""


class Observability:
    def __init__(self, settings: Settings, engine: sa.Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.telemetry = _Telemetry()
        self.events: list[tuple[str, str, str]] = []

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def published(self, envelope: Envelope, trace_id: str) -> None:
        return None

    def consumed(self, message_id: str, status: str, queue: str, attempt: int,
                 latency_ms: float, trace_id: str, detail: str) -> None:
        return None
