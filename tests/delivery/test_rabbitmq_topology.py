"""On RabbitMQ the bus declares what production needs: quorum queues, DLQs, retry tiers."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from bus.context import Context
from bus.envelope import Envelope
from bus.errors import ExternalSystemUnavailable
from bus.router import Router
from tests.delivery.conftest import BusFactory, eventually

pytestmark = pytest.mark.asyncio


def queue_types(prefix: str) -> dict[str, str]:
    output = subprocess.run(
        ["rabbitmqctl", "list_queues", "--quiet", "--no-table-headers", "name", "type"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout
    rows = (line.split() for line in output.splitlines() if line.strip())
    return {name: kind for name, kind in rows if name.startswith(prefix)}


@pytest.mark.parametrize("broker_url", ["rabbitmq"], indirect=True)
async def test_quorum_queues_carry_retries_and_dead_letters(
    make_bus: BusFactory, unique: str
) -> None:
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not installed")
    router = Router()
    attempts: list[int] = []

    @router.subscriber("calls", "test.thing.happened.v1", ordered=True)
    async def flaky(envelope: Envelope, context: Context) -> None:
        attempts.append(context.attempt)
        if envelope.payload["n"] == "doomed" or context.attempt == 1:
            raise ExternalSystemUnavailable("billing answered 503")

    bus = await make_bus(router, quorum_queues=True, max_attempts=2, retry_delays=(0.2,))
    await bus.publish(Envelope(type="test.thing.happened.v1", payload={"n": "ok"}, source="t"))
    await bus.publish(Envelope(type="test.thing.happened.v1", payload={"n": "doomed"}, source="t"))
    await eventually(lambda: bus.dead_letters.count() == 1, timeout=20)
    assert sorted(attempts) == [1, 1, 2, 2]
    types = queue_types(unique)
    assert types == {
        f"{unique}.calls": "quorum",
        f"{unique}.calls.dlq": "quorum",
        f"{unique}.calls.retry.200": "quorum",
        f"{unique}.reply.{unique}-0": "classic",  # exclusive: lives and dies with its connection
    }
    topology = await bus.topology()
    assert topology["queues"][0]["ordered"] is True
