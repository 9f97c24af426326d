"""With the console exporter the bus's counters are pushed through OpenTelemetry too."""

from __future__ import annotations

import io
import json

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

from bus.settings import TelemetrySettings
from bus.telemetry import Metrics
from bus.telemetry.meters import meter_provider


def test_no_exporter_means_no_push_provider() -> None:
    assert meter_provider(TelemetrySettings(exporter="none")) is None


def test_console_exporter_pushes_published_and_consumed_counts() -> None:
    exported_provider = meter_provider(TelemetrySettings(exporter="console"))
    assert exported_provider is not None
    exported_provider[0].shutdown()
    out = io.StringIO()
    reader = PeriodicExportingMetricReader(
        ConsoleMetricExporter(out=out, formatter=lambda m: m.to_json(indent=None) + "\n"),
        export_interval_millis=60_000,
    )
    provider = MeterProvider(metric_readers=[reader])
    metrics = Metrics(meter=provider.get_meter("bus"))
    metrics.message_published("pbx.call.ended.v1", 3)
    metrics.message_consumed("esb.crm.call-log", "processed", 0.004)
    provider.force_flush()
    provider.shutdown()
    exported = json.loads(out.getvalue().strip().splitlines()[0])
    names = {metric["name"]: metric for scope in exported["resource_metrics"][0]["scope_metrics"]
             for metric in scope["metrics"]}
    published = names["esb.messages.published"]["data"]["data_points"][0]
    assert published["value"] == 3
    assert published["attributes"] == {"type": "pbx.call.ended.v1"}
    assert "esb.handler.duration" in names
