"""Health, readiness, metrics and topology of a running ``esb demo``, over HTTP."""

from __future__ import annotations

import httpx

from tests.esb_processes import eventually, metric


def test_health_says_the_process_is_alive(api: httpx.Client) -> None:
    response = api.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_when_the_broker_and_the_database_both_answer(api: httpx.Client) -> None:
    response = api.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ready", "broker": True, "database": True}


def test_metrics_count_published_call_events_by_type(api: httpx.Client) -> None:
    def published_calls() -> float | None:
        return metric(api.get("/metrics").text, "esb_messages_published_total",
                      type="pbx.call.ended.v1")

    assert eventually(published_calls) >= 1
    response = api.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert metric(response.text, "esb_queue_depth", queue="esb.demo.call-log") is not None
    assert metric(response.text, "esb_queue_depth", queue="esb.demo.call-log.dlq") is not None


def test_topology_lists_the_call_log_queue_bound_to_call_ended_with_its_dlq(
    api: httpx.Client,
) -> None:
    topology = api.get("/v1/topology").json()

    assert topology["exchange"] == "esb.events"
    [call_log] = [q for q in topology["queues"] if q["queue"] == "esb.demo.call-log"]
    assert call_log["bindings"] == ["pbx.call.ended.v1"]
    assert call_log["dead_letter_queue"] == "esb.demo.call-log.dlq"
    assert call_log["retry_delays"] == [1.0, 5.0, 30.0, 120.0]
    assert call_log["consumers"] >= 1
