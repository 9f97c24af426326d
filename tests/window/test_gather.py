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
