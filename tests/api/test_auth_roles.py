"""Each role is let through or refused on representative routes of every router,
the core ones and those of the real components, by one central policy."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import APIRouter

from bus.adapters import Adapter, AdapterManifest
from bus.adapters.registry import LoadedAdapter
from bus.api.auth_policy import ROLES
from tests.api.auth_harness import Secured, auth_settings, components, key, secured_api
from tests.conftest import BusFactory

pytestmark = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

OPS, INT, MON, ADM = "operator", "integrator", "monitoring", "admin"

# method, path, JSON body, roles let through (admin always is)
ROUTES: list[tuple[str, str, Any, set[str]]] = [
    ("GET", "/metrics", None, {MON, INT}),
    ("GET", "/v1/topology", None, {MON, INT}),
    ("GET", "/v1/messages", None, {OPS, MON, INT}),
    ("GET", "/v1/dlq", None, {OPS, MON, INT}),
    ("GET", "/v1/dlq/424242", None, {OPS, MON, INT}),
    ("POST", "/v1/dlq/424242/replay", {}, {INT}),
    ("GET", "/v1/adapters", None, {MON, INT}),
    ("GET", "/v1/audit", None, set()),
    ("GET", "/v1/auth/me", None, {OPS, MON, INT}),
    ("GET", "/v1/flows", None, {OPS, MON, INT}),
    ("GET", "/v1/customers/lookup", None, {OPS}),
    ("GET", "/v1/customers/G-404/view", None, {OPS}),
    ("GET", "/v1/screen-pop/stream?agent=not-an-extension!", None, {OPS}),
    ("GET", "/v1/screen-pop/sessions", None, {MON, INT}),
    ("POST", "/v1/calls/originate", {}, {OPS}),
    ("POST", "/v1/calls/C-1/result", {}, {OPS}),
    ("GET", "/v1/sync/status", None, {MON, INT}),
    ("GET", "/v1/sync/conflicts", None, {MON, INT}),
    ("GET", "/v1/sync/customers", None, {OPS, INT}),
    ("POST", "/v1/sync/conflicts/424242/resolve", {}, {INT}),
    ("POST", "/v1/adapters/zadarma/anything", {}, {INT}),
    ("GET", "/v2/newcomer", None, set()),
]


class Newcomer(Adapter):
    """A component added later, with a route nobody wrote a rule for, and a signed webhook."""

    manifest = AdapterManifest("newcomer", "1.0", "routes the policy has never heard of")
    api_prefix = ""

    def api_routes(self) -> APIRouter:
        routes = APIRouter()

        @routes.get("/v2/newcomer")
        async def secret() -> dict[str, str]:
            return {"secret": "admin eyes only"}

        @routes.post("/v2/newcomer/hook", openapi_extra={"x-esb-auth": "signature"})
        async def hook() -> dict[str, str]:
            return {"verified": "by the newcomer itself"}

        return routes


@pytest.fixture
async def api(make_bus: BusFactory) -> AsyncIterator[Secured]:
    bus = await make_bus(source="auth", start=False)
    loaded = components(LoadedAdapter("newcomer", Newcomer))
    async for secured in secured_api(bus, loaded, auth_settings()):
        yield secured


async def test_every_role_is_let_through_or_refused_as_the_policy_says(api: Secured) -> None:
    wrong: list[str] = []
    for method, path, body, allowed in ROUTES:
        for role in ROLES:
            response = await api.client.request(method, path, json=body, headers=key(role))
            let_through = response.status_code not in (401, 403)
            if let_through != (role in allowed or role == ADM):
                wrong.append(f"{role} {method} {path}: {response.status_code} {response.text}")
    assert wrong == []


async def test_an_anonymous_caller_is_refused_on_every_protected_route(api: Secured) -> None:
    for method, path, body, _allowed in ROUTES:
        response = await api.client.request(method, path, json=body)
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_route_added_later_with_no_rule_is_for_admin_only(api: Secured) -> None:
    denied = await api.client.get("/v2/newcomer", headers=key("integrator"))
    allowed = await api.client.get("/v2/newcomer", headers=key("admin"))
    assert denied.status_code == 403
    assert "integrator" in denied.json()["detail"]
    assert allowed.json() == {"secret": "admin eyes only"}


async def test_a_route_marked_as_signature_verified_is_public(api: Secured) -> None:
    response = await api.client.post("/v2/newcomer/hook")
    assert response.status_code == 200
    assert response.json() == {"verified": "by the newcomer itself"}
    assert (await api.client.get("/v2/newcomer")).status_code == 401


async def test_probes_pages_and_login_need_no_credentials(api: Secured) -> None:
    assert (await api.client.get("/health")).json() == {"status": "ok"}
    assert (await api.client.get("/ready")).status_code == 200
    page = await api.client.get("/ui/operator")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    login = await api.client.post("/v1/auth/login", json={"username": "x", "password": "y"})
    assert login.status_code == 401


async def test_a_bearer_token_carries_the_users_role(api: Secured) -> None:
    operator = await api.bearer("olga")
    assert (await api.client.get("/v1/auth/me", headers=operator)).json() == {
        "name": "olga", "role": "operator", "kind": "user"}
    assert (await api.client.get("/v1/topology", headers=operator)).status_code == 403
    monitoring = await api.bearer("mike")
    assert (await api.client.get("/v1/topology", headers=monitoring)).status_code == 200
    assert (await api.client.post("/v1/dlq/1/replay", json={},
                                  headers=monitoring)).status_code == 403


async def test_every_mounted_route_refuses_anonymous_callers_and_wrong_roles(
    api: Secured,
) -> None:
    document = (await api.client.get("/openapi.json")).json()
    public: set[str] = set()
    open_to_every_role: set[str] = set()
    refused_to_admin: list[str] = []
    for path, operations in document["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "1", path)
        for method in operations:
            label = f"{method.upper()} {path}"
            if (await api.client.request(method, concrete)).status_code != 401:
                public.add(label)
                continue
            refused = {role for role in ROLES if (await api.client.request(
                method, concrete, headers=key(role))).status_code == 403}
            if not refused:
                open_to_every_role.add(label)
            if ADM in refused:
                refused_to_admin.append(label)
    assert len(document["paths"]) > 25  # core and components are all there
    assert public == {"GET /health", "GET /ready", "POST /v1/auth/login",
                      "POST /v2/newcomer/hook"}
    assert open_to_every_role == {  # reads every role has, PII masked (see docs/security.md)
        "GET /v1/auth/me", "GET /v1/messages", "GET /v1/messages/{message_id}", "GET /v1/dlq",
        "GET /v1/dlq/{record_id}", "GET /v1/flows"}
    assert refused_to_admin == []
