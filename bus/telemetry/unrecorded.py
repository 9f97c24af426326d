"""Spans for the ``none`` exporter: propagate W3C trace context at the lowest cost.

Nothing is recorded, but every hop still gets a span id, the trace id of its
producer and a ``traceparent`` to send on, and the span is made current so
that messages published by a handler stay in the caller's trace. The header
is parsed and formatted by hand: the OpenTelemetry propagator's regular
expressions and the SDK cost several times more per message.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

__all__ = ["UnrecordedSpan", "parse_traceparent"]

_random = random.Random()  # span ids need uniqueness, not secrecy
os.register_at_fork(after_in_child=_random.seed)  # forked workers must not repeat ids
_EMPTY = Context()
_FLAGS = {flags: TraceFlags(flags) for flags in range(256)}  # built once, not per span


def parse_traceparent(value: Any) -> tuple[int, int] | None:
    """``(trace_id, flags)`` of a valid version-00 ``traceparent``, else None."""
    # 00-<32 hex trace id>-<16 hex span id>-<2 hex flags>, read by position
    if (not isinstance(value, str) or len(value) != 55 or not value.startswith("00-")
            or value[35] != "-" or value[52] != "-"):
        return None
    trace_hex, span_hex, flags_hex = value[3:35], value[36:52], value[53:]
    if not (trace_hex.isalnum() and span_hex.isalnum() and flags_hex.isalnum()):
        return None  # int() would take signs, spaces and underscores
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, flags


class UnrecordedSpan:
    """A context manager and the span it makes current; same fields as ``MessageSpan``.

    A consume span is made current (the handler's publishes become its
    children). A publish span has no children: its context leaves in
    ``headers`` and is not made current, which spares two context switches
    per message; its ``span`` object is only built if someone asks for it.
    """

    __slots__ = ("_current", "_headers", "_ids", "_span", "_token", "trace_id")

    def __init__(self, trace_id: int, flags: int, *, current: bool = True) -> None:
        span_id = _random.getrandbits(64) or 1
        self._ids = (trace_id, span_id, flags)
        self._span: NonRecordingSpan | None = None
        self._current = current
        self.trace_id = f"{trace_id:032x}"
        self._headers: dict[str, str] | None = None
        self._token: object = None

    @property
    def headers(self) -> dict[str, str]:
        """``traceparent`` to send on: built when asked (a publish always asks, a consume
        span seldom does: its children are spans of their own)."""
        if self._headers is None:
            _trace_id, span_id, flags = self._ids
            self._headers = {"traceparent": f"00-{self.trace_id}-{span_id:016x}-{flags:02x}"}
        return self._headers

    @property
    def span(self) -> NonRecordingSpan:
        if self._span is None:
            trace_id, span_id, flags = self._ids
            self._span = NonRecordingSpan(
                SpanContext(trace_id, span_id, is_remote=False, trace_flags=_FLAGS[flags])
            )
        return self._span

    @classmethod
    def for_publish(cls) -> UnrecordedSpan:
        """A child of the current span, or the root of a new trace."""
        above = trace.get_current_span().get_span_context()
        if above.is_valid:
            return cls(above.trace_id, int(above.trace_flags), current=False)
        return cls(_random.getrandbits(128) or 1, 0, current=False)

    @classmethod
    def for_consume(cls, *carriers: Mapping[str, Any]) -> UnrecordedSpan:
        """A child of the producer named by the first ``traceparent`` found in ``carriers``."""
        for carrier in carriers:
            parsed = parse_traceparent(carrier.get("traceparent"))
            if parsed is not None:
                return cls(*parsed)
        return cls(_random.getrandbits(128) or 1, 0)

    def __enter__(self) -> UnrecordedSpan:
        if self._current:
            self._token = otel_context.attach(trace.set_span_in_context(self.span, _EMPTY))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._token is not None:
            otel_context.detach(self._token)  # type: ignore[arg-type]
            self._token = None
