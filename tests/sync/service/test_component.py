"""The synchronizer as a bus component: discovered by entry point, its API under /v1/sync."""

from __future__ import annotations

from pathlib import Path

import httpx

from bus.adapters.registry import discover
from bus.api.app import create_app
from bus.testing import AdapterHarness
from sync.component import SyncComponent


def test_the_component_is_registered_as_an_adapter_entry_point() -> None:
    found = {loaded.name: loaded for loaded in discover()}
    assert found["sync"].adapter_class is SyncComponent
    assert SyncComponent.api_prefix == "/v1/sync"


async def test_status_customers_and_conflicts_through_the_api(
        tmp_path: Path, generated: Path) -> None:
    async with AdapterHarness(SyncComponent, tmp_path) as harness:
        component = harness.adapter
        assert isinstance(component, SyncComponent)
        component.service.import_directory(generated, docflow=False)
        component.service.run()
        app = create_app(harness.bus, harness.host)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://esb") as client:
            status = (await client.get("/v1/sync/status")).json()
            customer = (await client.get("/v1/sync/customers",
                                         params={"system": "crm",
                                                 "record_id": "CRM-0000001"})).json()
            gid = customer["customers"][0]["golden_id"]
            one = await client.get(f"/v1/sync/customers/{gid}")
            xref = (await client.get("/v1/sync/xref", params={"system": "crm",
                                                              "record_id": "CRM-0000001"})).json()
            listed = (await client.get("/v1/sync/conflicts")).json()
            first = listed[0]["conflict_id"]
            shown = (await client.get(f"/v1/sync/conflicts/{first}")).json()
            resolved = await client.post(f"/v1/sync/conflicts/{first}/resolve",
                                         json={"resolution": "dismiss", "actor": "petrova"})
            twice = await client.post(f"/v1/sync/conflicts/{first}/resolve",
                                      json={"resolution": "dismiss", "actor": "petrova"})
            unknown = await client.get("/v1/sync/conflicts/C9999999")
            health = await harness.adapter.health()
    assert status["records"]["crm"] > 0 and status["customers"] > 0
    assert one.status_code == 200 and one.json()["golden_id"] == gid
    assert xref[0]["global_id"] == gid and xref[0]["history"][0]["action"] == "linked"
    assert shown["conflict_id"] == first and shown["state"] == "open"
    assert resolved.status_code == 200 and twice.status_code == 409
    assert unknown.status_code == 404
    assert health.ok and "customers" in health.detail


async def test_a_resolution_records_the_signed_in_caller_not_the_body_s_actor(
        tmp_path: Path, generated: Path) -> None:
    from tests.api.auth_harness import PASSWORD, auth_settings

    async with AdapterHarness(SyncComponent, tmp_path) as harness:
        component = harness.adapter
        assert isinstance(component, SyncComponent)
        component.service.import_directory(generated, docflow=False)
        component.service.run()
        harness.bus.settings.api.auth = auth_settings()
        app = create_app(harness.bus, harness.host)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://esb") as client:
            login = await client.post("/v1/auth/login",
                                      json={"username": "ivan", "password": PASSWORD})
            bearer = {"Authorization": f"Bearer {login.json()['access_token']}"}
            first = (await client.get("/v1/sync/conflicts", headers=bearer)).json()[0]
            resolved = await client.post(
                f"/v1/sync/conflicts/{first['conflict_id']}/resolve", headers=bearer,
                json={"resolution": "dismiss", "actor": "somebody-else"})
            shown = (await client.get(f"/v1/sync/conflicts/{first['conflict_id']}",
                                      headers=bearer)).json()
            huge = await client.get("/v1/sync/conflicts", headers=bearer,
                                    params={"offset": str(2**64)})
            huge_id = await client.get(f"/v1/sync/conflicts/C{'9' * 30}", headers=bearer)
    assert resolved.status_code == 200, resolved.text
    assert (shown["state"], shown["decided_by"]) == ("resolved", "ivan")
    assert huge.status_code == 422 and huge.json()["detail"][0]["loc"] == ["query", "offset"]
    assert huge_id.status_code == 404


async def test_without_sign_in_a_resolution_needs_an_actor(
        tmp_path: Path, generated: Path) -> None:
    async with AdapterHarness(SyncComponent, tmp_path) as harness:
        component = harness.adapter
        assert isinstance(component, SyncComponent)
        component.service.import_directory(generated, docflow=False)
        component.service.run()
        app = create_app(harness.bus, harness.host)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://esb") as client:
            first = (await client.get("/v1/sync/conflicts")).json()[0]["conflict_id"]
            nobody = await client.post(f"/v1/sync/conflicts/{first}/resolve",
                                       json={"resolution": "dismiss"})
            shown = (await client.get(f"/v1/sync/conflicts/{first}")).json()
    assert nobody.status_code == 422
    assert nobody.json()["detail"][0]["loc"] == ["body", "actor"]
    assert shown["state"] == "open"
