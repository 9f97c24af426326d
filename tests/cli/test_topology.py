"""``esb topology``: what the bus declares for its installed adapters."""

from __future__ import annotations

from tests.esb_processes import Deployment, esb, json_lines


def test_topology_prints_one_json_line_per_queue_of_the_installed_adapters(
    deployment: Deployment, call_log_adapter: str,
) -> None:
    result = esb("topology", "--json", env=deployment.env(PYTHONPATH=call_log_adapter))

    assert result.returncode == 0, result.stderr
    queues = json_lines(result.stdout)
    names = [q["queue"] for q in queues]
    assert len(names) == len(set(names))
    assert all(q["exchange"] == "esb.events" for q in queues)
    [call_log] = [q for q in queues if q["queue"] == "esb.demo.call-log"]
    assert call_log["bindings"] == ["pbx.call.ended.v1"]
    assert call_log["dead_letter_queue"] == "esb.demo.call-log.dlq"
    assert call_log["retry_delays"] == [1.0, 5.0, 30.0, 120.0]
    assert (call_log["messages"], call_log["consumers"]) == (0, 0)
    assert call_log["per_instance"] is False
