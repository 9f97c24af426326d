"""``esb dlq list|show|replay`` on the database of a running ``esb run``.

The call log adapter (the demo CRM call log) dead-letters a call without a
caller number. These tests publish such a call into the running bus, then
do what an operator does: find it, read it, fix it and send it back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.esb_processes import (
    BusState,
    EsbProcess,
    call_ended,
    esb,
    eventually,
    json_lines,
    publish,
)

CALL_LOG = "esb.demo.call-log"
"""The subscription that dead-letters calls without a caller number (others take them)."""


def dlq(bus: EsbProcess, *args: str) -> list[dict[str, Any]]:
    result = esb("dlq", *args, env=bus.env)
    assert result.returncode == 0, result.stderr
    return json_lines(result.stdout)


@pytest.fixture
def dead_call(running_bus: EsbProcess, bus_state: BusState) -> dict[str, Any]:
    """The dead-letter record of a call without a caller number, once it is journaled too."""
    call = call_ended(caller_number=None)
    publish(running_bus.deployment, call)
    bus_state.wait_for_hop(call.id, "dead_lettered")
    return eventually(lambda: bus_state.dead_letter_of(call.id))


def edited(record: dict[str, Any], path: Path, **payload: Any) -> Path:
    """The dead message's envelope with an operator's edit, saved to ``path``."""
    envelope = orjson.loads(record["body"])
    envelope["payload"].update(payload)
    path.write_bytes(orjson.dumps(envelope))
    return path


def test_list_and_show_give_the_reason_and_the_original_message(
    running_bus: EsbProcess, dead_call: dict[str, Any],
) -> None:
    listed = dlq(running_bus, "list", "--json")

    [record] = [r for r in listed if r["message_id"] == dead_call["message_id"]]
    assert record["queue"] == "esb.demo.call-log"
    assert record["status"] == "dead"
    assert record["reason"] == "SchemaViolation: the CRM needs a caller number to log a call"
    assert "body" not in record

    [shown] = dlq(running_bus, "show", str(record["id"]), "--json")

    assert shown["message_id"] == dead_call["message_id"]
    assert orjson.loads(shown["body"])["payload"]["caller_number"] is None
    assert "SchemaViolation" in shown["error"]


def test_replay_of_a_fixed_call_is_processed_by_the_running_bus_once(
    running_bus: EsbProcess, bus_state: BusState, dead_call: dict[str, Any], tmp_path: Path,
) -> None:
    fixed = edited(dead_call, tmp_path / "fixed.json", caller_number="+79161234567")

    result = esb("dlq", "replay", str(dead_call["id"]), "--body", str(fixed), "--by", "operator",
                 env=running_bus.env)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"replayed dead letter {dead_call['id']} to esb.demo.call-log")
    assert bus_state.wait_for_hop(dead_call["message_id"], "processed",
                               subscriber=CALL_LOG) == [
        "published", "dead_lettered", "replayed", "processed"]
    entry = bus_state.journal.get(dead_call["message_id"])
    assert entry is not None
    replayed_hop = entry.events[2]
    assert replayed_hop.detail == f"dead letter {dead_call['id']} replayed by operator"
    assert replayed_hop.subscriber == "esb.demo.call-log"
    replayed = dlq(running_bus, "list", "--status", "replayed", "--json")
    [record] = [r for r in replayed if r["id"] == dead_call["id"]]
    assert (record["replayed_by"], record["edited"]) == ("operator", True)

    again = esb("dlq", "replay", str(dead_call["id"]), env=running_bus.env)

    assert again.returncode != 0
    assert f"dead letter {dead_call['id']} is missing or already replayed" in again.stderr
    assert "Traceback" not in again.stderr


def test_an_edit_the_bus_would_refuse_is_refused_and_nothing_is_replayed(
    running_bus: EsbProcess, bus_state: BusState, dead_call: dict[str, Any], tmp_path: Path,
) -> None:
    broken = edited(dead_call, tmp_path / "broken.json",
                    caller_number="+79161234567", talk_seconds="sixty")
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not json")

    for edit, complaint in ((broken, "payload.talk_seconds"), (garbage, "not valid JSON")):
        result = esb("dlq", "replay", str(dead_call["id"]), "--body", str(edit),
                     env=running_bus.env)

        assert result.returncode != 0
        assert complaint in result.stderr
        assert "Traceback" not in result.stderr
    record = bus_state.dead_letter_of(dead_call["message_id"])
    assert record is not None
    assert record["status"] == "dead"
    assert bus_state.hops(dead_call["message_id"], CALL_LOG) == ["published", "dead_lettered"]
