"""One trace follows a message: the consume span is a child of the publish span via headers."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from bus.envelope import Envelope, decode, encode
from bus.errors import ConfigurationError
from bus.settings import TelemetrySettings
from bus.telemetry import Tracing, current_trace_id, extract, inject
from bus.telemetry.tracing import _OTLP_MODULE


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter) -> Iterator[Tracing]:
    tracing = Tracing(TelemetrySettings(service_name="esb-test"), exporter=exporter)
    yield tracing
    tracing.shutdown()


def call_answered() -> Envelope:
    return Envelope(type="pbx.call.answered.v1", payload={"call_id": "c-1"}, source="pbx",
                    correlation_id="conv-1")


def test_a_consume_span_is_a_child_of_the_publish_span_through_the_headers(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    sent = call_answered()
    with tracing.publish_span(sent, "esb.events") as published:
        wire = encode(sent.with_headers(**published.headers))
    assert published.headers["traceparent"].startswith("00-" + published.trace_id)

    received = decode(wire)
    with tracing.consume_span(received, "crm.calls") as consumed:
        assert current_trace_id() == consumed.trace_id

    producer, consumer = exporter.get_finished_spans()
    assert consumed.trace_id == published.trace_id
    assert consumer.parent is not None
    assert consumer.parent.span_id == producer.context.span_id
    assert [link.context.span_id for link in consumer.links] == [producer.context.span_id]
    assert (producer.kind, consumer.kind) == (SpanKind.PRODUCER, SpanKind.CONSUMER)
    assert (producer.name, consumer.name) == ("publish esb.events", "process crm.calls")
    assert producer.resource.attributes["service.name"] == "esb-test"


def test_spans_carry_the_messaging_conventions(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    sent = call_answered()
    with tracing.publish_span(sent, "esb.events") as published:
        pass
    with tracing.consume_span(sent, "crm.calls", published.headers):
        pass
    producer, consumer = exporter.get_finished_spans()
    assert dict(producer.attributes or {}) == {
        "messaging.system": "rabbitmq",
        "messaging.destination.name": "esb.events",
        "messaging.operation": "publish",
        "messaging.operation.type": "send",
        "messaging.message.id": sent.id,
        "messaging.message.conversation_id": "conv-1",
        "messaging.rabbitmq.destination.routing_key": "pbx.call.answered.v1",
        "esb.message.type": "pbx.call.answered.v1",
    }
    attributes = consumer.attributes or {}
    assert attributes["messaging.operation"] == "process"
    assert attributes["messaging.destination.name"] == "crm.calls"
    assert attributes["messaging.destination.subscription.name"] == "crm.calls"


def test_transport_headers_win_over_the_envelope_headers(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    stale = call_answered().with_headers(
        traceparent="00-11111111111111111111111111111111-2222222222222222-01"
    )
    with tracing.publish_span(stale, "esb.events") as published:
        pass
    with tracing.consume_span(stale, "q", {"traceparent": published.headers["traceparent"]}) as c:
        pass
    assert c.trace_id == published.trace_id


def test_a_handler_error_marks_the_consume_span(
    tracing: Tracing, exporter: InMemorySpanExporter
) -> None:
    with pytest.raises(RuntimeError), tracing.consume_span(call_answered(), "q"):
        raise RuntimeError("backend down")
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert span.events[0].name == "exception"


def test_without_an_exporter_nothing_is_recorded_but_the_trace_still_flows() -> None:
    tracing = Tracing(TelemetrySettings(exporter="none"))
    sent = call_answered()
    with tracing.publish_span(sent, "esb.events") as published:
        assert not published.span.is_recording()
    with tracing.consume_span(sent.with_headers(**published.headers), "q") as consumed:
        assert not consumed.span.is_recording()
    assert len(published.trace_id) == 32
    assert consumed.trace_id == published.trace_id


def test_a_sampled_upstream_trace_stays_sampled_without_an_exporter() -> None:
    tracing = Tracing(TelemetrySettings(exporter="none"))
    upstream = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    sent = call_answered().with_headers(traceparent=upstream)
    with tracing.consume_span(sent, "q") as consumed:
        onward = inject({})
    assert consumed.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert onward["traceparent"].endswith("-01")


def test_inject_and_extract_round_trip_the_w3c_traceparent(tracing: Tracing) -> None:
    with tracing.tracer.start_as_current_span("outer") as outer:
        headers = inject({})
    restored = trace.get_current_span(extract(headers)).get_span_context()
    assert restored.trace_id == outer.get_span_context().trace_id
    assert restored.is_remote
    assert not trace.get_current_span(extract({"TraceParent": "garbage"})).get_span_context(
    ).is_valid
    assert extract(None) is not None


def test_otlp_without_its_package_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, _OTLP_MODULE, None)
    with pytest.raises(ConfigurationError, match="opentelemetry-exporter-otlp-proto-http"):
        Tracing(TelemetrySettings(exporter="otlp"))


def test_the_console_exporter_can_be_chosen() -> None:
    tracing = Tracing(TelemetrySettings(exporter="console"))
    assert tracing.recording
    tracing.shutdown()
