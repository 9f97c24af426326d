"""Keys, session tokens (expired, forged, on the event stream only), open mode, and
secrets kept out of logs and ``esb config``."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator

import httpx
import orjson
import pytest
from click.testing import CliRunner

from bus.api.app import create_app
from bus.api.auth_credentials import Authenticator, Principal
from bus.cli.main import cli
from bus.errors import ConfigurationError
from bus.settings import AuthSettings
from tests.api.auth_harness import (
    KEYS,
    PASSWORD,
    SESSION_SECRET,
    Secured,
    auth_settings,
    components,
    key,
    secured_api,
    served,
)
from tests.conftest import BusFactory

memory = pytest.mark.parametrize("broker_url", ["memory"], indirect=True)

STREAM = "/v1/screen-pop/stream?agent=not-an-extension!"
"""Past authentication the stream refuses this agent with 422, before it starts streaming."""


@pytest.fixture
async def api(make_bus: BusFactory) -> AsyncIterator[Secured]:
    bus = await make_bus(source="auth", start=False)
    async for secured in secured_api(bus, components(), auth_settings()):
        yield secured


def _token(authenticator: Authenticator, name: str, role: str, *, now: float) -> str:
    return authenticator.issue(Principal(name, role, "user"), now=now)[0]


@memory
async def test_an_expired_token_is_refused(api: Secured) -> None:
    authenticator = Authenticator(auth_settings())
    stale = _token(authenticator, "mike", "monitoring", now=time.time() - 9 * 3600)
    fresh = _token(authenticator, "mike", "monitoring", now=time.time())
    refused = await api.client.get("/v1/topology", headers={"Authorization": f"Bearer {stale}"})
    accepted = await api.client.get("/v1/topology", headers={"Authorization": f"Bearer {fresh}"})
    assert (refused.status_code, refused.json()["detail"]) == (401, "session token has expired")
    assert accepted.status_code == 200


@memory
async def test_a_forged_or_foreign_token_is_refused(api: Secured) -> None:
    token = (await api.bearer("olga"))["Authorization"].removeprefix("Bearer ")
    payload, signature = token.split(".")
    claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    promoted = base64.urlsafe_b64encode(orjson.dumps({**claims, "role": "admin"})).rstrip(b"=")
    foreign = Authenticator(auth_settings(session_secret="another deployment's secret"))

    for forged in (f"{promoted.decode()}.{signature}",
                   _token(foreign, "olga", "operator", now=time.time()),
                   "not-a-token", token + "x"):
        response = await api.client.get("/v1/auth/me",
                                        headers={"Authorization": f"Bearer {forged}"})
        assert response.status_code == 401, forged
    guessed = await api.client.get("/v1/auth/me", headers={"X-API-Key": "guessed"})
    assert guessed.status_code == 401


@memory
async def test_the_access_token_query_parameter_works_on_the_event_stream_only(
    api: Secured,
) -> None:
    token = (await api.bearer("olga"))["Authorization"].removeprefix("Bearer ")

    stream = await api.client.get(f"{STREAM}&access_token={token}")
    elsewhere = await api.client.get(f"/v1/customers/lookup?access_token={token}")
    without = await api.client.get(STREAM)

    assert stream.status_code == 422  # past authentication: the handler judged the agent
    assert elsewhere.status_code == 401
    assert without.status_code == 401


@memory
async def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(
    api: Secured,
) -> None:
    wrong_password = await api.client.post("/v1/auth/login",
                                           json={"username": "olga", "password": "nope"})
    no_such_user = await api.client.post("/v1/auth/login",
                                         json={"username": "nobody", "password": PASSWORD})
    assert wrong_password.status_code == no_such_user.status_code == 401
    assert wrong_password.json() == no_such_user.json()


@memory
async def test_open_mode_runs_on_loopback_with_a_loud_warning(
    make_bus: BusFactory, caplog: pytest.LogCaptureFixture,
) -> None:
    bus = await make_bus(source="open", start=False)
    with caplog.at_level(logging.WARNING, logger="bus.api.auth"):
        create_app(bus)
    assert "authentication disabled: no credentials configured" in caplog.text

    bus.settings.api.host = "0.0.0.0"
    with pytest.raises(ConfigurationError, match="no credentials configured"):
        create_app(bus)
    bus.settings.api.auth = auth_settings()
    assert create_app(bus).title == "Telecom ESB"  # credentials: any address will do


@memory
async def test_passwords_keys_and_tokens_never_reach_the_logs(
    api: Secured, caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        token = (await api.bearer("olga"))["Authorization"]
        await api.client.post("/v1/auth/login", json={"username": "olga", "password": "typo!"})
        await api.client.get("/v1/topology", headers=key("operator"))
        await api.client.get("/v1/topology", headers={"Authorization": token + "forged"})
        await api.client.get("/v1/topology", headers={"X-API-Key": KEYS["admin"] + "x"})
    assert "refused" in caplog.text  # the refusals were logged ...
    for secret in (PASSWORD, "typo!", *KEYS.values(), token.removeprefix("Bearer "),
                   SESSION_SECRET):
        assert secret not in caplog.text  # ... without the credentials


def test_esb_config_shows_no_hash_key_or_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = auth_settings()
    monkeypatch.setenv("ESB_API__AUTH__SESSION_SECRET", SESSION_SECRET)
    for name, value in settings.users.items():
        monkeypatch.setenv(f"ESB_API__AUTH__USERS__{name}", value.get_secret_value())
    for name, value in settings.api_keys.items():
        monkeypatch.setenv(f"ESB_API__AUTH__API_KEYS__{name}", value.get_secret_value())

    shown = CliRunner().invoke(cli, ["config", "--json"])

    assert shown.exit_code == 0, shown.output
    auth = orjson.loads(shown.output)["api"]["auth"]
    assert auth["users"] == {"olga": "****", "ivan": "****", "anna": "****", "mike": "****"}
    assert set(auth["api_keys"].values()) == {"****"}
    assert SESSION_SECRET not in shown.output and "scrypt" not in shown.output
    assert "sha256" not in shown.output


def test_a_key_configured_in_plain_text_is_rejected_at_start() -> None:
    settings = AuthSettings.model_validate({"api_keys": {"billing": "integrator:the-key"}})
    with pytest.raises(ConfigurationError, match="not the key"):
        Authenticator(settings)


@memory
async def test_repeated_failed_sign_ins_are_slowed_down(api: Secured) -> None:
    statuses = [(await api.client.post("/v1/auth/login", json={
        "username": "anna", "password": f"guess {n}"})).status_code for n in range(6)]
    right = await api.client.post("/v1/auth/login",
                                  json={"username": "anna", "password": PASSWORD})
    other = await api.client.post("/v1/auth/login",
                                  json={"username": "ivan", "password": PASSWORD})
    assert statuses == [401] * 5 + [429]
    assert right.status_code == 429  # even the right password waits out the window
    assert other.status_code == 200


def test_esb_auth_prints_settings_that_accept_the_password_and_the_key() -> None:
    hashed = CliRunner().invoke(cli, ["auth", "hash-password", "--user", "olga", "--role",
                                      "operator", "--password", "s3cret pass"])
    keyed = CliRunner().invoke(cli, ["auth", "new-key", "crm"])

    name, _, value = hashed.stdout.strip().partition("=")
    assert name == "ESB_API__AUTH__USERS__olga"
    settings = AuthSettings.model_validate({"users": {"olga": value}})
    assert Authenticator(settings).login("olga", "s3cret pass").role == "operator"
    assert "s3cret pass" not in hashed.output
    new_key = keyed.stderr.strip().rsplit(" ", 1)[-1]
    setting = keyed.stdout.strip().partition("=")[2]
    keys = Authenticator(AuthSettings.model_validate({"api_keys": {"crm": setting}}))
    assert keys.by_key(new_key) == Principal("crm", "integrator", "key")


@memory
async def test_a_browser_event_stream_opens_with_the_access_token_in_its_url(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(source="sse", start=False)
    async for secured in secured_api(bus, components(), auth_settings()):
        token = (await secured.bearer("olga"))["Authorization"].removeprefix("Bearer ")
        async with served(secured.app) as base_url, httpx.AsyncClient(base_url=base_url,
                                                             timeout=10) as browser:
            async with browser.stream(
                    "GET", f"/v1/screen-pop/stream?agent=2001&access_token={token}") as opened:
                status, kind = opened.status_code, opened.headers["content-type"]
            refused = await browser.get("/v1/screen-pop/stream?agent=2001")
            forged = await browser.get(f"/v1/screen-pop/stream?agent=2001&access_token={token}x")
    assert (status, kind.split(";")[0]) == (200, "text/event-stream")
    assert refused.status_code == forged.status_code == 401


@memory
async def test_metrics_are_public_only_when_configured_for_scraping(
    make_bus: BusFactory,
) -> None:
    bus = await make_bus(source="scrape", start=False)
    async for secured in secured_api(bus, [], auth_settings(public_metrics=True)):
        scraped = await secured.client.get("/metrics")
        topology = await secured.client.get("/v1/topology")
    assert scraped.status_code == 200 and "esb_" in scraped.text
    assert topology.status_code == 401  # only /metrics opens
