"""Webhook bodies from outside: the CRM's signed customer webhooks and Bitrix24's events,
through the real bus API (FastAPI over a memory bus). Whatever the body, the answer is a
4xx with a reason or a 202, never a 5xx."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from hypothesis import strategies as st

from adapters.crm.adapter import CrmAdapter
from adapters.crm.settings import CrmSettings
from adapters.crm.simulator import CrmSimulator
from adapters.crm.webhooks import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from bus.adapters import AdapterHost
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from tests.crm.conftest import SECRET, AdapterFactory, crm_on, settings_for, simulator
from tests.fuzz.bounds import drawn

__all__ = ["crm_on", "simulator"]  # the CRM suite's fixtures, used here

APP_TOKEN = "fuzz-application-token"
CUSTOMER = "/v1/adapters/crm/webhooks/customer"
BITRIX = "/v1/adapters/crm/webhooks/bitrix24"
Client = Callable[[CrmSettings], Awaitable[httpx.AsyncClient]]

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=16),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=16,
)
CUSTOMER_LIKE = st.fixed_dictionaries(
    {"event": st.sampled_from(["customer.created", "customer.updated", "customer.deleted",
                               "", "x"])},
    optional={"customer": st.one_of(JSON_VALUES, st.fixed_dictionaries(
        {"id": st.one_of(st.text(max_size=12), st.integers())},
        optional={"phones": JSON_VALUES, "inn": JSON_VALUES, "name": JSON_VALUES,
                  "emails": JSON_VALUES, "passport": JSON_VALUES})),
        "changed_fields": JSON_VALUES, "occurred_at": JSON_VALUES},
)
DEEP = st.integers(2_000, 200_000).map(lambda depth: b"[" * depth + b"]" * depth)
CUSTOMER_BODIES = st.one_of(JSON_VALUES.map(lambda v: json.dumps(v).encode()),
                            CUSTOMER_LIKE.map(lambda v: json.dumps(v).encode()),
                            st.binary(max_size=200), DEEP)

PHP_KEY = st.lists(st.sampled_from(["event", "data", "FIELDS", "ID", "auth", "[", "]", "][",
                                    "application_token", "x", ""]), min_size=1, max_size=5
                   ).map(lambda parts: parts[0] + "".join(f"[{p}]" for p in parts[1:]))
FORM = st.lists(st.tuples(PHP_KEY, st.text(max_size=12)), max_size=8)
BITRIX_BODIES = st.one_of(
    st.tuples(FORM, st.booleans()).map(lambda f: (
        urlencode(f[0] + ([("auth[application_token]", APP_TOKEN)] if f[1] else [])).encode(),
        "application/x-www-form-urlencoded")),
    st.tuples(JSON_VALUES, st.sampled_from(["ONCRMCONTACTUPDATE", "ONCRMCOMPANYADD",
                                            "ONEXTERNALCALLSTART", "ONOTHER"])).map(lambda v: (
        json.dumps({"event": v[1], "data": v[0], "auth": {"application_token": APP_TOKEN}}
                   ).encode(), "application/json")),
    st.tuples(st.binary(max_size=200), st.sampled_from(["application/json", "text/plain",
                                                        "application/x-www-form-urlencoded"])),
    DEEP.map(lambda body: (body, "application/json")),
)


@pytest.fixture
async def api(crm_on: AdapterFactory) -> AsyncIterator[Client]:
    clients: list[httpx.AsyncClient] = []

    async def start(settings: CrmSettings) -> httpx.AsyncClient:
        bus, adapter = await crm_on(settings)
        loaded = LoadedAdapter("crm", CrmAdapter, instance=adapter, state="running")
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(bus, AdapterHost(bus, [loaded]))),
            base_url="http://esb")
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.aclose()


def refused_clearly(response: httpx.Response) -> bool:
    detail = response.json().get("detail") if response.content else None
    return bool(detail) and str(detail) != "Internal Server Error"


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_any_signed_body_of_a_customer_webhook_is_taken_or_refused_with_a_reason(
    simulator: CrmSimulator, api: Client,
) -> None:
    client = await api(settings_for(simulator))
    answers = []
    # each body once: the same body signed in the same second is the same signature,
    # which the adapter refuses as a replay (401), as it must (tests/crm)
    for body in dict.fromkeys(drawn(CUSTOMER_BODIES, 120)):
        stamp = str(int(time.time()))
        response = await client.post(CUSTOMER, content=body, headers={
            TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)})
        answers.append(response.status_code)
        assert response.status_code in (202, 422), (body[:200], response.text[:300])
        if response.status_code == 422:
            assert refused_clearly(response), response.text
    assert 422 in answers


@pytest.mark.parametrize("broker_url", ["memory"], indirect=True)
async def test_any_bitrix24_event_body_is_taken_ignored_or_refused_with_a_reason(
    simulator: CrmSimulator, api: Client,
) -> None:
    client = await api(CrmSettings(profile="bitrix24", url=simulator.url,
                                   token=simulator.bitrix_webhook,
                                   application_token=APP_TOKEN, timeout=2.0))
    answers = []
    for body, content_type in drawn(BITRIX_BODIES, 150):
        response = await client.post(BITRIX, content=body,
                                     headers={"Content-Type": content_type})
        answers.append(response.status_code)
        assert response.status_code in (202, 400, 401, 422), (body[:200], response.text[:300])
        if response.status_code != 202:
            assert refused_clearly(response), response.text
    assert {400, 401} <= set(answers)
