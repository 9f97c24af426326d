"""OpenTelemetry metrics export: the bus's counters pushed to the console or OTLP.

Prometheus scraping (``/metrics``) always works; this adds push export when
``ESB_TELEMETRY__EXPORTER`` is ``console`` or ``otlp``.
"""

from __future__ import annotations

import importlib

from opentelemetry.metrics import Meter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricExporter,
    PeriodicExportingMetricReader,
)
from opentelemetry.sdk.resources import Resource

from bus.errors import ConfigurationError
from bus.settings import TelemetrySettings

__all__ = ["meter_provider"]

_OTLP_MODULE = "opentelemetry.exporter.otlp.proto.http.metric_exporter"


def meter_provider(
    settings: TelemetrySettings, *, interval_seconds: float = 15.0
) -> tuple[MeterProvider, Meter] | None:
    """A provider exporting every ``interval_seconds``; None for the ``none`` exporter."""
    if settings.exporter == "none":
        return None
    exporter: MetricExporter
    if settings.exporter == "console":
        exporter = ConsoleMetricExporter()
    else:
        try:
            module = importlib.import_module(_OTLP_MODULE)
        except ImportError:
            raise ConfigurationError(
                "metrics exporter 'otlp' needs opentelemetry-exporter-otlp-proto-http"
                " (pip install 'telecom-esb[otlp]')"
            ) from None
        endpoint = settings.otlp_endpoint.rstrip("/")
        if not endpoint.endswith("/v1/metrics"):
            endpoint += "/v1/metrics"
        exporter = module.OTLPMetricExporter(endpoint=endpoint)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=interval_seconds * 1000)
    provider = MeterProvider(
        metric_readers=[reader],
        resource=Resource.create({"service.name": settings.service_name}),
    )
    return provider, provider.get_meter("bus")
