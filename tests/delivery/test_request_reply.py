"""Request-reply: every request ends with its reply, the responder's error or its deadline,
and leaves nothing waiting behind it, on every transport."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from bus.delivery.rpc import ReplyWaiter
from bus.errors import RequestTimeout
from bus.router import Router
from bus.transport import OutgoingMessage, transport_for
from tests.conftest import BusFactory

pytestmark = pytest.mark.asyncio

ASKED = "test.thing.happened.v1"


def slow_when_asked(delay: float, *, concurrency: int = 4) -> Router:
    router = Router()

    @router.responder(ASKED, ASKED, concurrency=concurrency)
    async def answer(payload: dict[str, Any]) -> dict[str, Any]:
        if payload["n"] == "slow":
            await asyncio.sleep(delay)
        return {"n": f"answer to {payload['n']}"}

    return router


async def test_a_reply_after_the_deadline_is_dropped_and_never_answers_another_request(
    make_bus: BusFactory,
) -> None:
    await make_bus(slow_when_asked(0.4), source="responder")
    asker = await make_bus(source="asker")
    began = time.monotonic()
    with pytest.raises(RequestTimeout):
        await asker.request(ASKED, {"n": "slow"}, timeout=0.2)
    assert time.monotonic() - began < 0.35  # the deadline, not the responder, ended it
    await asyncio.sleep(0.4)  # the late reply has come and gone
    replies = await asyncio.gather(
        *(asker.request(ASKED, {"n": str(i)}, timeout=5) for i in range(3)))
    assert [reply.payload["n"] for reply in replies] == [f"answer to {i}" for i in range(3)]


async def test_concurrent_requests_each_get_their_own_reply_in_time(
    make_bus: BusFactory,
) -> None:
    # One lane per request: with fewer lanes than slow requests, a quick request
    # arriving while every lane is busy waits behind a slow one, as it should.
    await make_bus(slow_when_asked(5, concurrency=10), source="responder")
    asker = await make_bus(source="asker")
    outcomes = await asyncio.gather(
        *(asker.request(ASKED, {"n": "slow" if i % 2 else str(i)}, timeout=1.0)
          for i in range(10)), return_exceptions=True)
    assert [o.payload["n"] for o in outcomes[::2] if not isinstance(o, BaseException)] == [
        f"answer to {i}" for i in range(0, 10, 2)]
    assert all(isinstance(o, RequestTimeout) for o in outcomes[1::2])


async def test_a_waiter_forgets_requests_that_time_out_are_cancelled_or_are_answered(
    unique: str,
) -> None:
    transport = transport_for(f"memory://{unique}")
    await transport.connect()
    waiter = ReplyWaiter(transport, f"{unique}.reply")
    await waiter.start()
    try:
        timed_out = waiter.expect("r-1", 0.05)
        with pytest.raises(RequestTimeout, match=r"no reply within 0\.05s"):
            await waiter.wait("r-1", timed_out)

        cancelled = asyncio.create_task(waiter.wait("r-2", waiter.expect("r-2", 5)))
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled

        answered = waiter.expect("r-3", 5)
        await transport.send_to_queue(waiter.queue, OutgoingMessage(
            body=b"{}", routing_key="reply", message_id="a-3", correlation_id="r-3",
            transient=True))
        reply = await waiter.wait("r-3", answered)

        assert reply.message_id == "a-3"
        assert waiter.waiting == 0
    finally:
        await waiter.stop()
        await transport.close()
