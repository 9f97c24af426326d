"""``esb run``: serves until SIGTERM, then settles, flushes the journal and exits 0."""

from __future__ import annotations

import httpx

from tests.esb_processes import (
    BusState,
    Deployment,
    EsbProcess,
    call_ended,
    eventually,
    metric,
    publish,
)

CALL_LOG = "esb.demo.call-log"


def processed_by_call_log(api: str) -> float | None:
    return metric(httpx.get(f"{api}/metrics").text, "esb_messages_consumed_total",
                  subscription=CALL_LOG, outcome="processed")


def test_sigterm_stops_the_bus_cleanly_and_nothing_it_did_is_lost(
    deployment: Deployment, call_log_adapter: str,
) -> None:
    # The journal would wait half a minute to write on its own: only a clean stop writes it.
    env = deployment.env(PYTHONPATH=call_log_adapter, ESB_JOURNAL__FLUSH_INTERVAL="30")
    bus = EsbProcess(deployment, "run", env=env)
    state = BusState(deployment)
    try:
        bus.start()
        assert httpx.get(f"{deployment.api}/ready").json()["broker"] is True
        adapters = httpx.get(f"{deployment.api}/v1/adapters").json()["adapters"]
        [call_log] = [adapter for adapter in adapters if adapter["name"] == "call-log"]
        assert call_log["state"] == "running"
        call = call_ended(caller_number="+79261234567")
        publish(deployment, call)
        eventually(lambda: processed_by_call_log(deployment.api) == 1)
        assert state.hops(call.id, CALL_LOG) == ["published"]  # processed, not journaled yet

        exit_code = bus.stop()

        assert exit_code == 0, bus.output()
        assert "stopping: settling in-flight messages and flushing the journal" in bus.output()
        assert "Traceback" not in bus.output()
        assert state.hops(call.id, CALL_LOG) == ["published", "processed"]
    finally:
        bus.stop()
        state.close()
