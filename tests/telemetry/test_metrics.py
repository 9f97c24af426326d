"""Bus metrics in the Prometheus text format, each bus with its own registry."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client.parser import text_string_to_metric_families

from bus.telemetry import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def test_published_and_consumed_counters_render_with_their_labels() -> None:
    metrics = Metrics()
    metrics.message_published("pbx.call.ended.v1")
    metrics.message_published("pbx.call.ended.v1")
    metrics.message_consumed("crm.calls", "processed", 0.004)
    metrics.message_consumed("crm.calls", "retried", 0.2)
    metrics.message_consumed("crm.calls", "dead_lettered")
    metrics.message_consumed("crm.calls", "duplicate")

    found = samples(metrics)
    assert found[("esb_messages_published_total",
                  frozenset({("type", "pbx.call.ended.v1")}))] == 2
    for outcome in ("processed", "retried", "dead_lettered", "duplicate"):
        labels = frozenset({("subscription", "crm.calls"), ("outcome", outcome)})
        assert found[("esb_messages_consumed_total", labels)] == 1
    assert found[("esb_handler_duration_seconds_count",
                  frozenset({("subscription", "crm.calls")}))] == 2
    assert found[("esb_handler_duration_seconds_bucket",
                  frozenset({("subscription", "crm.calls"), ("le", "0.005")}))] == 1


def test_queue_depth_is_read_from_callbacks_at_scrape_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    depths = {"crm.calls": 3}
    metrics.set_queue_depth("billing.payments", 7)
    metrics.add_queue_depth_source(lambda: depths)

    def broken() -> dict[str, int]:
        raise ConnectionError("broker away")

    metrics.add_queue_depth_source(broken)
    with caplog.at_level(logging.ERROR):
        assert samples(metrics)[("esb_queue_depth", frozenset({("queue", "crm.calls")}))] == 3
    depths["crm.calls"] = 42
    found = samples(metrics)
    assert found[("esb_queue_depth", frozenset({("queue", "crm.calls")}))] == 42
    assert found[("esb_queue_depth", frozenset({("queue", "billing.payments")}))] == 7
    assert "queue depth source failed" in caplog.text


def test_two_buses_in_one_process_keep_their_own_counts() -> None:
    first, second = Metrics(), Metrics()
    first.journal_dropped(3)
    first.journal_written(10)
    assert samples(first)[("esb_journal_records_dropped_total", frozenset())] == 3
    assert samples(second)[("esb_journal_records_dropped_total", frozenset())] == 0
    assert samples(first)[("esb_journal_records_written_total", frozenset())] == 10


def test_measurements_can_be_mirrored_into_opentelemetry() -> None:
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    metrics = Metrics(meter=provider.get_meter("bus"))
    metrics.message_published("pbx.call.ended.v1")
    metrics.message_consumed("crm.calls", "processed", 0.01)
    metrics.set_queue_depth("crm.calls", 5)

    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[Any]] = {
        metric.name: list(metric.data.data_points)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
    }
    assert points["esb.messages.published"][0].attributes == {"type": "pbx.call.ended.v1"}
    assert points["esb.messages.published"][0].value == 1
    assert points["esb.queue.depth"][0].value == 5
    assert points["esb.handler.duration"][0].count == 1
    provider.shutdown()
