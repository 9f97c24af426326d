"""OpenTelemetry tracing for the bus: one span per hop, context carried in W3C ``traceparent``.

A publish opens a PRODUCER span and writes its context into the message
headers; a consumer opens a CONSUMER span whose parent is that context (and
which also links to it, as the messaging conventions ask), so that one trace
follows a message through every queue. Attributes follow the OpenTelemetry
messaging semantic conventions.

With the ``none`` exporter nothing is recorded: the SDK is bypassed and a
non-recording span with fresh ids (same trace id as the producer, sampled
flag passed on unchanged) is made current, at about a third of the SDK's
cost. Context still propagates, so the journal and the logs get a trace id
per message and downstream services stay in the caller's trace.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased, Sampler
from opentelemetry.trace import (
    Link,
    Span,
    SpanKind,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from bus.envelope import Envelope
from bus.errors import ConfigurationError
from bus.settings import TelemetrySettings
from bus.telemetry.unrecorded import UnrecordedSpan

__all__ = [
    "HopSpan",
    "MessageSpan",
    "Tracing",
    "consume_span",
    "current_trace_id",
    "extract",
    "get_tracing",
    "inject",
    "publish_span",
    "setup_tracing",
]

_PROPAGATOR = TraceContextTextMapPropagator()
_TRACE_HEADERS = frozenset(("traceparent", "tracestate"))
_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.trace_exporter"


def inject(
    headers: MutableMapping[str, str], context: Context | None = None
) -> MutableMapping[str, str]:
    """Write ``traceparent`` (and ``tracestate``) of ``context`` (default: current) into headers."""
    _PROPAGATOR.inject(headers, context=context)
    return headers


def extract(headers: Mapping[str, Any] | None) -> Context:
    """The remote context carried by ``traceparent`` in headers; an empty context if none."""
    if not headers:
        return Context()
    carrier: dict[str, str] = {}
    for name, value in headers.items():
        lowered = str(name).lower()
        if lowered in _TRACE_HEADERS:
            carrier[lowered] = str(value)
    return _PROPAGATOR.extract(carrier)


def _trace_id(span: Span) -> str:
    context = span.get_span_context()
    return trace.format_trace_id(context.trace_id) if context.is_valid else ""


def current_trace_id() -> str:
    """Hex trace id of the active span, or ``""`` outside any span."""
    return _trace_id(trace.get_current_span())


class HopSpan(Protocol):
    """What a publish or consume span gives the bus."""

    @property
    def span(self) -> Span: ...

    @property
    def trace_id(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...


@dataclass(slots=True)
class MessageSpan:
    """The span of one hop, its trace id for the journal and the headers to send on."""

    span: Span
    trace_id: str
    headers: dict[str, str] = field(default_factory=dict)
    """For a publish: ``traceparent``/``tracestate`` to add to the message's headers."""


