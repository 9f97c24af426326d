"""The operator page in headless Chromium, on a bus with the unified window.

The CRM and the PBX are played by responders on the bus answering with the
canonical examples (as their adapters would); nothing else answers, so the
other sections of the view come back unavailable within their deadlines.
"""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from bus.envelope import Envelope
from bus.router import Router
from tests.conftest import eventually
from tests.console.conftest import (
    PASSWORD,
    WITH_WINDOW,
    Served,
    ServeFactory,
    window_installed,
)

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = [
    pytest.mark.parametrize("broker_url", ["memory"], indirect=True),
    pytest.mark.skipif(not window_installed(),
                       reason="the unified window (entry point 'window') is not installed"),
]

EXAMPLES = Path(__file__).parents[2] / "schemas" / "examples"
CALLER = "+79123456789"
AGENT = "2001"


def example(type_: str) -> dict[str, Any]:
    payload: dict[str, Any] = orjson.loads((EXAMPLES / f"{type_}.json").read_bytes())["payload"]
    return payload


def originate_types() -> tuple[str, str]:
    from window.api import ORIGINATE_TYPE

    return ORIGINATE_TYPE, ORIGINATE_TYPE.replace(".requested.", ".replied.")


def backends() -> tuple[Router, list[dict[str, Any]], list[Envelope]]:
    """The CRM answering card requests for CALLER, the PBX accepting click-to-call,
    and a collector of call results (what the CRM adapter would write)."""
    router = Router(source="crm")
    originated: list[dict[str, Any]] = []
    results: list[Envelope] = []
    asked, replied = originate_types()

    @router.responder("crm.card.requested.v1", "crm.card.replied.v1")
    async def crm_card(payload: dict[str, Any]) -> dict[str, Any]:
        if payload.get("phone") != CALLER:
            return {"card": None, "error": None}
        return example("crm.card.replied.v1")

    @router.responder(asked, replied)
    async def originate(payload: dict[str, Any]) -> dict[str, Any]:
        originated.append(payload)
        return {"status": "accepted", "reason": None, "call_id": "1710224400.2001",
                "agent_extension": payload["agent_extension"], "number": payload["number"],
                "requested_by": payload["requested_by"], "crm_entity": None}

    @router.subscriber("call-results", "crm.interaction.annotated.v1")
    async def annotated(envelope: Envelope) -> None:
        results.append(envelope)

    return router, originated, results


async def sign_in(page: Page, served: Served) -> None:
    from playwright.async_api import expect

    await page.goto(f"{served.url}/ui/operator")
    await page.fill("#signin-name", "ivanova")
    await page.fill("#signin-password", PASSWORD)
    await page.fill("#signin-extension", AGENT)
    await page.click("#signin-submit")
    await expect(page.locator("#who-extension")).to_have_text(AGENT)
    await expect(page.locator("#stream-state")).to_have_text("live")


def call(event: str, linkedid: str) -> Envelope:
    payload = copy.deepcopy(example(event))
    payload.update(linkedid=linkedid, ring_targets=[AGENT, "2002"])
    if "answered_by_extension" in payload:
        payload["answered_by_extension"] = AGENT
    return Envelope(type=event, payload=payload, source="pbx", key=linkedid)


@pytest.fixture(autouse=True)
def short_deadlines(monkeypatch: pytest.MonkeyPatch) -> None:
    for section in ("profile", "crm", "billing", "documents", "calls"):
        monkeypatch.setenv(f"ESB_WINDOW__DEADLINES__{section.upper()}", "0.5")


async def test_a_ringing_call_pops_on_the_open_page_then_is_enriched_and_answered(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, _, _ = backends()
    served = await serve(router, components=WITH_WINDOW)
    await sign_in(page, served)
    linkedid = f"1710224107.{uuid.uuid4().int % 100000}"

    await served.bus.publish(call("pbx.call.ringing.v1", linkedid))

    pop = page.locator(f'.pop[data-call-id="{linkedid}"]')
    await expect(pop).to_contain_text(CALLER)
    await expect(pop).to_have_attribute("data-stage", "enriched")
    await expect(pop).to_have_attribute("data-stages", "local enriched")  # local card first
    await expect(pop.locator(".pop-title")).to_contain_text("Иванова")
    await expect(pop).to_contain_text("Петров Алексей")
    view = page.locator("#customer-view")
    await expect(view.locator('[data-section="crm"]')).to_have_attribute("data-status", "fresh")
    await expect(view.locator('[data-section="billing"]')).to_have_attribute(
        "data-status", "unavailable")
    await expect(page.locator("#result-call-id")).to_have_value(linkedid)

    await served.bus.publish(call("pbx.call.answered.v1", linkedid))

    await expect(pop.locator(".pop-state")).to_have_text(f"answered by {AGENT}")


async def test_click_to_call_on_a_phone_of_the_searched_customer_asks_the_pbx(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, originated, _ = backends()
    served = await serve(router, components=WITH_WINDOW)
    await sign_in(page, served)

    await page.select_option("#search-kind", "phone")
    await page.fill("#search-value", "8 (912) 345-67-89")
    await page.click("#search-submit")
    view = page.locator("#customer-view")
    await expect(view.locator("#view-name")).to_contain_text("Иванова")
    await view.locator(f'[data-section="crm"] button.call[data-number="{CALLER}"]').first.click()

    await expect(page.locator("#call-status")).to_contain_text("your phone rings")
    assert len(originated) == 1
    assert (originated[0]["agent_extension"], originated[0]["number"]) == (AGENT, CALLER)


async def test_the_call_result_and_notes_go_to_the_crm_through_the_bus(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, _, results = backends()
    served = await serve(router, components=WITH_WINDOW)
    await sign_in(page, served)

    await page.fill("#result-call-id", "1710224107.1837")
    await page.select_option("#result-value", "appointment")
    await page.fill("#result-notes", "Перезвонить в пятницу")
    await page.click("#result-save")

    await expect(page.locator("#result-status")).to_have_text("saved for call 1710224107.1837")
    await eventually(lambda: len(results) == 1)
    payload = results[0].payload
    assert (payload["call_id"], payload["result"], payload["notes"],
            payload["agent_extension"]) == (
        "1710224107.1837", "appointment", "Перезвонить в пятницу", AGENT)
