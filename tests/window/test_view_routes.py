"""The view's two routes are hot routes: a plain Starlette route serves them, matched
first; the documented FastAPI route stays the contract for everything it does not take."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from bus.api.hot_routes import HotRoute
from tests.window.backends import GOLDEN, PHONE
from tests.window.conftest import WindowFactory


def _hot_paths(app: FastAPI) -> list[str]:
    return [route.path for route in app.router.routes if isinstance(route, HotRoute)]


async def test_the_view_routes_are_matched_before_every_other_route(
        start_window: WindowFactory) -> None:
    window = await start_window()

    hot = _hot_paths(window.app)

    assert sorted(hot) == ["/v1/customers/lookup", "/v1/customers/{golden_id}/view"]
    assert [getattr(route, "path", None) for route in window.app.router.routes[:2]] == hot


async def test_the_hot_and_the_documented_route_answer_the_same(
        start_window: WindowFactory) -> None:
    window = await start_window()
    # once first: the directory then knows every key, so each backend is asked the same
    await window.view("/v1/customers/lookup", phone=PHONE)
    by_hot = await window.view("/v1/customers/lookup", phone=PHONE, fresh="true")
    window.app.router.routes[:] = [route for route in window.app.router.routes
                                   if not isinstance(route, HotRoute)]

    by_fastapi = await window.view("/v1/customers/lookup", phone=PHONE, fresh="true")

    assert _hot_paths(window.app) == []
    assert by_hot["sections"]["crm"]["status"] == "fresh"
    assert _comparable(by_hot) == _comparable(by_fastapi)


def _comparable(view: dict[str, Any]) -> dict[str, Any]:
    """The view without what differs from one asking to the next (times)."""
    timeless = {key: value for key, value in view.items()
                if key not in ("generated_at", "elapsed_ms")}
    timeless["sections"] = {name: {key: value for key, value in section.items()
                                   if key not in ("fetched_at", "elapsed_ms", "age_seconds")}
                            for name, section in view["sections"].items()}
    return timeless


async def test_a_golden_id_off_its_pattern_gets_fastapis_own_422(
        start_window: WindowFactory) -> None:
    window = await start_window()

    response = await window.client.get("/v1/customers/-starts-with-a-dash/view")

    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["loc"] == ["path", "golden_id"]
    assert error["type"] == "string_pattern_mismatch"


async def test_the_view_by_golden_id_is_served_and_head_is_still_not_allowed(
        start_window: WindowFactory) -> None:
    window = await start_window()

    view = await window.view(f"/v1/customers/{GOLDEN}/view")
    head = await window.client.head(f"/v1/customers/{GOLDEN}/view")

    assert view["golden_id"] == GOLDEN
    assert head.status_code == 405


async def test_the_view_routes_stay_in_the_openapi_document(
        start_window: WindowFactory) -> None:
    window = await start_window()

    paths = (await window.client.get("/openapi.json")).json()["paths"]

    lookup = paths["/v1/customers/lookup"]["get"]
    assert {parameter["name"] for parameter in lookup["parameters"]} == {
        "phone", "account", "inn", "publish", "fresh"}
    by_id = paths["/v1/customers/{golden_id}/view"]["get"]
    golden = next(p for p in by_id["parameters"] if p["name"] == "golden_id")
    assert golden["in"] == "path" and golden["schema"]["pattern"]
    assert set(paths["/v1/customers/{golden_id}/view"]) == {"get"}
