"""The demo's API asks who is calling: its users sign in, nobody else gets in."""

from __future__ import annotations

import httpx

from tests.esb_processes import EsbProcess


def test_the_demo_refuses_anonymous_calls_and_signs_its_operator_in(
    demo_bus: EsbProcess,
) -> None:
    with httpx.Client(base_url=demo_bus.deployment.api, timeout=10.0) as client:
        anonymous = client.get("/v1/dlq")
        wrong = client.post("/v1/auth/login",
                            json={"username": "operator", "password": "admin"})
        session = client.post("/v1/auth/login",
                              json={"username": "operator", "password": "operator"})
        token = session.json()["access_token"]
        replay = client.post("/v1/dlq/1/replay", json={},
                             headers={"Authorization": f"Bearer {token}"})
        page = client.get("/ui/operator")

    assert anonymous.status_code == 401
    assert wrong.status_code == 401
    assert session.status_code == 200
    assert session.json()["role"] == "operator"
    assert replay.status_code == 403  # replaying dead letters is for integrators and admins
    assert page.status_code == 200