class Tracing:
    """A tracer provider built from :class:`TelemetrySettings`.

    ``exporter`` overrides the settings' exporter (tests pass an
    ``InMemorySpanExporter``; it is attached with a synchronous processor and
    every span is sampled). ``system`` is the ``messaging.system`` attribute.
    """

    def __init__(
        self,
        settings: TelemetrySettings | None = None,
        *,
        exporter: SpanExporter | None = None,
        system: str = "rabbitmq",
    ) -> None:
        self.settings = settings or TelemetrySettings()
        self.system = system
        processor, sampler = self._processor(exporter)
        self.provider = TracerProvider(
            sampler=sampler,
            resource=Resource.create({"service.name": self.settings.service_name}),
            shutdown_on_exit=processor is not None,
        )
        if processor is not None:
            self.provider.add_span_processor(processor)
        self.recording = processor is not None
        self.tracer = self.provider.get_tracer("bus")

    def _processor(self, exporter: SpanExporter | None) -> tuple[SpanProcessor | None, Sampler]:
        if exporter is not None:
            return SimpleSpanProcessor(exporter), ALWAYS_ON
        kind = self.settings.exporter
        if kind == "none":
            return None, ParentBased(ALWAYS_OFF)
        if kind == "console":
            return BatchSpanProcessor(ConsoleSpanExporter()), ParentBased(ALWAYS_ON)
        try:
            module = importlib.import_module(_OTLP_MODULE)
        except ImportError:
            raise ConfigurationError(
                "telemetry exporter 'otlp' needs the package opentelemetry-exporter-otlp-proto-http"
                " (pip install opentelemetry-exporter-otlp-proto-http), or set"
                " ESB_TELEMETRY__EXPORTER=none|console"
            ) from None
        endpoint = self.settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/traces"):
            endpoint += "/v1/traces"
        otlp: SpanExporter = module.OTLPSpanExporter(endpoint=endpoint)
        return BatchSpanProcessor(otlp), ParentBased(ALWAYS_ON)

    def _attributes(
        self, envelope: Envelope, destination: str, operation: str, routing_key: str | None
    ) -> dict[str, str]:
        return {
            "messaging.system": self.system,
            "messaging.destination.name": destination,
            "messaging.operation": operation,
            "messaging.operation.type": "send" if operation == "publish" else operation,
            "messaging.message.id": envelope.id,
            "messaging.message.conversation_id": envelope.correlation_id,
            "messaging.rabbitmq.destination.routing_key": routing_key or envelope.type,
            "esb.message.type": envelope.type,
        }

    def publish_span(
        self, envelope: Envelope, destination: str, *, routing_key: str | None = None
    ) -> AbstractContextManager[HopSpan]:
        """A PRODUCER span around one publish; ``.headers`` carry its context onward."""
        if not self.recording:
            return UnrecordedSpan.for_publish()
        return self._recorded_publish(envelope, destination, routing_key)

    @contextmanager
    def _recorded_publish(
        self, envelope: Envelope, destination: str, routing_key: str | None
    ) -> Iterator[HopSpan]:
        attributes = self._attributes(envelope, destination, "publish", routing_key)
        with self.tracer.start_as_current_span(
            f"publish {destination}", kind=SpanKind.PRODUCER, attributes=attributes
        ) as span:
            carrier: dict[str, str] = {}
            _PROPAGATOR.inject(carrier)
            yield MessageSpan(span, _trace_id(span), carrier)

    def consume_span(
        self,
        envelope: Envelope,
        queue: str,
        headers: Mapping[str, Any] | None = None,
        *,
        routing_key: str | None = None,
    ) -> AbstractContextManager[HopSpan]:
        """A CONSUMER span around handling one message, child of and linked to the producer.

        The producer context is read from ``headers`` (the transport's), then
        from the envelope's own headers. An exception escaping the block is
        recorded on the span, which is marked as an error.
        """
        if not self.recording:
            return UnrecordedSpan.for_consume(headers or {}, envelope.headers)
        return self._recorded_consume(envelope, queue, headers, routing_key)

    @contextmanager
    def _recorded_consume(
        self, envelope: Envelope, queue: str, headers: Mapping[str, Any] | None,
        routing_key: str | None,
    ) -> Iterator[HopSpan]:
        carrier = {**envelope.headers, **headers} if headers else envelope.headers
        parent = extract(carrier)
        producer = trace.get_current_span(parent).get_span_context()
        links = [Link(producer)] if producer.is_valid else []
        attributes = self._attributes(envelope, queue, "process", routing_key)
        attributes["messaging.destination.subscription.name"] = queue
        with self.tracer.start_as_current_span(
            f"process {queue}",
            context=parent,
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            links=links,
        ) as span:
            yield MessageSpan(span, _trace_id(span))

    def force_flush(self, timeout_millis: int = 5000) -> bool:
        return self.provider.force_flush(timeout_millis)

    def shutdown(self) -> None:
        self.provider.shutdown()


_default: Tracing | None = None


def setup_tracing(
    settings: TelemetrySettings | None = None,
    *,
    exporter: SpanExporter | None = None,
    system: str = "rabbitmq",
    set_global: bool = True,
) -> Tracing:
    """Build the process's :class:`Tracing` and make it the default of the module functions.

    With ``set_global`` the provider also becomes OpenTelemetry's global one,
    so instrumented libraries (httpx, SQLAlchemy) join the same traces; the
    global provider can be set once per process.
    """
    global _default
    tracing = Tracing(settings, exporter=exporter, system=system)
    if set_global:
        trace.set_tracer_provider(tracing.provider)
    _default = tracing
    return tracing


def get_tracing() -> Tracing:
    """The default :class:`Tracing`; a ``none``-exporter one if nothing was set up."""
    global _default
    if _default is None:
        _default = Tracing()
    return _default


def publish_span(
    envelope: Envelope, destination: str, *, routing_key: str | None = None
) -> AbstractContextManager[HopSpan]:
    """:meth:`Tracing.publish_span` of the default tracing."""
    return get_tracing().publish_span(envelope, destination, routing_key=routing_key)


def consume_span(
    envelope: Envelope,
    queue: str,
    headers: Mapping[str, Any] | None = None,
    *,
    routing_key: str | None = None,
) -> AbstractContextManager[HopSpan]:
    """:meth:`Tracing.consume_span` of the default tracing."""
    return get_tracing().consume_span(envelope, queue, headers, routing_key=routing_key)
