"""Telemetry: OpenTelemetry tracing per hop and Prometheus metrics of the bus."""

from bus.telemetry.metrics import CONTENT_TYPE, Metrics, Outcome, QueueDepthSource
from bus.telemetry.tracing import (
    MessageSpan,
    Tracing,
    consume_span,
    current_trace_id,
    extract,
    get_tracing,
    inject,
    publish_span,
    setup_tracing,
)

__all__ = [
    "CONTENT_TYPE",
    "MessageSpan",
    "Metrics",
    "Outcome",
    "QueueDepthSource",
    "Tracing",
    "consume_span",
    "current_trace_id",
    "extract",
    "get_tracing",
    "inject",
    "publish_span",
    "setup_tracing",
]
