"""The scatter-gather on its own: what reaches the view when reading one answer fails."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from typing import Any

from window.backends import BACKENDS
from window.cache import AnswerCache
from window.gather import Gatherer
from window.identity import Identity
from window.settings import WindowSettings

PHONE = "+79123456789"


def _broken_learn(payload: Mapping[str, Any]) -> Identity:
    raise KeyError("customer")  # a reply of a shape this code did not expect


async def test_a_bug_reading_one_answer_costs_only_that_section() -> None:
    asked: list[str] = []

    async def answering(request_type: str, payload: Mapping[str, Any],
                        timeout: float) -> Mapping[str, Any]:
        asked.append(request_type)
        await asyncio.sleep(0.01)
        return {"accounts": []} if request_type.startswith("billing") else {}

    backends = tuple(dataclasses.replace(b, learn=_broken_learn) if b.section == "billing"
                     else b for b in BACKENDS)
    settings = WindowSettings()
    gatherer = Gatherer(answering, AnswerCache(30, 600, 100), settings, backends)

    answers = await asyncio.wait_for(gatherer.gather(Identity.from_query(phone=PHONE)), 5)

    billing = answers["billing"]
    assert billing.status == "unavailable"
    assert billing.reason == "internal error: KeyError"
    assert answers["crm"].status == "fresh" and answers["calls"].status == "fresh"
    assert "billing.accounts.requested.v1" in asked
    assert not [t for t in asyncio.all_tasks() if t.get_name().startswith("window-")]


async def test_in_a_burst_every_view_asks_its_slowest_backend_before_any_quicker_one() -> None:
    """A call-centre burst: twenty views start at once. Billing usually answers last, so
    each view's billing request goes out before any view's quicker requests; the last
    view's billing request does not wait behind every other view's five."""
    asked: list[str] = []

    async def answering(request_type: str, payload: Mapping[str, Any],
                        timeout: float) -> Mapping[str, Any]:
        asked.append(request_type)
        slow = request_type.startswith("billing")
        await asyncio.sleep(0.05 if slow else 0.005)
        return {"accounts": []} if slow else {}

    gatherer = Gatherer(answering, AnswerCache(30, 600, 100), WindowSettings(), BACKENDS)
    await gatherer.gather(Identity.from_query(phone=PHONE), use_cache=False)  # learns who is slow
    first_asks = len(asked)
    asked.clear()

    await asyncio.gather(*(
        gatherer.gather(Identity.from_query(phone=f"+7912345{n:04d}"), use_cache=False)
        for n in range(20)))

    assert first_asks > 1 and "billing.accounts.requested.v1" in asked
    assert asked[:20] == ["billing.accounts.requested.v1"] * 20
    assert "billing.accounts.requested.v1" not in asked[20:]
