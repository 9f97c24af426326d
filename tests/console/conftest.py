"""A real bus API on a loopback port, and a real headless Chromium to open its pages.

``serve(*routers)`` starts a bus on ``memory://`` with the console component
(and the unified window, for the operator page) built from their entry points,
and serves ``bus.api.create_app`` with uvicorn on 127.0.0.1 in the test's own
event loop, so a test can publish on the bus while the browser watches. The API
has credentials configured (``USERS`` sign in with ``PASSWORD``; ``Served.key``
is an admin API key for the test's own HTTP calls), so the pages sign in as in
production.

The browser is Debian's ``chromium`` driven by playwright (never a downloaded
browser); without either, the browser tests skip and say why. Each page's
screenshot is kept in ``tests/console/artifacts/`` (ignored by git).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from pydantic import SecretStr

from bus.adapters import ENTRY_POINT_GROUP, AdapterHost, LoadedAdapter
from bus.api.app import create_app
from bus.api.auth_credentials import hash_api_key, hash_password
from bus.app import Bus
from bus.router import Router
from bus.settings import AuthSettings
from tests.conftest import BusFactory

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

ARTIFACTS = Path(__file__).parent / "artifacts"
COMPONENTS = ("console",)
WITH_WINDOW = ("console", "window")

PASSWORD = "console-" + secrets.token_urlsafe(12)
USERS = {"ivanova": "operator", "petrova": "admin"}
ADMIN_KEY = "console-tests-" + secrets.token_urlsafe(24)
_PASSWORD_HASH = hash_password(PASSWORD)  # scrypt is slow on purpose: once per run


def auth_settings() -> AuthSettings:
    """Users ``USERS`` (password ``PASSWORD``) and an admin key ``ADMIN_KEY``."""
    return AuthSettings.model_validate({
        "users": {name: SecretStr(f"{role}:{_PASSWORD_HASH}") for name, role in USERS.items()},
        "api_keys": {"console-tests": SecretStr(f"admin:{hash_api_key(ADMIN_KEY)}")},
        "session_secret": SecretStr(secrets.token_hex(16)),
    })


def chromium_path() -> str | None:
    """The system Chromium: ``ESB_TEST_CHROMIUM``, else ``chromium`` on the PATH."""
    configured = os.environ.get("ESB_TEST_CHROMIUM")
    if configured:
        return configured if Path(configured).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def installed_components(names: tuple[str, ...] = COMPONENTS) -> list[LoadedAdapter]:
    """The named components registered in ``esb.adapters`` (the others are not loaded)."""
    found = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if entry.name in names:
            found.append(LoadedAdapter(entry.name, entry.load()))
    return found


def window_installed() -> bool:
    return any(e.name == "window" for e in entry_points(group=ENTRY_POINT_GROUP))


@dataclass
class Served:
    bus: Bus
    host: AdapterHost
    url: str
    key: dict[str, str]
    """Headers of the test's own calls: an admin API key (empty when the API runs open)."""


ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(make_bus: BusFactory, monkeypatch: pytest.MonkeyPatch
                ) -> AsyncIterator[ServeFactory]:
    """Start the bus with ``routers`` and ``components`` (by entry-point name), and its API
    on a free port."""
    monkeypatch.setenv("ESB_CONSOLE__SAMPLE_INTERVAL", "0.25")
    monkeypatch.setenv("ESB_CONSOLE__RATE_WINDOW", "2")
    monkeypatch.setenv("ESB_WINDOW__STREAM_KEEPALIVE", "1")
    running: list[tuple[uvicorn.Server, asyncio.Task[None], AdapterHost]] = []

    async def factory(*routers: Router, components: tuple[str, ...] = COMPONENTS,
                      secured: bool = True) -> Served:
        bus = await make_bus(*routers, start=False, journal={"flush_interval": 0.05})
        if secured:
            bus.settings.api.auth = auth_settings()
        host = AdapterHost(bus, installed_components(components))
        host.build()
        failed = [(loaded.name, loaded.error) for loaded in host.adapters if loaded.error]
        assert not failed, f"components did not build: {failed}"
        await bus.start()
        await host.start()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(
            create_app(bus, host), log_level="warning", lifespan="off",
            timeout_graceful_shutdown=1,
        ))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        running.append((server, task, host))
        return Served(bus, host, f"http://127.0.0.1:{port}",
                      {"X-API-Key": ADMIN_KEY} if secured else {})

    yield factory
    for server, task, host in reversed(running):
        server.should_exit = True
        await task
        await host.stop()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    chromium = chromium_path()
    if chromium is None:
        pytest.skip("no system Chromium (apt-get install chromium, or set ESB_TEST_CHROMIUM)")
    try:
        from playwright.async_api import async_playwright, expect
    except ImportError:
        pytest.skip("playwright is not installed (pip install playwright)")
    expect.set_options(timeout=10_000)  # the machine is shared: be patient, not flaky
    async with async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=chromium, headless=True)
        yield launched
        await launched.close()


@pytest.fixture
async def page(browser: Browser, request: pytest.FixtureRequest) -> AsyncIterator[Page]:
    """A fresh page; its JavaScript errors fail the test, its last state is screenshotted."""
    context = await browser.new_context(viewport={"width": 1280, "height": 1000},
                                        timezone_id="UTC", locale="en-GB")
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.set_default_timeout(10_000)
    yield opened
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / f"{request.node.name}.png"
    await opened.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    await context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
