"""The call store: one row per call from pbx.call.ended.v1; answers pbx.calls.requested.v1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.pbx.callstore import CALLS_REQUESTED, CallStore, calls_router
from adapters.pbx.events import CALL_ENDED
from bus.app import Bus
from bus.envelope import Envelope
from tests.conftest import BusFactory, eventually
from tests.pbx.callstore.conftest import ZONE, ended_call

T0 = datetime(2024, 3, 12, 6, 15, tzinfo=UTC)
CUSTOMER = "+79123456789"


async def started_bus(make_bus: BusFactory) -> tuple[Bus, CallStore]:
    """A bus running the call store's handlers on a store in the bus's database."""
    bus = await make_bus(calls_router, source="pbx", start=False)
    store = CallStore(bus.engine, timezone=ZONE)
    bus.provide(CallStore, store)
    await bus.start()
    return bus, store


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_an_ended_call_redelivered_or_republished_is_stored_once(
    make_bus: BusFactory,
) -> None:
    bus, store = await started_bus(make_bus)
    first = Envelope(type=CALL_ENDED, source="pbx", key="1.1",
                     payload=ended_call("1.1", T0, talk=60))
    republished = Envelope(type=CALL_ENDED, source="pbx", key="1.1",
                           payload=ended_call("1.1", T0, talk=999))
    other = Envelope(type=CALL_ENDED, source="pbx", key="2.2",
                     payload=ended_call("2.2", T0 + timedelta(minutes=5)))

    for envelope in (first, first, republished, other):
        await bus.publish(envelope)

    await eventually(lambda: store.count() == 2)
    history = store.recent(phone=CUSTOMER, limit=10)
    assert [call["linkedid"] for call in history] == ["2.2", "1.1"]
    assert history[1] == first.payload
    assert store.record(republished.payload, republished.id) is False
    assert store.count() == 2


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_recent_calls_of_a_phone_or_an_agent_are_answered_newest_first(
    make_bus: BusFactory,
) -> None:
    bus, store = await started_bus(make_bus)
    calls = [
        ended_call("c1", T0, caller="89123456789", targets=("2001", "2002"),
                   answered_by="2002"),
        ended_call("c2", T0 + timedelta(hours=1), caller="+79990001122", answered_by=None),
        ended_call("c3", T0 + timedelta(hours=2), direction="outbound", caller="2001",
                   called="89123456789", queue=None, targets=(), answered_by=None,
                   disposition="busy"),
        ended_call("c4", T0 + timedelta(hours=3), caller=CUSTOMER, targets=("2002",),
                   answered_by="2002"),
    ]
    for number, call in enumerate(calls):
        store.record(call, f"m{number}")

    by_phone = await bus.request(CALLS_REQUESTED, {"phone": CUSTOMER, "limit": 2}, timeout=5)
    everything = await bus.request(CALLS_REQUESTED, {"phone": CUSTOMER}, timeout=5)
    by_agent = await bus.request(CALLS_REQUESTED, {"extension": "2002"}, timeout=5)
    placer = await bus.request(CALLS_REQUESTED, {"extension": "2001"}, timeout=5)
    nobody = await bus.request(CALLS_REQUESTED, {"phone": "+74950000000"}, timeout=5)

    customers = [c for c in calls if CUSTOMER in ("+7" + str(c["caller_number"])[-10:],
                                                  "+7" + str(c["called_number"])[-10:])]
    newest_first = sorted(customers, key=lambda c: c["started_at"], reverse=True)
    assert by_phone.payload == {"calls": newest_first[:2], "error": None}
    assert [c["linkedid"] for c in everything.payload["calls"]] == [
        c["linkedid"] for c in newest_first]
    assert [c["linkedid"] for c in by_agent.payload["calls"]] == ["c4", "c1"]
    assert [c["linkedid"] for c in placer.payload["calls"]] == ["c3", "c2", "c1"]
    assert nobody.payload == {"calls": [], "error": None}


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_a_store_that_cannot_answer_replies_with_an_unavailable_error(
    make_bus: BusFactory,
) -> None:
    bus, store = await started_bus(make_bus)
    store.record(ended_call("1.1", T0), "m1")
    with store.engine.begin() as db:
        db.execute(sa.text("drop table pbx_call_records"))  # the database lost its table

    reply = await bus.request(CALLS_REQUESTED, {"phone": CUSTOMER}, timeout=5)

    assert reply.payload["calls"] == []
    assert reply.payload["error"]["code"] == "unavailable"


def test_a_call_is_found_by_the_customer_number_the_pbx_adapter_normalised(
    store: CallStore,
) -> None:
    abroad = {**ended_call("3.3", T0, caller="4952345678"), "customer_e164": "+494952345678"}
    dialled = {**ended_call("4.4", T0 + timedelta(minutes=1), direction="outbound",
                            caller="2001", called="89123456789"), "customer_e164": CUSTOMER}
    older = ended_call("5.5", T0 + timedelta(minutes=2), direction="outbound", caller="2001",
                       called="89123456789")  # an older producer: no customer_e164

    for number, call in enumerate((abroad, dialled, older)):
        assert store.record(call, f"message-{number}") is True

    assert [c["linkedid"] for c in store.recent(phone="+494952345678", limit=10)] == ["3.3"]
    assert store.recent(phone="+74952345678", limit=10) == []  # not read as Russian again
    assert [c["linkedid"] for c in store.recent(phone=CUSTOMER, limit=10)] == ["5.5", "4.4"]
