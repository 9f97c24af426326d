"""The operations console in headless Chromium: flows that move, the journal, dead letters."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import orjson
import pytest

from bus.adapters.host import subscriptions_of
from bus.envelope import Envelope
from bus.errors import PermanentError
from bus.router import Router
from tests.conftest import eventually
from tests.console.conftest import PASSWORD, Served, ServeFactory

if TYPE_CHECKING:
    from playwright.async_api import Page

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

THING = "test.thing.happened.v1"


def picky_router() -> tuple[Router, list[Envelope]]:
    """Processes things; one whose ``n`` is "broken" is dead-lettered at once."""
    router = Router(source="test")
    processed: list[Envelope] = []

    @router.subscriber("picky", THING)
    async def picky(envelope: Envelope) -> None:
        if envelope.payload.get("n") == "broken":
            raise PermanentError("n is broken")
        processed.append(envelope)

    return router, processed


async def open_console(page: Page, served: Served, name: str = "petrova") -> None:
    """Sign in through the page's form (POST /v1/auth/login) as the admin ``name``."""
    from playwright.async_api import expect

    await page.goto(f"{served.url}/ui/console?refresh=300")
    await page.fill("#signin-name", name)
    await page.fill("#signin-password", PASSWORD)
    await page.click("#signin-submit")
    await expect(page.locator("#who")).to_contain_text(f"signed in as {name}")


