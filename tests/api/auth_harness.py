"""A bus API with credentials for every role, and the real components mounted on it."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import uvicorn
from fastapi import FastAPI
from pydantic import SecretStr

from bus.adapters import AdapterHost, discover
from bus.adapters.registry import LoadedAdapter
from bus.api.app import create_app
from bus.api.auth_credentials import hash_api_key, hash_password
from bus.api.auth_policy import ROLES
from bus.app import Bus
from bus.settings import AuthSettings

PASSWORD = "correct horse battery staple"
SESSION_SECRET = "session-secret-" + secrets.token_hex(8)
KEYS = {role: f"{role}-key-{secrets.token_urlsafe(24)}" for role in ROLES}
USERS = {"olga": "operator", "ivan": "integrator", "anna": "admin", "mike": "monitoring"}
_PASSWORD_HASH = hash_password(PASSWORD)  # scrypt is slow on purpose: once per run

COMPONENTS = ("window", "sync", "console", "zadarma")
"""Components that build without external systems; their routes are mounted."""


def auth_settings(**overrides: object) -> AuthSettings:
    values: dict[str, object] = {
        "users": {name: SecretStr(f"{role}:{_PASSWORD_HASH}") for name, role in USERS.items()},
        "api_keys": {f"{role}-system": SecretStr(f"{role}:{hash_api_key(key)}")
                     for role, key in KEYS.items()},
        "session_secret": SecretStr(SESSION_SECRET),
        **overrides,
    }
    return AuthSettings.model_validate(values)


def key(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}


@dataclass
class Secured:
    bus: Bus
    host: AdapterHost
    app: FastAPI
    client: httpx.AsyncClient

    async def bearer(self, user: str) -> dict[str, str]:
        response = await self.client.post("/v1/auth/login",
                                           json={"username": user, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


def components(*extra: LoadedAdapter) -> list[LoadedAdapter]:
    return [*(found for found in discover() if found.name in COMPONENTS), *extra]


async def secured_api(bus: Bus, loaded: list[LoadedAdapter], settings: AuthSettings,
                      ) -> AsyncIterator[Secured]:
    """``bus`` (not started) with ``loaded`` built and started and the API guarded by
    ``settings``; yields a client of it and stops everything afterwards."""
    bus.settings.api.auth = settings
    host = AdapterHost(bus, loaded)
    host.build()
    await bus.start()
    await host.start()
    app = create_app(bus, host)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False,
                                    client=("192.0.2.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://esb") as client:
        yield Secured(bus, host, app, client)
    await host.stop()


@contextlib.asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[str]:
    """``app`` served by uvicorn on a free loopback port of this event loop; its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           timeout_graceful_shutdown=1))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
