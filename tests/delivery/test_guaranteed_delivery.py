"""Delivery guarantees of the bus, on every transport."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import BaseModel

from bus.context import Context
from bus.delivery.dead_letters import NotReplayable
from bus.delivery.outbox import add_to_outbox
from bus.delivery.retry import RetryPolicy
from bus.delivery.rpc import RemoteError
from bus.envelope import Envelope
from bus.errors import ExternalSystemUnavailable, RequestTimeout, SchemaViolation
from bus.router import Router
from bus.transport import OutgoingMessage
from tests.delivery.conftest import BusFactory, eventually

pytestmark = pytest.mark.asyncio

CALL_ENDED = "test.thing.happened.v1"


class Thing(BaseModel):
    n: str


def thing(n: str, **extra: Any) -> Envelope:
    return Envelope(type=CALL_ENDED, payload={"n": n, **extra}, source="test")


async def test_handler_gets_the_payload_parsed_into_its_model(make_bus: BusFactory) -> None:
    router = Router()
    seen: list[Thing] = []

    @router.subscriber("things", "test.thing.*.v1")
    async def on_thing(item: Thing, envelope: Envelope) -> None:
        assert envelope.type == CALL_ENDED
        seen.append(item)

    bus = await make_bus(router)
    await bus.publish(thing("1"))
    await eventually(lambda: len(seen) == 1)
    assert seen == [Thing(n="1")]


async def test_the_same_message_delivered_twice_is_handled_once(make_bus: BusFactory) -> None:
    router = Router()
    handled: list[str] = []

    @router.subscriber("things", CALL_ENDED)
    async def on_thing(envelope: Envelope) -> None:
        handled.append(envelope.id)

    bus = await make_bus(router)
    once = thing("1")
    await bus.publish(once)
    await bus.publish(once)
    await bus.publish(thing("2"))
    await eventually(lambda: len(handled) >= 2)
    await asyncio.sleep(0.3)
    assert handled.count(once.id) == 1
    assert len(handled) == 2


async def test_copies_of_a_message_in_flight_are_handled_once_under_concurrency(
    make_bus: BusFactory,
) -> None:
    router = Router()
    handled: list[str] = []

    @router.subscriber("things", CALL_ENDED, concurrency=8)
    async def on_thing(envelope: Envelope) -> None:
        await asyncio.sleep(0.05)  # the copies arrive while the first is being handled
        handled.append(envelope.id)

    bus = await make_bus(router)
    once = thing("1")
    await bus.publish_many([once, once, once, thing("2")])
    await eventually(lambda: len(handled) >= 2)
    await asyncio.sleep(0.3)
    assert handled.count(once.id) == 1
    assert len(handled) == 2


async def test_transient_failure_is_retried_after_a_delay_and_then_succeeds(
    make_bus: BusFactory,
) -> None:
    router = Router()
    attempts: list[int] = []

    @router.subscriber("flaky", CALL_ENDED, retry=RetryPolicy(max_attempts=3, delays=(0.2,)))
    async def flaky(envelope: Envelope, context: Context) -> None:
        attempts.append(context.attempt)
        if context.attempt < 3:
            raise ExternalSystemUnavailable("billing answered 503")

    bus = await make_bus(router)
    await bus.publish(thing("1"))
    await eventually(lambda: attempts == [1, 2, 3])
    await asyncio.sleep(0.3)
    assert bus.dead_letters.count() == 0


async def test_permanent_failure_is_dead_lettered_at_once_with_its_reason(
    make_bus: BusFactory,
) -> None:
    router = Router()
    attempts: list[int] = []

    @router.subscriber("strict", CALL_ENDED)
    async def strict(envelope: Envelope, context: Context) -> None:
        attempts.append(context.attempt)
        raise SchemaViolation("payload.n: must be a phone", field="payload.n")

    bus = await make_bus(router)
    message = thing("1")
    await bus.publish(message)
    await eventually(lambda: bus.dead_letters.count() == 1)
    [record] = bus.dead_letters.list()
    assert attempts == [1]
    assert record.message_id == message.id
    assert record.queue == bus.queue_name(bus.subscriptions[0])
    assert record.reason == "SchemaViolation: payload.n: must be a phone"
    assert "SchemaViolation" in record.error
    assert record.attempts == 1
    assert Envelope.from_dict(__import__("orjson").loads(record.body)) == message


async def test_a_poison_message_sent_twice_waits_once_in_the_dead_letters(
    make_bus: BusFactory,
) -> None:
    """A publisher's retry (or a redelivery after the death) is the same message: the
    operator finds, and replays, one record; after a replay it may die again."""
    router = Router()
    failures: list[str] = []

    @router.subscriber("strict", CALL_ENDED)
    async def strict(envelope: Envelope) -> None:
        failures.append(envelope.id)
        raise SchemaViolation("payload.n: must be a phone", field="payload.n")

    bus = await make_bus(router)
    message = thing("1")
    await bus.publish(message)
    await bus.publish(message)
    await eventually(lambda: len(failures) == 2)
    await eventually(lambda: bus.dead_letters.count() == 1)
    await asyncio.sleep(0.3)  # the second copy's death has been drained by now
    assert [r.message_id for r in bus.dead_letters.list()] == [message.id]

    [record] = bus.dead_letters.list()
    await bus.replay(record.id, by="operator")
    await eventually(lambda: len(failures) == 3)
    await eventually(lambda: len(bus.dead_letters.list(status=None)) == 2)
    assert bus.dead_letters.count() == 1  # the new death waits; the old record is replayed


async def test_exhausted_retries_are_dead_lettered_with_the_attempt_count(
    make_bus: BusFactory,
) -> None:
    router = Router()

    @router.subscriber("doomed", CALL_ENDED, retry=RetryPolicy(max_attempts=2, delays=(0.1,)))
    async def doomed(envelope: Envelope) -> None:
        raise ConnectionResetError("CRM reset the connection")

    bus = await make_bus(router)
    await bus.publish(thing("1"))
    await eventually(lambda: bus.dead_letters.count() == 1)
    [record] = bus.dead_letters.list()
    assert record.attempts == 2
    assert record.reason.startswith("gave up after 2 attempts")
    assert "CRM reset the connection" in record.reason


async def test_malformed_bytes_end_in_the_dead_letter_store_with_a_clear_reason(
    make_bus: BusFactory,
) -> None:
    router = Router()
    handled: list[Envelope] = []

    @router.subscriber("things", CALL_ENDED)
    async def on_thing(envelope: Envelope) -> None:
        handled.append(envelope)

    bus = await make_bus(router)
    queue = bus.queue_name(bus.subscriptions[0])
    await bus.transport.send_to_queue(queue, OutgoingMessage(
        body=b'{"id": "x", "type": ', routing_key=CALL_ENDED, message_id="garbage-1"))
    await bus.publish(thing("after"))
    await eventually(lambda: bus.dead_letters.count() == 1 and len(handled) == 1)
    [record] = bus.dead_letters.list()
    assert record.message_id == "garbage-1"
    assert record.reason.startswith("MalformedMessage: body is not valid JSON")
    assert record.body == b'{"id": "x", "type": '


async def test_replay_sends_a_dead_letter_back_once_even_when_asked_twice(
    make_bus: BusFactory,
) -> None:
    router = Router()
    broken = True
    handled: list[str] = []

    @router.subscriber("things", CALL_ENDED)
    async def on_thing(envelope: Envelope) -> None:
        if broken:
            raise SchemaViolation("not yet")
        handled.append(envelope.id)

    bus = await make_bus(router)
    message = thing("1")
    await bus.publish(message)
    await eventually(lambda: bus.dead_letters.count() == 1)
    [record] = bus.dead_letters.list()
    broken = False
    await bus.replay(record.id, by="operator")
    with pytest.raises(NotReplayable):
        await bus.replay(record.id, by="operator")
    await eventually(lambda: handled == [message.id])
    await asyncio.sleep(0.3)
    assert handled == [message.id]
    replayed = bus.dead_letters.get(record.id)
    assert replayed is not None and replayed.status == "replayed"
    assert replayed.replayed_by == "operator"


async def test_outbox_publishes_what_commits_and_nothing_of_what_rolls_back(
    make_bus: BusFactory,
) -> None:
    router = Router()
    handled: list[str] = []

    @router.subscriber("things", CALL_ENDED)
    async def on_thing(item: Thing) -> None:
        handled.append(item.n)

    bus = await make_bus(router)
    with bus.engine.begin() as connection:
        add_to_outbox(connection, thing("committed"))
    with pytest.raises(RuntimeError), bus.engine.begin() as connection:
        add_to_outbox(connection, thing("rolled back"))
        raise RuntimeError("the adapter's own write failed")
    bus.outbox_relay_poke()
    await eventually(lambda: handled == ["committed"])
    await asyncio.sleep(0.3)
    assert handled == ["committed"]


async def test_run_once_commits_the_side_effect_with_the_processed_id(
    make_bus: BusFactory,
) -> None:
    router = Router()
    effects = sa.Table("test_effects", sa.MetaData(), sa.Column("n", sa.String))

    @router.subscriber("effects", CALL_ENDED)
    async def write(item: Thing, context: Context) -> None:
        await context.run_once(lambda c: c.execute(effects.insert().values(n=item.n)))

    bus = await make_bus(router)
    effects.create(bus.engine)
    message = thing("1")
    for _ in range(3):
        await bus.publish(message)
    await bus.publish(thing("2"))

    def rows() -> list[str]:
        with bus.engine.connect() as connection:
            return sorted(r.n for r in connection.execute(sa.select(effects)))

    await eventually(lambda: rows() == ["1", "2"])
    await asyncio.sleep(0.3)
    assert rows() == ["1", "2"]


async def test_request_gets_the_responders_reply_correlated(make_bus: BusFactory) -> None:
    router = Router()

    @router.responder("test.thing.happened.v1", "test.thing.happened.v1")
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        return {"n": f"answer to {payload['n']}"}

    responder = await make_bus(router, source="responder")
    asker = await make_bus(source="asker")
    replies = await asyncio.gather(
        *(asker.request("test.thing.happened.v1", {"n": str(i)}, timeout=5) for i in range(5))
    )
    assert [r.payload["n"] for r in replies] == [f"answer to {i}" for i in range(5)]
    assert all(r.causation_id is not None for r in replies)
    assert responder.running


async def test_request_without_a_responder_times_out(make_bus: BusFactory) -> None:
    asker = await make_bus(source="asker")
    with pytest.raises(RequestTimeout):
        await asker.request("test.thing.happened.v1", {"n": "1"}, timeout=0.3)


async def test_a_failing_responder_answers_with_its_error_before_the_deadline(
    make_bus: BusFactory,
) -> None:
    router = Router()

    @router.responder("test.thing.happened.v1", "test.thing.happened.v1")
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        raise LookupError("no customer with that phone")

    await make_bus(router, source="responder")
    asker = await make_bus(source="asker")
    with pytest.raises(RemoteError, match="no customer with that phone"):
        await asker.request("test.thing.happened.v1", {"n": "1"}, timeout=5)


async def test_messages_with_one_key_keep_their_order_under_concurrency(
    make_bus: BusFactory,
) -> None:
    router = Router()
    order: dict[str, list[int]] = {"a": [], "b": []}

    @router.subscriber("ordered", CALL_ENDED, concurrency=4)
    async def on_thing(envelope: Envelope) -> None:
        key, number = envelope.payload["n"].split(":")
        await asyncio.sleep(0.001 * (int(number) % 3))
        order[key].append(int(number))

    bus = await make_bus(router)
    await bus.publish_many([
        Envelope(type=CALL_ENDED, payload={"n": f"{key}:{i}"}, source="t", key=key)
        for i in range(30) for key in ("a", "b")
    ])
    await eventually(lambda: len(order["a"]) == 30 and len(order["b"]) == 30)
    assert order["a"] == list(range(30))
    assert order["b"] == list(range(30))


async def test_a_slow_message_without_a_key_holds_up_no_other_under_concurrency(
    make_bus: BusFactory,
) -> None:
    router = Router()
    slow_may_finish = asyncio.Event()
    finished: list[str] = []

    @router.subscriber("unkeyed", CALL_ENDED, concurrency=8)
    async def on_thing(envelope: Envelope) -> None:
        if envelope.payload["n"] == "slow":
            await slow_may_finish.wait()
        finished.append(envelope.payload["n"])

    bus = await make_bus(router)
    await bus.publish(thing("slow"))
    await asyncio.sleep(0.2)
    await bus.publish_many([thing(str(n)) for n in range(7)])
    # Seven free lanes for seven messages: none waits behind the slow one. Hashing
    # their ids to lanes would put at least one behind it most of the time.
    await eventually(lambda: len(finished) == 7)
    assert "slow" not in finished
    slow_may_finish.set()
    await eventually(lambda: len(finished) == 8)


async def test_subscriptions_without_their_own_policy_follow_the_configured_retries(
    make_bus: BusFactory,
) -> None:
    router = Router()
    attempts: list[int] = []

    @router.subscriber("default-policy", CALL_ENDED)
    async def always_down(envelope: Envelope, context: Context) -> None:
        attempts.append(context.attempt)
        raise ExternalSystemUnavailable("CRM is down")

    bus = await make_bus(router, max_attempts=3, retry_delays=(0.1,))
    await bus.publish(thing("1"))
    await eventually(lambda: bus.dead_letters.count() == 1)
    assert attempts == [1, 2, 3]
    assert bus.dead_letters.list()[0].reason.startswith("gave up after 3 attempts")


async def test_two_outbox_relays_never_send_the_same_row_twice(make_bus: BusFactory) -> None:
    from bus.delivery.outbox import OutboxRelay

    router = Router()
    received: list[str] = []

    @router.subscriber("relayed", CALL_ENDED, idempotent=False)
    async def on_thing(envelope: Envelope) -> None:
        received.append(envelope.id)

    bus = await make_bus(router)
    staged = [thing(str(n)) for n in range(300)]
    with bus.engine.begin() as connection:
        for envelope in staged:
            add_to_outbox(connection, envelope)
    relays = [OutboxRelay(bus.engine, bus.transport, bus.settings.exchange, batch_size=50)
              for _ in range(2)]

    async def drain(relay: OutboxRelay) -> None:
        while await relay.relay_once():
            pass

    await asyncio.gather(*(drain(relay) for relay in relays))
    await eventually(lambda: len(received) >= 300)
    await asyncio.sleep(0.3)
    assert sorted(received) == sorted(envelope.id for envelope in staged)
