"""With the ``none`` exporter, trace context still flows through every hop."""

from __future__ import annotations

from bus.envelope import Envelope
from bus.settings import TelemetrySettings
from bus.telemetry import Tracing
from bus.telemetry.unrecorded import parse_traceparent


def event() -> Envelope:
    return Envelope(type="test.thing.happened.v1", payload={}, source="t")


def test_a_consumer_joins_its_producers_trace_and_passes_it_on() -> None:
    tracing = Tracing(TelemetrySettings(exporter="none"))
    assert not tracing.recording
    with tracing.publish_span(event(), "esb.events") as published:
        sent_headers = dict(published.headers)
    with tracing.consume_span(event(), "esb.q", sent_headers) as consumed:
        assert consumed.trace_id == published.trace_id
        with tracing.publish_span(event(), "esb.events") as follow_up:
            assert follow_up.trace_id == published.trace_id
            assert follow_up.headers["traceparent"] != sent_headers["traceparent"]
    with tracing.publish_span(event(), "esb.events") as unrelated:
        assert unrelated.trace_id != published.trace_id


def test_a_malformed_traceparent_starts_a_new_trace_instead_of_failing() -> None:
    tracing = Tracing(TelemetrySettings(exporter="none"))
    for bad in ("", "00-xyz", "01-" + "a" * 32 + "-" + "b" * 16 + "-01",
                "00-" + "0" * 32 + "-" + "b" * 16 + "-01", 42):
        with tracing.consume_span(event(), "q", {"traceparent": bad}) as span:
            assert len(span.trace_id) == 32
            assert parse_traceparent(span.headers["traceparent"]) is not None
