"""Every request waiting for a reply keeps its own deadline, though one timer serves them
all: whichever order they were asked in, each times out at its deadline and not before,
and an answered one never does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from bus.delivery.rpc import ReplyWaiter
from bus.errors import RequestTimeout
from bus.transport import OutgoingMessage, transport_for

pytestmark = pytest.mark.asyncio


@contextlib.asynccontextmanager
async def waiting(unique: str) -> AsyncIterator[ReplyWaiter]:
    transport = transport_for(f"memory://{unique}")
    await transport.connect()
    waiter = ReplyWaiter(transport, f"{unique}.reply")
    await waiter.start()
    try:
        yield waiter
    finally:
        await waiter.stop()
        await transport.close()


async def reply_to(waiter: ReplyWaiter, request_id: str) -> None:
    await waiter.transport.send_to_queue(waiter.queue, OutgoingMessage(
        body=b"{}", routing_key="reply", message_id=f"answer-{request_id}",
        correlation_id=request_id, transient=True))


async def timed_out_after(waiter: ReplyWaiter, request_id: str, timeout: float) -> float:
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(RequestTimeout, match=f"no reply within {timeout:.3g}s"):
        await waiter.wait(request_id, waiter.expect(request_id, timeout))
    return loop.time() - began


async def test_a_shorter_deadline_asked_after_a_longer_one_ends_first_and_on_time(
    unique: str,
) -> None:
    async with waiting(unique) as waiter:
        long = asyncio.create_task(timed_out_after(waiter, "long", 0.4))
        await asyncio.sleep(0.01)
        short = asyncio.create_task(timed_out_after(waiter, "short", 0.1))

        done, _ = await asyncio.wait({long, short}, return_when=asyncio.FIRST_COMPLETED)
        assert done == {short}
        assert 0.095 <= short.result() < 0.25
        assert 0.395 <= await long < 0.55
        assert waiter.waiting == 0


async def test_answered_requests_never_time_out_and_the_rest_still_do(unique: str) -> None:
    async with waiting(unique) as waiter:
        futures = {f"r-{n}": waiter.expect(f"r-{n}", 0.05 + n * 0.01) for n in range(10)}
        for n in range(0, 10, 2):
            await reply_to(waiter, f"r-{n}")
        outcomes = await asyncio.gather(
            *(waiter.wait(request_id, future) for request_id, future in futures.items()),
            return_exceptions=True)

        assert [o.message_id for o in outcomes[::2] if not isinstance(o, BaseException)] == [
            f"answer-r-{n}" for n in range(0, 10, 2)]
        assert all(isinstance(o, RequestTimeout) for o in outcomes[1::2])
        assert waiter.waiting == 0


async def test_an_id_asked_again_keeps_the_new_deadline_not_the_old_one(unique: str) -> None:
    async with waiting(unique) as waiter:
        first = waiter.expect("again", 0.05)
        waiter.forget("again")  # its request could not be sent
        assert first.cancelled()
        loop = asyncio.get_running_loop()
        began = loop.time()
        second = waiter.expect("again", 0.3)
        await asyncio.sleep(0.1)  # past the first deadline
        assert not second.done()
        with pytest.raises(RequestTimeout):
            await waiter.wait("again", second)
        assert loop.time() - began >= 0.295