async def test_a_wrong_password_shows_an_error_and_keeps_the_console_closed(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    served = await serve()
    await page.goto(f"{served.url}/ui/console?refresh=300")
    await page.fill("#signin-name", "petrova")
    await page.fill("#signin-password", "not-" + PASSWORD)
    await page.click("#signin-submit")

    await expect(page.locator("#signin-error")).to_have_text("Wrong user name or password.")
    await expect(page.locator("#console")).to_be_hidden()
    assert await page.evaluate("sessionStorage.getItem('esb.session')") is None

    await page.fill("#signin-password", PASSWORD)  # the form stays usable
    await page.click("#signin-submit")
    await expect(page.locator("#who")).to_contain_text("signed in as petrova")
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('esb.session')).token")
    async with httpx.AsyncClient(base_url=served.url, timeout=10) as client:
        me = await client.get("/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json() == {"name": "petrova", "role": "admin", "kind": "user"}


async def test_the_console_shows_flows_moving_after_messages_are_published(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, processed = picky_router()
    served = await serve(router)
    queue = served.bus.queue_name(served.bus.subscriptions[0])
    await open_console(page, served)
    rows = page.locator("#flow-types tbody tr")
    await expect(page.locator('#adapters tr[data-adapter="console"] .state')).to_have_text(
        "running")
    await expect(rows.filter(has_text=THING)).to_have_count(0)  # nothing has flowed yet

    for n in range(30):  # a steady trickle, as a live flow would be
        await served.bus.emit(THING, {"n": str(n)})
        await asyncio.sleep(0.02)
    await eventually(lambda: len(processed) == 30)

    thing = page.locator(f'#flow-types tr[data-type="{THING}"]')
    await expect(thing.locator(".published")).to_have_text("30")
    await expect(thing.locator(".journal")).to_have_text("30")
    subscription = page.locator(f'#flow-subscriptions tr[data-subscription="{queue}"]')
    await expect(subscription.locator(".totals")).to_have_text("processed 30")
    await expect(subscription.locator(".consumers")).to_have_text("1")
    line = page.locator(f'#chart-types polyline[data-series="{THING}"]')
    await expect(line).to_have_count(1)
    heights = [float(point.split(",")[1])
               for point in (await line.get_attribute("points") or "").split()]
    assert min(heights) < max(heights), "the per-type chart shows no movement"
    assert float(await page.locator("#total-published").inner_text()) >= 0


async def test_a_dead_letter_is_inspected_edited_and_replayed_through_the_console(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, processed = picky_router()
    served = await serve(router)
    broken = await served.bus.emit(THING, {"n": "broken", "order": "A-17"})
    await eventually(lambda: bool(served.bus.dead_letters.list(status="dead")))
    await open_console(page, served, name="petrova")

    row = page.locator(f'#dlq-list tr[data-message-id="{broken.id}"]')
    await expect(row.locator(".reason")).to_have_text("PermanentError: n is broken")
    await row.locator("button.inspect").click()
    body = page.locator("#dlq-body")
    shown = orjson.loads(await body.input_value())
    assert shown["payload"] == {"n": "broken", "order": "A-17"}
    await body.fill(orjson.dumps({**shown, "type": "test.nothing.happened.v1"}).decode())
    await page.click("#dlq-replay")
    await expect(page.locator("#dlq-result")).to_contain_text("refused: 422")
    assert served.bus.dead_letters.list(status="dead")  # a refused edit replays nothing

    shown["payload"]["n"] = "mended"
    await body.fill(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    await page.click("#dlq-replay")

    await expect(page.locator("#dlq-result")).to_have_text("replayed (edited) by petrova")
    await eventually(lambda: len(processed) == 1)
    assert processed[0].id == broken.id
    assert processed[0].payload == {"n": "mended", "order": "A-17"}
    record = served.bus.dead_letters.list(status=None)[0]
    assert (record.status, record.replayed_by, record.edited) == ("replayed", "petrova", True)
    await expect(page.locator("#dlq-record-status")).to_have_text("replayed")
    await expect(page.locator("#dlq-replay")).to_be_disabled()
    await expect(page.locator("#dlq-sent pre")).to_contain_text('"n": "mended"')
    await expect(row).to_have_count(0)  # the list shows the dead ones

    def settled() -> bool:  # the journal writes in batches
        entry = served.bus.observability.query.get(broken.id)
        return entry is not None and entry.status == "processed"

    await eventually(settled)
    await page.fill("#q-message-id", broken.id)
    await page.click("#journal-search")
    hops = page.locator("#hops tbody tr")
    await expect(hops.locator(".hop-status")).to_have_text(
        ["published", "dead_lettered", "replayed", "processed"])
    await expect(hops.nth(2)).to_contain_text("replayed by petrova")


async def test_journal_search_by_correlation_id_shows_each_hop_with_its_trace(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, processed = picky_router()
    served = await serve(router)
    asked = Envelope(type=THING, payload={"n": "7"}, source="crm",
                     correlation_id="0190f3a0-7c1e-7a00-8000-00000000c0de")
    await served.bus.publish(asked)
    await served.bus.emit(THING, {"n": "8"})  # another conversation, not to be found
    await eventually(lambda: len(processed) == 2)

    def journaled() -> bool:
        entry = served.bus.observability.query.get(asked.id)
        return entry is not None and entry.status == "processed"

    await eventually(journaled)
    await open_console(page, served)
    await page.fill("#q-correlation-id", asked.correlation_id)
    await page.click("#journal-search")

    await expect(page.locator("#journal-status")).to_have_text("1 message")
    await expect(page.locator("#journal-results tbody tr")).to_have_count(1)
    hops = page.locator("#hops tbody tr")
    await expect(hops.locator(".hop-status")).to_have_text(["published", "processed"])
    queue = served.bus.queue_name(served.bus.subscriptions[0])
    await expect(hops.nth(1)).to_contain_text(queue)
    trace_ids = await hops.locator(".trace").all_inner_texts()
    assert len(set(trace_ids)) == 1 and len(trace_ids[0]) == 32  # one trace across the hops
    await expect(page.locator("#message-path pre.payload")).to_contain_text('"n": "7"')

    later = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    await page.fill("#q-since", later)  # the page's clock is UTC (the browser context's)
    await page.click("#journal-search")
    await expect(page.locator("#journal-status")).to_have_text("0 messages")
    await page.fill("#q-since", "")
    await page.fill("#q-until", later)
    await page.click("#journal-search")
    await expect(page.locator("#journal-status")).to_have_text("1 message")


async def test_journal_search_by_phone_or_inn_finds_the_message_with_the_inn_masked(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    router, processed = picky_router()
    served = await serve(router)
    wanted = await served.bus.emit(THING, {"n": "9", "phone": "+79123456789",
                                           "inn": "7701234567"})
    await served.bus.emit(THING, {"n": "10", "phone": "+79990000000"})
    await eventually(lambda: len(processed) == 2)
    await eventually(lambda: len(served.bus.observability.query.search(type=THING)) == 2)
    await open_console(page, served)

    for known in ("8 (912) 345-67-89", "7701234567"):
        await page.fill("#q-key", known)
        await page.click("#journal-search")
        await expect(page.locator("#journal-status")).to_have_text("1 message")
        await expect(page.locator("#journal-results tbody tr")).to_have_attribute(
            "data-message-id", wanted.id)
        payload = page.locator("#message-path pre.payload")
        await expect(payload).to_contain_text('"phone": "+79123456789"')
        await expect(payload).not_to_contain_text("7701234567")


async def test_an_adapter_is_stopped_and_started_again_from_the_console(
    serve: ServeFactory, page: Page,
) -> None:
    from playwright.async_api import expect

    served = await serve(components=("console", "window"))
    await open_console(page, served)
    window = page.locator('#adapters tr[data-adapter="window"]')
    await expect(window.locator(".state")).to_have_text("running")

    [loaded] = [a for a in served.host.adapters if a.name == "window"]
    subscriptions = subscriptions_of(served.host, loaded)
    assert subscriptions  # the window's cache invalidation and screen pops

    await window.locator("button.adapter-stop").click()
    await expect(page.locator("#adapter-result")).to_have_text(
        f"window: stopped, {len(subscriptions)} subscription"
        f"{'' if len(subscriptions) == 1 else 's'} paused")
    await expect(window.locator(".state")).to_have_text("stopped")
    await expect(window.locator(".health")).to_have_text("unhealthy")
    assert loaded.state == "stopped"
    assert served.host.bus.paused == set(subscriptions)

    await window.locator("button.adapter-start").click()
    await expect(page.locator("#adapter-result")).to_have_text("window: running")
    await expect(window.locator(".state")).to_have_text("running")
    assert loaded.state == "running"
    assert served.host.bus.paused == set()
    await expect(page.locator('#adapters tr[data-adapter="console"] .state')).to_have_text(
        "running")
