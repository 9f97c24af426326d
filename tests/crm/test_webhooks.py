"""CRM webhooks, mounted in the bus API: signed customer changes -> crm.customer.changed.v1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from adapters.crm.simulator import CrmSimulator
from bus.envelope import Envelope
from tests.conftest import collector, eventually
from tests.crm.conftest import SECRET, AdapterFactory, api_client, settings_for

CHANGED = "crm.customer.changed.v1"
PATH = "/v1/adapters/crm/webhooks/customer"

Setup = Callable[[], Awaitable[tuple[httpx.AsyncClient, list[Envelope]]]]


@pytest.fixture
async def api(simulator: CrmSimulator, crm_on: AdapterFactory) -> AsyncIterator[Setup]:
    """The bus API with the CRM adapter's routes mounted, and what reaches the bus."""
    clients: list[httpx.AsyncClient] = []

    async def setup() -> tuple[httpx.AsyncClient, list[Envelope]]:
        observer, changed = collector(CHANGED)
        bus, adapter = await crm_on(settings_for(simulator), observer)
        client = api_client(bus, adapter)
        clients.append(client)
        return client, changed

    yield setup
    for client in clients:
        await client.aclose()


@pytest.mark.parametrize("broker_url", ["memory", "rabbitmq"], indirect=True)
async def test_a_signed_customer_update_is_published_as_crm_customer_changed(
    simulator: CrmSimulator, api: Setup,
) -> None:
    client, changed = await api()
    body, headers = simulator.customer_webhook(SECRET, "C-1001", changed_fields=["phones"])

    response = await client.post(PATH, content=body, headers=headers)

    assert response.status_code == 202, response.text
    await eventually(lambda: len(changed) == 1)
    payload = changed[0].payload
    assert (payload["change"], payload["customer"]["id"]) == ("updated", "C-1001")
    assert payload["customer"]["manager_id"] == "M-1"
    assert payload["changed_fields"] == ["phones"]
    assert changed[0].id == response.json()["id"]


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_tampered_stale_replayed_or_unsigned_webhooks_are_refused_and_not_published(
    simulator: CrmSimulator, api: Setup,
) -> None:
    client, changed = await api()
    body, headers = simulator.customer_webhook(SECRET, "C-1002", "customer.created")
    tampered = json.loads(body)
    tampered["customer"]["manager"] = None
    stale_body, stale = simulator.customer_webhook(SECRET, "C-1002",
                                                   timestamp=time.time() - 3600)
    forged_body, forged = simulator.customer_webhook("guessed", "C-1002")

    refused = [
        await client.post(PATH, content=json.dumps(tampered).encode(), headers=headers),
        await client.post(PATH, content=stale_body, headers=stale),
        await client.post(PATH, content=forged_body, headers=forged),
        await client.post(PATH, content=body, headers={"Content-Type": "application/json"}),
    ]
    accepted = await client.post(PATH, content=body, headers=headers)
    replayed = await client.post(PATH, content=body, headers=headers)

    assert [r.status_code for r in refused] == [401, 401, 401, 401]
    assert "stale" in refused[1].json()["detail"]
    assert accepted.status_code == 202
    assert replayed.status_code == 401
    assert "replayed" in replayed.json()["detail"]
    await eventually(lambda: len(changed) == 1)
    await asyncio.sleep(0.2)
    assert len(changed) == 1
    assert changed[0].payload["change"] == "created"
