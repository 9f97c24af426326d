"""``esb messages search``: the journal of a running bus, from the command line."""

from __future__ import annotations

from typing import Any

from tests.esb_processes import (
    BusState,
    EsbProcess,
    call_ended,
    esb,
    json_lines,
    publish,
)


def search(bus: EsbProcess, *args: str) -> list[dict[str, Any]]:
    result = esb("messages", "search", *args, "--json", env=bus.env)
    assert result.returncode == 0, result.stderr
    return json_lines(result.stdout)


def test_search_by_type_prefix_prints_a_json_line_per_message_with_its_path(
    running_bus: EsbProcess, bus_state: BusState,
) -> None:
    call = call_ended(caller_number="+79031112233")
    publish(running_bus.deployment, call)
    bus_state.wait_for_hop(call.id, "processed")

    messages = search(running_bus, "--type-prefix", "pbx.call")

    assert messages
    assert all(m["type"].startswith("pbx.call.") for m in messages)
    [message] = [m for m in messages if m["id"] == call.id]
    assert [e["status"] for e in message["events"]] == ["published", "processed"]
    assert message["payload"]["caller_number"] == "+79031112233"

