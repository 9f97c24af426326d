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


def parse_traceparent(value: Any) -> tuple[int, int] | None:
    """``(trace_id, flags)`` of a valid version-00 ``traceparent``, else None."""
    if not isinstance(value, str) or len(value) != 55:
        return None
    parts = value.split("-")
    if len(parts) != 4:
        return None
    version, trace_hex, span_hex, flags_hex = parts
    if version != "00" or len(trace_hex) != 32 or len(span_hex) != 16 or len(flags_hex) != 2:
        return None
    try:
        trace_id, span_id, flags = int(trace_hex, 16), int(span_hex, 16), int(flags_hex, 16)
    except ValueError:
        return None
    if trace_id == 0 or span_id == 0:
        return None
    return trace_id, flags


class UnrecordedSpan:
    """A context manager and the span it makes current; same fields as ``MessageSpan``."""

    __slots__ = ("_token", "headers", "span", "trace_id")

    def __init__(self, trace_id: int, flags: int) -> None:
        span_id = _random.getrandbits(64) or 1
        self.span = NonRecordingSpan(
            SpanContext(trace_id, span_id, is_remote=False, trace_flags=TraceFlags(flags))
        )
        self.trace_id = f"{trace_id:032x}"
        self.headers = {"traceparent": f"00-{self.trace_id}-{span_id:016x}-{flags:02x}"}
        self._token: object = None

    @classmethod
    def for_publish(cls) -> UnrecordedSpan:
        """A child of the current span, or the root of a new trace."""
        above = trace.get_current_span().get_span_context()
        if above.is_valid:
            return cls(above.trace_id, int(above.trace_flags))
        return cls(_random.getrandbits(128) or 1, 0)

    @classmethod
    def for_consume(cls, *carriers: Mapping[str, Any]) -> UnrecordedSpan:
        """A child of the producer named by the first ``traceparent`` found in ``carriers``."""
        for carrier in carriers:
            parsed = parse_traceparent(carrier.get("traceparent"))
            if parsed is not None:
                return cls(*parsed)
        return cls(_random.getrandbits(128) or 1, 0)

    def __enter__(self) -> UnrecordedSpan:
        self._token = otel_context.attach(trace.set_span_in_context(self.span, _EMPTY))
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        otel_context.detach(self._token)  # type: ignore[arg-type]
